/* SPDX-License-Identifier: ISC */
/*
 * POST /api/auth/forgot-password: queue the mailing of a one-time code.
 *
 * Body {"email"}.  Answers 200 {"message": "If that email is registered,
 * a reset code has been sent."} for every valid address, registered or
 * not: the program does the same work for each, one INSERT of the
 * request into the mail queue (mailq.c), and after the answer, unless a
 * mail sender is at work already, starts one, a process of its own
 * (auth-cleanup --deliver), which looks the account up, issues the code
 * and sends the mail.  So neither the
 * answer, nor how soon this process is ready for its next request,
 * depends on the account or on the mail server.  The per-account
 * cooldown and hourly cap are silent (OTP_COOLDOWN_SECONDS,
 * OTP_MAX_PER_HOUR).  Also 422 for a missing, mistyped or malformed
 * email, 429 with Retry-After past THROTTLE_FORGOT_ADDRESS (per client
 * address), 503 if the database (the throttle's counters, the queue)
 * cannot be reached, and 404, 405, 411, 413, 415, 400 from the front end
 * (req.c).  This program links no mail library.
 */
#include "config.h"

#include <time.h>

#include <json-c/json.h>

#include "app.h"
#include "log.h"
#include "mailq.h"
#include "req.h"
#include "resp.h"
#include "throttle.h"
#include "valid.h"

#define FORGOT_MESSAGE	"If that email is registered, a reset code has been sent."

static void
forgot_wake(void *arg)
{
	struct app	*app = arg;

	(void)mailq_wake(app->db, &app->cfg, (long long)time(NULL),
	    MAILQ_WAKE_IDLE);
}

static void
forgot_handle(struct app *app, struct req *r)
{
	struct json_object	*o;
	struct throttle_hit	 hit;
	char			 email[VALID_EMAIL_LOOKUP_MAX + 1];
	const char		*raw, *msg;
	size_t			 len;
	enum auth_status	 rc;

	if ((raw = req_string(r, "email", &len)) != NULL &&
	    (msg = valid_email_lookup(raw, len, email, sizeof(email))) != NULL)
		req_invalid(r, "email", msg, "value_error");
	if (req_has_errors(r)) {
		resp_invalid(r);
		return;
	}
	hit.kind = THROTTLE_FORGOT_ADDRESS;
	hit.key = r->client;
	if (!app_throttle(app, r, &hit, 1))
		return;
	if ((rc = mailq_request(app->db, &app->cfg, email,
	    (long long)time(NULL))) != AUTH_OK) {
		/* A request that may have landed is asked again: harmless. */
		app_fail(r, rc == AUTH_ERR_DB_COMMIT_UNKNOWN ?
		    AUTH_ERR_DB_UNAVAIL : rc);
		return;
	}
	if ((o = json_object_new_object()) == NULL ||
	    resp_add(o, "message", json_object_new_string(FORGOT_MESSAGE)) !=
	    0) {
		json_object_put(o);
		resp_error(r, 500, "Internal server error");
		return;
	}
	resp_json(r, 200, o, NULL);
	json_object_put(o);
	req_after(r, forgot_wake, app);
}

int
main(void)
{
	/* Statements are prepared when first used. */
	static const struct app_endpoint ep = {
		.prog = "auth-forgot-password",
		.handle = forgot_handle,
	};

	return app_main(&ep);
}
