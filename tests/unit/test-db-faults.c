/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for db.c's handling of failures a real server gives only by
 * bad luck: a SET autocommit that fails, deadlocks and lock-wait
 * time-outs on one statement or in a transaction, a connection lost
 * while a statement is prepared, executed, fetched or committed.  This
 * program defines the Connector/C functions db.c calls, so its calls
 * land here (an executable's own definitions win over the shared
 * library's); each test says which calls fail, and how.  What the real
 * server does is tested end to end in tests/endpoint.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "db.h"
#include "dburl.h"
#include "tap.h"

#define FAKE_QUEUE	8

/* The fake server: counts of calls, and the errors queued for them. */
struct fake {
	int		 connects;	/* mysql_real_connect() calls */
	int		 closes;
	int		 prepares;
	int		 executes;
	int		 commits;
	int		 rollbacks;
	int		 autocommit_off;
	unsigned int	 exec_errs[FAKE_QUEUE];	/* next executes: 0 is ok */
	size_t		 nexec, iexec;
	unsigned int	 prepare_err;	/* next prepare */
	unsigned int	 autocommit_err;	/* next autocommit(0) */
	unsigned int	 commit_err;	/* next commit */
	unsigned int	 fetch_err;	/* fetches: fail instead of rows */
	unsigned int	 fields;	/* columns of each result */
	unsigned int	 store_err;	/* next reading of a result */
	int		 rows;		/* rows each result has */
	int		 fetched;	/* of the current result */
	unsigned int	 conn_err;	/* what mysql_errno() says */
	unsigned int	 stmt_err;	/* what mysql_stmt_errno() says */
	unsigned int	 read_timeout;
	char		 init[128];	/* MYSQL_INIT_COMMAND */
	int		 pipe[2];	/* an idle socket for poll() */
};

static struct fake	 fake;

/*
 * If an error is queued in *queued, move it to *errp (what mysql_errno()
 * or mysql_stmt_errno() will say) and return 1: the call fails.
 */
static int
fake_fail(unsigned int *queued, unsigned int *errp)
{

	if (*queued == 0)
		return 0;
	*errp = *queued;
	*queued = 0;
	return 1;
}

MYSQL *STDCALL
mysql_init(MYSQL *m)
{

	(void)m;
	return calloc(1, sizeof(MYSQL));
}

int
mysql_optionsv(MYSQL *m, enum mysql_option opt, ...)
{
	va_list	 ap;

	(void)m;
	va_start(ap, opt);
	if (opt == MYSQL_OPT_READ_TIMEOUT)
		fake.read_timeout = *va_arg(ap, unsigned int *);
	else if (opt == MYSQL_INIT_COMMAND)
		(void)snprintf(fake.init, sizeof(fake.init), "%s",
		    va_arg(ap, const char *));
	va_end(ap);
	return 0;
}

MYSQL *STDCALL
mysql_real_connect(MYSQL *m, const char *host, const char *user,
    const char *pw, const char *db, unsigned int port, const char *sock,
    unsigned long flags)
{

	(void)host; (void)user; (void)pw; (void)db; (void)port; (void)sock;
	(void)flags;
	fake.connects++;
	return m;
}

void STDCALL
mysql_close(MYSQL *m)
{

	fake.closes++;
	free(m);
}

unsigned int STDCALL
mysql_errno(MYSQL *m)
{

	(void)m;
	return fake.conn_err;
}

const char *STDCALL
mysql_error(MYSQL *m)
{

	(void)m;
	return "fake error";
}

my_socket STDCALL
mysql_get_socket(MYSQL *m)
{

	(void)m;
	return fake.pipe[0];
}

my_bool STDCALL
mysql_autocommit(MYSQL *m, my_bool mode)
{

	(void)m;
	if (mode == 0) {
		fake.autocommit_off++;
		if (fake_fail(&fake.autocommit_err, &fake.conn_err))
			return 1;
	}
	return 0;
}

my_bool STDCALL
mysql_commit(MYSQL *m)
{

	(void)m;
	fake.commits++;
	return fake_fail(&fake.commit_err, &fake.conn_err);
}

my_bool STDCALL
mysql_rollback(MYSQL *m)
{

	(void)m;
	fake.rollbacks++;
	return 0;
}

MYSQL_STMT *STDCALL
mysql_stmt_init(MYSQL *m)
{

	(void)m;
	return calloc(1, sizeof(MYSQL_STMT));
}

int STDCALL
mysql_stmt_prepare(MYSQL_STMT *st, const char *q, unsigned long len)
{

	(void)st; (void)q; (void)len;
	fake.prepares++;
	return fake_fail(&fake.prepare_err, &fake.stmt_err);
}

my_bool STDCALL
mysql_stmt_bind_param(MYSQL_STMT *st, MYSQL_BIND *b)
{

	(void)st; (void)b;
	return 0;
}

int STDCALL
mysql_stmt_execute(MYSQL_STMT *st)
{
	unsigned int	 err = 0;

	(void)st;
	fake.executes++;
	fake.fetched = 0;
	if (fake.iexec < fake.nexec)
		err = fake.exec_errs[fake.iexec++];
	return fake_fail(&err, &fake.stmt_err);
}

unsigned int STDCALL
mysql_stmt_field_count(MYSQL_STMT *st)
{

	(void)st;
	return fake.fields;
}

int STDCALL
mysql_stmt_store_result(MYSQL_STMT *st)
{

	(void)st;
	return fake_fail(&fake.store_err, &fake.stmt_err);
}

my_bool STDCALL
mysql_stmt_bind_result(MYSQL_STMT *st, MYSQL_BIND *b)
{

	(void)st; (void)b;
	return 0;
}

int STDCALL
mysql_stmt_fetch(MYSQL_STMT *st)
{

	(void)st;
	if (fake.fetch_err != 0) {
		fake.stmt_err = fake.fetch_err;
		return 1;
	}
	if (fake.fetched >= fake.rows)
		return MYSQL_NO_DATA;
	fake.fetched++;
	return 0;
}

my_bool STDCALL
mysql_stmt_free_result(MYSQL_STMT *st)
{

	(void)st;
	return 0;
}

my_bool STDCALL
mysql_stmt_close(MYSQL_STMT *st)
{

	free(st);
	return 0;
}

unsigned int STDCALL
mysql_stmt_errno(MYSQL_STMT *st)
{

	(void)st;
	return fake.stmt_err;
}

const char *STDCALL
mysql_stmt_error(MYSQL_STMT *st)
{

	(void)st;
	return "fake statement error";
}

const char *STDCALL
mysql_stmt_sqlstate(MYSQL_STMT *st)
{

	(void)st;
	return "HY000";
}

unsigned long long STDCALL
mysql_stmt_affected_rows(MYSQL_STMT *st)
{

	(void)st;
	return 1;
}

/*
 * Forget every count and queued error (the connection, if any, stays).
 */
static void
fake_reset(void)
{
	int	 p0 = fake.pipe[0], p1 = fake.pipe[1];

	memset(&fake, 0, sizeof(fake));
	fake.pipe[0] = p0;
	fake.pipe[1] = p1;
}

static void
fake_exec_errors(unsigned int a, unsigned int b, unsigned int c)
{

	fake.exec_errs[0] = a;
	fake.exec_errs[1] = b;
	fake.exec_errs[2] = c;
	fake.nexec = 3;
	fake.iexec = 0;
}

/* A transaction body: one write; counts its runs. */
struct body {
	int	 runs;
	int	 commit;
};

static enum auth_status
body_write(struct db *db, void *arg, int *commit)
{
	struct body		*b = arg;
	enum auth_status	 rc;

	b->runs++;
	if ((rc = db_exec(db, DB_Q_SESSION_REVOKE, NULL, NULL)) != AUTH_OK)
		return rc;
	*commit = b->commit;
	return AUTH_OK;
}

static void
test_prepare_when_used(struct dburl *u)
{
	static const enum db_q check[] = { DB_Q_CLEANUP_LOCK };
	struct db	*db;

	fake_reset();
	db = db_new(u, NULL, 0);
	tap_ok(db_connect(db) == AUTH_OK && fake.connects == 1 &&
	    fake.prepares == 0, "connecting prepares nothing (issue 13)");
	tap_ok(db_exec(db, DB_Q_SESSION_ROTATE, NULL, NULL) == AUTH_OK &&
	    fake.prepares == 1, "a statement is prepared when first used");
	tap_ok(db_exec(db, DB_Q_SESSION_ROTATE, NULL, NULL) == AUTH_OK &&
	    fake.prepares == 1 && fake.executes == 2,
	    "and only once on a connection");
	db_free(db);
	fake_reset();
	db = db_new(u, check, 1);
	tap_ok(db_connect(db) == AUTH_OK && fake.prepares == 1,
	    "statements db_new() is asked to check are prepared at connect");
	db_free(db);
}

static void
test_options(struct dburl *u)
{
	struct db	*db;

	fake_reset();
	db = db_new(u, NULL, 0);
	(void)db_connect(db);
	tap_ok(strcmp(fake.init, "SET SESSION innodb_lock_wait_timeout = 5")
	    == 0 && fake.read_timeout == 10, "defaults: lock wait 5 s, "
	    "each read 10 s");
	db_free(db);
	u->io_timeout = 3;
	u->lock_wait_timeout = 2;
	fake_reset();
	db = db_new(u, NULL, 0);
	(void)db_connect(db);
	tap_ok(strcmp(fake.init, "SET SESSION innodb_lock_wait_timeout = 2")
	    == 0 && fake.read_timeout == 3, "DB_LOCK_WAIT_TIMEOUT and "
	    "DB_TIMEOUT reach the connection");
	db_free(db);
	u->io_timeout = u->lock_wait_timeout = 0;
}

static void
test_autocommit(struct dburl *u)
{
	struct db	*db;

	fake_reset();
	db = db_new(u, NULL, 0);
	(void)db_connect(db);
	/* Refused without the connection dropping (issue 10). */
	fake.autocommit_err = ER_UNKNOWN_ERROR;
	tap_ok(db_begin(db) != AUTH_OK, "a failed SET autocommit fails the "
	    "begin");
	tap_ok(fake.closes == 1, "and drops the connection, whose mode is "
	    "unknown");
	tap_ok(db_exec(db, DB_Q_SESSION_REVOKE, NULL, NULL) == AUTH_OK &&
	    fake.connects == 2, "the next statement runs on a new "
	    "connection");
	db_free(db);
}

static void
test_exec_conflicts(struct dburl *u)
{
	struct db	*db;

	fake_reset();
	db = db_new(u, NULL, 0);
	fake_exec_errors(ER_LOCK_DEADLOCK, 0, 0);
	tap_ok(db_exec(db, DB_Q_THROTTLE_HIT2, NULL, NULL) == AUTH_OK &&
	    fake.executes == 2, "a deadlock victim outside a transaction "
	    "runs again and passes");
	fake.executes = 0;
	fake_exec_errors(ER_LOCK_DEADLOCK, ER_LOCK_DEADLOCK, ER_LOCK_DEADLOCK);
	tap_ok(db_exec(db, DB_Q_THROTTLE_HIT2, NULL, NULL) ==
	    AUTH_ERR_DB_UNAVAIL && fake.executes == 3,
	    "three deadlocks: 503 after three runs");
	fake.executes = 0;
	fake_exec_errors(ER_LOCK_WAIT_TIMEOUT, ER_LOCK_WAIT_TIMEOUT, 0);
	tap_ok(db_exec(db, DB_Q_USER_INSERT, NULL, NULL) ==
	    AUTH_ERR_DB_UNAVAIL && fake.executes == 2,
	    "two lock-wait time-outs: 503 after two runs");
	fake.executes = 0;
	fake_exec_errors(ER_LOCK_WAIT_TIMEOUT, 0, 0);
	tap_ok(db_exec(db, DB_Q_SESSION_ROTATE, NULL, NULL) == AUTH_OK &&
	    fake.executes == 2, "one lock-wait time-out: run again, passes");
	fake.executes = 0;
	fake.fields = 3;
	fake.store_err = ER_LOCK_WAIT_TIMEOUT;
	tap_ok(db_exec(db, DB_Q_THROTTLE_HIT1, NULL, NULL) == AUTH_OK &&
	    fake.executes == 2, "a lock-wait time-out while the rows come "
	    "(INSERT ... RETURNING): the statement runs again and passes");
	fake.fields = 0;
	fake.executes = 0;
	fake_exec_errors(ER_NO_SUCH_TABLE, 0, 0);
	tap_ok(db_exec(db, DB_Q_SESSION_ROTATE, NULL, NULL) == AUTH_ERR_DB &&
	    fake.executes == 1, "other errors run once");
	tap_ok(fake.closes == 0, "no conflict dropped the connection");
	db_free(db);
}

static void
test_lost(struct dburl *u)
{
	struct db	*db;
	MYSQL_BIND	 r[1];
	MYSQL_STMT	*st;
	int		 v;

	fake_reset();
	db = db_new(u, NULL, 0);
	/* Preparing on a dead connection (issue 10). */
	fake.prepare_err = CR_SERVER_LOST;
	tap_ok(db_exec(db, DB_Q_SESSION_GET, NULL, NULL) ==
	    AUTH_ERR_DB_UNAVAIL, "a connection lost while preparing: 503, "
	    "not 500");
	tap_ok(fake.closes == 1, "and the connection is dropped");
	tap_ok(db_exec(db, DB_Q_SESSION_GET, NULL, NULL) == AUTH_OK &&
	    fake.connects == 2, "the next call connects again");
	fake.prepare_err = ER_NO_SUCH_TABLE;
	tap_ok(db_exec(db, DB_Q_RESET_NEWEST, NULL, NULL) == AUTH_ERR_DB &&
	    fake.closes == 1, "a missing table: 500, connection kept");

	/* Executing: a read is 503; a write's outcome is unknown. */
	fake_exec_errors(CR_SERVER_LOST, 0, 0);
	tap_ok(db_exec(db, DB_Q_SESSION_GET, NULL, NULL) ==
	    AUTH_ERR_DB_UNAVAIL && fake.executes == 2,
	    "a read on a lost connection: 503, not run again");
	fake_exec_errors(CR_SERVER_LOST, 0, 0);
	fake.executes = 0;
	tap_ok(db_exec(db, DB_Q_SESSION_ROTATE, NULL, NULL) ==
	    AUTH_ERR_DB_COMMIT_UNKNOWN && fake.executes == 1,
	    "an autocommit write on a lost connection: outcome unknown, "
	    "not run again");
	fake_exec_errors(CR_SERVER_GONE_ERROR, 0, 0);
	tap_ok(db_exec(db, DB_Q_USER_INSERT, NULL, NULL) ==
	    AUTH_ERR_DB_COMMIT_UNKNOWN, "CR_SERVER_GONE_ERROR too");
	fake_exec_errors(CR_COMMANDS_OUT_OF_SYNC, 0, 0);
	tap_ok(db_exec(db, DB_Q_USER_INSERT, NULL, NULL) ==
	    AUTH_ERR_DB_UNAVAIL, "commands out of sync: nothing was sent, "
	    "503");

	/* Fetching. */
	db_bind_int(&r[0], &v);
	fake.rows = 3;
	tap_ok(db_exec(db, DB_Q_SESSION_GET, NULL, &st) == AUTH_OK &&
	    db_fetch_one(db, st, r) == AUTH_OK, "db_fetch_one: a row");
	fake.rows = 0;
	tap_ok(db_exec(db, DB_Q_SESSION_GET, NULL, &st) == AUTH_OK &&
	    db_fetch_one(db, st, r) == AUTH_ERR_NOT_FOUND,
	    "db_fetch_one: no row");
	fake.fields = 3;
	fake.store_err = CR_SERVER_LOST;
	tap_ok(db_exec(db, DB_Q_THROTTLE_HIT3, NULL, &st) ==
	    AUTH_ERR_DB_COMMIT_UNKNOWN, "a connection lost while the rows of "
	    "INSERT ... RETURNING come: outcome unknown");
	fake.store_err = CR_SERVER_LOST;
	tap_ok(db_exec(db, DB_Q_SESSION_GET, NULL, &st) ==
	    AUTH_ERR_DB_UNAVAIL, "a connection lost while a SELECT's rows "
	    "come: 503");
	fake.fields = 0;
	fake.closes = 0;
	fake.fetch_err = CR_SERVER_LOST;
	tap_ok(db_exec(db, DB_Q_THROTTLE_HIT3, NULL, &st) == AUTH_OK &&
	    db_fetch_all(db, st, r, NULL, NULL) == AUTH_ERR_DB_UNAVAIL &&
	    fake.closes == 1, "db_fetch_all: a connection lost mid-result "
	    "is 503 and dropped (issue 10: the throttle kept it)");
	fake.fetch_err = 0;
	db_free(db);
}

static void
count_row(void *arg)
{

	(*(int *)arg)++;
}

static void
test_fetch_all(struct dburl *u)
{
	struct db	*db;
	MYSQL_BIND	 r[1];
	MYSQL_STMT	*st;
	int		 v, n = 0;

	fake_reset();
	db = db_new(u, NULL, 0);
	db_bind_int(&r[0], &v);
	fake.rows = 3;
	tap_ok(db_exec(db, DB_Q_THROTTLE_HIT3, NULL, &st) == AUTH_OK &&
	    db_fetch_all(db, st, r, count_row, &n) == AUTH_OK && n == 3,
	    "db_fetch_all calls back once a row");
	fake.rows = 0;
	n = 0;
	tap_ok(db_exec(db, DB_Q_THROTTLE_HIT3, NULL, &st) == AUTH_OK &&
	    db_fetch_all(db, st, r, count_row, &n) == AUTH_OK && n == 0,
	    "db_fetch_all: no row is fine");
	db_free(db);
}

static void
test_txn(struct dburl *u)
{
	struct db	*db;
	struct body	 b;

	fake_reset();
	db = db_new(u, NULL, 0);
	memset(&b, 0, sizeof(b));
	b.commit = 1;
	fake_exec_errors(ER_LOCK_DEADLOCK, 0, 0);
	tap_ok(db_txn(db, body_write, &b) == AUTH_OK && b.runs == 2 &&
	    fake.executes == 2 && fake.commits == 1 && fake.rollbacks == 1,
	    "a deadlock in a transaction: rolled back, the body runs again "
	    "and commits");
	fake_reset();
	memset(&b, 0, sizeof(b));
	b.commit = 1;
	fake_exec_errors(ER_LOCK_WAIT_TIMEOUT, ER_LOCK_WAIT_TIMEOUT, 0);
	tap_ok(db_txn(db, body_write, &b) == AUTH_ERR_DB_UNAVAIL &&
	    b.runs == 2 && fake.commits == 0, "two lock-wait time-outs: "
	    "503 after two runs, nothing committed");
	fake_reset();
	memset(&b, 0, sizeof(b));
	b.commit = 1;
	fake.commit_err = ER_LOCK_DEADLOCK;
	tap_ok(db_txn(db, body_write, &b) == AUTH_OK && b.runs == 2 &&
	    fake.commits == 2, "a conflict at COMMIT (Galera certification) "
	    "runs the transaction again");
	fake_reset();
	memset(&b, 0, sizeof(b));
	b.commit = 1;
	fake.commit_err = CR_SERVER_LOST;
	tap_ok(db_txn(db, body_write, &b) == AUTH_ERR_DB_COMMIT_UNKNOWN &&
	    b.runs == 1 && fake.closes == 1, "a connection lost during "
	    "COMMIT: outcome unknown, never run again, connection dropped");
	fake_reset();
	memset(&b, 0, sizeof(b));
	b.commit = 0;
	tap_ok(db_txn(db, body_write, &b) == AUTH_OK && b.runs == 1 &&
	    fake.commits == 0 && fake.rollbacks == 1,
	    "a body that keeps nothing is rolled back");
	fake_reset();
	memset(&b, 0, sizeof(b));
	b.commit = 1;
	fake_exec_errors(CR_SERVER_LOST, 0, 0);
	tap_ok(db_txn(db, body_write, &b) == AUTH_ERR_DB_UNAVAIL &&
	    b.runs == 1 && fake.commits == 0, "a write in a transaction on a "
	    "lost connection: 503 (nothing committed), not run again");
	db_free(db);
}

int
main(void)
{
	struct dburl	 u;
	char		 err[256];

	if (pipe(fake.pipe) == -1 ||
	    dburl_parse("mysql://u:p@localhost/db", &u, err, sizeof(err)) !=
	    AUTH_OK) {
		tap_ok(0, "set up");
		return tap_done();
	}
	test_prepare_when_used(&u);
	test_options(&u);
	test_autocommit(&u);
	test_exec_conflicts(&u);
	test_lost(&u);
	test_fetch_all(&u);
	test_txn(&u);
	dburl_free(&u);
	return tap_done();
}
