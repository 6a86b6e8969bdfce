/* SPDX-License-Identifier: ISC */
/*
 * MariaDB through Connector/C: one persistent connection per process,
 * each statement prepared on that connection the first time it is used,
 * and a clear line between "the database is away or busy, try later"
 * (503) and "the database said no" (500).
 *
 * Automatic reconnection stays off (MYSQL_OPT_RECONNECT): when the server
 * goes away the connection is dropped, the request is answered 503, and
 * the next request connects again.
 *
 * Conflicts: a statement that InnoDB chose as a
 * deadlock victim (1213), that lost a Galera certification to another
 * node's write (1213 too), or that waited DB_LOCK_WAIT_TIMEOUT seconds
 * for a lock (1205) did nothing.  Alone (autocommit) it is retried here,
 * by db_exec(); inside a transaction the whole transaction is, by
 * db_txn().  Whichever retries logs one line for it when it is over: a
 * warning if a run passed, an error if the conflict outlasted the runs.
 * A write whose connection was lost before its outcome came back (a
 * COMMIT, or an autocommit write) is never retried: the caller is told
 * AUTH_ERR_DB_COMMIT_UNKNOWN and decides, reading the state again.
 */
#include "config.h"

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "db.h"
#include "dburl.h"
#include "log.h"
#include "rng.h"

#define DB_CONNECT_TIMEOUT	5	/* seconds: DB_CONNECT_TIMEOUT default */
#define DB_IO_TIMEOUT		10	/* seconds: DB_TIMEOUT default */
#define DB_LOCK_WAIT_TIMEOUT	5	/* seconds: DB_LOCK_WAIT_TIMEOUT default */
#define DB_DEADLOCK_TRIES	10	/* runs of a deadlock victim */
#define DB_LOCK_WAIT_TRIES	2	/* runs after a lock-wait timeout */
#define DB_PAUSE_US		2000	/* most of the first pause, doubled */
#define DB_PAUSE_MAX_US		512000	/* ... up to this */
#define DB_SYNC_WAIT		3	/* wsrep_sync_wait: reads, UPDATE, DELETE */
#define DB_SYSTEM_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"
#define DB_SYSTEM_CA_PATH	"/etc/ssl/certs"

struct db {
	const struct dburl	*url;		/* borrowed from the config */
	MYSQL			*conn;		/* NULL while disconnected */
	MYSQL_STMT		*stmt[DB_Q__MAX];
	int			 used[DB_Q__MAX]; /* prepared at connect */
	char			 dupkey[65];	/* after a duplicate key */
	unsigned int		 lasterr;	/* errno of the last failure */
	int			 in_txn;	/* between begin and end */
	int			 txn_retried;	/* in db_txn(), which logs conflicts */
	int			 conflict;	/* 1213 or 1205 since begin */
	enum db_q		 conflict_q;	/* where (DB_Q__MAX: COMMIT) */
	int			 quiet;		/* db_quiet(): away unlogged */
};

/*
 * The SQL of the suite.  Placeholders only: no statement is ever built
 * from input.  `user` is quoted because it is the FastAPI backend's
 * table name and a reserved word.
 */
static const char *const db_sql[DB_Q__MAX] = {
	"INSERT INTO `user` (email, username, hashed_password, is_active, "
	    "created_at) VALUES (?, ?, ?, 1, ?)", /* DB_Q_USER_INSERT */
	"SELECT id, email, hashed_password, is_active FROM `user` "
	    "WHERE email = ?", /* DB_Q_USER_BY_EMAIL */
	"UPDATE `user` SET hashed_password = ? "
	    "WHERE id = ? AND hashed_password = ?", /* DB_Q_USER_REHASH */
	"INSERT INTO auth_refresh_session (id, user_id, generation, "
	    "current_jti, created_at, expires_at) "
	    "VALUES (?, ?, 1, ?, ?, ?)", /* DB_Q_SESSION_INSERT */
	/*
	 * The rotation is this one statement: only the holder of the
	 * current generation of a live session of an active user advances
	 * it, and only once.  Single-table UPDATE assignments run left to
	 * right: grace_generation is computed from the old rotated_at and
	 * generation (the burst goes on if the last rotation was within the
	 * grace window, the first parameter being now minus the window;
	 * session.c), and previous_jti takes the old current_jti.
	 */
	"UPDATE auth_refresh_session SET grace_generation = "
	    "IF(rotated_at IS NOT NULL AND rotated_at >= ?, "
	    "COALESCE(grace_generation, generation - 1), generation), "
	    "previous_jti = current_jti, current_jti = ?, "
	    "generation = generation + 1, rotated_at = ? "
	    "WHERE id = ? AND user_id = ? AND current_jti = ? "
	    "AND generation = ? AND revoked_at IS NULL AND expires_at > ? "
	    "AND EXISTS (SELECT 1 FROM `user` u "
	    "WHERE u.id = auth_refresh_session.user_id "
	    "AND u.is_active = 1)", /* DB_Q_SESSION_ROTATE */
	"SELECT s.current_jti, s.previous_jti, s.rotated_at, "
	    "s.revoked_at IS NOT NULL, s.expires_at, u.is_active, "
	    "s.generation, s.grace_generation "
	    "FROM auth_refresh_session s JOIN `user` u ON u.id = s.user_id "
	    "WHERE s.id = ? AND s.user_id = ?", /* DB_Q_SESSION_GET */
	"UPDATE auth_refresh_session SET revoked_at = ? "
	    "WHERE id = ? AND revoked_at IS NULL", /* DB_Q_SESSION_REVOKE */
	"UPDATE auth_refresh_session SET revoked_at = ? "
	    "WHERE user_id = ? AND revoked_at IS NULL",
	    /* DB_Q_SESSION_REVOKE_USER */
	/*
	 * Serialises the recovery steps of one account.  The collation
	 * matches look-alikes (ü = u, ß = ss): the caller compares the
	 * stored email it returns byte for byte (reset.c).
	 */
	"SELECT id, email, username, is_active FROM `user` WHERE email = ? "
	    "FOR UPDATE", /* DB_Q_USER_LOCK */
	"UPDATE `user` SET hashed_password = ? WHERE id = ?",
	    /* DB_Q_USER_SET_PASSWORD */
	"SELECT COUNT(*), MAX(created_at) FROM auth_reset_code "
	    "WHERE user_id = ? AND created_at > ?", /* DB_Q_RESET_RECENT */
	"UPDATE passwordresettoken SET is_used = 1 "
	    "WHERE user_id = ? AND is_used = 0", /* DB_Q_RESET_RETIRE_USER */
	"INSERT INTO passwordresettoken (user_id, otp, expires_at, is_used) "
	    "VALUES (?, ?, ?, 0)", /* DB_Q_RESET_INSERT */
	"INSERT INTO auth_reset_code (token_id, user_id, created_at, attempts) "
	    "VALUES (?, ?, ?, 0) ON DUPLICATE KEY UPDATE "
	    "user_id = VALUES(user_id), created_at = VALUES(created_at), "
	    "attempts = 0", /* DB_Q_RESET_CODE_INSERT */
	/*
	 * The newest live code collab-auth issued: it has its row in
	 * auth_reset_code, written with it.  A code the FastAPI backend
	 * issued (stored in clear, never honoured) has none and is passed
	 * over: a try at it makes no row, so it never counts as an issued
	 * code for the cooldown or the hourly cap.
	 */
	"SELECT t.id, t.otp, c.attempts FROM passwordresettoken t "
	    "JOIN auth_reset_code c ON c.token_id = t.id "
	    "WHERE t.user_id = ? AND t.is_used = 0 AND t.expires_at > ? "
	    "ORDER BY t.id DESC LIMIT 1 FOR UPDATE", /* DB_Q_RESET_NEWEST */
	"UPDATE auth_reset_code SET attempts = attempts + 1 "
	    "WHERE token_id = ?", /* DB_Q_RESET_ATTEMPT */
	"UPDATE passwordresettoken SET is_used = 1 "
	    "WHERE id = ? AND is_used = 0", /* DB_Q_RESET_USE */
	"SELECT GET_LOCK('collab-auth-cleanup', 0)", /* DB_Q_CLEANUP_LOCK */
	"SELECT RELEASE_LOCK('collab-auth-cleanup')",
	    /* DB_Q_CLEANUP_UNLOCK */
	/*
	 * auth-cleanup's batches.  Each DELETE takes its rows in one total
	 * order, its cutoff column's then the primary key's, so that a
	 * replica applying the statement (statement-based binlog, or a
	 * Galera node) removes the same rows; that order is the cutoff
	 * column's index, which InnoDB extends by the primary key, so a
	 * batch reads its rows straight off the index (ORDER BY the primary
	 * key alone sorted every expired row for each batch).  The kinds
	 * do not overlap (a used code that expired is "expired", a revoked
	 * session that expired is "expired"), so a dry run counts each row
	 * once, as the real run deletes it.
	 */
	"DELETE FROM passwordresettoken WHERE expires_at < ? "
	    "ORDER BY expires_at, id LIMIT ?", /* DB_Q_CLEANUP_RESET_EXPIRED */
	"DELETE FROM passwordresettoken WHERE is_used = 1 AND "
	    "expires_at >= ? ORDER BY id LIMIT ?",
	    /* DB_Q_CLEANUP_RESET_USED */
	"DELETE FROM auth_reset_code WHERE created_at < ? "
	    "ORDER BY created_at, token_id LIMIT ?",
	    /* DB_Q_CLEANUP_RESET_CODE */
	"DELETE FROM auth_refresh_session WHERE expires_at < ? "
	    "ORDER BY expires_at, id LIMIT ?",
	    /* DB_Q_CLEANUP_SESSION_EXPIRED */
	"DELETE FROM auth_refresh_session WHERE revoked_at < ? AND "
	    "expires_at >= ? ORDER BY revoked_at, id LIMIT ?",
	    /* DB_Q_CLEANUP_SESSION_REVOKED */
	"SELECT COUNT(*) FROM passwordresettoken WHERE expires_at < ?",
	    /* DB_Q_COUNT_RESET_EXPIRED */
	"SELECT COUNT(*) FROM passwordresettoken WHERE is_used = 1 AND "
	    "expires_at >= ?", /* DB_Q_COUNT_RESET_USED */
	"SELECT COUNT(*) FROM auth_reset_code WHERE created_at < ?",
	    /* DB_Q_COUNT_RESET_CODE */
	"SELECT COUNT(*) FROM auth_refresh_session WHERE expires_at < ?",
	    /* DB_Q_COUNT_SESSION_EXPIRED */
	"SELECT COUNT(*) FROM auth_refresh_session WHERE revoked_at < ? AND "
	    "expires_at >= ?", /* DB_Q_COUNT_SESSION_REVOKED */
	/*
	 * The throttle counters of one request, all in one round trip:
	 * atomic per row, and MariaDB returns the counts after the update.
	 */
	"INSERT INTO auth_throttle (kind, key_hash, window_start, hits, "
	    "expires_at) VALUES (?, ?, ?, 1, ?) "
	    "ON DUPLICATE KEY UPDATE hits = hits + 1 "
	    "RETURNING kind, hits, expires_at", /* DB_Q_THROTTLE_HIT1 */
	"INSERT INTO auth_throttle (kind, key_hash, window_start, hits, "
	    "expires_at) VALUES (?, ?, ?, 1, ?), (?, ?, ?, 1, ?) "
	    "ON DUPLICATE KEY UPDATE hits = hits + 1 "
	    "RETURNING kind, hits, expires_at", /* DB_Q_THROTTLE_HIT2 */
	"INSERT INTO auth_throttle (kind, key_hash, window_start, hits, "
	    "expires_at) VALUES (?, ?, ?, 1, ?), (?, ?, ?, 1, ?), "
	    "(?, ?, ?, 1, ?) "
	    "ON DUPLICATE KEY UPDATE hits = hits + 1 "
	    "RETURNING kind, hits, expires_at", /* DB_Q_THROTTLE_HIT3 */
	"UPDATE auth_throttle SET hits = IF(kind = 1, 0, IF(hits > 0, "
	    "hits - 1, 0)) WHERE (kind = 1 AND key_hash = ? AND "
	    "window_start = ?) OR (kind = 2 AND key_hash = ? AND "
	    "window_start = ?)", /* DB_Q_THROTTLE_LOGIN_OK */
	"DELETE FROM auth_throttle WHERE expires_at < ? "
	    "ORDER BY expires_at, kind, key_hash, window_start LIMIT ?",
	    /* DB_Q_CLEANUP_THROTTLE */
	"SELECT COUNT(*) FROM auth_throttle WHERE expires_at < ?",
	    /* DB_Q_COUNT_THROTTLE */
	"UPDATE auth_refresh_session SET revoked_at = ? "
	    "WHERE id = ? AND user_id = ? AND revoked_at IS NULL "
	    "AND expires_at > ?", /* DB_Q_SESSION_REVOKE_LIVE */
	"SELECT is_active FROM `user` WHERE id = ?", /* DB_Q_USER_ACTIVE */
	"SELECT 1", /* DB_Q_HEALTH */
	/*
	 * For the next transaction only: READ COMMITTED takes no gap locks
	 * for searches, so transactions for different accounts never
	 * deadlock on an index gap.
	 */
	"SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
	    /* DB_Q_TXN_READ_COMMITTED */
	/*
	 * For the next transaction only: auth-cleanup's batches that read
	 * nothing but the rows they delete (see cleanup_jobs[]), whatever
	 * the server's default.
	 */
	"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	    /* DB_Q_TXN_REPEATABLE_READ */
	/*
	 * auth-cleanup, once: 1 on a Galera node, else 0 (also on a server
	 * without the variable, which SELECT @@wsrep_on would refuse).
	 */
	"SELECT COUNT(*) FROM information_schema.GLOBAL_VARIABLES "
	    "WHERE VARIABLE_NAME = 'WSREP_ON' AND VARIABLE_VALUE = 'ON'",
	    /* DB_Q_CLEANUP_GALERA */
	/* The mail queue (mailq.c; migration 006). */
	"INSERT INTO auth_mail_queue (email, created_at, expires_at, "
	    "next_attempt_at) VALUES (?, ?, ?, ?)", /* DB_Q_MAILQ_REQUEST */
	"SELECT COUNT(*) FROM auth_mail_slot WHERE slot <= ? AND "
	    "lease_until < ?", /* DB_Q_MAILQ_SLOTS_FREE */
	"UPDATE auth_mail_slot SET holder = ?, lease_until = ? "
	    "WHERE slot <= ? AND lease_until < ? ORDER BY slot LIMIT 1",
	    /* DB_Q_MAILQ_SLOT_TAKE */
	"SELECT slot FROM auth_mail_slot WHERE holder = ?",
	    /* DB_Q_MAILQ_SLOT_WHICH */
	"UPDATE auth_mail_slot SET holder = ?, lease_until = ? "
	    "WHERE slot = ? AND holder = ?", /* DB_Q_MAILQ_SLOT_RENEW */
	"UPDATE auth_mail_slot SET holder = NULL, "
	    "lease_until = '1970-01-01 00:00:00' WHERE slot = ? AND "
	    "holder = ?", /* DB_Q_MAILQ_SLOT_RELEASE */
	/* Only a sender that still holds its slot claims anything. */
	"UPDATE auth_mail_queue SET claim = ?, claim_until = ? "
	    "WHERE next_attempt_at <= ? AND claim_until < ? AND EXISTS "
	    "(SELECT 1 FROM auth_mail_slot WHERE slot = ? AND holder = ?) "
	    "ORDER BY id LIMIT 1", /* DB_Q_MAILQ_CLAIM */
	"SELECT id, email, user_id, token_id, nonce, expires_at, attempts "
	    "FROM auth_mail_queue WHERE claim = ?", /* DB_Q_MAILQ_CLAIMED */
	"UPDATE auth_mail_queue SET email = NULL, user_id = ?, "
	    "token_id = ?, nonce = ?, expires_at = ?, next_attempt_at = ? "
	    "WHERE id = ? AND claim = ?", /* DB_Q_MAILQ_TO_MESSAGE */
	"DELETE FROM auth_mail_queue WHERE id = ? AND claim = ?",
	    /* DB_Q_MAILQ_DELETE */
	"UPDATE auth_mail_queue SET attempts = ?, next_attempt_at = ?, "
	    "claim = NULL, claim_until = '1970-01-01 00:00:00' "
	    "WHERE id = ? AND claim = ?", /* DB_Q_MAILQ_RETRY */
	"SELECT COUNT(*), MIN(GREATEST(next_attempt_at, claim_until)), "
	    "(SELECT COUNT(*) FROM auth_mail_slot WHERE slot = ? AND "
	    "holder = ?) FROM auth_mail_queue", /* DB_Q_MAILQ_PENDING */
	"SELECT u.email, u.username, u.is_active, t.is_used, t.expires_at "
	    "FROM passwordresettoken t JOIN `user` u ON u.id = t.user_id "
	    "WHERE t.id = ? AND t.user_id = ?", /* DB_Q_MAILQ_MESSAGE */
	/* The guessing budget of an address (reset.c). */
	"SELECT COUNT(*) FROM auth_reset_failure WHERE key_hash = ? AND "
	    "failed_at > ?", /* DB_Q_RESET_FAILURES */
	"INSERT INTO auth_reset_failure (key_hash, failed_at) VALUES (?, ?)",
	    /* DB_Q_RESET_FAILURE_ADD */
	/*
	 * After a COMMIT whose outcome is unknown: the share lock waits for
	 * the transaction, if the server still runs it, to end.
	 */
	"SELECT t.is_used, u.hashed_password FROM passwordresettoken t "
	    "JOIN `user` u ON u.id = t.user_id WHERE t.id = ? "
	    "LOCK IN SHARE MODE", /* DB_Q_RESET_VERIFY */
	/*
	 * auth-cleanup, before each batch: 1 if this session holds the
	 * lock or has just taken it again (after a reconnect), else 0.
	 */
	"SELECT IF(IS_USED_LOCK('collab-auth-cleanup') <=> CONNECTION_ID(), "
	    "1, GET_LOCK('collab-auth-cleanup', 0))",
	    /* DB_Q_CLEANUP_LOCK_CHECK */
	/*
	 * auth-cleanup, after each batch (see cleanup_busy()): the
	 * statements the clients of this server sent, less this session's,
	 * and the sessions running one now, this one included.
	 */
	"SELECT CAST(q.VARIABLE_VALUE AS SIGNED) - "
	    "CAST(s.VARIABLE_VALUE AS SIGNED), CAST(r.VARIABLE_VALUE AS SIGNED) "
	    "FROM information_schema.GLOBAL_STATUS q "
	    "JOIN information_schema.SESSION_STATUS s "
	    "JOIN information_schema.GLOBAL_STATUS r "
	    "WHERE q.VARIABLE_NAME = 'QUESTIONS' "
	    "AND s.VARIABLE_NAME = 'QUESTIONS' "
	    "AND r.VARIABLE_NAME = 'THREADS_RUNNING'",
	    /* DB_Q_CLEANUP_ACTIVITY */
	"DELETE FROM auth_mail_queue WHERE expires_at < ? "
	    "ORDER BY expires_at, id LIMIT ?", /* DB_Q_CLEANUP_MAILQ */
	"SELECT COUNT(*) FROM auth_mail_queue WHERE expires_at < ?",
	    /* DB_Q_COUNT_MAILQ */
	"DELETE FROM auth_reset_failure WHERE failed_at < ? "
	    "ORDER BY failed_at, id LIMIT ?", /* DB_Q_CLEANUP_RESET_FAILURE */
	"SELECT COUNT(*) FROM auth_reset_failure WHERE failed_at < ?",
	    /* DB_Q_COUNT_RESET_FAILURE */
	/*
	 * reset-password for an address without a code: the round trip
	 * that counting a try costs, changing nothing, so that the answer
	 * takes as long as for a wrong code.
	 */
	"UPDATE auth_reset_code SET attempts = attempts + 1 "
	    "WHERE token_id = 0", /* DB_Q_RESET_ATTEMPT_NONE */
	/*
	 * Every issuing transaction writes its account's row: on Galera,
	 * two of them on two nodes conflict at certification (migration
	 * 006), as the row lock alone cannot make them.
	 */
	"INSERT INTO auth_reset_account (user_id, issued_at) VALUES (?, ?) "
	    "ON DUPLICATE KEY UPDATE issued_at = VALUES(issued_at)",
	    /* DB_Q_RESET_ACCOUNT_ISSUED */
	/*
	 * Legacy refresh tokens (legacy.c): the account and when its
	 * sessions were last all revoked; the first use of a token, which
	 * its unique key makes the only one; what that use started.
	 */
	"SELECT u.is_active, c.revoked_at FROM `user` u "
	    "LEFT JOIN auth_legacy_cutoff c ON c.user_id = u.id "
	    "WHERE u.id = ?", /* DB_Q_LEGACY_USER */
	"INSERT INTO auth_legacy_refresh (token_hash, user_id, session_id, "
	    "used_at, expires_at) VALUES (?, ?, ?, ?, ?)",
	    /* DB_Q_LEGACY_CLAIM */
	"SELECT session_id, used_at FROM auth_legacy_refresh "
	    "WHERE token_hash = ?", /* DB_Q_LEGACY_GET */
	"INSERT INTO auth_legacy_cutoff (user_id, revoked_at) VALUES (?, ?) "
	    "ON DUPLICATE KEY UPDATE "
	    "revoked_at = GREATEST(revoked_at, VALUES(revoked_at))",
	    /* DB_Q_LEGACY_CUTOFF */
	/* auth-cleanup: the legacy tokens' records, once no token needs them. */
	"DELETE FROM auth_legacy_refresh WHERE expires_at < ? "
	    "ORDER BY token_hash LIMIT ?", /* DB_Q_CLEANUP_LEGACY_REFRESH */
	"SELECT COUNT(*) FROM auth_legacy_refresh WHERE expires_at < ?",
	    /* DB_Q_COUNT_LEGACY_REFRESH */
	"DELETE FROM auth_legacy_cutoff WHERE revoked_at < ? "
	    "ORDER BY user_id LIMIT ?", /* DB_Q_CLEANUP_LEGACY_CUTOFF */
	"SELECT COUNT(*) FROM auth_legacy_cutoff WHERE revoked_at < ?",
	    /* DB_Q_COUNT_LEGACY_CUTOFF */
};

/*
 * Return 1 if err says the connection is gone: it is dropped, and the
 * next request connects again.
 */
static int
db_err_gone(unsigned int err)
{

	switch (err) {
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case CR_COMMANDS_OUT_OF_SYNC:
	case ER_CONNECTION_KILLED:
	case ER_SERVER_SHUTDOWN:
		return 1;
	default:
		return 0;
	}
}

/*
 * Return 1 if err, on a write that was sent, leaves its outcome unknown:
 * the connection died while the server may have been applying it (B7).
 * CR_COMMANDS_OUT_OF_SYNC is not among them: nothing was sent.
 */
static int
db_err_unknown(unsigned int err)
{

	return db_err_gone(err) && err != CR_COMMANDS_OUT_OF_SYNC &&
	    err != CR_CONNECTION_ERROR && err != CR_CONN_HOST_ERROR;
}

/*
 * Return 1 if err says the server cannot serve this now but may soon:
 * the request is answered 503 and the connection kept.
 */
static int
db_err_busy(unsigned int err)
{

	switch (err) {
	case ER_LOCK_DEADLOCK:
	case ER_LOCK_WAIT_TIMEOUT:
	case ER_UNKNOWN_COM_ERROR:	/* Galera node not ready (WSREP) */
	case ER_OPTION_PREVENTS_STATEMENT:	/* read-only server */
		return 1;
	default:
		return 0;
	}
}

/*
 * Return 1 if err is a conflict: the statement or transaction did
 * nothing and may pass when run again.
 */
static int
db_err_conflict(unsigned int err)
{

	return err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT;
}

/*
 * Return 1 if failure err is to be logged: always, but that the server
 * is away or busy while the caller waits for it quietly (db_quiet()).
 */
static int
db_loud(const struct db *db, unsigned int err)
{

	return !db->quiet || !(db_err_gone(err) || db_err_busy(err));
}

/*
 * Return 1 if failure err of statement q (DB_Q__MAX: a COMMIT) is a
 * conflict that whoever runs it again logs once it is over (db_exec()
 * for a statement alone, db_txn() for a transaction), noting where it
 * happened for that line.  In a transaction run by hand (db_begin())
 * the caller decides what to do, and the conflict is logged at once.
 */
static int
db_conflict_later(struct db *db, enum db_q q, unsigned int err)
{

	if (!db_err_conflict(err))
		return 0;
	db->conflict_q = q;
	return !db->in_txn || db->txn_retried;
}

/*
 * Return how many times in all a statement or transaction that failed
 * with err may run.  A deadlock victim was rolled back at once and may
 * well pass next time; so may the loser of a Galera certification, but
 * a row that requests through several nodes write at once (one client's
 * throttle counter) can make it lose several times in a row: hence
 * DB_DEADLOCK_TRIES runs, with growing pauses between them (db_pause()).
 * A lock-wait timeout already cost DB_LOCK_WAIT_TIMEOUT seconds, so it
 * gets one more run only.  Anything else runs once.
 */
static int
db_err_tries(unsigned int err)
{

	switch (err) {
	case ER_LOCK_DEADLOCK:
		return DB_DEADLOCK_TRIES;
	case ER_LOCK_WAIT_TIMEOUT:
		return DB_LOCK_WAIT_TRIES;
	default:
		return 1;
	}
}

/*
 * Wait before run try + 1 of a conflict's loser, so that the winner has
 * finished: between half and all of DB_PAUSE_US doubled try - 1 times,
 * up to DB_PAUSE_MAX_US (at most 2, 4, 8 ... 512 ms: 0.5 to 1 s over the
 * nine pauses of DB_DEADLOCK_TRIES runs).  Random, so that two losers
 * (on two nodes) do not meet again at the same instant; growing, so
 * that the loser waits out a queue of writers of the same row.
 */
static void
db_pause(int try)
{
	struct timespec	 ts;
	unsigned int	 most = DB_PAUSE_US, extra;
	int		 i;

	for (i = 1; i < try && most < DB_PAUSE_MAX_US; i++)
		most *= 2;
	if (rng_uniform(most / 2 + 1, &extra) != AUTH_OK)
		extra = most / 2;
	ts.tv_sec = (time_t)((most / 2 + extra) / 1000000);
	ts.tv_nsec = (long)((most / 2 + extra) % 1000000) * 1000;
	(void)nanosleep(&ts, NULL);
}

/*
 * Return 1 if statement q may write: its outcome matters when the
 * connection is lost while it runs.
 */
static int
db_writes(enum db_q q)
{

	return strncmp(db_sql[q], "SELECT ", 7) != 0;
}

static void
db_disconnect(struct db *db)
{
	size_t	 i;

	for (i = 0; i < DB_Q__MAX; i++) {
		if (db->stmt[i] != NULL)
			(void)mysql_stmt_close(db->stmt[i]);
		db->stmt[i] = NULL;
	}
	if (db->conn != NULL)
		mysql_close(db->conn);
	db->conn = NULL;
	db->in_txn = 0;
}

/*
 * Classify server or client error err, already logged: drop the
 * connection if it is gone; note a conflict inside a transaction for
 * db_txn().  Returns AUTH_ERR_DB_UNAVAIL (answer 503) or AUTH_ERR_DB.
 */
static enum auth_status
db_classify(struct db *db, unsigned int err)
{

	db->lasterr = err;
	if (db_err_gone(err)) {
		db_disconnect(db);
		return AUTH_ERR_DB_UNAVAIL;
	}
	if (err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT)
		db->conflict = 1;
	return db_err_busy(err) ? AUTH_ERR_DB_UNAVAIL : AUTH_ERR_DB;
}

/*
 * Return v, a DB_* time-out in seconds from the configuration, or def
 * when it was not set (0).
 */
static unsigned int
db_seconds(long v, unsigned int def)
{

	return v > 0 && v <= 86400 ? (unsigned int)v : def;
}

/*
 * Set the connection options: no LOCAL INFILE, utf8mb4, bounded waits
 * (DB_CONNECT_TIMEOUT, DB_TIMEOUT for each read and write; the lock wait
 * is the session's, db_session()), TCP unless a unix socket was named
 * (Connector/C would otherwise take "localhost" to mean its default
 * socket, unlike PyMySQL), and TLS as the URL's ssl_mode says.
 */
static int
db_options(MYSQL *m, const struct dburl *u)
{
	unsigned int	 zero = 0, ctimeout, iotimeout, proto;
	my_bool		 yes = 1, no = 0;
	const char	*ca;

	ctimeout = db_seconds(u->connect_timeout, DB_CONNECT_TIMEOUT);
	iotimeout = db_seconds(u->io_timeout, DB_IO_TIMEOUT);
	proto = u->unix_socket != NULL ? MYSQL_PROTOCOL_SOCKET :
	    MYSQL_PROTOCOL_TCP;
	if (mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &zero) != 0 ||
	    mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4") != 0 ||
	    mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &ctimeout) != 0 ||
	    mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &iotimeout) != 0 ||
	    mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &iotimeout) != 0 ||
	    mysql_optionsv(m, MYSQL_OPT_RECONNECT, &no) != 0 ||
	    mysql_optionsv(m, MYSQL_OPT_PROTOCOL, &proto) != 0)
		return -1;
	if (u->tls == DBURL_TLS_DISABLED)
		return 0;
	if (mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &yes) != 0)
		return -1;
	if (u->ssl_cert != NULL &&
	    (mysql_optionsv(m, MYSQL_OPT_SSL_CERT, u->ssl_cert) != 0 ||
	    mysql_optionsv(m, MYSQL_OPT_SSL_KEY, u->ssl_key) != 0))
		return -1;
	if (u->tls == DBURL_TLS_REQUIRED) {
		if (u->ssl_ca != NULL &&
		    mysql_optionsv(m, MYSQL_OPT_SSL_CA, u->ssl_ca) != 0)
			return -1;
		return 0;
	}
	/*
	 * Connector/C verifies the chain only when it has a CA to verify
	 * against: without ssl_ca, use the system's trust store.
	 */
	ca = u->ssl_ca != NULL ? u->ssl_ca : DB_SYSTEM_CA_FILE;
	if (mysql_optionsv(m, MYSQL_OPT_SSL_CA, ca) != 0)
		return -1;
	if (u->ssl_ca == NULL &&
	    mysql_optionsv(m, MYSQL_OPT_SSL_CAPATH, DB_SYSTEM_CA_PATH) != 0)
		return -1;
	if (u->tls == DBURL_TLS_VERIFY_IDENTITY &&
	    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes) != 0)
		return -1;
	return 0;
}

/*
 * Log a failure of a connection-level call and classify it as
 * db_exec() does.
 */
static enum auth_status
db_conn_err(struct db *db, const char *what)
{
	unsigned int	 err = mysql_errno(db->conn);

	if (db_loud(db, err))
		log_err("db", "%s failed errno=%u", what, err);
	return db_classify(db, err);
}

/*
 * Set what every session of the suite needs, on a new connection, in one
 * statement (one round trip, at connect only, never per request):
 *	innodb_lock_wait_timeout = DB_LOCK_WAIT_TIMEOUT, so that no request
 *	    waits the server's default 50 s behind a stuck lock;
 *	wsrep_sync_wait with DB_SYNC_WAIT's bits added to the server's, so
 *	    that on a Galera node every read, UPDATE and DELETE first waits
 *	    until the node has applied what the cluster committed before it
 *	    (causal reads: a refresh token rotated through one node and
 *	    presented through another is seen rotated), whatever the nodes'
 *	    configuration says.  Off a cluster it does nothing.
 * A server built without Galera does not know wsrep_sync_wait (1193,
 * ER_UNKNOWN_SYSTEM_VARIABLE): it gets the lock wait alone.  Returns
 * AUTH_OK or a failure classified as db_exec() does.
 */
static enum auth_status
db_session(struct db *db)
{
	char		 sql[128];
	unsigned int	 wait;

	wait = db_seconds(db->url->lock_wait_timeout, DB_LOCK_WAIT_TIMEOUT);
	(void)snprintf(sql, sizeof(sql), "SET SESSION "
	    "innodb_lock_wait_timeout = %u, "
	    "wsrep_sync_wait = @@GLOBAL.wsrep_sync_wait | %d",
	    wait, DB_SYNC_WAIT);
	if (mysql_real_query(db->conn, sql, strlen(sql)) == 0)
		return AUTH_OK;
	if (mysql_errno(db->conn) == ER_UNKNOWN_SYSTEM_VARIABLE) {
		(void)snprintf(sql, sizeof(sql), "SET SESSION "
		    "innodb_lock_wait_timeout = %u", wait);
		if (mysql_real_query(db->conn, sql, strlen(sql)) == 0)
			return AUTH_OK;
	}
	return db_conn_err(db, "session settings");
}

/*
 * Log a connection that failed or was refused: where to (never who or
 * the password), the TLS mode, and why.
 */
static void
db_connect_failed(const struct dburl *u, unsigned int err, const char *why)
{

	log_err("db", "connect failed host=%s port=%u socket=%s tls=%s "
	    "errno=%u error=%s", u->host != NULL ? u->host : "-", u->port,
	    u->unix_socket != NULL ? u->unix_socket : "-",
	    dburl_tls_name(u->tls), err, why);
}

/*
 * Prepare statement q on the connection.  A failure is classified like
 * an execution's: a connection lost while preparing is 503 and dropped,
 * a missing table (migrations not applied) 500.
 */
static enum auth_status
db_prepare(struct db *db, enum db_q q)
{
	MYSQL_STMT	*st;
	unsigned int	 err;

	if ((st = mysql_stmt_init(db->conn)) == NULL)
		return AUTH_ERR_NOMEM;
	if (mysql_stmt_prepare(st, db_sql[q], strlen(db_sql[q])) != 0) {
		err = mysql_stmt_errno(st);
		if (!db_conflict_later(db, q, err) && db_loud(db, err))
			log_err("db", "prepare failed query=%d errno=%u "
			    "error=%s%s", (int)q, err, mysql_stmt_error(st),
			    err == ER_NO_SUCH_TABLE || err == ER_BAD_FIELD_ERROR ?
			    "; are the migrations applied? (scripts/migrate)" : "");
		(void)mysql_stmt_close(st);
		return db_classify(db, err);
	}
	db->stmt[q] = st;
	return AUTH_OK;
}

/*
 * Make a handle for the database named by url (borrowed: it must outlive
 * the handle).  Every statement is prepared on the connection the first
 * time it is used, so a program pays only for what a request needs; the
 * n statements in check[] (none when n is 0) are prepared as soon as it
 * connects instead, for a program that wants a missing table found
 * before any work (auth-cleanup).  Nothing is connected yet.  Returns
 * NULL only when out of memory.
 */
struct db *
db_new(const struct dburl *url, const enum db_q *check, size_t n)
{
	struct db	*db;
	size_t		 i;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	db->url = url;
	for (i = 0; i < n; i++)
		if ((unsigned int)check[i] < DB_Q__MAX)
			db->used[check[i]] = 1;
	return db;
}

/*
 * Connect unless connected, set the session up (db_session(): on every
 * new connection, so a reconnect keeps the settings), and prepare the
 * statements db_new() was asked to check.  Returns AUTH_OK,
 * AUTH_ERR_DB_UNAVAIL when the server cannot be reached or refused us
 * (logged, without the password), or AUTH_ERR_DB.
 */
enum auth_status
db_connect(struct db *db)
{
	const struct dburl	*u = db->url;
	enum auth_status	 rc;
	size_t			 i;
	unsigned int		 err;
	char			 why[MYSQL_ERRMSG_SIZE + 96];

	if (db->conn != NULL)
		return AUTH_OK;
	if ((db->conn = mysql_init(NULL)) == NULL)
		return AUTH_ERR_NOMEM;
	if (db_options(db->conn, u) == -1) {
		log_err("db", "cannot set connection options");
		rc = AUTH_ERR_DB;
		goto out;
	}
	if (mysql_real_connect(db->conn, u->host, u->user, u->password,
	    u->database, u->port, u->unix_socket, 0) == NULL) {
		err = mysql_errno(db->conn);
		/*
		 * Verified without ssl_ca, the chain is checked against the
		 * system's CA store; where ca-certificates is missing,
		 * Connector/C says only "No such file or directory".
		 */
		if (err == CR_SSL_CONNECTION_ERROR && u->ssl_ca == NULL &&
		    u->tls >= DBURL_TLS_VERIFY_CA)
			(void)snprintf(why, sizeof(why), "%s; the certificate "
			    "is checked against the system's CAs "
			    "(ca-certificates) without ssl_ca",
			    mysql_error(db->conn));
		else
			(void)snprintf(why, sizeof(why), "%s",
			    mysql_error(db->conn));
		if (db_loud(db, err))
			db_connect_failed(u, err, why);
		rc = AUTH_ERR_DB_UNAVAIL;
		goto out;
	}
	/*
	 * Connector/C 3.3 refuses a server that offers no TLS before
	 * logging in only when it also checks the host name: under
	 * REQUIRED and VERIFY_CA it goes on in plain text (MDEV-28634).
	 * Refuse that connection before it carries a statement.
	 */
	if (u->tls != DBURL_TLS_DISABLED &&
	    mysql_get_ssl_cipher(db->conn) == NULL) {
		db_connect_failed(u, CR_SSL_CONNECTION_ERROR,
		    "TLS required, but the connection is not encrypted");
		rc = AUTH_ERR_DB_UNAVAIL;
		goto out;
	}
	if ((rc = db_session(db)) != AUTH_OK)
		goto out;
	for (i = 0; i < DB_Q__MAX; i++)
		if (db->used[i] &&
		    (rc = db_prepare(db, (enum db_q)i)) != AUTH_OK)
			goto out;
	return AUTH_OK;
out:
	db_disconnect(db);
	return rc;
}

/*
 * A connection may have died while we were not looking: the server
 * restarted, failed over, or hit wait_timeout.  The server never speaks
 * first on an idle connection, so if its socket is readable it holds an
 * end of file or the server's last words: drop it, so the request
 * reconnects instead of failing.  One poll(2), no round trip.
 */
static void
db_check_idle(struct db *db)
{
	struct pollfd	 pfd;

	if (db->conn == NULL || db->in_txn)
		return;
	memset(&pfd, 0, sizeof(pfd));
	pfd.fd = (int)mysql_get_socket(db->conn);
	pfd.events = POLLIN;
	if (pfd.fd < 0 || poll(&pfd, 1, 0) != 0) {
		log_info("db", "connection closed by the server; reconnecting");
		db_disconnect(db);
	}
}

/*
 * Remember the name of the unique key a duplicate-entry error names.
 * The message is "Duplicate entry '<value>' for key '<name>'": the value
 * comes from the client and may contain anything, so the key is taken
 * from the last "for key '" in the message.
 */
static void
db_note_dup_key(struct db *db, const char *msg)
{
	const char	*p, *k = NULL;
	size_t		 n;

	db->dupkey[0] = '\0';
	for (p = msg; (p = strstr(p, "for key '")) != NULL; p++)
		k = p + strlen("for key '");
	if (k == NULL)
		return;
	n = strcspn(k, "'");
	if (n >= sizeof(db->dupkey))
		n = sizeof(db->dupkey) - 1;
	memcpy(db->dupkey, k, n);
	db->dupkey[n] = '\0';
}

/*
 * Return the error number of statement st's last failure, with its
 * message in *msg and its SQLSTATE in *state: the statement's own, or
 * the connection's when the statement has none.  Connector/C 3.3 leaves
 * an error the server sends while a result's rows are read on the
 * connection only (seen: the 1213 of an INSERT ... RETURNING that lost a
 * Galera certification, in mysql_stmt_store_result()).
 */
static unsigned int
db_stmt_err(struct db *db, MYSQL_STMT *st, const char **msg,
    const char **state)
{
	unsigned int	 err;

	if ((err = mysql_stmt_errno(st)) != 0) {
		*msg = mysql_stmt_error(st);
		*state = mysql_stmt_sqlstate(st);
		return err;
	}
	*msg = mysql_error(db->conn);
	*state = mysql_sqlstate(db->conn);
	return mysql_errno(db->conn);
}

/*
 * One run of db_exec(): *errp is the error number of a failure.
 */
static enum auth_status
db_exec_once(struct db *db, enum db_q q, MYSQL_BIND *params,
    MYSQL_STMT **stmtp, unsigned int *errp)
{
	enum auth_status	 rc;
	MYSQL_STMT		*st;
	const char		*msg, *state;
	unsigned int		 err;

	*errp = 0;
	db_check_idle(db);
	if ((rc = db_connect(db)) != AUTH_OK)
		return rc;
	if (db->stmt[q] == NULL && (rc = db_prepare(db, q)) != AUTH_OK) {
		*errp = db->lasterr;
		return rc;
	}
	st = db->stmt[q];
	/*
	 * Rows are read into memory here, at once: an error the server
	 * sends while it produces them (a lock wait in INSERT ...
	 * RETURNING) is this statement's, retried like any other.
	 */
	if ((params == NULL || mysql_stmt_bind_param(st, params) == 0) &&
	    mysql_stmt_execute(st) == 0 && (mysql_stmt_field_count(st) == 0 ||
	    mysql_stmt_store_result(st) == 0)) {
		if (stmtp != NULL)
			*stmtp = st;
		return AUTH_OK;
	}
	err = db_stmt_err(db, st, &msg, &state);
	*errp = db->lasterr = err;
	if (err == ER_DUP_ENTRY) {
		db_note_dup_key(db, msg);
		return AUTH_ERR_DB_DUPLICATE;
	}
	if (!db_conflict_later(db, q, err) && db_loud(db, err))
		log_err("db", "execute failed query=%d errno=%u sqlstate=%s",
		    (int)q, err, state);
	if (!db->in_txn && db_writes(q) && db_err_unknown(err)) {
		db_disconnect(db);
		return AUTH_ERR_DB_COMMIT_UNKNOWN;
	}
	return db_classify(db, err);
}

/*
 * Log, in one line, how a statement (or, if txn, a transaction) that
 * met conflicts ended after runs runs, err being the last conflict's
 * error number: an error if the conflict outlasted them (persists: the
 * request is answered 503), else a warning (a later run passed, or
 * failed otherwise, which has a line of its own).  The runs that lost
 * are not logged one by one: under contention they are expected, and
 * only the outcome says whether it hurt.
 */
static void
db_log_conflict(const struct db *db, int txn, unsigned int err, int runs,
    int persists)
{
	char	 at[32];

	if (db->conflict_q == DB_Q__MAX)
		(void)snprintf(at, sizeof(at), "commit");
	else
		(void)snprintf(at, sizeof(at), "query=%d", (int)db->conflict_q);
	log_msg(persists ? LOG_LEVEL_ERR : LOG_LEVEL_WARN, "db",
	    "%sconflict %s %s errno=%u runs=%d",
	    txn ? "transaction " : "",
	    persists ? "persists" : "retried", at, err, runs);
}

/*
 * Execute statement q with the parameters in params (NULL for none),
 * connecting and preparing first if need be.  On AUTH_OK *stmtp (if not
 * NULL) is the executed statement, owned by db, for binding and fetching
 * results.  Outside a transaction a statement that lost a deadlock or a
 * Galera certification, or timed out waiting for a lock, did nothing and
 * is run again after a pause (db_pause()), up to DB_DEADLOCK_TRIES runs
 * in all (DB_LOCK_WAIT_TRIES after a lock wait); one line is logged for
 * it at the end (db_log_conflict()).  Returns AUTH_ERR_DB_UNAVAIL when
 * the server is away or the conflict persists (a lost connection is
 * dropped and the next call reconnects), AUTH_ERR_DB_DUPLICATE when a
 * unique index refused the row (see db_dup_key()),
 * AUTH_ERR_DB_COMMIT_UNKNOWN when the connection was lost while a write
 * outside a transaction ran (it may have landed: the caller reads the
 * state again or answers 503, and never runs it blindly again), or
 * AUTH_ERR_DB.
 */
enum auth_status
db_exec(struct db *db, enum db_q q, MYSQL_BIND *params, MYSQL_STMT **stmtp)
{
	enum auth_status	 rc;
	unsigned int		 err, conflict = 0;
	int			 try;

	if (stmtp != NULL)
		*stmtp = NULL;
	if ((unsigned int)q >= DB_Q__MAX)
		return AUTH_ERR_DB;
	for (try = 1;; try++) {
		rc = db_exec_once(db, q, params, stmtp, &err);
		if (db->in_txn || !db_err_conflict(err))
			break;
		conflict = err;
		if (try >= db_err_tries(err))
			break;
		db_pause(try);
	}
	if (conflict != 0)
		db_log_conflict(db, 0, conflict, try, db_err_conflict(err));
	return rc;
}

/*
 * Start a transaction: autocommit off until db_commit() or
 * db_rollback().  Connects first if need be.  If autocommit cannot be
 * turned off the connection is dropped, whatever the error: a
 * connection whose mode is unknown might hold every later statement's
 * locks in one endless transaction.  Returns AUTH_OK,
 * AUTH_ERR_DB_UNAVAIL or AUTH_ERR_DB.  Most callers want db_txn().
 */
enum auth_status
db_begin(struct db *db)
{
	enum auth_status	 rc;

	db_check_idle(db);
	if ((rc = db_connect(db)) != AUTH_OK)
		return rc;
	db->conflict = 0;
	if (mysql_autocommit(db->conn, 0) != 0) {
		rc = db_conn_err(db, "begin");
		db_disconnect(db);
		return rc;
	}
	db->in_txn = 1;
	return AUTH_OK;
}

/*
 * Commit the transaction and return to autocommit.  Returns AUTH_OK;
 * AUTH_ERR_DB_COMMIT_UNKNOWN when the connection was lost during the
 * COMMIT, so that it may or may not have landed (B7: the caller must
 * read the state again before answering, and must not run the
 * transaction again); or AUTH_ERR_DB_UNAVAIL / AUTH_ERR_DB after
 * rolling back (a connection lost before the COMMIT was sent, or a
 * conflict at COMMIT, as Galera reports one, left nothing behind).  If
 * autocommit cannot be restored after the commit, the commit stands and
 * the connection is dropped.
 */
enum auth_status
db_commit(struct db *db)
{
	enum auth_status	 rc;
	unsigned int		 err;

	if (db->conn == NULL) {
		db->in_txn = 0;
		return AUTH_ERR_DB_UNAVAIL;	/* died: rolled back */
	}
	if (mysql_commit(db->conn) != 0) {
		err = mysql_errno(db->conn);
		if (!db_conflict_later(db, DB_Q__MAX, err))
			log_err("db", "commit failed errno=%u", err);
		db->in_txn = 0;
		if (db_err_unknown(err)) {
			db->lasterr = err;
			db_disconnect(db);
			return AUTH_ERR_DB_COMMIT_UNKNOWN;
		}
		rc = db_classify(db, err);
		db_rollback(db);
		return rc;
	}
	db->in_txn = 0;
	if (mysql_autocommit(db->conn, 1) != 0) {
		log_err("db", "autocommit after commit failed errno=%u",
		    mysql_errno(db->conn));
		db_disconnect(db);
	}
	return AUTH_OK;
}

/*
 * Roll the transaction back, if any, and return to autocommit.  A
 * failure drops the connection: it is in an unknown state.
 */
void
db_rollback(struct db *db)
{

	db->in_txn = 0;
	if (db->conn == NULL)
		return;
	if (mysql_rollback(db->conn) != 0 ||
	    mysql_autocommit(db->conn, 1) != 0) {
		log_err("db", "rollback failed errno=%u",
		    mysql_errno(db->conn));
		db_disconnect(db);
	}
}

/*
 * Run body(db, arg, &commit) in a transaction: commit what it wrote if
 * it returns AUTH_OK with commit set to 1, roll back otherwise (commit
 * starts at 0 on every run).  When a statement of the body, or the
 * COMMIT, lost a deadlock or a Galera certification or timed out
 * waiting for a lock, nothing was kept and the whole transaction runs
 * again after a pause, as db_exec() runs a statement again (up to
 * DB_DEADLOCK_TRIES runs, DB_LOCK_WAIT_TRIES after a lock wait, and one
 * line logged at the end), so body must start from scratch each time
 * (reset its outputs) and do nothing but database work.  Returns the
 * body's status, db_commit()'s (AUTH_ERR_DB_COMMIT_UNKNOWN is returned
 * at once, never retried), or AUTH_ERR_DB_UNAVAIL when the conflict
 * persists.
 */
enum auth_status
db_txn(struct db *db, enum auth_status (*body)(struct db *, void *, int *),
    void *arg)
{
	enum auth_status	 rc;
	unsigned int		 conflict = 0;
	int			 try, commit, persists = 0;

	for (try = 1;; try++) {
		commit = 0;
		if ((rc = db_begin(db)) != AUTH_OK) {
			persists = 0;
			break;
		}
		db->txn_retried = 1;
		rc = body(db, arg, &commit);
		if (rc == AUTH_OK && commit)
			rc = db_commit(db);
		else
			db_rollback(db);
		db->txn_retried = 0;
		if ((persists = rc == AUTH_ERR_DB_UNAVAIL && db->conflict) == 0)
			break;
		conflict = db->lasterr;
		if (try >= db_err_tries(db->lasterr))
			break;
		db_pause(try);
	}
	if (conflict != 0)
		db_log_conflict(db, 1, conflict, try, persists);
	return rc;
}

/*
 * Return the rows the last execution of q changed, or 0.
 */
unsigned long long
db_affected(struct db *db, enum db_q q)
{
	my_ulonglong	 n;

	if ((unsigned int)q >= DB_Q__MAX || db->stmt[q] == NULL)
		return 0;
	n = mysql_stmt_affected_rows(db->stmt[q]);
	return n == (my_ulonglong)-1 ? 0 : (unsigned long long)n;
}

/*
 * Fetch the next row of executed statement st into its bound result
 * buffers.  Returns AUTH_OK, AUTH_ERR_NOT_FOUND when there is no more,
 * or a failure (logged and classified; a lost connection is dropped,
 * and st with it).
 */
static enum auth_status
db_fetch_row(struct db *db, MYSQL_STMT *st)
{
	const char	*msg, *state;
	unsigned int	 err;

	switch (mysql_stmt_fetch(st)) {
	case 0:
		return AUTH_OK;
	case MYSQL_NO_DATA:
		return AUTH_ERR_NOT_FOUND;
	case MYSQL_DATA_TRUNCATED:
		log_err("db", "result truncated");
		return AUTH_ERR_DB;
	default:
		/*
		 * An error that comes with the rows (a lock wait or deadlock
		 * met while reading them, the connection lost) is set on the
		 * connection, not on the statement (db_stmt_err()).
		 */
		err = db_stmt_err(db, st, &msg, &state);
		log_err("db", "fetch failed errno=%u sqlstate=%s", err, state);
		return db_classify(db, err);
	}
}

/*
 * Bind the result buffers res to executed statement st, call row(arg)
 * after each row is fetched into them (row may be NULL), and stop after
 * max rows (0: all), discarding any others.  Returns AUTH_OK with *nrows
 * (may be NULL) the rows seen, or a failure as db_fetch_row() says.
 */
static enum auth_status
db_fetch(struct db *db, MYSQL_STMT *st, MYSQL_BIND *res, size_t max,
    void (*row)(void *), void *arg, size_t *nrows)
{
	enum auth_status	 rc = AUTH_OK;
	size_t			 n = 0;

	if (nrows != NULL)
		*nrows = 0;
	if (mysql_stmt_bind_result(st, res) != 0) {
		log_err("db", "bind result failed errno=%u",
		    mysql_stmt_errno(st));
		rc = AUTH_ERR_DB;
	}
	while (rc == AUTH_OK && (max == 0 || n < max) &&
	    (rc = db_fetch_row(db, st)) == AUTH_OK) {
		n++;
		if (row != NULL)
			row(arg);
	}
	if (rc == AUTH_ERR_NOT_FOUND)
		rc = AUTH_OK;
	/* A lost connection took st with it. */
	if (db->conn != NULL)
		(void)mysql_stmt_free_result(st);
	if (rc == AUTH_OK && nrows != NULL)
		*nrows = n;
	return rc;
}

/*
 * Fetch the first row of executed statement st into the result buffers
 * res, then discard any further rows.  Returns AUTH_OK,
 * AUTH_ERR_NOT_FOUND when there is no row, AUTH_ERR_DB_UNAVAIL when the
 * connection was lost (dropped) or the server busy (a lock wait or a
 * deadlock met while reading the rows), or AUTH_ERR_DB (a value did not
 * fit its buffer, or the fetch failed; logged).
 */
enum auth_status
db_fetch_one(struct db *db, MYSQL_STMT *st, MYSQL_BIND *res)
{
	enum auth_status	 rc;
	size_t			 n;

	if ((rc = db_fetch(db, st, res, 1, NULL, NULL, &n)) != AUTH_OK)
		return rc;
	return n == 1 ? AUTH_OK : AUTH_ERR_NOT_FOUND;
}

/*
 * Fetch every row of executed statement st into the result buffers res,
 * calling row(arg) after each.  Returns AUTH_OK (also for no row), or a
 * failure as db_fetch_one().
 */
enum auth_status
db_fetch_all(struct db *db, MYSQL_STMT *st, MYSQL_BIND *res,
    void (*row)(void *), void *arg)
{

	return db_fetch(db, st, res, 0, row, arg, NULL);
}

/*
 * Turn quiet mode on (on is 1) or off: while it is on, a failure that
 * says the server is away or busy (it cannot be reached, the connection
 * was lost, a conflict persists, the server is read-only) is classified
 * as ever but not logged, any other failure still is.  For a caller that
 * waits for the server to come back, trying again and again, and says so
 * itself once.
 */
void
db_quiet(struct db *db, int on)
{

	db->quiet = on;
}

/*
 * The server's error number of the last statement that failed in
 * db_exec(), for a caller that must tell one refusal from another.
 */
unsigned int
db_last_errno(const struct db *db)
{

	return db->lasterr;
}

/*
 * After AUTH_ERR_DB_DUPLICATE: the name of the unique key that refused
 * the row (for example "ix_user_email"), or "" if unknown.
 */
const char *
db_dup_key(const struct db *db)
{

	return db->dupkey;
}

/*
 * Close the connection and free db.  Accepts NULL.
 */
void
db_free(struct db *db)
{

	if (db == NULL)
		return;
	db_disconnect(db);
	free(db);
}

/*
 * Fill b for a string parameter s of *len bytes.  The caller keeps s and
 * len alive until the statement has executed.
 */
void
db_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len)
{

	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)(uintptr_t)s;
	b->buffer_length = *len;
	b->length = len;
}

/*
 * Fill b for an integer parameter or result at v.
 */
void
db_bind_int(MYSQL_BIND *b, int *v)
{

	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = v;
}

/*
 * Fill b for a BIGINT parameter or result at v.
 */
void
db_bind_llong(MYSQL_BIND *b, long long *v)
{

	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
}

/*
 * Fill b for a string result: at most size - 1 bytes into buf, its length
 * into *len, and whether it was NULL into *isnull (may be NULL for a NOT
 * NULL column).  buf is NUL-terminated by db_fetch_one()'s caller through
 * *len; a longer value makes the fetch fail rather than be cut.
 */
void
db_bind_out_str(MYSQL_BIND *b, char *buf, size_t size, unsigned long *len,
    my_bool *isnull)
{

	memset(b, 0, sizeof(*b));
	memset(buf, 0, size);
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = buf;
	b->buffer_length = size - 1;
	b->length = len;
	b->is_null = isnull;
}

/*
 * Fill b for a DATETIME parameter or result at t.
 */
void
db_bind_time(MYSQL_BIND *b, MYSQL_TIME *t)
{

	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_DATETIME;
	b->buffer = t;
}

/*
 * Set t to the UTC date and time of epoch seconds secs, as the FastAPI
 * backend stored its naive UTC datetimes.
 */
void
db_time_from_epoch(MYSQL_TIME *t, long long secs)
{
	struct tm	 tm;
	time_t		 tt = (time_t)secs;

	memset(t, 0, sizeof(*t));
	if (gmtime_r(&tt, &tm) == NULL)
		return;
	t->year = (unsigned int)tm.tm_year + 1900;
	t->month = (unsigned int)tm.tm_mon + 1;
	t->day = (unsigned int)tm.tm_mday;
	t->hour = (unsigned int)tm.tm_hour;
	t->minute = (unsigned int)tm.tm_min;
	t->second = (unsigned int)tm.tm_sec;
	t->time_type = MYSQL_TIMESTAMP_DATETIME;
}

/*
 * Return the epoch seconds of UTC date and time t.
 */
long long
db_time_to_epoch(const MYSQL_TIME *t)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)t->year - 1900;
	tm.tm_mon = (int)t->month - 1;
	tm.tm_mday = (int)t->day;
	tm.tm_hour = (int)t->hour;
	tm.tm_min = (int)t->minute;
	tm.tm_sec = (int)t->second;
	return (long long)timegm(&tm);
}
