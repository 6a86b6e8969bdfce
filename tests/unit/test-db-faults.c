/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for db.c's handling of failures a real server gives only by
 * bad luck: a SET autocommit that fails, deadlocks and lock-wait
 * time-outs on one statement or in a transaction, a connection lost
 * while a statement is prepared, executed, fetched or committed, a
 * server without Galera's variables.  This program defines the
 * Connector/C functions db.c calls, and nanosleep(), so its calls land
 * here (an executable's own definitions win over the shared library's);
 * each test says which calls fail, and how.  db.c's log lines go to a
 * file the tests read.  What the real server does is tested end to end
 * in tests/endpoint and tests/galera.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "db.h"
#include "dburl.h"
#include "log.h"
#include "tap.h"

#define FAKE_QUEUE	12
#define FAKE_PAUSES	16

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
	unsigned int	 store_conn_err; /* next reading of a result, but
					    said by mysql_errno() only */
	unsigned int	 read_timeout;
	int		 init_commands;	/* MYSQL_INIT_COMMAND options */
	int		 queries;	/* mysql_real_query() calls */
	char		 query[2][160];	/* the first two of a connection */
	unsigned int	 query_errs[2];	/* their errors: 0 is ok */
	long		 pauses[FAKE_PAUSES];	/* nanosleep()s, microseconds */
	size_t		 npauses;
	int		 pipe[2];	/* an idle socket for poll() */
	unsigned int	 connect_err;	/* next connect */
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
		fake.init_commands++;
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
	fake.queries = 0;
	return fake_fail(&fake.connect_err, &fake.conn_err) ? NULL : m;
}

int STDCALL
mysql_real_query(MYSQL *m, const char *q, unsigned long len)
{
	unsigned int	 err = 0;
	int		 i = fake.queries++;

	(void)m;
	if (i < 2) {
		(void)snprintf(fake.query[i], sizeof(fake.query[i]), "%.*s",
		    (int)len, q);
		err = fake.query_errs[i];
		fake.query_errs[i] = 0;
	}
	return fake_fail(&err, &fake.conn_err);
}

const char *STDCALL
mysql_sqlstate(MYSQL *m)
{

	(void)m;
	return "40001";
}

int
nanosleep(const struct timespec *ts, struct timespec *rem)
{

	(void)rem;
	if (fake.npauses < FAKE_PAUSES)
		fake.pauses[fake.npauses++] = (long)ts->tv_sec * 1000000 +
		    ts->tv_nsec / 1000;
	return 0;
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
	fake.stmt_err = 0;	/* as Connector/C clears it */
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
	return fake_fail(&fake.store_err, &fake.stmt_err) ||
	    fake_fail(&fake.store_conn_err, &fake.conn_err);
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

/* db.c's log lines, sent to a file (log_open()). */
static char	 logpath[] = "/tmp/test-db-faults.XXXXXX";
static char	 logbuf[8192];

static void
log_clear(void)
{

	if (truncate(logpath, 0) == -1)
		tap_diag("cannot empty %s", logpath);
}

/*
 * What was logged since log_clear(), or the start.
 */
static char *
log_text(void)
{
	FILE	*f;
	size_t	 n = 0;

	if ((f = fopen(logpath, "r")) != NULL) {
		n = fread(logbuf, 1, sizeof(logbuf) - 1, f);
		(void)fclose(f);
	}
	logbuf[n] = '\0';
	return logbuf;
}

/*
 * Return how many times s occurs in what was logged.
 */
static int
log_count(const char *s)
{
	const char	*p;
	int		 n = 0;

	for (p = log_text(); (p = strstr(p, s)) != NULL; p += strlen(s))
		n++;
	return n;
}

/*
 * A check of what was logged: on failure, the lines are shown.
 */
static void
log_ok(int cond, const char *what)
{
	char	*p;

	tap_ok(cond, "%s", what);
	if (cond)
		return;
	for (p = log_text(); (p = strchr(p, '\n')) != NULL; p++)
		*p = ' ';
	tap_diag("logged: %s", logbuf);
}

/* A transaction body: one write; counts its runs. */
struct body {
	int	 runs;
	int	 commit;
};

/*
 * Before a test of a transaction: no call counted, no error queued,
 * nothing logged, a body that has not run and keeps what it wrote if
 * commit.
 */
static void
body_start(struct body *b, int commit)
{

	fake_reset();
	log_clear();
	memset(b, 0, sizeof(*b));
	b->commit = commit;
}

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

/* The session settings db.c sends on each new connection. */
#define SESSION_SQL(w) "SET SESSION innodb_lock_wait_timeout = " w ", " \
	"wsrep_sync_wait = @@GLOBAL.wsrep_sync_wait | 3"

static void
test_options(struct dburl *u)
{
	struct db	*db;

	fake_reset();
	db = db_new(u, NULL, 0);
	(void)db_connect(db);
	tap_ok(strcmp(fake.query[0], SESSION_SQL("5")) == 0 &&
	    fake.queries == 1 && fake.init_commands == 0 &&
	    fake.read_timeout == 10, "defaults: lock wait 5 s and causal "
	    "reads (wsrep_sync_wait) in one statement at connect, each read "
	    "10 s");
	db_free(db);
	u->io_timeout = 3;
	u->lock_wait_timeout = 2;
	fake_reset();
	db = db_new(u, NULL, 0);
	(void)db_connect(db);
	tap_ok(strcmp(fake.query[0], SESSION_SQL("2")) == 0 &&
	    fake.read_timeout == 3, "DB_LOCK_WAIT_TIMEOUT and DB_TIMEOUT "
	    "reach the connection");
	db_free(db);
	u->io_timeout = u->lock_wait_timeout = 0;
}

/*
 * The session settings on servers that lack one, that refuse them, and
 * after a reconnect.
 */
static void
test_session(struct dburl *u)
{
	struct db	*db;
	char		 c;
	int		 ok;

	fake_reset();
	db = db_new(u, NULL, 0);
	fake.query_errs[0] = ER_UNKNOWN_SYSTEM_VARIABLE;
	tap_ok(db_connect(db) == AUTH_OK && fake.queries == 2 &&
	    strcmp(fake.query[1], "SET SESSION innodb_lock_wait_timeout = 5")
	    == 0 && fake.closes == 0, "a server without wsrep_sync_wait "
	    "(1193) gets the lock wait alone, and is used");
	db_free(db);

	fake_reset();
	db = db_new(u, NULL, 0);
	fake.query_errs[0] = ER_SPECIFIC_ACCESS_DENIED_ERROR;
	tap_ok(db_connect(db) == AUTH_ERR_DB && fake.queries == 1 &&
	    fake.closes == 1, "a server that refuses the settings: not "
	    "used (500), the connection closed");
	fake.query_errs[0] = CR_SERVER_LOST;
	tap_ok(db_connect(db) == AUTH_ERR_DB_UNAVAIL && fake.closes == 2,
	    "a connection lost while setting them: 503, closed");
	tap_ok(db_connect(db) == AUTH_OK && fake.connects == 3,
	    "the next call connects again");

	/* Issue 14: every new connection gets the settings again. */
	fake.queries = 0;
	fake.query[0][0] = '\0';
	fake_exec_errors(CR_SERVER_LOST, 0, 0);
	(void)db_exec(db, DB_Q_SESSION_GET, NULL, NULL);
	tap_ok(db_exec(db, DB_Q_SESSION_GET, NULL, NULL) == AUTH_OK &&
	    fake.connects == 4 && fake.queries == 1 &&
	    strcmp(fake.query[0], SESSION_SQL("5")) == 0,
	    "after a lost connection the reconnect sets both again");
	fake.queries = 0;
	/* The server hung up: the idle socket is readable. */
	ok = write(fake.pipe[1], "x", 1) == 1;
	ok = ok && db_exec(db, DB_Q_SESSION_GET, NULL, NULL) == AUTH_OK &&
	    fake.connects == 5 && fake.queries == 1;
	ok = read(fake.pipe[0], &c, 1) == 1 && ok;
	tap_ok(ok, "and so does the reconnect after an idle connection "
	    "closed");
	db_free(db);
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

/*
 * Queue n errors err for the next executions, then success.
 */
static void
fake_exec_repeat(unsigned int err, size_t n)
{
	size_t	 i;

	memset(fake.exec_errs, 0, sizeof(fake.exec_errs));
	for (i = 0; i < n && i < FAKE_QUEUE; i++)
		fake.exec_errs[i] = err;
	fake.nexec = FAKE_QUEUE;
	fake.iexec = 0;
	fake.executes = 0;
	fake.npauses = 0;
}

/*
 * Return 1 if the pauses recorded are the n that db.c makes before runs
 * 2 to n + 1: each between half and all of 2 ms doubled once per run
 * before it.
 */
static int
pauses_grow(size_t n)
{
	size_t	 i;
	long	 most;

	if (fake.npauses != n)
		return 0;
	for (i = 0; i < n; i++) {
		most = 2000L << i;
		if (fake.pauses[i] < most / 2 || fake.pauses[i] > most)
			return 0;
	}
	return 1;
}

static void
test_exec_conflicts(struct dburl *u)
{
	struct db	*db;
	long		 first[9];

	fake_reset();
	db = db_new(u, NULL, 0);
	log_clear();
	fake_exec_repeat(ER_LOCK_DEADLOCK, 1);
	tap_ok(db_exec(db, DB_Q_THROTTLE_HIT2, NULL, NULL) == AUTH_OK &&
	    fake.executes == 2, "a deadlock victim outside a transaction "
	    "runs again and passes");
	log_ok(log_count(": warn: db conflict retried query=30 errno=1213 "
	    "runs=2\n") == 1 && log_count(": error: ") == 0, "logged once, "
	    "as a warning naming the statement and the runs; no error");

	/* Issue 14: one client's counter hit through several nodes. */
	log_clear();
	fake_exec_repeat(ER_LOCK_DEADLOCK, 9);
	tap_ok(db_exec(db, DB_Q_THROTTLE_HIT1, NULL, NULL) == AUTH_OK &&
	    fake.executes == 10, "a statement that loses nine conflicts in "
	    "a row passes on its tenth run");
	tap_ok(pauses_grow(9), "after pauses that grow from 1-2 ms to "
	    "256-512 ms");
	memcpy(first, fake.pauses, sizeof(first));
	log_ok(log_count("\n") == 1 && log_count(": warn: db conflict "
	    "retried query=29 errno=1213 runs=10\n") == 1,
	    "one line for the ten runs");

	log_clear();
	fake_exec_repeat(ER_LOCK_DEADLOCK, 10);
	tap_ok(db_exec(db, DB_Q_THROTTLE_HIT1, NULL, NULL) ==
	    AUTH_ERR_DB_UNAVAIL && fake.executes == 10 && pauses_grow(9),
	    "ten conflicts: 503 after ten runs");
	tap_ok(memcmp(first, fake.pauses, sizeof(first)) != 0,
	    "the pauses are random: not the same twice");
	log_ok(log_count("\n") == 1 && log_count(": error: db conflict "
	    "persists query=29 errno=1213 runs=10\n") == 1,
	    "one line, an error: the conflict outlasted the runs");

	fake_exec_repeat(ER_LOCK_WAIT_TIMEOUT, 2);
	tap_ok(db_exec(db, DB_Q_USER_INSERT, NULL, NULL) ==
	    AUTH_ERR_DB_UNAVAIL && fake.executes == 2,
	    "two lock-wait time-outs: 503 after two runs");
	fake_exec_repeat(ER_LOCK_WAIT_TIMEOUT, 1);
	tap_ok(db_exec(db, DB_Q_SESSION_ROTATE, NULL, NULL) == AUTH_OK &&
	    fake.executes == 2, "one lock-wait time-out: run again, passes");
	fake_exec_repeat(0, 0);
	fake.fields = 3;
	fake.store_err = ER_LOCK_WAIT_TIMEOUT;
	tap_ok(db_exec(db, DB_Q_THROTTLE_HIT1, NULL, NULL) == AUTH_OK &&
	    fake.executes == 2, "a lock-wait time-out while the rows come "
	    "(INSERT ... RETURNING): the statement runs again and passes");
	/*
	 * Galera: a certification conflict reported while the rows of
	 * INSERT ... RETURNING are read, on the connection only.
	 */
	log_clear();
	fake_exec_repeat(0, 0);
	fake.store_conn_err = ER_LOCK_DEADLOCK;
	log_ok(db_exec(db, DB_Q_THROTTLE_HIT1, NULL, NULL) == AUTH_OK &&
	    fake.executes == 2 && log_count(": warn: db conflict retried "
	    "query=29 errno=1213 runs=2\n") == 1, "a 1213 that only "
	    "mysql_errno() tells, while RETURNING's rows come: a conflict, "
	    "run again");
	fake.fields = 0;

	log_clear();
	fake_exec_repeat(ER_NO_SUCH_TABLE, 1);
	tap_ok(db_exec(db, DB_Q_SESSION_ROTATE, NULL, NULL) == AUTH_ERR_DB &&
	    fake.executes == 1 && log_count(": error: db execute failed "
	    "query=4 errno=1146 ") == 1, "other errors run once, logged as "
	    "errors");
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

/*
 * Quiet mode (db_quiet()): a server away or busy is not logged, any
 * other failure is, and it ends when turned off.
 */
static void
test_quiet(struct dburl *u)
{
	static const struct {
		unsigned int	 connect_err;	/* or 0 */
		unsigned int	 exec_err;	/* or 0 */
		enum db_q	 q;
		const char	*what;
	} away[] = {	/* in this order: the lost connection is not there */
		{ 0, CR_SERVER_LOST, DB_Q_SESSION_GET,
		  "a connection lost mid-statement" },
		{ CR_CONNECTION_ERROR, 0, DB_Q_SESSION_GET,
		  "a server that cannot be reached" },
		{ 0, ER_OPTION_PREVENTS_STATEMENT, DB_Q_SESSION_ROTATE,
		  "a read-only server" },
	};
	struct db	*db;
	size_t		 i;
	int		 quiet;

	fake_reset();
	db = db_new(u, NULL, 0);
	for (quiet = 0; quiet <= 1; quiet++) {
		db_quiet(db, quiet);
		for (i = 0; i < sizeof(away) / sizeof(away[0]); i++) {
			log_clear();
			fake.connect_err = away[i].connect_err;
			fake_exec_errors(away[i].exec_err, 0, 0);
			tap_ok(db_exec(db, away[i].q, NULL, NULL) ==
			    AUTH_ERR_DB_UNAVAIL, "%s%s: 503", quiet ?
			    "quiet: " : "", away[i].what);
			log_ok((log_text()[0] == '\0') == quiet, quiet ?
			    "... not logged" : "... logged");
		}
	}
	log_clear();
	fake.prepare_err = ER_NO_SUCH_TABLE;
	tap_ok(db_exec(db, DB_Q_RESET_NEWEST, NULL, NULL) == AUTH_ERR_DB,
	    "quiet: a missing table, 500");
	log_ok(log_count("prepare failed") == 1, "... logged all the same");
	log_clear();
	db_quiet(db, 0);
	fake_exec_errors(CR_SERVER_LOST, 0, 0);
	tap_ok(db_exec(db, DB_Q_SESSION_GET, NULL, NULL) ==
	    AUTH_ERR_DB_UNAVAIL, "quiet off: a connection lost, 503");
	log_ok(log_count("execute failed") == 1, "... logged again");
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

	db = db_new(u, NULL, 0);
	body_start(&b, 1);
	fake_exec_errors(ER_LOCK_DEADLOCK, 0, 0);
	tap_ok(db_txn(db, body_write, &b) == AUTH_OK && b.runs == 2 &&
	    fake.executes == 2 && fake.commits == 1 && fake.rollbacks == 1,
	    "a deadlock in a transaction: rolled back, the body runs again "
	    "and commits");
	log_ok(log_count("\n") == 1 && log_count(": warn: db transaction "
	    "conflict retried query=6 errno=1213 runs=2\n") == 1,
	    "one line, a warning");
	body_start(&b, 1);
	fake_exec_errors(ER_LOCK_WAIT_TIMEOUT, ER_LOCK_WAIT_TIMEOUT, 0);
	tap_ok(db_txn(db, body_write, &b) == AUTH_ERR_DB_UNAVAIL &&
	    b.runs == 2 && fake.commits == 0, "two lock-wait time-outs: "
	    "503 after two runs, nothing committed");
	log_ok(log_count("\n") == 1 && log_count(": error: db transaction "
	    "conflict persists query=6 errno=1205 runs=2\n") == 1,
	    "one line, an error");
	body_start(&b, 1);
	fake.commit_err = ER_LOCK_DEADLOCK;
	tap_ok(db_txn(db, body_write, &b) == AUTH_OK && b.runs == 2 &&
	    fake.commits == 2, "a conflict at COMMIT (Galera certification) "
	    "runs the transaction again");
	log_ok(log_count("\n") == 1 && log_count(": warn: db transaction "
	    "conflict retried commit errno=1213 runs=2\n") == 1,
	    "one line, a warning naming the COMMIT");
	/* Galera aborts a transaction while its next statement is prepared. */
	db_free(db);
	db = db_new(u, NULL, 0);
	body_start(&b, 1);
	fake.prepare_err = ER_LOCK_DEADLOCK;
	log_ok(db_txn(db, body_write, &b) == AUTH_OK && b.runs == 2 &&
	    fake.prepares == 2 && log_count("\n") == 1 &&
	    log_count(": warn: db transaction conflict retried query=6 "
	    "errno=1213 runs=2\n") == 1, "a conflict while a statement of "
	    "the transaction is prepared: run again, one warning");
	fake_reset();
	log_clear();
	fake_exec_errors(ER_LOCK_DEADLOCK, 0, 0);
	tap_ok(db_begin(db) == AUTH_OK && db_exec(db, DB_Q_SESSION_REVOKE,
	    NULL, NULL) == AUTH_ERR_DB_UNAVAIL && fake.executes == 1 &&
	    log_count(": error: db execute failed query=6 errno=1213 ") == 1,
	    "a transaction run by hand: the conflict is returned at once and "
	    "logged where it happened (the caller decides)");
	db_rollback(db);
	body_start(&b, 1);
	fake.commit_err = CR_SERVER_LOST;
	tap_ok(db_txn(db, body_write, &b) == AUTH_ERR_DB_COMMIT_UNKNOWN &&
	    b.runs == 1 && fake.closes == 1, "a connection lost during "
	    "COMMIT: outcome unknown, never run again, connection dropped");
	body_start(&b, 0);
	tap_ok(db_txn(db, body_write, &b) == AUTH_OK && b.runs == 1 &&
	    fake.commits == 0 && fake.rollbacks == 1,
	    "a body that keeps nothing is rolled back");
	body_start(&b, 1);
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
	int		 fd;

	if (pipe(fake.pipe) == -1 || (fd = mkstemp(logpath)) == -1 ||
	    log_open(logpath) == -1 ||
	    dburl_parse("mysql://u:p@localhost/db", &u, err, sizeof(err)) !=
	    AUTH_OK) {
		tap_ok(0, "set up");
		return tap_done();
	}
	(void)close(fd);
	log_init("test-db-faults");
	test_prepare_when_used(&u);
	test_options(&u);
	test_session(&u);
	test_autocommit(&u);
	test_exec_conflicts(&u);
	test_lost(&u);
	test_quiet(&u);
	test_fetch_all(&u);
	test_txn(&u);
	dburl_free(&u);
	(void)unlink(logpath);
	return tap_done();
}
