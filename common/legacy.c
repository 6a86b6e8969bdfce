/* SPDX-License-Identifier: ISC */
/*
 * The FastAPI backend's refresh tokens, {"sub", "type": "refresh",
 * "exp"} signed with the same JWT_SECRET_KEY and valid for
 * REFRESH_TOKEN_EXPIRE_DAYS, name no session of ours, so that every user
 * would be logged out at the switch.  Instead each such token
 * (jwt_verify_legacy()) is traded once for a new session, as a login
 * would start one, if its account is active and has not had every
 * session revoked since the token was issued (a password reset:
 * legacy_cutoff()).
 *
 * The first use is recorded under a unique key, a SHA-256 of the token,
 * in the transaction that starts the session: of two presentations, the
 * database decides which is first.  A later one gets, within
 * REFRESH_REUSE_GRACE_SECONDS of the first (two tabs refreshing at once,
 * a lost answer), the current pair of the session it started, as a
 * replaced generation of our own tokens does; after that window it is
 * reuse: the token was copied, and that session is revoked.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <mysqld_error.h>

#include "cfg.h"
#include "db.h"
#include "jwt.h"
#include "legacy.h"
#include "log.h"
#include "session.h"

#define LEGACY_HASH_LEN		32	/* SHA-256 */
/* The session of a token retired by a logout: no session has this id. */
#define LEGACY_RETIRED		"00000000000000000000000000000000"

/* One trade or logout, as it goes (legacy_trade_txn(), ...). */
struct legacy_trade {
	const struct cfg		*cfg;
	const struct jwt_claims		*claims;
	unsigned char			 hash[LEGACY_HASH_LEN];
	long long			 now;
	struct session			 s;	/* the session started */
	int				 refused; /* account gone, off, reset */
	int				 taken;	/* not the first use */
	int				 all;	/* logout: every session */
};

static void
legacy_bind_hash(MYSQL_BIND *b, unsigned char *hash, unsigned long *len)
{

	*len = LEGACY_HASH_LEN;
	db_bind_str(b, (const char *)hash, len);
	b->buffer_type = MYSQL_TYPE_BLOB;
}

/*
 * Return when the FastAPI backend issued the token with claims c: its
 * iat or, python-jose having written none, its exp less lifetime, the
 * refresh lifetime the FastAPI backend gave its tokens (the same key of
 * the same file).
 */
long long
legacy_issued_at(const struct jwt_claims *c, long lifetime)
{

	return c->iat != 0 ? c->iat : c->exp - lifetime;
}

/*
 * Return 1 if a token issued at issued may be traded for an account
 * that is active (or not) and whose sessions were all last revoked at
 * cut (NULL: never): only an active account, and a token issued after
 * the revocation.  Else 0.
 */
int
legacy_may_trade(int active, const long long *cut, long long issued)
{

	return active && (cut == NULL || issued > *cut);
}

/*
 * Return 1 if the account of the token can trade it
 * (legacy_may_trade()); 0 if it cannot, or is gone, with *rc a database
 * failure if there was one.
 */
static int
legacy_account_ok(struct db *db, struct legacy_trade *t,
    enum auth_status *rc)
{
	MYSQL_BIND	 p[1], r[2];
	MYSQL_TIME	 cut;
	MYSQL_STMT	*st;
	long long	 uid = t->claims->sub, cutoff;
	my_bool		 cutnull;
	int		 active;

	db_bind_llong(&p[0], &uid);
	if ((*rc = db_exec(db, DB_Q_LEGACY_USER, p, &st)) != AUTH_OK)
		return 0;
	db_bind_int(&r[0], &active);
	db_bind_time(&r[1], &cut);
	r[1].is_null = &cutnull;
	if ((*rc = db_fetch_one(db, st, r)) != AUTH_OK) {
		if (*rc == AUTH_ERR_NOT_FOUND)
			*rc = AUTH_OK;
		return 0;
	}
	cutoff = cutnull ? 0 : db_time_to_epoch(&cut);
	return legacy_may_trade(active, cutnull ? NULL : &cutoff,
	    legacy_issued_at(t->claims, cfg_refresh_lifetime(t->cfg)));
}

/*
 * Record the use of t's token, for the session sid.  Returns db_exec()'s
 * status: AUTH_ERR_DB_DUPLICATE when it was used before.
 */
static enum auth_status
legacy_claim(struct db *db, struct legacy_trade *t, const char *sid)
{
	MYSQL_BIND		 p[5];
	MYSQL_TIME		 used, expires;
	unsigned long		 hlen, idlen = strlen(sid);
	long long		 uid = t->claims->sub;

	legacy_bind_hash(&p[0], t->hash, &hlen);
	db_bind_llong(&p[1], &uid);
	db_bind_str(&p[2], sid, &idlen);
	db_time_from_epoch(&used, t->now);
	db_bind_time(&p[3], &used);
	db_time_from_epoch(&expires, t->claims->exp);
	db_bind_time(&p[4], &expires);
	return db_exec(db, DB_Q_LEGACY_CLAIM, p, NULL);
}

/*
 * The trade, for db_txn(): start a session and record the token's first
 * use, together or not at all.
 */
static enum auth_status
legacy_trade_txn(struct db *db, void *arg, int *commit)
{
	struct legacy_trade	*t = arg;
	long long		 uid = t->claims->sub;
	enum auth_status	 rc;

	t->refused = t->taken = 0;
	memset(&t->s, 0, sizeof(t->s));
	if (!legacy_account_ok(db, t, &rc)) {
		t->refused = rc == AUTH_OK;
		return rc;
	}
	if ((rc = session_start(db, uid, t->now,
	    cfg_refresh_lifetime(t->cfg), &t->s)) != AUTH_OK)
		return rc;
	rc = legacy_claim(db, t, t->s.id);
	if (rc == AUTH_ERR_DB_DUPLICATE) {
		/* Not the first: the session just started is rolled back. */
		t->taken = 1;
		return AUTH_OK;
	}
	if (rc == AUTH_OK)
		*commit = 1;
	return rc;
}

/*
 * Read what the first use of t's token recorded: the session it started
 * into sid (JWT_ID_LEN + 1 bytes; LEGACY_RETIRED for a logout) and when
 * into *used.  Returns AUTH_OK, AUTH_ERR_NOT_FOUND or a database
 * failure.
 */
static enum auth_status
legacy_first_use(struct db *db, struct legacy_trade *t, char *sid,
    long long *used)
{
	MYSQL_BIND		 p[1], r[2];
	MYSQL_TIME		 when;
	MYSQL_STMT		*st;
	unsigned long		 hlen, sidlen;
	enum auth_status	 rc;

	legacy_bind_hash(&p[0], t->hash, &hlen);
	if ((rc = db_exec(db, DB_Q_LEGACY_GET, p, &st)) != AUTH_OK)
		return rc;
	db_bind_out_str(&r[0], sid, JWT_ID_LEN + 1, &sidlen, NULL);
	db_bind_time(&r[1], &when);
	if ((rc = db_fetch_one(db, st, r)) != AUTH_OK)
		return rc;
	sid[sidlen] = '\0';
	*used = db_time_to_epoch(&when);
	return AUTH_OK;
}

/*
 * The token was used before: within the grace window of that first use,
 * the current pair of the session it started (*res SESSION_GRACE); after
 * it, reuse (SESSION_REUSED: that session is revoked).  A token a logout
 * retired is refused.
 */
static enum auth_status
legacy_again(struct db *db, const struct cfg *cfg, struct legacy_trade *t,
    struct session *out, enum session_result *res)
{
	char			 sid[JWT_ID_LEN + 1];
	long long		 used;
	enum auth_status	 rc;

	if ((rc = legacy_first_use(db, t, sid, &used)) != AUTH_OK)
		return rc == AUTH_ERR_NOT_FOUND ? AUTH_OK : rc;
	if (strcmp(sid, LEGACY_RETIRED) == 0) {
		log_info("legacy", "a legacy refresh token retired by a "
		    "logout user=%lld", t->claims->sub);
		return AUTH_OK;
	}
	if (t->now - used <=
	    cfg->refresh_reuse_grace_seconds) {
		rc = session_current(db, sid, t->claims->sub, t->now, out);
		if (rc == AUTH_OK)
			*res = SESSION_GRACE;
		return rc == AUTH_ERR_NOT_FOUND ? AUTH_OK : rc;
	}
	log_warn("legacy", "reuse of a legacy refresh token, revoking the "
	    "session it started user=%lld session=%.8s", t->claims->sub, sid);
	if ((rc = session_revoke_one(db, sid, t->now)) != AUTH_OK)
		return rc == AUTH_ERR_DB_COMMIT_UNKNOWN ? AUTH_ERR_DB_UNAVAIL :
		    rc;
	*res = SESSION_REUSED;
	return AUTH_OK;
}

/*
 * Fill t for tok (len bytes) with claims c at time now: its hash.
 */
static enum auth_status
legacy_start(struct legacy_trade *t, const struct cfg *cfg, const char *tok,
    size_t len, const struct jwt_claims *c, long long now)
{
	unsigned int	 mdlen = 0;

	memset(t, 0, sizeof(*t));
	t->cfg = cfg;
	t->claims = c;
	t->now = now;
	if (EVP_Digest(tok, len, t->hash, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != LEGACY_HASH_LEN)
		return AUTH_ERR_CRYPTO;
	return AUTH_OK;
}

/*
 * Present tok (len bytes), a refresh token the FastAPI backend issued,
 * whose claims c jwt_verify_legacy() accepted, at time now.  *res says
 * what happened: SESSION_ROTATED, a new session for its account, the
 * first time (*out is that session); SESSION_GRACE, the current
 * generation of that session, for a second presentation inside the
 * grace window; SESSION_REUSED after it (that session is revoked);
 * SESSION_INVALID when the account is gone or disabled or had its
 * sessions revoked since the token was issued.  Returns AUTH_OK
 * (whatever *res), or AUTH_ERR_CRYPTO, AUTH_ERR_DB_UNAVAIL, AUTH_ERR_DB,
 * AUTH_ERR_DB_COMMIT_UNKNOWN (the trade's outcome is unknown: the client
 * presents the token again, and is answered by what landed).
 */
enum auth_status
legacy_trade(struct db *db, const struct cfg *cfg, const char *tok,
    size_t len, const struct jwt_claims *c, long long now,
    struct session *out, enum session_result *res)
{
	struct legacy_trade	 t;
	enum auth_status	 rc;

	memset(out, 0, sizeof(*out));
	*res = SESSION_INVALID;
	if ((rc = legacy_start(&t, cfg, tok, len, c, now)) != AUTH_OK)
		return rc;
	rc = db_txn(db, legacy_trade_txn, &t);
	if (rc == AUTH_OK && t.taken)
		rc = legacy_again(db, cfg, &t, out, res);
	else if (rc == AUTH_OK && !t.refused) {
		*out = t.s;
		*res = SESSION_ROTATED;
	}
	OPENSSL_cleanse(&t, sizeof(t));
	return rc;
}

/*
 * The logout, for db_txn(): the token is retired (recorded as used, for
 * no session), or, if it was traded before, the session it started is
 * revoked; with all every session of its user is revoked.
 */
static enum auth_status
legacy_retire_txn(struct db *db, void *arg, int *commit)
{
	struct legacy_trade	*t = arg;
	char			 sid[JWT_ID_LEN + 1];
	long long		 used;
	enum auth_status	 rc;

	rc = legacy_claim(db, t, LEGACY_RETIRED);
	/* Its account is gone: nothing to retire, nothing to end. */
	if (rc == AUTH_ERR_DB && db_last_errno(db) == ER_NO_REFERENCED_ROW_2)
		return AUTH_OK;
	if (rc == AUTH_ERR_DB_DUPLICATE) {
		if ((rc = legacy_first_use(db, t, sid, &used)) != AUTH_OK)
			return rc;
		if (strcmp(sid, LEGACY_RETIRED) != 0 &&
		    (rc = session_revoke_one(db, sid, t->now)) != AUTH_OK)
			return rc;
	} else if (rc != AUTH_OK)
		return rc;
	if (t->all && (rc = session_revoke_all(db, t->claims->sub,
	    t->now)) != AUTH_OK)
		return rc;
	*commit = 1;
	return AUTH_OK;
}

/*
 * Log out with tok (len bytes), a refresh token the FastAPI backend
 * issued, whose claims c jwt_verify_legacy() accepted, at time now: it
 * can never be traded afterwards, the session it started if it was
 * traded ends, and with all every session of its user ends, those its
 * other legacy tokens would start included (session_revoke_all()).
 * Returns AUTH_OK, AUTH_ERR_CRYPTO or a database failure.
 */
enum auth_status
legacy_retire(struct db *db, const struct cfg *cfg, const char *tok,
    size_t len, const struct jwt_claims *c, int all, long long now)
{
	struct legacy_trade	 t;
	enum auth_status	 rc;

	if ((rc = legacy_start(&t, cfg, tok, len, c, now)) != AUTH_OK)
		return rc;
	t.all = all;
	rc = db_txn(db, legacy_retire_txn, &t);
	OPENSSL_cleanse(&t, sizeof(t));
	return rc;
}

/*
 * Record that every session of user_id was revoked at time now (a
 * password reset: session_revoke_all()), so that a refresh token of the
 * FastAPI backend issued before now starts none.  Returns db_exec()'s
 * status.
 */
enum auth_status
legacy_cutoff(struct db *db, long long user_id, long long now)
{
	MYSQL_BIND	 p[2];
	MYSQL_TIME	 when;

	db_bind_llong(&p[0], &user_id);
	db_time_from_epoch(&when, now);
	db_bind_time(&p[1], &when);
	return db_exec(db, DB_Q_LEGACY_CUTOFF, p, NULL);
}
