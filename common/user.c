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

#include "db.h"
#include "log.h"
#include "user.h"

/*
 * Insert an active account with the given normalised email, username and
 * password hash, created now.  On AUTH_OK *out describes the new row.
 * Returns AUTH_ERR_DUP_EMAIL or AUTH_ERR_DUP_USERNAME when the address or
 * name is taken, AUTH_ERR_DB_UNAVAIL or AUTH_ERR_DB on database failure.
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
