/* SPDX-License-Identifier: ISC */
/*
 * POST /api/auth/reset-password: set a new password with a mailed code.
 *
 * Body {"email", "otp", "new_password"}.  Answers
 *	200 {"message": "Password has been reset"}: new hash, code used,
 *	    the account's other codes retired and every refresh session
 *	    revoked, in one transaction;
 *	400 {"detail": "Invalid or expired code"} for an unknown email, no
 *	    code, a wrong, expired, used or exhausted code (OTP_MAX_ATTEMPTS
 *	    tries, each counted before the comparison), a disabled account,
 *	    or an address past OTP_MAX_FAILURES_PER_DAY failed tries in the
 *	    last 24 hours; an unknown address costs the same statements as
 *	    a wrong code, so both take the same time;
 *	422 for a missing or mistyped field, a malformed email, or a new
 *	    password that breaks the registration rules (same messages);
 *	429 with Retry-After past THROTTLE_RESET_ADDRESS (per client
 *	    address, on top of OTP_MAX_ATTEMPTS per code);
 *	404, 405, 411, 413, 415, 400 from the front end (req.c);
 *	503 when the database is away, or when the connection was lost
 *	    during the COMMIT of a reset that then proved not to have
 *	    landed (the code still works); 500 on internal failure.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "app.h"
#include "log.h"
#include "req.h"
#include "reset.h"
#include "resp.h"
#include "throttle.h"
#include "valid.h"

static void
resetpw_handle(struct app *app, struct req *r)
{
	char				 email[VALID_EMAIL_LOOKUP_MAX + 1];
	const char			*raw, *otp, *pw, *msg;
	size_t				 elen, olen, plen;
	int				 email_ok = 0;
	struct json_object		*o;
	enum reset_redeem_result	 res;
	enum auth_status		 rc;
	struct throttle_hit		 hit;
	long long			 uid;

	raw = req_string(r, "email", &elen);
	otp = req_string(r, "otp", &olen);
	pw = req_string(r, "new_password", &plen);
	if (raw != NULL) {
		if ((msg = valid_email_lookup(raw, elen, email,
		    sizeof(email))) != NULL)
			req_invalid(r, "email", msg, "value_error");
		else
			email_ok = 1;
	}
	if (pw != NULL && (msg = valid_password(pw, plen,
	    email_ok ? email : NULL, NULL)) != NULL)
		req_invalid(r, "new_password", msg, "value_error");
	if (req_has_errors(r)) {
		resp_invalid(r);
		return;
	}
	hit.kind = THROTTLE_RESET_ADDRESS;
	hit.key = r->client;
	if (!app_throttle(app, r, &hit, 1))
		return;

	rc = reset_redeem(app->db, &app->cfg, email, otp, olen, pw,
	    (long long)time(NULL), &res, &uid);
	if (rc != AUTH_OK) {
		app_fail(r, rc);
		return;
	}
	switch (res) {
	case RESET_DONE:
		log_info("reset", "success user=%lld client=%s", uid,
		    r->client);
		if ((o = json_object_new_object()) == NULL ||
		    resp_add(o, "message",
		    json_object_new_string("Password has been reset")) != 0)
			resp_error(r, 500, "Internal server error");
		else
			resp_json(r, 200, o, NULL);
		json_object_put(o);
		break;
	case RESET_WEAK_PASSWORD:
		req_invalid(r, "new_password",
		    "Password must not match the email or username",
		    "value_error");
		resp_invalid(r);
		break;
	default:
		/* reset.c has logged why. */
		resp_error(r, 400, "Invalid or expired code");
		break;
	}
}

int
main(void)
{
	/* Statements are prepared, and the code key derived, when used. */
	static const struct app_endpoint ep = {
		.prog = "auth-reset-password",
		.handle = resetpw_handle,
		.flags = APP_BCRYPT,
	};

	return app_main(&ep);
}
