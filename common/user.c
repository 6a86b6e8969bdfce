/* SPDX-License-Identifier: ISC */
/*
 * Accounts in the FastAPI backend's `user` table.  Uniqueness of email
 * and username is decided by the table's unique indexes, never by a
 * look-up before the insert, so concurrent registrations cannot race.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "db.h"
#include "log.h"
#include "user.h"

/*
 * Insert an active account with the given normalised email, username and
 * password hash, created now.  On AUTH_OK *out describes the new row.
 * Returns AUTH_ERR_DUP_EMAIL or AUTH_ERR_DUP_USERNAME when the address or
 * name is taken, AUTH_ERR_DB_UNAVAIL or AUTH_ERR_DB on database failure,
 * AUTH_ERR_DB_COMMIT_UNKNOWN when the connection was lost with the INSERT
 * sent: the account may exist.  It is never inserted again: the client
 * gets a 503, and its retry either creates the account or meets the
 * unique index (409), which then tells it the account exists.
 */
enum auth_status
user_create(struct db *db, const char *email, const char *username,
    const char *hash, struct user *out)
{
	MYSQL_BIND		 p[4];
	MYSQL_TIME		 created;
	MYSQL_STMT		*st;
	unsigned long		 elen, ulen, hlen;
	enum auth_status	 rc;
	const char		*key;
	long long		 now;

	memset(out, 0, sizeof(*out));
	now = (long long)time(NULL);
	elen = strlen(email);
	ulen = strlen(username);
	hlen = strlen(hash);
	if (elen >= sizeof(out->email) || ulen >= sizeof(out->username))
		return AUTH_ERR_INVALID;
	db_bind_str(&p[0], email, &elen);
	db_bind_str(&p[1], username, &ulen);
	db_bind_str(&p[2], hash, &hlen);
	db_time_from_epoch(&created, now);
	db_bind_time(&p[3], &created);

	rc = db_exec(db, DB_Q_USER_INSERT, p, &st);
	if (rc == AUTH_ERR_DB_DUPLICATE) {
		/*
		 * The FastAPI backend's indexes are ix_user_email and
		 * ix_user_username; a table made by hand may call them
		 * email and username.  Either way the name says which.
		 */
		key = db_dup_key(db);
		if (strstr(key, "username") != NULL)
			return AUTH_ERR_DUP_USERNAME;
		if (strstr(key, "email") == NULL)
			log_warn("user", "unexpected duplicate key=%s", key);
		return AUTH_ERR_DUP_EMAIL;
	}
	if (rc != AUTH_OK)
		return rc;

	out->id = (long long)mysql_stmt_insert_id(st);
	(void)snprintf(out->email, sizeof(out->email), "%s", email);
	(void)snprintf(out->username, sizeof(out->username), "%s", username);
	out->is_active = 1;
	out->created_at = now;
	return AUTH_OK;
}

/*
 * Return 1 if stored (storedlen bytes, the user.email of a row as the
 * database holds it) is the address email designates, else 0.  email is
 * normalised by valid_email_lookup() or valid_email(): trimmed, ASCII
 * letters lower-cased.  The rule: stored, with its ASCII letters
 * lower-cased and nothing else changed, equals email byte for byte.
 * ASCII case is the only fold, because the FastAPI backend kept local
 * parts as typed ("Bob.Mixed@example.com" still logs in as
 * bob.mixed@example.com); every other fold of the column's collation
 * (utf8mb4_unicode_ci: u = \u00fc, ss = \u00df, trailing spaces) makes a
 * look-alike, which must find no account: a lookup `WHERE email = ?`
 * returns such rows, so every caller that finds an account by address
 * checks the row it fetched with this.
 */
int
user_email_matches(const char *stored, size_t storedlen, const char *email)
{
	size_t		 i;
	unsigned char	 c;

	if (stored == NULL || email == NULL || storedlen != strlen(email))
		return 0;
	for (i = 0; i < storedlen; i++) {
		c = (unsigned char)stored[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)email[i])
			return 0;
	}
	return 1;
}

/*
 * Look up the account whose address is email (normalised by
 * valid_email_lookup()), matched by user_email_matches(): the query finds
 * the one row the unique index under the column's collation allows, and
 * a row that is only a look-alike is no account.  On AUTH_OK *out holds
 * its id, hash and state.  Returns AUTH_ERR_NOT_FOUND (no row, or a
 * look-alike), AUTH_ERR_DB_UNAVAIL or AUTH_ERR_DB otherwise.  A stored
 * hash too long for any bcrypt hash is AUTH_ERR_DB, never cut short.
 */
enum auth_status
user_by_email(struct db *db, const char *email, struct user_login *out)
{
	MYSQL_BIND		 p[1], r[4];
	MYSQL_STMT		*st;
	unsigned long		 elen = strlen(email), slen, hlen;
	enum auth_status	 rc;
	struct user_login	 u;
	char			 stored[USER_EMAIL_COLUMN_MAX + 1];

	memset(out, 0, sizeof(*out));
	memset(&u, 0, sizeof(u));
	db_bind_str(&p[0], email, &elen);
	if ((rc = db_exec(db, DB_Q_USER_BY_EMAIL, p, &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&r[0], &u.id);
	db_bind_out_str(&r[1], stored, sizeof(stored), &slen, NULL);
	db_bind_out_str(&r[2], u.hash, sizeof(u.hash), &hlen, NULL);
	db_bind_int(&r[3], &u.is_active);
	if ((rc = db_fetch_one(db, st, r)) != AUTH_OK)
		goto out;
	if (!user_email_matches(stored, slen, email)) {
		rc = AUTH_ERR_NOT_FOUND;
		goto out;
	}
	*out = u;
out:
	OPENSSL_cleanse(&u, sizeof(u));
	return rc;
}

/*
 * Replace the password hash of account id with newhash, if it is still
 * oldhash (a concurrent password change wins).  Returns AUTH_OK (whether
 * or not the row changed), AUTH_ERR_DB_UNAVAIL, AUTH_ERR_DB, or
 * AUTH_ERR_DB_COMMIT_UNKNOWN when the connection was lost with the UPDATE
 * sent: either hash may be stored then, and both verify the same
 * password, so the caller need not find out which.
 */
enum auth_status
user_rehash(struct db *db, long long id, const char *oldhash,
    const char *newhash)
{
	MYSQL_BIND	 p[3];
	unsigned long	 nlen = strlen(newhash), olen = strlen(oldhash);

	db_bind_str(&p[0], newhash, &nlen);
	db_bind_llong(&p[1], &id);
	db_bind_str(&p[2], oldhash, &olen);
	return db_exec(db, DB_Q_USER_REHASH, p, NULL);
}

/*
 * Set *active to 1 if account id exists and is active, else to 0 (a
 * deleted account is as good as a disabled one to whoever asks).
 * Returns AUTH_OK, AUTH_ERR_DB_UNAVAIL or AUTH_ERR_DB.
 */
enum auth_status
user_active(struct db *db, long long id, int *active)
{
	MYSQL_BIND		 p[1], r[1];
	MYSQL_STMT		*st;
	enum auth_status	 rc;
	int			 is_active = 0;

	*active = 0;
	db_bind_llong(&p[0], &id);
	if ((rc = db_exec(db, DB_Q_USER_ACTIVE, p, &st)) != AUTH_OK)
		return rc;
	db_bind_int(&r[0], &is_active);
	rc = db_fetch_one(db, st, r);
	if (rc == AUTH_ERR_NOT_FOUND)
		return AUTH_OK;
	if (rc != AUTH_OK)
		return rc;
	*active = is_active == 1;
	return AUTH_OK;
}
