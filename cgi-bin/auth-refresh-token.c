/* SPDX-License-Identifier: ISC */
/*
 * POST /api/auth/refresh-token: trade a refresh token for a new pair.
 *
 * Body {"refresh_token"}.  Answers
 *	200 with a new pair, as login does: for the session's current
 *	    generation the session advances one generation (rotation); for
 *	    the generation just replaced, inside REFRESH_REUSE_GRACE_SECONDS,
 *	    the current generation is handed out again;
 *	401 {"detail": "Invalid refresh token"} for anything else: a bad,
 *	    expired or mistyped token, a revoked or expired session, a
 *	    deleted or disabled user, or an older generation (which also
 *	    revokes the session: the token was copied);
 *	422 for a missing or mistyped field;
 *	429 with Retry-After past THROTTLE_REFRESH_ADDRESS;
 *	404, 405, 411, 413, 415, 400 from the front end (req.c);
 *	503 when the database is away, 500 on internal failure.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "app.h"
#include "jwt.h"
#include "log.h"
#include "req.h"
#include "resp.h"
#include "session.h"
#include "throttle.h"
#include "token.h"

static const enum db_q refresh_queries[] = {
	DB_Q_SESSION_ROTATE,
	DB_Q_SESSION_GET,
	DB_Q_SESSION_REVOKE,
	DB_Q_THROTTLE_HIT1,
};

static void
refresh_handle(struct app *app, struct req *r)
{
	const char		*token;
	size_t			 len;
	struct jwt_claims	 c;
	struct session		 s;
	enum session_result	 res;
	struct throttle_hit	 hit;
	enum auth_status	 rc;
	long long		 now;

	if ((token = req_string(r, "refresh_token", &len)) == NULL) {
		resp_invalid(r);
		return;
	}
	hit.kind = THROTTLE_REFRESH_ADDRESS;
	hit.key = r->client;
	if (!app_throttle(app, r, &hit, 1))
		return;
	now = (long long)time(NULL);
	if (jwt_verify((const unsigned char *)app->cfg.jwt_secret_key,
	    app->cfg.jwt_secret_len, token, len, JWT_REFRESH, now, &c) !=
	    AUTH_OK) {
		log_info("refresh", "failure reason=token client=%s",
		    r->client);
		resp_error(r, 401, "Invalid refresh token");
		return;
	}
	if ((rc = session_refresh(app->db, &c, now,
	    app->cfg.refresh_reuse_grace_seconds, &s, &res)) != AUTH_OK) {
		app_fail(r, rc);
		return;
	}
	switch (res) {
	case SESSION_ROTATED:
	case SESSION_GRACE:
		log_info("refresh", "%s user=%lld session=%.8s client=%s",
		    res == SESSION_ROTATED ? "rotated" : "grace", c.sub, c.sid,
		    r->client);
		token_respond(app, r, &s, now);
		break;
	case SESSION_REUSED:
		log_warn("refresh", "reuse detected, session revoked "
		    "user=%lld session=%.8s client=%s", c.sub, c.sid,
		    r->client);
		resp_error(r, 401, "Invalid refresh token");
		break;
	default:
		log_info("refresh", "failure reason=session user=%lld "
		    "session=%.8s client=%s", c.sub, c.sid, r->client);
		resp_error(r, 401, "Invalid refresh token");
		break;
	}
}

int
main(void)
{
	static const struct app_endpoint ep = {
		.prog = "auth-refresh-token",
		.queries = refresh_queries,
		.nqueries = sizeof(refresh_queries) /
		    sizeof(refresh_queries[0]),
		.handle = refresh_handle,
	};

	return app_main(&ep);
}
