/* SPDX-License-Identifier: ISC */
/*
 * POST /api/auth/logout: end the refresh session a refresh token names,
 * or, with "all": true, every session of its user.
 *
 * Body {"refresh_token", "all" (optional, false)}.  Answers
 *	200 {"message": "Logged out"} when the session ended now, and also
 *	    when it had ended already (revoked, expired, deleted), so that a
 *	    retried logout is harmless; "all" then ends nothing more;
 *	401 {"detail": "Invalid refresh token"} for a token that does not
 *	    verify (bad signature, expired, not a refresh token), and for an
 *	    older generation of a live session, which ends that session as
 *	    refresh-token would (the token was copied);
 *	422 for a missing or mistyped field ("all" must be true or false);
 *	429 with Retry-After past THROTTLE_REFRESH_ADDRESS, which logout
 *	    and refresh-token count together;
 *	404, 405, 411, 413, 415, 400 from the front end (req.c);
 *	503 when the database is away, 500 on internal failure.
 * A refresh token the FastAPI backend issued (no session, legacy.c) is
 * retired instead: it can never be traded for a session afterwards, and
 * the session it started, if it was traded, ends ("all": every session
 * of its user too); 200.
 * Access tokens stay valid until they expire (they are checked without
 * the database): clients drop theirs at logout.
 */
#include "config.h"

#include <time.h>

#include "app.h"
#include "jwt.h"
#include "legacy.h"
#include "log.h"
#include "req.h"
#include "resp.h"
#include "session.h"
#include "token.h"

static const char *const logout_results[SESSION_END__MAX] = {
	"ended", /* SESSION_END_DONE */
	"already-ended", /* SESSION_END_GONE */
	"reuse", /* SESSION_END_REUSED */
};

static void
logout_handle(struct app *app, struct req *r)
{
	const char		*token;
	size_t			 len;
	int			 all, legacy;
	struct jwt_claims	 c;
	enum session_end_result	 res;
	enum auth_status	 rc;
	long long		 now;

	token = req_string(r, "refresh_token", &len);
	(void)req_bool(r, "all", 0, &all);
	if (req_has_errors(r)) {
		resp_invalid(r);
		return;
	}
	now = (long long)time(NULL);
	if (!token_refresh_claims(app, r, "logout", token, len, now, &c,
	    &legacy))
		return;
	if (legacy) {
		if ((rc = legacy_retire(app->db, &app->cfg, token, len, &c, all,
		    now)) != AUTH_OK) {
			app_fail(r, rc);
			return;
		}
		log_info("logout", "retired user=%lld all=%s client=%s "
		    "legacy=yes", c.sub, all ? "yes" : "no", r->client);
		resp_field(r, 200, "message", "Logged out");
		return;
	}
	if ((rc = session_end(app->db, &c, all, now,
	    app->cfg.refresh_reuse_grace_seconds, &res)) != AUTH_OK) {
		app_fail(r, rc);
		return;
	}
	if (res == SESSION_END_REUSED)
		log_warn("logout", "reuse detected, session revoked "
		    "user=%lld session=%.8s client=%s", c.sub, c.sid,
		    r->client);
	else
		log_info("logout", "%s user=%lld session=%.8s all=%s "
		    "client=%s", logout_results[res], c.sub, c.sid,
		    all ? "yes" : "no", r->client);
	if (res == SESSION_END_REUSED)
		token_refresh_refuse(app, r);
	else
		resp_field(r, 200, "message", "Logged out");
}

int
main(void)
{
	static const struct app_endpoint ep = {
		.prog = "auth-logout",
		.handle = logout_handle,
	};

	return app_main(&ep);
}
