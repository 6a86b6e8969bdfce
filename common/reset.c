/* SPDX-License-Identifier: ISC */
/*
 * Password recovery, decided in the database.  Both steps run in one
 * transaction that starts by locking the account's row, so two requests
 * for one account take turns: the cooldown and the hourly cap cannot be
 * raced, a code is redeemed at most once, and its attempt counter is
 * written before the comparison it counts.  Older codes are retired with
 * an UPDATE, not a DELETE, which under concurrent inserts deadlocks on
 * InnoDB's gap locks (LIBRARY-NOTES B5).  A transaction that deadlocks
 * anyway is tried again, up to RESET_TRIES times.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "otp.h"
#include "pw.h"
#include "reset.h"
#include "session.h"

#define RESET_TRIES	3

/*
 * Lock the account with email for the rest of the transaction.  Returns
 * AUTH_OK with its id, username (into usize > RESET_USERNAME_MAX bytes)
 * and state, AUTH_ERR_NOT_FOUND, or a database failure.
 */
static enum auth_status
reset_lock_user(struct db *db, const char *email, long long *id,
    char *username, size_t usize, int *active)
{
	MYSQL_BIND		 p[1], r[3];
	MYSQL_STMT		*st;
	unsigned long		 elen = strlen(email), ulen;
	enum auth_status	 rc;

	db_bind_str(&p[0], email, &elen);
	if ((rc = db_exec(db, DB_Q_USER_LOCK, p, &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&r[0], id);
	db_bind_out_str(&r[1], username, usize, &ulen, NULL);
	db_bind_int(&r[2], active);
	return db_fetch_one(db, st, r);
}

/*
 * One try of reset_issue(), inside a transaction the caller ends.
 */
static enum auth_status
reset_issue_once(struct db *db, const struct cfg *cfg, const char *email,
    long long now, struct reset_code *out)
{
	MYSQL_BIND		 p[4], r[2];
	MYSQL_TIME		 since, last, expires, created;
	MYSQL_STMT		*st;
	char			 digest[OTP_DIGEST_HEX + 1];
	unsigned long		 dlen = OTP_DIGEST_HEX;
	my_bool			 lastnull;
	long long		 uid, count, token;
	int			 active;
	enum auth_status	 rc;

	rc = reset_lock_user(db, email, &uid, out->username,
	    sizeof(out->username), &active);
	if (rc == AUTH_ERR_NOT_FOUND || (rc == AUTH_OK && !active)) {
		out->result = RESET_NO_ACCOUNT;
		return AUTH_OK;
	}
	if (rc != AUTH_OK)
		return rc;
	out->user_id = uid;

	/* The account is locked: these counts cannot change under us. */
	db_bind_llong(&p[0], &uid);
	db_time_from_epoch(&since, now - 3600);
	db_bind_time(&p[1], &since);
	if ((rc = db_exec(db, DB_Q_RESET_RECENT, p, &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&r[0], &count);
	db_bind_time(&r[1], &last);
	r[1].is_null = &lastnull;
	if ((rc = db_fetch_one(db, st, r)) != AUTH_OK)
		return rc;
	if (cfg->otp_cooldown_seconds > 0 && !lastnull &&
	    db_time_to_epoch(&last) > now - cfg->otp_cooldown_seconds) {
		out->result = RESET_COOLDOWN;
		return AUTH_OK;
	}
	if (cfg->otp_max_per_hour > 0 && count >= cfg->otp_max_per_hour) {
		out->result = RESET_HOURLY_CAP;
		return AUTH_OK;
	}

	if ((rc = otp_generate(out->code, sizeof(out->code))) != AUTH_OK ||
	    (rc = otp_digest(uid, out->code, OTP_DIGITS, digest,
	    sizeof(digest))) != AUTH_OK)
		return rc;
	db_bind_llong(&p[0], &uid);
	if ((rc = db_exec(db, DB_Q_RESET_RETIRE_USER, p, NULL)) != AUTH_OK)
		return rc;
	db_bind_llong(&p[0], &uid);
	db_bind_str(&p[1], digest, &dlen);
	db_time_from_epoch(&expires, now + cfg->otp_expire_minutes * 60);
	db_bind_time(&p[2], &expires);
	if ((rc = db_exec(db, DB_Q_RESET_INSERT, p, &st)) != AUTH_OK)
		return rc;
	token = (long long)mysql_stmt_insert_id(st);
	db_bind_llong(&p[0], &token);
	db_bind_llong(&p[1], &uid);
	db_time_from_epoch(&created, now);
	db_bind_time(&p[2], &created);
	if ((rc = db_exec(db, DB_Q_RESET_CODE_INSERT, p, NULL)) != AUTH_OK)
		return rc;
	out->result = RESET_ISSUED;
	return AUTH_OK;
}

/*
 * Issue a one-time code for the account with (normalised) email at time
 * now, unless it is unknown or disabled, or the per-account cooldown or
 * hourly cap holds.  The account's older codes stop being valid.  On
 * AUTH_OK out->result says which; for RESET_ISSUED out->code is the code
 * to mail (the caller wipes it).  Returns a database or crypto failure
 * otherwise.
 */
enum auth_status
reset_issue(struct db *db, const struct cfg *cfg, const char *email,
    long long now, struct reset_code *out)
{
	enum auth_status	 rc = AUTH_ERR_DB_UNAVAIL;
	int			 i;

	for (i = 0; i < RESET_TRIES && rc == AUTH_ERR_DB_UNAVAIL; i++) {
		memset(out, 0, sizeof(*out));
		if ((rc = db_begin(db)) != AUTH_OK)
			continue;
		rc = reset_issue_once(db, cfg, email, now, out);
		if (rc == AUTH_OK && out->result == RESET_ISSUED)
			rc = db_commit(db);
		else
			db_rollback(db);
	}
	if (rc != AUTH_OK)
		OPENSSL_cleanse(out, sizeof(*out));
	return rc;
}

/*
 * One try of reset_redeem(), inside a transaction.  *commit says whether
 * what was written (at least the attempt) must be kept.
 */
static enum auth_status
reset_redeem_once(struct db *db, const struct cfg *cfg, const char *email,
    const char *otp, size_t otplen, const char *password, long long now,
    enum reset_redeem_result *res, long long *uidp, int *commit)
{
	MYSQL_BIND		 p[3], r[3];
	MYSQL_TIME		 tnow;
	MYSQL_STMT		*st;
	char			 username[RESET_USERNAME_MAX + 1];
	char			 stored[1024], hash[PW_HASH_MAX];
	unsigned long		 slen, hlen;
	long long		 uid, token;
	int			 active, attempts;
	enum auth_status	 rc;

	*res = RESET_BAD_CODE;
	*commit = 0;
	hash[0] = '\0';
	rc = reset_lock_user(db, email, &uid, username, sizeof(username),
	    &active);
	if (rc == AUTH_ERR_NOT_FOUND) {
		log_info("reset", "failure reason=no-account");
		return AUTH_OK;
	}
	if (rc != AUTH_OK)
		return rc;
	*uidp = uid;
	if (!active) {
		log_info("reset", "failure reason=disabled user=%lld", uid);
		return AUTH_OK;
	}

	/* The newest unused, unexpired code of the account. */
	db_bind_llong(&p[0], &uid);
	db_time_from_epoch(&tnow, now);
	db_bind_time(&p[1], &tnow);
	if ((rc = db_exec(db, DB_Q_RESET_NEWEST, p, &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&r[0], &token);
	db_bind_out_str(&r[1], stored, sizeof(stored), &slen, NULL);
	db_bind_int(&r[2], &attempts);
	rc = db_fetch_one(db, st, r);
	if (rc == AUTH_ERR_NOT_FOUND) {
		log_info("reset", "failure reason=no-code user=%lld", uid);
		return AUTH_OK;
	}
	if (rc != AUTH_OK)
		return rc;
	if (attempts >= cfg->otp_max_attempts) {
		log_info("reset", "failure reason=attempts user=%lld", uid);
		return AUTH_OK;
	}

	/* Count the attempt before comparing, and keep it either way. */
	db_bind_llong(&p[0], &token);
	db_bind_llong(&p[1], &uid);
	db_bind_time(&p[2], &tnow);
	if ((rc = db_exec(db, DB_Q_RESET_ATTEMPT, p, NULL)) != AUTH_OK)
		return rc;
	*commit = 1;
	if (!otp_matches(uid, otp, otplen, stored)) {
		log_info("reset", "failure reason=code user=%lld attempt=%d",
		    uid, attempts + 1);
		return AUTH_OK;
	}
	if (strcasecmp(password, username) == 0) {
		*commit = 0;
		*res = RESET_WEAK_PASSWORD;
		return AUTH_OK;
	}

	if ((rc = pw_hash(password, cfg->bcrypt_rounds, hash,
	    sizeof(hash))) != AUTH_OK)
		goto out;
	hlen = strlen(hash);
	db_bind_llong(&p[0], &token);
	if ((rc = db_exec(db, DB_Q_RESET_USE, p, NULL)) != AUTH_OK)
		goto out;
	if (db_affected(db, DB_Q_RESET_USE) != 1) {
		/* Cannot happen under the row lock; never reset twice. */
		log_err("reset", "code already used user=%lld", uid);
		*commit = 0;
		goto out;
	}
	db_bind_str(&p[0], hash, &hlen);
	db_bind_llong(&p[1], &uid);
	if ((rc = db_exec(db, DB_Q_USER_SET_PASSWORD, p, NULL)) != AUTH_OK)
		goto out;
	db_bind_llong(&p[0], &uid);
	if ((rc = db_exec(db, DB_Q_RESET_RETIRE_USER, p, NULL)) != AUTH_OK)
		goto out;
	if ((rc = session_revoke_all(db, uid, now)) != AUTH_OK)
		goto out;
	*res = RESET_DONE;
out:
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

/*
 * Redeem code otp (otplen bytes, as sent) for the account with
 * (normalised) email at time now, setting its password to password
 * (already validated against the registration rules).  Succeeds only for
 * the newest unused, unexpired code of an active account that has had
 * fewer than OTP_MAX_ATTEMPTS tries; every try is counted first.  On
 * success, in one transaction: the new hash, the code used, the
 * account's other codes retired and all its refresh sessions revoked.
 * On AUTH_OK *res says what happened and *uidp (when known) the account.
 */
enum auth_status
reset_redeem(struct db *db, const struct cfg *cfg, const char *email,
    const char *otp, size_t otplen, const char *password, long long now,
    enum reset_redeem_result *res, long long *uidp)
{
	enum auth_status	 rc = AUTH_ERR_DB_UNAVAIL;
	int			 i, commit;

	*uidp = 0;
	for (i = 0; i < RESET_TRIES && rc == AUTH_ERR_DB_UNAVAIL; i++) {
		*res = RESET_BAD_CODE;
		if ((rc = db_begin(db)) != AUTH_OK)
			continue;
		rc = reset_redeem_once(db, cfg, email, otp, otplen, password,
		    now, res, uidp, &commit);
		if (rc == AUTH_OK && commit)
			rc = db_commit(db);
		else
			db_rollback(db);
	}
	if (rc != AUTH_OK)
		*res = RESET_BAD_CODE;
	return rc;
}
