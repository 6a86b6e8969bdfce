/* SPDX-License-Identifier: ISC */
/*
 * Refresh sessions in auth_refresh_session.  A session is born at login
 * with an absolute end (login time + lifetime) that rotation never moves.
 * Each refresh token names its session (sid) and generation (jti).  The
 * database decides every race: the advance is one conditional UPDATE that
 * only the current generation can win, once.
 *
 * Presenting the generation just replaced, within the grace window of
 * that rotation, is two tabs refreshing at once or a lost response: it
 * gets the current generation back.  Any other old generation means the
 * token was copied: the whole session is revoked.
 */
#include "config.h"

#include <string.h>

#include "db.h"
#include "log.h"
#include "rng.h"
#include "session.h"

#define SESSION_ID_BYTES	(JWT_ID_LEN / 2)
#define SESSION_END_TRIES	3	/* a logout's transaction, at most */

/*
 * Start a session for user_id at time now lasting lifetime seconds.  On
 * AUTH_OK *out holds its id, first generation and end.  Returns
 * AUTH_ERR_CRYPTO, AUTH_ERR_DB_UNAVAIL or AUTH_ERR_DB otherwise.
 */
enum auth_status
session_start(struct db *db, long long user_id, long long now, long lifetime,
    struct session *out)
{
	struct session		 s;
	MYSQL_BIND		 p[5];
	MYSQL_TIME		 created, expires;
	unsigned long		 idlen = JWT_ID_LEN, jtilen = JWT_ID_LEN;
	enum auth_status	 rc;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	if ((rc = rng_hex(s.id, sizeof(s.id), SESSION_ID_BYTES)) != AUTH_OK ||
	    (rc = rng_hex(s.jti, sizeof(s.jti), SESSION_ID_BYTES)) != AUTH_OK)
		return rc;
	s.user_id = user_id;
	s.expires_at = now + lifetime;
	db_bind_str(&p[0], s.id, &idlen);
	db_bind_llong(&p[1], &s.user_id);
	db_bind_str(&p[2], s.jti, &jtilen);
	db_time_from_epoch(&created, now);
	db_bind_time(&p[3], &created);
	db_time_from_epoch(&expires, s.expires_at);
	db_bind_time(&p[4], &expires);
	if ((rc = db_exec(db, DB_Q_SESSION_INSERT, p, NULL)) != AUTH_OK)
		return rc;
	*out = s;
	return AUTH_OK;
}

/*
 * Revoke session id at time now.
 */
static enum auth_status
session_revoke(struct db *db, const char *id, long long now)
{
	MYSQL_BIND	 p[2];
	MYSQL_TIME	 when;
	unsigned long	 idlen = strlen(id);

	db_time_from_epoch(&when, now);
	db_bind_time(&p[0], &when);
	db_bind_str(&p[1], id, &idlen);
	return db_exec(db, DB_Q_SESSION_REVOKE, p, NULL);
}

/*
 * Present the refresh token with verified claims c at time now, with a
 * reuse grace window of grace seconds.  *res says what happened; for
 * SESSION_ROTATED and SESSION_GRACE *out is the session at its current
 * generation, for which the caller issues a new pair.  Returns AUTH_OK
 * (whatever *res), or AUTH_ERR_CRYPTO, AUTH_ERR_DB_UNAVAIL, AUTH_ERR_DB.
 */
enum auth_status
session_refresh(struct db *db, const struct jwt_claims *c, long long now,
    long grace, struct session *out, enum session_result *res)
{
	char			 newjti[JWT_ID_LEN + 1];
	char			 cur[JWT_ID_LEN + 1], prev[JWT_ID_LEN + 1];
	MYSQL_BIND		 p[6], r[6];
	MYSQL_TIME		 tnow, rotated, expires;
	MYSQL_STMT		*st;
	unsigned long		 newlen = JWT_ID_LEN, sidlen, jtilen;
	unsigned long		 curlen, prevlen;
	my_bool			 prevnull, rotnull;
	long long		 uid = c->sub, rotated_at;
	int			 revoked, active;
	enum auth_status	 rc;

	memset(out, 0, sizeof(*out));
	*res = SESSION_INVALID;
	sidlen = strlen(c->sid);
	jtilen = strlen(c->jti);
	if ((rc = rng_hex(newjti, sizeof(newjti), SESSION_ID_BYTES)) !=
	    AUTH_OK)
		return rc;

	/* The current generation of a live session: advance it. */
	db_time_from_epoch(&tnow, now);
	db_bind_str(&p[0], newjti, &newlen);
	db_bind_time(&p[1], &tnow);
	db_bind_str(&p[2], c->sid, &sidlen);
	db_bind_llong(&p[3], &uid);
	db_bind_str(&p[4], c->jti, &jtilen);
	db_bind_time(&p[5], &tnow);
	if ((rc = db_exec(db, DB_Q_SESSION_ROTATE, p, &st)) != AUTH_OK)
		return rc;

	if (mysql_stmt_affected_rows(st) == 1) {
		/*
		 * Ours was the one rotation.  The token's exp is the
		 * session's end (token_issue() makes it so), so no read is
		 * needed.
		 */
		memcpy(out->id, c->sid, sizeof(out->id));
		memcpy(out->jti, newjti, sizeof(out->jti));
		out->user_id = uid;
		out->expires_at = c->exp;
		*res = SESSION_ROTATED;
		return AUTH_OK;
	}

	/* Not the current generation of a live session: find out why. */
	db_bind_str(&p[0], c->sid, &sidlen);
	db_bind_llong(&p[1], &uid);
	if ((rc = db_exec(db, DB_Q_SESSION_GET, p, &st)) != AUTH_OK)
		return rc;
	db_bind_out_str(&r[0], cur, sizeof(cur), &curlen, NULL);
	db_bind_out_str(&r[1], prev, sizeof(prev), &prevlen, &prevnull);
	db_bind_time(&r[2], &rotated);
	r[2].is_null = &rotnull;
	db_bind_int(&r[3], &revoked);
	db_bind_time(&r[4], &expires);
	db_bind_int(&r[5], &active);
	rc = db_fetch_one(db, st, r);
	if (rc == AUTH_ERR_NOT_FOUND)
		return AUTH_OK;		/* no such session: invalid */
	if (rc != AUTH_OK)
		return rc;

	if (revoked || !active || db_time_to_epoch(&expires) <= now)
		return AUTH_OK;		/* invalid */
	if (strcmp(cur, c->jti) == 0)
		return AUTH_OK;		/* current, yet not rotated: invalid */
	rotated_at = rotnull ? 0 : db_time_to_epoch(&rotated);
	if (!prevnull && strcmp(prev, c->jti) == 0 && !rotnull &&
	    now - rotated_at <= grace) {
		memcpy(out->id, c->sid, sizeof(out->id));
		memcpy(out->jti, cur, sizeof(out->jti));
		out->user_id = uid;
		out->expires_at = db_time_to_epoch(&expires);
		*res = SESSION_GRACE;
		return AUTH_OK;
	}

	/* An older generation came back: someone copied the token. */
	if ((rc = session_revoke(db, c->sid, now)) != AUTH_OK)
		return rc;
	*res = SESSION_REUSED;
	return AUTH_OK;
}

/*
 * Revoke every live session of user_id at time now (password reset, for
 * one).  Returns AUTH_OK, AUTH_ERR_DB_UNAVAIL or AUTH_ERR_DB.
 */
enum auth_status
session_revoke_all(struct db *db, long long user_id, long long now)
{
	MYSQL_BIND	 p[2];
	MYSQL_TIME	 when;

	db_time_from_epoch(&when, now);
	db_bind_time(&p[0], &when);
	db_bind_llong(&p[1], &user_id);
	return db_exec(db, DB_Q_SESSION_REVOKE_USER, p, NULL);
}

/*
 * One try of session_end(), inside a transaction.
 */
static enum auth_status
session_end_once(struct db *db, const struct jwt_claims *c, int all,
    long long now, long grace, enum session_end_result *res)
{
	MYSQL_BIND		 p[7];
	MYSQL_TIME		 tnow, since;
	unsigned long		 sidlen = strlen(c->sid);
	unsigned long		 jtilen = strlen(c->jti);
	long long		 uid = c->sub;
	enum auth_status	 rc;

	db_time_from_epoch(&tnow, now);
	db_time_from_epoch(&since, now - grace);
	db_bind_time(&p[0], &tnow);
	db_bind_str(&p[1], c->sid, &sidlen);
	db_bind_llong(&p[2], &uid);
	db_bind_time(&p[3], &tnow);
	db_bind_str(&p[4], c->jti, &jtilen);
	db_bind_str(&p[5], c->jti, &jtilen);
	db_bind_time(&p[6], &since);
	if ((rc = db_exec(db, DB_Q_SESSION_END, p, NULL)) != AUTH_OK)
		return rc;
	if (db_affected(db, DB_Q_SESSION_END) == 1) {
		*res = SESSION_END_DONE;
		return all ? session_revoke_all(db, uid, now) : AUTH_OK;
	}

	/*
	 * Not a generation that may end the session.  If the session still
	 * lives, an older generation came back: the token was copied, and
	 * the session ends as refresh-token would end it.
	 */
	if ((rc = db_exec(db, DB_Q_SESSION_REVOKE_LIVE, p, NULL)) != AUTH_OK)
		return rc;
	*res = db_affected(db, DB_Q_SESSION_REVOKE_LIVE) == 1 ?
	    SESSION_END_REUSED : SESSION_END_GONE;
	return AUTH_OK;
}

/*
 * Log out with the refresh token of verified claims c at time now, with
 * a reuse grace window of grace seconds.  The session's current
 * generation (or the one replaced within the grace window) ends the
 * session and, if all, every live session of its user, in one
 * transaction, so that a retry after a failure finds either nothing or
 * everything done.  A session already ended is left as it is, and all
 * then ends nothing else: a stale token must not log its user out
 * everywhere.  *res says which; returns AUTH_OK, AUTH_ERR_DB_UNAVAIL or
 * AUTH_ERR_DB (nothing was changed then).
 */
enum auth_status
session_end(struct db *db, const struct jwt_claims *c, int all,
    long long now, long grace, enum session_end_result *res)
{
	enum auth_status	 rc = AUTH_ERR_DB_UNAVAIL;
	int			 i;

	/*
	 * Ending "all" locks the user's rows by their index, where a login
	 * inserts: a deadlock (or a lost connection) is retried, which is
	 * safe, since a transaction that did commit leaves a session that
	 * has ended, and the retry changes nothing.
	 */
	for (i = 0; i < SESSION_END_TRIES && rc == AUTH_ERR_DB_UNAVAIL; i++) {
		*res = SESSION_END_GONE;
		if ((rc = db_begin(db)) != AUTH_OK)
			continue;
		if ((rc = session_end_once(db, c, all, now, grace, res)) ==
		    AUTH_OK)
			rc = db_commit(db);
		else
			db_rollback(db);
	}
	if (rc != AUTH_OK)
		*res = SESSION_END_GONE;
	return rc;
}
