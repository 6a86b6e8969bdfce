/* SPDX-License-Identifier: ISC */
/*
 * POST /api/auth/forgot-password: mail a one-time code.
 *
 * Body {"email"}.  Answers 200 {"message": "If that email is registered,
 * a reset code has been sent."} whatever happens next: the same status,
 * headers and body for a registered, unknown or disabled address, a
 * throttled account or a mail that fails.  The answer is delivered before
 * the account is even looked up; the lookup, the code and the mail run
 * after it, so neither the body nor the time to answer tells whether the
 * account exists.  The per-account cooldown and hourly cap are silent
 * (OTP_COOLDOWN_SECONDS, OTP_MAX_PER_HOUR).  Also 422 for a missing,
 * mistyped or malformed email, 429 with Retry-After past
 * THROTTLE_FORGOT_ADDRESS (per client address), 503 if the throttle's
 * counters cannot be reached, and 404, 405, 411, 413, 415, 400 from the
 * front end (req.c).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "app.h"
#include "log.h"
#include "mail.h"
#include "otp.h"
#include "req.h"
#include "reset.h"
#include "resp.h"
#include "throttle.h"
#include "valid.h"

#define FORGOT_MESSAGE	"If that email is registered, a reset code has been sent."

/* The work left for after the answer: one at a time per process. */
struct forgot_job {
	struct app	*app;
	char		 email[VALID_EMAIL_MAX + 1];
};

static struct forgot_job	 forgot_job;

static int
forgot_init(struct app *app)
{

	if (otp_init(&app->cfg) != AUTH_OK || mail_init() != AUTH_OK) {
		log_err("startup", "cannot set up codes or mail");
		return -1;
	}
	if (app->cfg.mail_server == NULL && app->cfg.mail_outbox_dir == NULL)
		log_warn("startup", "no mail transport: set MAIL_SERVER or "
		    "MAIL_OUTBOX_DIR; codes cannot be sent");
	return 0;
}

/*
 * Mail the code to the account.  The text says what the code is for, how
 * long it lasts, and what to do if the reset was not asked for.
 */
static void
forgot_mail(struct app *app, const char *to, const struct reset_code *rc)
{
	char	 body[1024];
	int	 n;

	n = snprintf(body, sizeof(body),
	    "Hello %s,\n"
	    "\n"
	    "Someone asked to reset the password of your account.  Your\n"
	    "password reset code is:\n"
	    "\n"
	    "    %s\n"
	    "\n"
	    "It expires in %ld minutes and works once.\n"
	    "\n"
	    "If you did not ask for a password reset, ignore this mail:\n"
	    "your password stays as it is.\n",
	    rc->username, rc->code, app->cfg.otp_expire_minutes);
	if (n < 0 || (size_t)n >= sizeof(body))
		log_err("forgot", "mail text too long user=%lld", rc->user_id);
	else if (mail_send(&app->cfg, to, "Your password reset code", body) ==
	    AUTH_OK)
		log_info("forgot", "code sent user=%lld", rc->user_id);
	OPENSSL_cleanse(body, sizeof(body));
}

/*
 * After the answer: issue a code if the account may have one, and mail
 * it.  Every outcome is logged; none reaches the client.
 */
static void
forgot_after(void *arg)
{
	static const char *const why[RESET_ISSUE__MAX] = {
		"issued", /* RESET_ISSUED */
		"no-account", /* RESET_NO_ACCOUNT */
		"cooldown", /* RESET_COOLDOWN */
		"hourly-cap", /* RESET_HOURLY_CAP */
	};
	struct forgot_job	*job = arg;
	struct reset_code	 rc;
	enum auth_status	 st;

	st = reset_issue(job->app->db, &job->app->cfg, job->email,
	    (long long)time(NULL), &rc);
	if (st != AUTH_OK)
		log_err("forgot", "cannot issue a code status=%s",
		    auth_strerror(st));
	else if (rc.result == RESET_ISSUED)
		forgot_mail(job->app, job->email, &rc);
	else
		log_info("forgot", "no code reason=%s user=%lld",
		    why[rc.result], rc.user_id);
	OPENSSL_cleanse(&rc, sizeof(rc));
	OPENSSL_cleanse(job->email, sizeof(job->email));
}

static void
forgot_handle(struct app *app, struct req *r)
{
	struct json_object	*o;
	struct throttle_hit	 hit;
	const char		*raw, *msg;
	size_t			 len;

	if ((raw = req_string(r, "email", &len)) != NULL &&
	    (msg = valid_email(raw, len, forgot_job.email,
	    sizeof(forgot_job.email))) != NULL)
		req_invalid(r, "email", msg, "value_error");
	if (req_has_errors(r)) {
		resp_invalid(r);
		return;
	}
	hit.kind = THROTTLE_FORGOT_ADDRESS;
	hit.key = r->client;
	if (!app_throttle(app, r, &hit, 1))
		return;
	forgot_job.app = app;
	if ((o = json_object_new_object()) == NULL ||
	    json_object_object_add(o, "message",
	    json_object_new_string(FORGOT_MESSAGE)) != 0) {
		json_object_put(o);
		resp_error(r, 500, "Internal server error");
		return;
	}
	resp_json(r, 200, o, NULL);
	json_object_put(o);
	req_after(r, forgot_after, &forgot_job);
}

int
main(void)
{
	static const struct app_endpoint ep = {
		.prog = "auth-forgot-password",
		.init = forgot_init,
		.handle = forgot_handle,
	};

	return app_main(&ep);
}
