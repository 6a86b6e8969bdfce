/* SPDX-License-Identifier: ISC */
/*
 * The database connection: one per process, opened before the accept
 * loop; each statement is prepared on it when first used.  All SQL text
 * of the suite is in the table in db.c; none is ever built from input.
 */
#ifndef AUTH_DB_H
#define AUTH_DB_H

#include <stddef.h>

#include <mysql.h>

#include "status.h"

struct dburl;
struct db;

/* Every statement of the suite, indexing the SQL table in db.c. */
enum db_q {
	DB_Q_USER_INSERT,
	DB_Q_USER_BY_EMAIL,
	DB_Q_USER_REHASH,
	DB_Q_SESSION_INSERT,
	DB_Q_SESSION_ROTATE,
	DB_Q_SESSION_GET,
	DB_Q_SESSION_REVOKE,
	DB_Q_SESSION_REVOKE_USER,
	DB_Q_USER_LOCK,
	DB_Q_USER_SET_PASSWORD,
	DB_Q_RESET_RECENT,
	DB_Q_RESET_RETIRE_USER,
	DB_Q_RESET_INSERT,
	DB_Q_RESET_CODE_INSERT,
	DB_Q_RESET_NEWEST,
	DB_Q_RESET_ATTEMPT,
	DB_Q_RESET_USE,
	DB_Q_CLEANUP_LOCK,
	DB_Q_CLEANUP_UNLOCK,
	DB_Q_CLEANUP_RESET_EXPIRED,
	DB_Q_CLEANUP_RESET_USED,
	DB_Q_CLEANUP_RESET_CODE,
	DB_Q_CLEANUP_SESSION_EXPIRED,
	DB_Q_CLEANUP_SESSION_REVOKED,
	DB_Q_COUNT_RESET_EXPIRED,
	DB_Q_COUNT_RESET_USED,
	DB_Q_COUNT_RESET_CODE,
	DB_Q_COUNT_SESSION_EXPIRED,
	DB_Q_COUNT_SESSION_REVOKED,
	DB_Q_THROTTLE_HIT1,
	DB_Q_THROTTLE_HIT2,
	DB_Q_THROTTLE_HIT3,
	DB_Q_THROTTLE_LOGIN_OK,
	DB_Q_CLEANUP_THROTTLE,
	DB_Q_COUNT_THROTTLE,
	DB_Q_SESSION_REVOKE_LIVE,
	DB_Q_USER_ACTIVE,
	DB_Q_HEALTH,
	DB_Q_TXN_READ_COMMITTED,
	DB_Q_TXN_REPEATABLE_READ,
	DB_Q_CLEANUP_GALERA,
	DB_Q_MAILQ_REQUEST,
	DB_Q_MAILQ_SLOTS_FREE,
	DB_Q_MAILQ_SLOT_TAKE,
	DB_Q_MAILQ_SLOT_WHICH,
	DB_Q_MAILQ_SLOT_RENEW,
	DB_Q_MAILQ_SLOT_RELEASE,
	DB_Q_MAILQ_CLAIM,
	DB_Q_MAILQ_CLAIMED,
	DB_Q_MAILQ_TO_MESSAGE,
	DB_Q_MAILQ_DELETE,
	DB_Q_MAILQ_RETRY,
	DB_Q_MAILQ_PENDING,
	DB_Q_MAILQ_MESSAGE,
	DB_Q_RESET_FAILURES,
	DB_Q_RESET_FAILURE_ADD,
	DB_Q_RESET_VERIFY,
	DB_Q_CLEANUP_LOCK_CHECK,
	DB_Q_CLEANUP_ACTIVITY,
	DB_Q_CLEANUP_MAILQ,
	DB_Q_COUNT_MAILQ,
	DB_Q_CLEANUP_RESET_FAILURE,
	DB_Q_COUNT_RESET_FAILURE,
	DB_Q_RESET_ATTEMPT_NONE,
	DB_Q_RESET_ACCOUNT_ISSUED,
	DB_Q_LEGACY_USER,
	DB_Q_LEGACY_CLAIM,
	DB_Q_LEGACY_GET,
	DB_Q_LEGACY_CUTOFF,
	DB_Q_CLEANUP_LEGACY_REFRESH,
	DB_Q_COUNT_LEGACY_REFRESH,
	DB_Q_CLEANUP_LEGACY_CUTOFF,
	DB_Q_COUNT_LEGACY_CUTOFF,
	DB_Q__MAX
};

/* db.c */
struct db	*db_new(const struct dburl *, const enum db_q *, size_t);
enum auth_status db_connect(struct db *);
enum auth_status db_exec(struct db *, enum db_q, MYSQL_BIND *,
		    MYSQL_STMT **);
enum auth_status db_begin(struct db *);
enum auth_status db_commit(struct db *);
void		 db_rollback(struct db *);
enum auth_status db_txn(struct db *,
		    enum auth_status (*)(struct db *, void *, int *), void *);
unsigned long long db_affected(struct db *, enum db_q);
enum auth_status db_fetch_one(struct db *, MYSQL_STMT *, MYSQL_BIND *);
enum auth_status db_fetch_all(struct db *, MYSQL_STMT *, MYSQL_BIND *,
		    void (*)(void *), void *);
const char	*db_dup_key(const struct db *);
unsigned int	 db_last_errno(const struct db *);
void		 db_quiet(struct db *, int);
void		 db_free(struct db *);
void		 db_bind_str(MYSQL_BIND *, const char *, unsigned long *);
void		 db_bind_int(MYSQL_BIND *, int *);
void		 db_bind_llong(MYSQL_BIND *, long long *);
void		 db_bind_out_str(MYSQL_BIND *, char *, size_t, unsigned long *,
		    my_bool *);
void		 db_bind_time(MYSQL_BIND *, MYSQL_TIME *);
void		 db_time_from_epoch(MYSQL_TIME *, long long);
long long	 db_time_to_epoch(const MYSQL_TIME *);

#endif /* !AUTH_DB_H */
