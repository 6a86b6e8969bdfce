/* SPDX-License-Identifier: ISC */
/*
 * Refresh sessions in auth_refresh_session.  A session is born at login
 * with an absolute end (login time + lifetime) that rotation never moves.
 * Each refresh token names its session (sid) and generation (jti, whose
 * first 8 hexadecimal digits are the generation number, the other 24
 * random).  The database decides every race: the advance is one
 * conditional UPDATE that only the current generation can win, once; on
 * success it is the only statement the refresh costs.
 *
 * A generation replaced within the grace window is two tabs refreshing at
 * once, or a lost response: it gets the current generation back.  So does
 * any generation of the same burst of rotations (each rotation within the
 * window of the one before; the rotation UPDATE writes the burst's first
 * generation in grace_generation), while the burst's last rotation is
 * inside the window: three holders of one token racing never revoke
 * their own session.  Any other old generation means the token was
 * copied: the whole session is revoked.
 *
 * Tokens issued before generations were written into the jti (random
 * jti) still work: the current one rotates (after one read to learn its
 * generation), the one just replaced (previous_jti) gets the grace answer.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "rng.h"
#include "session.h"

#define SESSION_ID_BYTES	(JWT_ID_LEN / 2)
#define SESSION_GEN_DIGITS	8	/* of the jti: the generation */
#define SESSION_GEN_MAX		0xffffffffLL	/* INTEGER UNSIGNED */

/* What the database says about a session (DB_Q_SESSION_GET). */
struct session_row {
	char		 cur[JWT_ID_LEN + 1];
	char		 prev[JWT_ID_LEN + 1];	/* "" if none */
	long long	 generation;
	long long	 grace_generation;	/* -1 if NULL */
	long long	 rotated_at;		/* 0 if never rotated */
	long long	 expires_at;
	int		 revoked;
	int		 active;
};

/*
 * Write into jti a new token id for generation gen: gen in 8 hexadecimal
 * digits, then 96 random bits.
 */
static enum auth_status
session_jti(char jti[JWT_ID_LEN + 1], long long gen)
{

	(void)snprintf(jti, SESSION_GEN_DIGITS + 1, "%08llx",
	    (unsigned long long)gen & SESSION_GEN_MAX);
	return rng_hex(jti + SESSION_GEN_DIGITS,
	    JWT_ID_LEN + 1 - SESSION_GEN_DIGITS,
	    (JWT_ID_LEN - SESSION_GEN_DIGITS) / 2);
}

/*
 * Return the generation jti (32 lower-case hex digits, jwt.c checked)
 * names.  For a token from before generations were in the jti this is a
 * random number, which no rotation matches and which almost never falls
 * in a burst (a chance of about one in 2^32 per generation of the burst).
 */
static long long
session_jti_gen(const char *jti)
{
	char	 buf[SESSION_GEN_DIGITS + 1];

	memcpy(buf, jti, SESSION_GEN_DIGITS);
	buf[SESSION_GEN_DIGITS] = '\0';
	return strtoll(buf, NULL, 16);
}

/*
 * Start a session for user_id at time now lasting lifetime seconds.  On
 * AUTH_OK *out holds its id, first generation and end.  Returns
 * AUTH_ERR_CRYPTO, AUTH_ERR_DB_UNAVAIL or AUTH_ERR_DB otherwise, or
 * AUTH_ERR_DB_COMMIT_UNKNOWN when the connection died before the
 * INSERT's outcome came back: not retried; the caller answers 503 and a
 * row that did land is a session nobody holds a token for, harmless
 * until auth-cleanup removes it.
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
	    (rc = session_jti(s.jti, 1)) != AUTH_OK)
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
 * Revoke session id at time now.  AUTH_ERR_DB_COMMIT_UNKNOWN (the
 * connection died before the outcome came back) goes to the caller, who
 * answers 503: the client presents the same copied token again, which is
 * revoked again if it was not.
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
 * Advance session c->sid of user c->sub from generation gen, if that is
 * its current generation and it holds c->jti, to gen + 1 with token id
 * newjti, at time now.  *rotated is 1 if this call did it.  Returns
 * db_exec()'s status: AUTH_ERR_DB_COMMIT_UNKNOWN when the connection
 * died before the outcome was known.
 */
static enum auth_status
session_rotate(struct db *db, const struct jwt_claims *c, long long gen,
    const char *newjti, long long now, long grace, int *rotated)
{
	MYSQL_BIND		 p[8];
	MYSQL_TIME		 tnow, since;
	MYSQL_STMT		*st;
	unsigned long		 newlen = JWT_ID_LEN, sidlen, jtilen;
	long long		 uid = c->sub;
	enum auth_status	 rc;

	*rotated = 0;
	sidlen = strlen(c->sid);
	jtilen = strlen(c->jti);
	db_time_from_epoch(&since, now - grace);
	db_time_from_epoch(&tnow, now);
	db_bind_time(&p[0], &since);
	db_bind_str(&p[1], newjti, &newlen);
	db_bind_time(&p[2], &tnow);
	db_bind_str(&p[3], c->sid, &sidlen);
	db_bind_llong(&p[4], &uid);
	db_bind_str(&p[5], c->jti, &jtilen);
	db_bind_llong(&p[6], &gen);
	db_bind_time(&p[7], &tnow);
	if ((rc = db_exec(db, DB_Q_SESSION_ROTATE, p, &st)) != AUTH_OK)
		return rc;
	*rotated = mysql_stmt_affected_rows(st) == 1;
	return AUTH_OK;
}

/*
 * Read session c->sid of user c->sub into *row.  Returns AUTH_OK,
 * AUTH_ERR_NOT_FOUND, or a database failure.
 */
static enum auth_status
session_read(struct db *db, const struct jwt_claims *c,
    struct session_row *row)
{
	MYSQL_BIND		 p[2], r[8];
	MYSQL_TIME		 rotated, expires;
	MYSQL_STMT		*st;
	unsigned long		 sidlen = strlen(c->sid), curlen, prevlen;
	long long		 uid = c->sub;
	my_bool			 prevnull, rotnull, gracenull;
	enum auth_status	 rc;

	memset(row, 0, sizeof(*row));
	db_bind_str(&p[0], c->sid, &sidlen);
	db_bind_llong(&p[1], &uid);
	if ((rc = db_exec(db, DB_Q_SESSION_GET, p, &st)) != AUTH_OK)
		return rc;
	db_bind_out_str(&r[0], row->cur, sizeof(row->cur), &curlen, NULL);
	db_bind_out_str(&r[1], row->prev, sizeof(row->prev), &prevlen,
	    &prevnull);
	db_bind_time(&r[2], &rotated);
	r[2].is_null = &rotnull;
	db_bind_int(&r[3], &row->revoked);
	db_bind_time(&r[4], &expires);
	db_bind_int(&r[5], &row->active);
	db_bind_llong(&r[6], &row->generation);
	db_bind_llong(&r[7], &row->grace_generation);
	r[7].is_null = &gracenull;
	if ((rc = db_fetch_one(db, st, r)) != AUTH_OK)
		return rc;
	if (prevnull)
		row->prev[0] = '\0';
	if (gracenull)
		row->grace_generation = -1;
	row->rotated_at = rotnull ? 0 : db_time_to_epoch(&rotated);
	row->expires_at = db_time_to_epoch(&expires);
	return AUTH_OK;
}

/*
 * Judge token c, which is not the current generation of session row,
 * at time now with a grace window of grace seconds: SESSION_GRACE if its
 * generation was replaced in the burst whose last rotation is inside the
 * window, else SESSION_REUSED.  (A generation replaced before the burst
 * began was replaced more than the window before the burst's first
 * rotation, so it is outside the window; one inside the burst may have
 * been replaced longer ago than the window, as long as the burst goes
 * on: the burst is what is forgiven.)
 */
static enum session_result
session_judge(const struct session_row *row, const struct jwt_claims *c,
    long long now, long grace)
{
	long long	 gen, first;

	if (row->rotated_at == 0 || now - row->rotated_at > grace)
		return SESSION_REUSED;
	/* The generation just replaced, also for a token from before. */
	if (row->prev[0] != '\0' && strcmp(row->prev, c->jti) == 0)
		return SESSION_GRACE;
	gen = session_jti_gen(c->jti);
	first = row->grace_generation >= 0 ? row->grace_generation :
	    row->generation - 1;
	return gen >= first && gen < row->generation ? SESSION_GRACE :
	    SESSION_REUSED;
}

/*
 * Fill *out with session c->sid at generation jti, ending at expires.
 */
static void
session_out(struct session *out, const struct jwt_claims *c,
    const char *jti, long long expires)
{

	memcpy(out->id, c->sid, sizeof(out->id));
	memcpy(out->jti, jti, sizeof(out->jti));
	out->user_id = c->sub;
	out->expires_at = expires;
}

/*
 * The refresh that did not rotate at once: read the session and decide.
 * newjti is the generation that rotation tried to write; unknown says
 * the connection died before its outcome was known; again, that this is
 * the second look, after a token from before lost its rotation to a
 * concurrent one (then it is judged like any replaced token).
 */
static enum auth_status
session_why(struct db *db, const struct jwt_claims *c, long long now,
    long grace, char *newjti, int unknown, int again, struct session *out,
    enum session_result *res)
{
	struct session_row	 row;
	enum auth_status	 rc;
	int			 rotated;

	rc = session_read(db, c, &row);
	if (rc == AUTH_ERR_NOT_FOUND)
		return AUTH_OK;		/* no such session: invalid */
	if (rc != AUTH_OK)
		return rc;
	if (row.revoked || !row.active || row.expires_at <= now)
		return AUTH_OK;		/* invalid */
	if (unknown && strcmp(row.cur, newjti) == 0) {
		/* The rotation whose answer was lost did land. */
		session_out(out, c, newjti, c->exp);
		*res = SESSION_ROTATED;
		return AUTH_OK;
	}
	if (strcmp(row.cur, c->jti) == 0) {
		/* It did not land (yet): the token is still good, try again. */
		if (unknown)
			return AUTH_ERR_DB_UNAVAIL;
		/* Current yet not rotated, and not a token from before. */
		if (session_jti_gen(c->jti) == row.generation ||
		    row.generation >= SESSION_GEN_MAX)
			return AUTH_OK;		/* invalid */
		/* A token from before: rotate by the session's generation. */
		if ((rc = session_jti(newjti, row.generation + 1)) != AUTH_OK ||
		    (rc = session_rotate(db, c, row.generation, newjti, now,
		    grace, &rotated)) != AUTH_OK)
			return rc == AUTH_ERR_DB_COMMIT_UNKNOWN ?
			    AUTH_ERR_DB_UNAVAIL : rc;
		if (rotated) {
			session_out(out, c, newjti, c->exp);
			*res = SESSION_ROTATED;
			return AUTH_OK;
		}
		/* Another holder rotated it meanwhile: look again, once. */
		return again ? AUTH_OK : session_why(db, c, now, grace, newjti,
		    0, 1, out, res);
	}
	if ((*res = session_judge(&row, c, now, grace)) == SESSION_GRACE) {
		session_out(out, c, row.cur, row.expires_at);
		return AUTH_OK;
	}
	/* An older generation came back: someone copied the token. */
	*res = SESSION_INVALID;
	if ((rc = session_revoke(db, c->sid, now)) != AUTH_OK)
		return rc;
	*res = SESSION_REUSED;
	return AUTH_OK;
}

/*
 * Present the refresh token with verified claims c at time now, with a
 * reuse grace window of grace seconds.  *res says what happened; for
 * SESSION_ROTATED and SESSION_GRACE *out is the session at its current
 * generation, for which the caller issues a new pair.  The rotation is
 * one statement; should its connection die before the outcome is known,
 * the session is read again and answered by what it holds (our rotation
 * landed: rotated; someone else's: grace or reuse as usual; none: 503,
 * and the client may present the same token again).  Returns AUTH_OK
 * (whatever *res), or AUTH_ERR_CRYPTO, AUTH_ERR_DB_UNAVAIL, AUTH_ERR_DB.
 */
enum auth_status
session_refresh(struct db *db, const struct jwt_claims *c, long long now,
    long grace, struct session *out, enum session_result *res)
{
	char			 newjti[JWT_ID_LEN + 1];
	long long		 gen;
	enum auth_status	 rc;
	int			 rotated;

	memset(out, 0, sizeof(*out));
	*res = SESSION_INVALID;
	gen = session_jti_gen(c->jti);
	if (gen >= SESSION_GEN_MAX)
		gen = 0;	/* a token from before: no generation */
	if ((rc = session_jti(newjti, gen + 1)) != AUTH_OK)
		return rc;
	rc = session_rotate(db, c, gen, newjti, now, grace, &rotated);
	if (rc == AUTH_OK && rotated) {
		/*
		 * The token's exp is the session's end (token_respond()
		 * makes it so), so no read is needed.
		 */
		session_out(out, c, newjti, c->exp);
		*res = SESSION_ROTATED;
		return AUTH_OK;
	}
	if (rc != AUTH_OK && rc != AUTH_ERR_DB_COMMIT_UNKNOWN)
		return rc;
	if (rc == AUTH_ERR_DB_COMMIT_UNKNOWN)
		log_warn("session", "rotation outcome unknown; reading the "
		    "session again session=%.8s", c->sid);
	return session_why(db, c, now, grace, newjti,
	    rc == AUTH_ERR_DB_COMMIT_UNKNOWN, 0, out, res);
}

/*
 * Revoke every live session of user_id at time now (password reset, for
 * one).  Returns AUTH_OK, AUTH_ERR_DB_UNAVAIL or AUTH_ERR_DB; inside a
 * transaction its outcome is the COMMIT's, outside it
 * AUTH_ERR_DB_COMMIT_UNKNOWN when the connection died before the
 * outcome came back (not retried: the caller decides).
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

/* What session_end_once() works with. */
struct session_end_args {
	const struct jwt_claims	*c;
	int			 all;
	long long		 now;
	long			 grace;
	enum session_end_result	*res;
};

/*
 * One run of session_end(), inside a transaction (db_txn()): the session
 * is judged as refresh-token judges it (session_judge()), then ended
 * whatever the judgement, since a copied token ends it too.  The UPDATE
 * that ends it only ends a live session, so of two concurrent logouts
 * one ends it and the other finds it gone.
 */
static enum auth_status
session_end_once(struct db *db, void *arg, int *commit)
{
	struct session_end_args	*a = arg;
	const struct jwt_claims	*c = a->c;
	struct session_row	 row;
	MYSQL_BIND		 p[4];
	MYSQL_TIME		 tnow;
	unsigned long		 sidlen = strlen(c->sid);
	long long		 uid = c->sub;
	enum auth_status	 rc;
	int			 good;

	*a->res = SESSION_END_GONE;
	rc = session_read(db, c, &row);
	if (rc == AUTH_ERR_NOT_FOUND)
		return AUTH_OK;
	if (rc != AUTH_OK)
		return rc;
	if (row.revoked || row.expires_at <= a->now)
		return AUTH_OK;
	good = strcmp(row.cur, c->jti) == 0 ||
	    session_judge(&row, c, a->now, a->grace) == SESSION_GRACE;

	db_time_from_epoch(&tnow, a->now);
	db_bind_time(&p[0], &tnow);
	db_bind_str(&p[1], c->sid, &sidlen);
	db_bind_llong(&p[2], &uid);
	db_bind_time(&p[3], &tnow);
	if ((rc = db_exec(db, DB_Q_SESSION_REVOKE_LIVE, p, NULL)) != AUTH_OK)
		return rc;
	*commit = 1;
	if (db_affected(db, DB_Q_SESSION_REVOKE_LIVE) != 1)
		return AUTH_OK;		/* a concurrent logout ended it */
	if (!good) {
		/* An older generation came back: the token was copied. */
		*a->res = SESSION_END_REUSED;
		return AUTH_OK;
	}
	*a->res = SESSION_END_DONE;
	return a->all ? session_revoke_all(db, uid, a->now) : AUTH_OK;
}

/*
 * Log out with the refresh token of verified claims c at time now, with
 * a reuse grace window of grace seconds.  The session's current
 * generation (or one replaced within the grace window, as
 * session_refresh() judges it) ends the session and, if all, every live
 * session of its user, in one transaction, re-run on a conflict by
 * db_txn(): a run that did commit leaves only ended sessions, so a
 * re-run changes nothing.  A session already ended is left as it is, and
 * all then ends nothing else: a stale token must not log its user out
 * everywhere.  An older generation ends the session (SESSION_END_REUSED).
 * *res says which; returns AUTH_OK, AUTH_ERR_DB_UNAVAIL, AUTH_ERR_DB, or
 * AUTH_ERR_DB_COMMIT_UNKNOWN (the caller answers 503; the client's retry
 * then finds the session ended or not, and is answered by it).
 */
enum auth_status
session_end(struct db *db, const struct jwt_claims *c, int all,
    long long now, long grace, enum session_end_result *res)
{
	struct session_end_args	 a;
	enum auth_status	 rc;

	a.c = c;
	a.all = all;
	a.now = now;
	a.grace = grace;
	a.res = res;
	if ((rc = db_txn(db, session_end_once, &a)) != AUTH_OK)
		*res = SESSION_END_GONE;
	return rc;
}
