/* SPDX-License-Identifier: ISC */
/*
 * Password recovery, decided in the database.
 *
 * Both steps run in one transaction that starts by locking the account's
 * row, so two steps for one account take turns: the cooldown and the
 * hourly cap cannot be raced, a code is redeemed at most once, and its
 * attempt counter is written before the comparison it counts.  The
 * transactions run at READ COMMITTED, which takes no gap locks for
 * searches: steps for different accounts never deadlock on an index gap.
 * Row locks hold on one node of a Galera cluster
 * only: two steps for one account on two nodes are made to write a row
 * in common (the code's attempt counter, auth_reset_account), so that
 * certification lets one commit and the other runs again.  A transaction that deadlocks all the same is run
 * again by db_txn(), but never once its outcome is unknown (the
 * connection lost during COMMIT): that is settled by reading what landed.
 *
 * An account is found only when its stored email, with ASCII letters
 * lower-cased, equals the normalised address byte for byte
 * (user_email_matches()): the column's collation also matches
 * look-alikes (ü = u, ß = ss), which are unknown addresses here.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "mailq.h"
#include "otp.h"
#include "pw.h"
#include "reset.h"
#include "rng.h"
#include "session.h"
#include "user.h"

#define RESET_EMAIL_MAX		1020	/* user.email: VARCHAR(255), utf8mb4 */
#define RESET_DAY		86400	/* s: the OTP_MAX_FAILURES_PER_DAY window */
#define RESET_KEY_LEN		32	/* SHA-256 */

/* The account a step works on, locked for the transaction. */
struct reset_account {
	long long	 id;		/* 0: none (unknown, look-alike) */
	int		 active;
	char		 username[RESET_USERNAME_MAX + 1];
};

/* One redemption, as it goes. */
struct reset_try {
	const struct cfg	*cfg;
	const char		*email;		/* normalised */
	const char		*otp;		/* as sent */
	size_t			 otplen;
	const char		*password;	/* validated */
	long long		 now;
	unsigned char		 key[RESET_KEY_LEN]; /* its failure counter */
	struct reset_account	 acct;
	long long		 token;		/* the code tried, or 0 */
	char			 hash[PW_HASH_MAX]; /* the new password's */
	enum reset_redeem_result res;
	int			 commit;	/* keep what was written */
};

/*
 * The first statement of each transaction here: READ COMMITTED for it.
 */
static enum auth_status
reset_read_committed(struct db *db)
{

	return db_exec(db, DB_Q_TXN_READ_COMMITTED, NULL, NULL);
}

/*
 * Lock the account of email (normalised) for the rest of the transaction
 * and fill *a.  Returns AUTH_OK, AUTH_ERR_NOT_FOUND for an unknown address
 * or a look-alike (a->id is then 0), or a database status.
 */
static enum auth_status
reset_lock_account(struct db *db, const char *email, struct reset_account *a)
{
	MYSQL_BIND		 p[1], r[4];
	MYSQL_STMT		*st;
	char			 stored[RESET_EMAIL_MAX + 1];
	unsigned long		 elen = strlen(email), slen, ulen;
	enum auth_status	 rc;

	memset(a, 0, sizeof(*a));
	db_bind_str(&p[0], email, &elen);
	if ((rc = db_exec(db, DB_Q_USER_LOCK, p, &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&r[0], &a->id);
	db_bind_out_str(&r[1], stored, sizeof(stored), &slen, NULL);
	db_bind_out_str(&r[2], a->username, sizeof(a->username), &ulen, NULL);
	db_bind_int(&r[3], &a->active);
	if ((rc = db_fetch_one(db, st, r)) != AUTH_OK) {
		memset(a, 0, sizeof(*a));
		return rc;
	}
	if (!user_email_matches(stored, slen, email)) {
		memset(a, 0, sizeof(*a));
		return AUTH_ERR_NOT_FOUND;
	}
	return AUTH_OK;
}

/*
 * Set key to the name of email's failure counter: SHA-256 of a label and
 * the normalised address, the same for an account and for an address no
 * account has.  Returns AUTH_OK or AUTH_ERR_CRYPTO.
 */
static enum auth_status
reset_failure_key(const char *email, unsigned char *key)
{
	static const char	 label[] = "collab-auth-reset-failure:";
	EVP_MD_CTX		*ctx;
	unsigned int		 len = 0;
	int			 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return AUTH_ERR_CRYPTO;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, label, sizeof(label) - 1) == 1 &&
	    EVP_DigestUpdate(ctx, email, strlen(email)) == 1 &&
	    EVP_DigestFinal_ex(ctx, key, &len) == 1 && len == RESET_KEY_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? AUTH_OK : AUTH_ERR_CRYPTO;
}

/*
 * Count into *n the failed redemptions of t's address in the last day.
 */
static enum auth_status
reset_failures(struct db *db, struct reset_try *t, long long *n)
{
	MYSQL_BIND		 p[2], r[1];
	MYSQL_TIME		 since;
	MYSQL_STMT		*st;
	unsigned long		 klen = RESET_KEY_LEN;
	enum auth_status	 rc;

	*n = 0;
	db_bind_str(&p[0], (const char *)t->key, &klen);
	p[0].buffer_type = MYSQL_TYPE_BLOB;
	db_time_from_epoch(&since, t->now - RESET_DAY);
	db_bind_time(&p[1], &since);
	if ((rc = db_exec(db, DB_Q_RESET_FAILURES, p, &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&r[0], n);
	rc = db_fetch_one(db, st, r);
	return rc == AUTH_ERR_NOT_FOUND ? AUTH_ERR_DB : rc;
}

/*
 * Record a failed redemption of t's address, to be committed.
 */
static enum auth_status
reset_note_failure(struct db *db, struct reset_try *t)
{
	MYSQL_BIND	 p[2];
	MYSQL_TIME	 at;
	unsigned long	 klen = RESET_KEY_LEN;

	db_bind_str(&p[0], (const char *)t->key, &klen);
	p[0].buffer_type = MYSQL_TYPE_BLOB;
	db_time_from_epoch(&at, t->now);
	db_bind_time(&p[1], &at);
	t->commit = 1;
	return db_exec(db, DB_Q_RESET_FAILURE_ADD, p, NULL);
}

/*
 * Find the newest unused, unexpired code of t's account (none for no
 * account), count the try, and compare.  Sets *match to 1 only for the
 * right code of a code with tries left.  Every other case is logged.
 */
static enum auth_status
reset_check_code(struct db *db, const struct cfg *cfg, struct reset_try *t,
    int *match)
{
	MYSQL_BIND		 p[3], r[3];
	MYSQL_TIME		 tnow;
	MYSQL_STMT		*st;
	char			 stored[1024];
	unsigned long		 slen;
	long long		 uid = t->acct.id;
	int			 attempts;
	enum auth_status	 rc;

	*match = 0;
	db_bind_llong(&p[0], &uid);
	db_time_from_epoch(&tnow, t->now);
	db_bind_time(&p[1], &tnow);
	if ((rc = db_exec(db, DB_Q_RESET_NEWEST, p, &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&r[0], &t->token);
	db_bind_out_str(&r[1], stored, sizeof(stored), &slen, NULL);
	db_bind_int(&r[2], &attempts);
	if ((rc = db_fetch_one(db, st, r)) == AUTH_ERR_NOT_FOUND) {
		t->token = 0;
		if (uid == 0)
			log_info("reset", "failure reason=no-account");
		else
			log_info("reset", "failure reason=no-code user=%lld",
			    uid);
		/* As long as counting the try of a wrong code takes. */
		return db_exec(db, DB_Q_RESET_ATTEMPT_NONE, NULL, NULL);
	}
	if (rc != AUTH_OK)
		return rc;
	if (attempts >= cfg->otp_max_attempts) {
		log_info("reset", "failure reason=attempts user=%lld", uid);
		return AUTH_OK;
	}

	/* Count the try before comparing, and keep it either way. */
	db_bind_llong(&p[0], &t->token);
	if ((rc = db_exec(db, DB_Q_RESET_ATTEMPT, p, NULL)) != AUTH_OK)
		return rc;
	t->commit = 1;
	if (!otp_matches(uid, t->otp, t->otplen, stored)) {
		log_info("reset", "failure reason=code user=%lld attempt=%d",
		    uid, attempts + 1);
		return AUTH_OK;
	}
	*match = 1;
	return AUTH_OK;
}

/*
 * The right code: the new hash, the code used, the account's other codes
 * retired and its refresh sessions revoked.  t->hash keeps the new hash
 * (for reset_settle()); the caller wipes it.
 */
static enum auth_status
reset_apply(struct db *db, const struct cfg *cfg, struct reset_try *t)
{
	MYSQL_BIND		 p[2];
	unsigned long		 hlen;
	long long		 uid = t->acct.id;
	enum auth_status	 rc;

	if ((rc = pw_hash(t->password, cfg->bcrypt_rounds, t->hash,
	    sizeof(t->hash))) != AUTH_OK)
		return rc;
	hlen = strlen(t->hash);
	db_bind_llong(&p[0], &t->token);
	if ((rc = db_exec(db, DB_Q_RESET_USE, p, NULL)) != AUTH_OK)
		return rc;
	if (db_affected(db, DB_Q_RESET_USE) != 1) {
		/* Cannot happen under the row lock; never reset twice. */
		log_err("reset", "code already used user=%lld", uid);
		t->commit = 0;
		return AUTH_OK;
	}
	db_bind_str(&p[0], t->hash, &hlen);
	db_bind_llong(&p[1], &uid);
	if ((rc = db_exec(db, DB_Q_USER_SET_PASSWORD, p, NULL)) != AUTH_OK)
		return rc;
	db_bind_llong(&p[0], &uid);
	if ((rc = db_exec(db, DB_Q_RESET_RETIRE_USER, p, NULL)) != AUTH_OK)
		return rc;
	if ((rc = session_revoke_all(db, uid, t->now)) != AUTH_OK)
		return rc;
	t->res = RESET_DONE;
	t->commit = 1;
	return AUTH_OK;
}

/*
 * The steps of one redemption, inside a transaction.  An unknown
 * address, a look-alike and a disabled account go through the same
 * statements as an account without the right code (a failure recorded
 * and committed), so that the answer takes the same time.
 */
static enum auth_status
reset_redeem_steps(struct db *db, struct reset_try *t)
{
	const struct cfg	*cfg = t->cfg;
	long long		 failures;
	int			 match;
	enum auth_status	 rc;

	t->res = RESET_BAD_CODE;
	t->commit = 0;
	t->token = 0;
	rc = reset_lock_account(db, t->email, &t->acct);
	if (rc != AUTH_OK && rc != AUTH_ERR_NOT_FOUND)
		return rc;
	if (rc == AUTH_OK && !t->acct.active) {
		log_info("reset", "failure reason=disabled user=%lld",
		    t->acct.id);
		t->acct.id = 0;
	}
	if ((rc = reset_failures(db, t, &failures)) != AUTH_OK)
		return rc;
	if (cfg->otp_max_failures_per_day > 0 &&
	    failures >= cfg->otp_max_failures_per_day) {
		log_info("reset", "failure reason=daily-cap user=%lld",
		    t->acct.id);
		return AUTH_OK;
	}
	if ((rc = reset_check_code(db, cfg, t, &match)) != AUTH_OK)
		return rc;
	if (!match)
		return reset_note_failure(db, t);
	/* Only now may the username be compared: the code was right. */
	if (strcasecmp(t->password, t->acct.username) == 0) {
		t->commit = 0;
		t->res = RESET_WEAK_PASSWORD;
		return AUTH_OK;
	}
	return reset_apply(db, cfg, t);
}

/*
 * reset_redeem()'s transaction, for db_txn(): run again from scratch on
 * a conflict.
 */
static enum auth_status
reset_redeem_txn(struct db *db, void *arg, int *commit)
{
	struct reset_try	*t = arg;
	enum auth_status	 rc;

	if ((rc = reset_read_committed(db)) != AUTH_OK ||
	    (rc = reset_redeem_steps(db, t)) != AUTH_OK)
		return rc;
	*commit = t->commit;
	return AUTH_OK;
}

/*
 * The COMMIT of t's transaction failed with its outcome unknown (the
 * connection was lost while it ran).  A failed try is answered 400 either
 * way.  A reset is looked up, on a new connection: the share lock waits
 * for the transaction if the server is still running it.  Returns AUTH_OK
 * (t->res DONE when the reset landed) or AUTH_ERR_DB_UNAVAIL when it did
 * not, or cannot be told: 503, and the code still works.
 */
static enum auth_status
reset_settle(struct db *db, struct reset_try *t)
{
	MYSQL_BIND		 p[1], r[2];
	MYSQL_STMT		*st;
	char			 stored[PW_HASH_MAX];
	unsigned long		 hlen;
	int			 used = 0, landed;
	enum auth_status	 rc;

	if (t->res != RESET_DONE)
		return AUTH_OK;
	t->res = RESET_BAD_CODE;
	db_bind_llong(&p[0], &t->token);
	if ((rc = db_exec(db, DB_Q_RESET_VERIFY, p, &st)) != AUTH_OK) {
		log_err("reset", "commit outcome unknown user=%lld",
		    t->acct.id);
		return AUTH_ERR_DB_UNAVAIL;
	}
	db_bind_int(&r[0], &used);
	db_bind_out_str(&r[1], stored, sizeof(stored), &hlen, NULL);
	rc = db_fetch_one(db, st, r);
	landed = rc == AUTH_OK && used && hlen == strlen(t->hash) &&
	    CRYPTO_memcmp(stored, t->hash, hlen) == 0;
	OPENSSL_cleanse(stored, sizeof(stored));
	log_warn("reset", "commit outcome settled user=%lld landed=%s",
	    t->acct.id, landed ? "yes" : "no");
	if (!landed)
		return AUTH_ERR_DB_UNAVAIL;
	t->res = RESET_DONE;
	return AUTH_OK;
}

/*
 * Redeem code otp (otplen bytes, as sent) for the account with
 * (normalised) email at time now, setting its password to password
 * (already validated against the registration rules).  Succeeds only for
 * the newest unused, unexpired code of an active account that has had
 * fewer than OTP_MAX_ATTEMPTS tries, and whose address has had fewer
 * than OTP_MAX_FAILURES_PER_DAY failures in the last 24 hours; every try
 * is counted first.  On success, in one transaction: the new hash, the
 * code used, the account's other codes retired and all its refresh
 * sessions revoked.  On AUTH_OK *res says what happened and *uidp (when
 * known) the account.  AUTH_ERR_DB_UNAVAIL when the database is away or
 * a reset's COMMIT could not be confirmed.
 */
enum auth_status
reset_redeem(struct db *db, const struct cfg *cfg, const char *email,
    const char *otp, size_t otplen, const char *password, long long now,
    enum reset_redeem_result *res, long long *uidp)
{
	struct reset_try	 t;
	enum auth_status	 rc;

	*uidp = 0;
	*res = RESET_BAD_CODE;
	memset(&t, 0, sizeof(t));
	t.cfg = cfg;
	t.email = email;
	t.otp = otp;
	t.otplen = otplen;
	t.password = password;
	t.now = now;
	if ((rc = otp_init(cfg)) != AUTH_OK ||
	    (rc = reset_failure_key(email, t.key)) != AUTH_OK)
		goto out;
	rc = db_txn(db, reset_redeem_txn, &t);
	if (rc == AUTH_ERR_DB_COMMIT_UNKNOWN)
		rc = reset_settle(db, &t);
	if (rc == AUTH_OK) {
		*res = t.res;
		*uidp = t.acct.id;
	}
out:
	OPENSSL_cleanse(&t, sizeof(t));
	return rc;
}

/* One request being settled, as it goes. */
struct reset_issuing {
	const struct cfg	*cfg;
	const struct mailq_row	*row;
	long long		 now;
	struct reset_issue	*out;
	long long		 token;		/* the new code's row */
	long long		 expires;	/* and its expiry */
	char			 nonce[OTP_NONCE_HEX + 1];
};

/*
 * Write a new code for the locked account uid of request row: the older
 * codes retired, the digest and its issue record inserted, and the row
 * turned into the code's message.  The code itself is derived from a new
 * nonce, and neither is written anywhere.
 */
static enum auth_status
reset_new_code(struct db *db, struct reset_issuing *is, long long uid,
    int *commit)
{
	MYSQL_BIND		 p[3];
	MYSQL_TIME		 expires, created;
	MYSQL_STMT		*st;
	char			 digest[OTP_DIGEST_HEX + 1];
	char			 code[OTP_DIGITS + 1];
	unsigned long		 dlen = OTP_DIGEST_HEX;
	enum auth_status	 rc;

	if ((rc = rng_hex(is->nonce, sizeof(is->nonce), OTP_NONCE_HEX / 2)) !=
	    AUTH_OK ||
	    (rc = otp_code_from_nonce(uid, is->row->id, is->nonce, code,
	    sizeof(code))) != AUTH_OK ||
	    (rc = otp_digest(uid, code, OTP_DIGITS, digest,
	    sizeof(digest))) != AUTH_OK)
		goto out;
	/* The row two issuers on two Galera nodes both write. */
	db_bind_llong(&p[0], &uid);
	db_time_from_epoch(&created, is->now);
	db_bind_time(&p[1], &created);
	if ((rc = db_exec(db, DB_Q_RESET_ACCOUNT_ISSUED, p, NULL)) != AUTH_OK)
		goto out;
	db_bind_llong(&p[0], &uid);
	if ((rc = db_exec(db, DB_Q_RESET_RETIRE_USER, p, NULL)) != AUTH_OK)
		goto out;
	is->expires = is->now + is->cfg->otp_expire_minutes * 60;
	db_bind_llong(&p[0], &uid);
	db_bind_str(&p[1], digest, &dlen);
	db_time_from_epoch(&expires, is->expires);
	db_bind_time(&p[2], &expires);
	if ((rc = db_exec(db, DB_Q_RESET_INSERT, p, &st)) != AUTH_OK)
		goto out;
	is->token = (long long)mysql_stmt_insert_id(st);
	db_bind_llong(&p[0], &is->token);
	db_bind_llong(&p[1], &uid);
	db_time_from_epoch(&created, is->now);
	db_bind_time(&p[2], &created);
	if ((rc = db_exec(db, DB_Q_RESET_CODE_INSERT, p, NULL)) != AUTH_OK)
		goto out;
	/* The message, in the same transaction as its code. */
	rc = mailq_to_message(db, is->row, uid, is->token, is->nonce,
	    is->expires, is->now);
	if (rc == AUTH_OK) {
		is->out->result = RESET_ISSUED;
		*commit = 1;
	} else if (rc == AUTH_ERR_NOT_FOUND) {
		is->out->result = RESET_SUPERSEDED;
		rc = AUTH_OK;
	}
out:
	OPENSSL_cleanse(code, sizeof(code));
	OPENSSL_cleanse(digest, sizeof(digest));
	return rc;
}

/*
 * reset_issue()'s transaction, for db_txn(): run again from scratch on a
 * conflict.
 */
static enum auth_status
reset_issue_txn(struct db *db, void *arg, int *commit)
{
	MYSQL_BIND		 p[2], r[2];
	MYSQL_TIME		 since, last;
	MYSQL_STMT		*st;
	struct reset_issuing	*is = arg;
	struct reset_account	 a;
	const struct cfg	*cfg = is->cfg;
	my_bool			 lastnull;
	long long		 uid, count;
	enum auth_status	 rc;

	memset(is->out, 0, sizeof(*is->out));
	if ((rc = reset_read_committed(db)) != AUTH_OK)
		return rc;
	rc = reset_lock_account(db, is->row->email, &a);
	uid = a.id;
	OPENSSL_cleanse(&a.username, sizeof(a.username));
	if (rc != AUTH_OK && rc != AUTH_ERR_NOT_FOUND)
		return rc;
	is->out->user_id = uid;
	is->out->result = RESET_NO_ACCOUNT;
	if (rc == AUTH_ERR_NOT_FOUND || !a.active)
		goto drop;

	/* The account is locked: these counts cannot change under us. */
	db_bind_llong(&p[0], &uid);
	db_time_from_epoch(&since, is->now - 3600);
	db_bind_time(&p[1], &since);
	if ((rc = db_exec(db, DB_Q_RESET_RECENT, p, &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&r[0], &count);
	db_bind_time(&r[1], &last);
	r[1].is_null = &lastnull;
	if ((rc = db_fetch_one(db, st, r)) != AUTH_OK)
		return rc;
	if (cfg->otp_cooldown_seconds > 0 && !lastnull &&
	    db_time_to_epoch(&last) > is->now - cfg->otp_cooldown_seconds) {
		is->out->result = RESET_COOLDOWN;
		goto drop;
	}
	if (cfg->otp_max_per_hour > 0 && count >= cfg->otp_max_per_hour) {
		is->out->result = RESET_HOURLY_CAP;
		goto drop;
	}
	return reset_new_code(db, is, uid, commit);
drop:
	/* No code: the request is done with. */
	if ((rc = mailq_done(db, is->row)) == AUTH_ERR_NOT_FOUND) {
		is->out->result = RESET_SUPERSEDED;
		return AUTH_OK;
	}
	*commit = rc == AUTH_OK;
	return rc;
}

/*
 * Settle the request row (claimed by the caller) at time now: issue a code
 * for the account its address names, unless it is unknown or disabled (or
 * a look-alike), or the per-account cooldown or hourly cap holds.  The
 * account's older codes stop being valid.  In one transaction, with the
 * code: the row becomes the message of the code (and row is updated to
 * match once that is committed), or, without one, it is deleted.  On
 * AUTH_OK out->result says which (RESET_SUPERSEDED: the claim was lost,
 * nothing was written).  AUTH_ERR_DB_COMMIT_UNKNOWN is never run again:
 * the row, claimed, is settled by the next sender once the claim runs
 * out, as a request if nothing landed, as a message if the code did.
 * Returns a database or crypto status otherwise.
 */
enum auth_status
reset_issue(struct db *db, const struct cfg *cfg, struct mailq_row *row,
    long long now, struct reset_issue *out)
{
	struct reset_issuing	 is;
	enum auth_status	 rc;

	memset(out, 0, sizeof(*out));
	memset(&is, 0, sizeof(is));
	is.cfg = cfg;
	is.row = row;
	is.now = now;
	is.out = out;
	if ((rc = otp_init(cfg)) != AUTH_OK)
		return rc;
	rc = db_txn(db, reset_issue_txn, &is);
	if (rc == AUTH_ERR_DB_COMMIT_UNKNOWN)
		log_err("reset", "commit outcome unknown request=%lld",
		    row->id);
	if (rc == AUTH_OK && out->result == RESET_ISSUED)
		mailq_became_message(row, out->user_id, is.token, is.nonce,
		    is.expires);
	OPENSSL_cleanse(&is, sizeof(is));
	return rc;
}
