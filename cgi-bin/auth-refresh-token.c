/* SPDX-License-Identifier: ISC */
/*
 * POST /api/auth/refresh-token: trade a refresh token for a new pair.
 *
 * Body {"refresh_token"}.  Answers
 *	200 with a new pair, as login does: for the session's current
 *	    generation the session advances one generation (rotation, one
 *	    statement: a success is not counted by the throttle); for a
 *	    generation replaced in the current burst of rotations, inside
 *	    REFRESH_REUSE_GRACE_SECONDS, the current generation is handed
 *	    out again (session.c);
 *	    A refresh token the FastAPI backend issued (no session) starts a
 *	    new session the first time (legacy.c), while
 *	    LEGACY_TOKENS allows it;
 *	401 {"detail": "Invalid refresh token"} with WWW-Authenticate:
 *	    Bearer for anything else: a bad, expired or mistyped token, a
 *	    revoked or expired session, a deleted or disabled user, or an
 *	    older generation (which also revokes the session: the token was
 *	    copied);
 *	422 for a missing or mistyped field;
 *	429 with Retry-After instead of that 401 once the client's address
 *	    is past THROTTLE_REFRESH_ADDRESS failures (a valid signed token
 *	    cannot be guessed, so only failures count);
 *	404, 405, 411, 413, 415, 400 from the front end (req.c);
 *	503 when the database is away, 500 on internal failure.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "app.h"
#include "jwt.h"
#include "legacy.h"
#include "log.h"
#include "req.h"
#include "resp.h"
#include "session.h"
#include "token.h"

/*
 * A refresh token of ours names its session (session_refresh()); one the
 * FastAPI backend issued before the switch names none, and is traded
 * once for a new session while LEGACY_TOKENS allows it
 * (legacy_trade()).  Either way the answer is a new pair or the 401.
 */
static void
refresh_handle(struct app *app, struct req *r)
{
	const char		*token, *kind = "";
	size_t			 len;
	struct jwt_claims	 c;
	struct session		 s;
	enum session_result	 res;
	enum auth_status	 rc;
	long long		 now;
	int			 legacy;

	if ((token = req_string(r, "refresh_token", &len)) == NULL) {
		resp_invalid(r);
		return;
	}
	now = (long long)time(NULL);
	if (!token_refresh_claims(app, r, "refresh", token, len, now, &c,
	    &legacy))
		return;
	if (legacy) {
		kind = " legacy=yes";
		rc = legacy_trade(app->db, &app->cfg, token, len, &c, now, &s,
		    &res);
	} else
		rc = session_refresh(app->db, &c, now,
		    app->cfg.refresh_reuse_grace_seconds, &s, &res);
	if (rc != AUTH_OK) {
		app_fail(r, rc);
		return;
	}
	switch (res) {
	case SESSION_ROTATED:
	case SESSION_GRACE:
		log_info("refresh", "%s user=%lld session=%.8s client=%s%s",
		    res == SESSION_ROTATED ? "rotated" : "grace", c.sub, s.id,
		    r->client, kind);
		token_respond(app, r, &s, now);
		break;
	case SESSION_REUSED:
		log_warn("refresh", "reuse detected, session revoked "
		    "user=%lld session=%.8s client=%s%s", c.sub, c.sid,
		    r->client, kind);
		token_refresh_refuse(app, r);
		break;
	default:
		log_info("refresh", "failure reason=session user=%lld "
		    "session=%.8s client=%s%s", c.sub, c.sid, r->client, kind);
		token_refresh_refuse(app, r);
		break;
	}
}

int
main(void)
{
	static const struct app_endpoint ep = {
		.prog = "auth-refresh-token",
		.handle = refresh_handle,
	};

	return app_main(&ep);
}
