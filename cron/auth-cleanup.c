/* SPDX-License-Identifier: ISC */
/*
 * auth-cleanup: send the queued password-recovery mail that is due, then
 * purge the state that collab-auth no longer needs, as the FastAPI
 * backend's background worker did every 15 minutes.  Run from cron or a
 * systemd timer:
 *
 *	auth-cleanup [-nq] [-p percent] [-t seconds]
 *	auth-cleanup --deliver [--slot n --holder name]
 *
 * The second form is the mail sender alone (common/courier.c), which
 * forgot-password starts detached after it answers; it stays while a
 * message waits for a retry, and ends when the queue is empty.
 *
 * The cleanup: one run at a time across every host sharing the database
 * (a MariaDB user lock, checked again before each batch, so that a run
 * whose connection was lost and silently made again never goes on without
 * it); rows go in batches of at most CLEANUP_BATCH, each its own
 * transaction (isolation: see cleanup_jobs[]) deleting in one total order
 * (the cutoff column's index, then the primary key: see common/db.c), so
 * a request never waits behind a long delete and a replica deletes the
 * same rows; each batch is correct without the lock too (a row is deleted
 * once, whoever gets there first; a batch that loses a conflict runs
 * again), as it must be on Galera, where GET_LOCK locks one node only, or
 * is refused.  While other sessions are at work (they sent statements
 * since the run last looked, or one is running now), the run pauses
 * between batches so as to spend at most -p percent of its time deleting.
 * A run starts no new batch once its time limit has passed.  The SQL is
 * in common/db.c, like every statement of the suite.
 *
 * Exit status: 0 on success, when another run holds the lock, and when
 * the time limit stopped the run; 1 after a database error; 2 for a bad
 * configuration or usage.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <mysqld_error.h>

#include "cfg.h"
#include "courier.h"
#include "db.h"
#include "log.h"
#include "mailq.h"
#include "status.h"

#define CLEANUP_PROG		"auth-cleanup"
#define CLEANUP_BATCH		1000	/* rows per DELETE at most */
#define CLEANUP_TIME_DEFAULT	300	/* seconds, -t */
#define CLEANUP_TIME_MAX	86400	/* seconds, the largest -t */
#define CLEANUP_PACE_DEFAULT	20	/* percent, -p */
#define CLEANUP_PAUSE_MAX	5000	/* ms: the longest pause */
#define CLEANUP_DEAD_SESSION	86400	/* seconds a dead session is kept */
#define CLEANUP_CODE_MARGIN	3600	/* seconds a code row outlives it */
#define CLEANUP_FAILURE_AGE	(86400 + 3600) /* seconds, see reset.c */
#define CLEANUP_MAILQ_AGE	3600	/* seconds past a queue row's end */
#define CLEANUP_SENDER_NICE	10	/* --deliver runs this much nicer */

#define CLEANUP_EXIT_OK		0
#define CLEANUP_EXIT_DB		1	/* a database error */
#define CLEANUP_EXIT_CONFIG	2	/* bad configuration or usage */

/* Which moment a housekeeping statement compares its columns with. */
enum cleanup_cut {
	CLEANUP_CUT_NOW,	/* now: expired */
	CLEANUP_CUT_CODE,	/* now - OTP_EXPIRE_MINUTES - 1 hour */
	CLEANUP_CUT_SESSION,	/* now - CLEANUP_DEAD_SESSION */
	CLEANUP_CUT_FAILURE,	/* now - CLEANUP_FAILURE_AGE */
	CLEANUP_CUT_MAILQ,	/* now - CLEANUP_MAILQ_AGE */
	CLEANUP_CUT_LEGACY,	/* now - refresh lifetime - a day */
	CLEANUP_CUT__MAX
};

/*
 * One kind of row to purge: a DELETE ... LIMIT ? and its COUNT twin,
 * each comparing ncut columns with the same cutoff.
 *
 * The isolation level of its batches.  READ COMMITTED locks only the
 * rows a DELETE removes: a DELETE that may walk past rows it keeps (its
 * condition is on more columns than the one its index starts with, or
 * the order is the primary key's) must run so, or a batch would hold
 * live rows that requests wait for.  A DELETE
 * whose condition is a range on the leading column of the index it
 * walks reads nothing but the rows it removes and, once, the first row
 * past the range: REPEATABLE READ locks that row and the gap before it
 * as well, for the batch (new rows land past it: their times are later),
 * and deletes a backlog 1.6 to 1.9 times as fast on MariaDB 10.11 (100 k
 * expired sessions, tests/bench; the same statements from the mariadb
 * client show the same gap, with the same rows read).  Not on a Galera
 * node: there the writes other nodes replicate abort a local transaction
 * that holds a lock they need, a gap lock included, instead of waiting
 * for it, and a REPEATABLE READ batch beside the requests of other nodes
 * lost ten tries in a row (tests/galera, test_cluster.py); every batch
 * runs READ COMMITTED there.
 */
struct cleanup_job {
	const char	*name;		/* key in the summary line */
	enum db_q	 del;		/* cutoff x ncut, batch size */
	enum db_q	 count;		/* cutoff x ncut */
	enum cleanup_cut cut;
	int		 ncut;
	enum db_q	 isolation;	/* DB_Q_TXN_*, see above */
};

/* What one run did. */
struct cleanup_run {
	struct db		*db;
	int			 dry;		/* -n */
	int			 locked;	/* holds GET_LOCK (not Galera) */
	int			 galera;	/* a Galera node: READ COMMITTED */
	long long		 cut[CLEANUP_CUT__MAX]; /* epoch s, UTC */
	struct timespec		 start;		/* CLOCK_MONOTONIC */
	long			 limit;		/* -t, seconds */
	long			 pace;		/* -p, percent */
	long long		 paused_ms;	/* spent pausing */
	long long		 others;	/* their statements, last look */
	int			 looked;	/* others is set */
	int			 timed_out;	/* the limit stopped the run */
	int			 lock_lost;	/* another run has the lock */
	unsigned long long	*rows;		/* per job: deleted, counted */
};

/* What the command line asked for. */
struct cleanup_args {
	int		 dry;		/* -n */
	int		 quiet;		/* -q */
	long		 limit;		/* -t */
	long		 pace;		/* -p */
	int		 deliver;	/* --deliver */
	int		 slot;		/* --slot */
	const char	*holder;	/* --holder */
};

/*
 * The housekeeping, in order.  The kinds do not overlap (see the SQL), so
 * that a dry run counts what a real run deletes.  A housekeeping table
 * added later is one more row here, its two statements in common/db.c
 * and, if it needs one, a new cutoff in enum cleanup_cut.
 */
static const struct cleanup_job cleanup_jobs[] = {
	{ "passwordresettoken_expired", DB_Q_CLEANUP_RESET_EXPIRED,
	  DB_Q_COUNT_RESET_EXPIRED, CLEANUP_CUT_NOW, 1,
	  DB_Q_TXN_REPEATABLE_READ },
	{ "passwordresettoken_used", DB_Q_CLEANUP_RESET_USED,
	  DB_Q_COUNT_RESET_USED, CLEANUP_CUT_NOW, 1,
	  DB_Q_TXN_READ_COMMITTED },
	/*
	 * These rows back the per-account cooldown and hourly cap, and
	 * count the guesses at a live code: they outlive the code by an
	 * hour, so that a host whose clock runs ahead never gives a live
	 * code fresh tries.
	 */
	{ "auth_reset_code", DB_Q_CLEANUP_RESET_CODE,
	  DB_Q_COUNT_RESET_CODE, CLEANUP_CUT_CODE, 1,
	  DB_Q_TXN_REPEATABLE_READ },
	/* The daily guessing budget, and an hour for clocks. */
	{ "auth_reset_failure", DB_Q_CLEANUP_RESET_FAILURE,
	  DB_Q_COUNT_RESET_FAILURE, CLEANUP_CUT_FAILURE, 1,
	  DB_Q_TXN_REPEATABLE_READ },
	/* Queue rows no sender reached, an hour after their end. */
	{ "auth_mail_queue", DB_Q_CLEANUP_MAILQ, DB_Q_COUNT_MAILQ,
	  CLEANUP_CUT_MAILQ, 1,
	  DB_Q_TXN_REPEATABLE_READ },
	/* A day's grace, so a late refresh still meets its session. */
	{ "auth_refresh_session_expired", DB_Q_CLEANUP_SESSION_EXPIRED,
	  DB_Q_COUNT_SESSION_EXPIRED, CLEANUP_CUT_SESSION, 1,
	  DB_Q_TXN_REPEATABLE_READ },
	{ "auth_refresh_session_revoked", DB_Q_CLEANUP_SESSION_REVOKED,
	  DB_Q_COUNT_SESSION_REVOKED, CLEANUP_CUT_SESSION, 2,
	  DB_Q_TXN_READ_COMMITTED },
	/* Throttle counters whose window has ended. */
	{ "auth_throttle", DB_Q_CLEANUP_THROTTLE, DB_Q_COUNT_THROTTLE,
	  CLEANUP_CUT_NOW, 1,
	  DB_Q_TXN_REPEATABLE_READ },
	/*
	 * The FastAPI backend's refresh tokens (legacy.c): a use is kept a
	 * day past the token's expiry (JWT_LEEWAY, clocks), so that the
	 * token is never taken for new while it still verifies; a cutoff
	 * as long as a token issued before it could live, and a day.
	 */
	{ "auth_legacy_refresh", DB_Q_CLEANUP_LEGACY_REFRESH,
	  DB_Q_COUNT_LEGACY_REFRESH, CLEANUP_CUT_SESSION, 1,
	  DB_Q_TXN_READ_COMMITTED },
	{ "auth_legacy_cutoff", DB_Q_CLEANUP_LEGACY_CUTOFF,
	  DB_Q_COUNT_LEGACY_CUTOFF, CLEANUP_CUT_LEGACY, 1,
	  DB_Q_TXN_READ_COMMITTED },
};

#define CLEANUP_NJOBS	(sizeof(cleanup_jobs) / sizeof(cleanup_jobs[0]))

static volatile sig_atomic_t	 cleanup_stop;

static void
cleanup_on_signal(int sig)
{

	(void)sig;
	cleanup_stop = 1;
}

/*
 * Print the usage lines on stderr.
 */
static void
usage(void)
{

	(void)fprintf(stderr, "usage: %s [-nq] [-p percent] [-t seconds]\n"
	    "       %s --deliver [--slot n --holder name]\n", CLEANUP_PROG,
	    CLEANUP_PROG);
}

/*
 * Parse s as a decimal number from min to max, nothing else.  Returns 0
 * and sets *v, or -1.
 */
static int
cleanup_parse_num(const char *s, long min, long max, long *v)
{
	char		*end;
	long long	 n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*v = (long)n;
	return 0;
}

/*
 * Return the seconds since the run started.
 */
static double
cleanup_elapsed(const struct cleanup_run *run)
{
	struct timespec	 now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		return 0.0;
	return (double)(now.tv_sec - run->start.tv_sec) +
	    (double)(now.tv_nsec - run->start.tv_nsec) / 1e9;
}

/*
 * Return 1, after saying so once, if the time limit has passed (or a
 * signal asked us to stop) and no new batch may start; 0 otherwise.
 */
static int
cleanup_time_up(struct cleanup_run *run)
{

	if (run->timed_out || run->lock_lost)
		return 1;
	if (!cleanup_stop && cleanup_elapsed(run) < (double)run->limit)
		return 0;
	run->timed_out = 1;
	log_warn("time-limit", "limit=%ld s reached; no new batch started, "
	    "the rest is left for the next run", run->limit);
	return 1;
}

/*
 * Set the moments the jobs compare with, all from one reading of the
 * clock: epoch seconds, bound later as naive UTC DATETIMEs as the
 * FastAPI backend stored them.
 */
static void
cleanup_cutoffs(struct cleanup_run *run, const struct cfg *cfg)
{
	long long	 now = (long long)time(NULL);

	run->cut[CLEANUP_CUT_NOW] = now;
	run->cut[CLEANUP_CUT_CODE] = now - cfg->otp_expire_minutes * 60 -
	    CLEANUP_CODE_MARGIN;
	run->cut[CLEANUP_CUT_SESSION] = now - CLEANUP_DEAD_SESSION;
	run->cut[CLEANUP_CUT_FAILURE] = now - CLEANUP_FAILURE_AGE;
	run->cut[CLEANUP_CUT_MAILQ] = now - CLEANUP_MAILQ_AGE;
	run->cut[CLEANUP_CUT_LEGACY] = now - cfg_refresh_lifetime(cfg) -
	    CLEANUP_DEAD_SESSION;
}

/*
 * Run statement q, which returns one integer, into *v (NULL reads as -1).
 */
static enum auth_status
cleanup_scalar(struct db *db, enum db_q q, long long *v)
{
	MYSQL_BIND		 res[1];
	MYSQL_STMT		*st;
	my_bool			 isnull = 0;
	enum auth_status	 rc;

	*v = -1;
	if ((rc = db_exec(db, q, NULL, &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&res[0], v);
	res[0].is_null = &isnull;
	if ((rc = db_fetch_one(db, st, res)) != AUTH_OK)
		return rc == AUTH_ERR_NOT_FOUND ? AUTH_ERR_DB : rc;
	if (isnull)
		*v = -1;
	return AUTH_OK;
}

/*
 * Take the cleanup lock without waiting.  Returns AUTH_OK and sets *held
 * to 1 if this run has it (or the server cannot lock: Galera) or 0 if
 * another session holds it, or a status for a database error (GET_LOCK
 * answering NULL is one).
 */
static enum auth_status
cleanup_lock(struct cleanup_run *run, int *held)
{
	long long		 v;
	enum auth_status	 rc;

	*held = 0;
	rc = cleanup_scalar(run->db, DB_Q_CLEANUP_LOCK, &v);
	if (rc == AUTH_ERR_DB &&
	    db_last_errno(run->db) == ER_NOT_SUPPORTED_YET) {
		/*
		 * Some Galera versions refuse GET_LOCK (MDEV-30473); where
		 * it is accepted it locks one node only.  Each batch is
		 * correct without it; two runs only share the work.
		 */
		log_warn("lock", "GET_LOCK is not supported by this server "
		    "(Galera?); running without the lock");
		*held = 1;
		return AUTH_OK;
	}
	if (rc != AUTH_OK)
		return rc;
	if (v == -1) {
		log_err("lock", "GET_LOCK failed");
		return AUTH_ERR_DB;
	}
	*held = v == 1;
	run->locked = *held;
	return AUTH_OK;
}

/*
 * Release the cleanup lock.  A failure is only logged: closing the
 * connection, which follows, releases it too.
 */
static void
cleanup_unlock(struct db *db)
{
	long long	 v;

	if (cleanup_scalar(db, DB_Q_CLEANUP_UNLOCK, &v) != AUTH_OK || v != 1)
		log_warn("lock", "RELEASE_LOCK did not release the lock");
}

/*
 * Fill params (room for three) for one of job's statements: the cutoff,
 * ncut times, at *t, then the batch size at *batch unless batch is NULL
 * (a count).
 */
static MYSQL_BIND *
cleanup_params(const struct cleanup_run *run, const struct cleanup_job *job,
    MYSQL_BIND *params, MYSQL_TIME *t, int *batch)
{
	int	 i, n = 0;

	db_time_from_epoch(t, run->cut[job->cut]);
	for (i = 0; i < job->ncut; i++)
		db_bind_time(&params[n++], t);
	if (batch != NULL)
		db_bind_int(&params[n++], batch);
	return params;
}

/*
 * Count the rows job would delete into *rows.  Returns AUTH_OK or a
 * database status.
 */
static enum auth_status
cleanup_count(struct cleanup_run *run, const struct cleanup_job *job,
    unsigned long long *rows)
{
	MYSQL_BIND		 params[3], res[1];
	MYSQL_STMT		*st;
	MYSQL_TIME		 t;
	long long		 n = 0;
	enum auth_status	 rc;

	if (cleanup_time_up(run))
		return AUTH_OK;
	if ((rc = db_exec(run->db, job->count, cleanup_params(run, job,
	    params, &t, NULL), &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&res[0], &n);
	if ((rc = db_fetch_one(run->db, st, res)) != AUTH_OK)
		return rc == AUTH_ERR_NOT_FOUND ? AUTH_ERR_DB : rc;
	*rows = n > 0 ? (unsigned long long)n : 0;
	return AUTH_OK;
}

/*
 * Before a batch, with the lock: if the connection was lost and made
 * again since the lock was taken (db.c reconnects without a word), the
 * new session holds no lock, so take it again; if another run has taken
 * it meanwhile, stop (run->lock_lost).  Returns AUTH_OK or a database
 * status.
 */
static enum auth_status
cleanup_recheck_lock(struct cleanup_run *run)
{
	long long		 v;
	enum auth_status	 rc;

	if (!run->locked)
		return AUTH_OK;
	if ((rc = cleanup_scalar(run->db, DB_Q_CLEANUP_LOCK_CHECK, &v)) !=
	    AUTH_OK)
		return rc;
	if (v != 1) {
		log_warn("lock", "the connection was made again and another "
		    "run holds the lock now; stopping");
		run->lock_lost = 1;
	}
	return AUTH_OK;
}

/*
 * Return 1 if other sessions are at work, else 0: they sent statements
 * since our previous look, or one is running a statement now.  A server's
 * requests run statements of a millisecond or less and sit idle in
 * between, so that at any moment Threads_running is almost always 1 (our
 * own look): what shows them is the statements sent meanwhile, the
 * server's Questions less our session's.  Our own statements, this look
 * included, are in both counters and cancel out; sessions that ended
 * before our first look are in the count it starts from.  One statement
 * is enough: the interval is a batch and its pause, tens of milliseconds
 * to seconds, and a pause that was not needed only makes the run longer.
 * After FLUSH STATUS the count goes down and shows nobody; after a
 * reconnect (db.c) our old session's statements count as others' once.
 * On Galera the counters are the node's own: the run sees the clients of
 * the node it is connected to, not the requests other nodes answer.  The
 * first look only sets the count (a statement running still counts); a
 * look that fails shows nobody.
 */
static int
cleanup_busy(struct cleanup_run *run)
{
	MYSQL_BIND		 res[2];
	MYSQL_STMT		*st;
	long long		 others = 0, running = 0, before;
	int			 looked;

	if (db_exec(run->db, DB_Q_CLEANUP_ACTIVITY, NULL, &st) != AUTH_OK)
		return 0;
	db_bind_llong(&res[0], &others);
	db_bind_llong(&res[1], &running);
	if (db_fetch_one(run->db, st, res) != AUTH_OK)
		return 0;
	before = run->others;
	looked = run->looked;
	run->others = others;
	run->looked = 1;
	return running > 1 || (looked && others > before);
}

/*
 * After a batch that took batch_ms: when other sessions are at work
 * (cleanup_busy()), pause so that deleting takes at most run->pace
 * percent of the time, up to CLEANUP_PAUSE_MAX; on an idle server, go
 * straight on.
 */
static void
cleanup_pace(struct cleanup_run *run, double batch_ms)
{
	struct timespec	 ts;
	long long	 ms;

	if (run->pace >= 100 || !cleanup_busy(run))
		return;
	ms = (long long)(batch_ms * (double)(100 - run->pace) /
	    (double)run->pace);
	if (ms > CLEANUP_PAUSE_MAX)
		ms = CLEANUP_PAUSE_MAX;
	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	(void)nanosleep(&ts, NULL);
	run->paused_ms += ms;
}

/* One batch of one job. */
struct cleanup_batch {
	struct cleanup_run		*run;
	const struct cleanup_job	*job;
	unsigned long long		 n;	/* rows deleted */
};

/*
 * One batch, for db_txn(): the job's isolation, the lock checked first, at
 * most CLEANUP_BATCH rows deleted.  db_txn() runs it again when it loses
 * a deadlock or a certification conflict (Galera, at COMMIT): the rows
 * another run or a request took first are simply not there any more.
 */
static enum auth_status
cleanup_batch_txn(struct db *db, void *arg, int *commit)
{
	struct cleanup_batch	*b = arg;
	MYSQL_BIND		 params[3];
	MYSQL_TIME		 t;
	int			 batch = CLEANUP_BATCH;
	enum auth_status	 rc;

	b->n = 0;
	if ((rc = db_exec(db, b->run->galera ? DB_Q_TXN_READ_COMMITTED :
	    b->job->isolation, NULL, NULL)) != AUTH_OK ||
	    (rc = cleanup_recheck_lock(b->run)) != AUTH_OK ||
	    b->run->lock_lost)
		return rc;
	if ((rc = db_exec(db, b->job->del, cleanup_params(b->run, b->job,
	    params, &t, &batch), NULL)) != AUTH_OK)
		return rc;
	b->n = db_affected(db, b->job->del);
	*commit = 1;
	return AUTH_OK;
}

/*
 * One batch of job, committed by itself.  *n gets the rows deleted.  A
 * COMMIT whose outcome is lost with the connection
 * (AUTH_ERR_DB_COMMIT_UNKNOWN) ends the run like any database failure:
 * the batch's rows are deleted or not, and the next run deletes what is
 * left; only the summary may miss them.
 */
static enum auth_status
cleanup_batch(struct cleanup_run *run, const struct cleanup_job *job,
    unsigned long long *n)
{
	struct cleanup_batch	 b;
	enum auth_status	 rc;

	b.run = run;
	b.job = job;
	b.n = 0;
	rc = db_txn(run->db, cleanup_batch_txn, &b);
	*n = rc == AUTH_OK ? b.n : 0;
	return rc;
}

/*
 * Delete job's rows, batch after batch, until a batch comes back short or
 * the time limit passes; add the rows deleted to *rows.  Returns AUTH_OK
 * or a database status (what earlier batches deleted stays deleted).
 */
static enum auth_status
cleanup_delete(struct cleanup_run *run, const struct cleanup_job *job,
    unsigned long long *rows)
{
	struct timespec		 t0, t1;
	unsigned long long	 n;
	enum auth_status	 rc;

	do {
		if (cleanup_time_up(run))
			return AUTH_OK;
		(void)clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((rc = cleanup_batch(run, job, &n)) != AUTH_OK)
			return rc;
		*rows += n;
		(void)clock_gettime(CLOCK_MONOTONIC, &t1);
		if (n >= CLEANUP_BATCH)
			cleanup_pace(run, (double)(t1.tv_sec - t0.tv_sec) *
			    1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	} while (n >= CLEANUP_BATCH);
	return AUTH_OK;
}

/*
 * Run every job, deleting or (dry run) counting.  Returns AUTH_OK, also
 * when the time limit stopped the run, or the first database status.
 */
static enum auth_status
cleanup_jobs_run(struct cleanup_run *run)
{
	enum auth_status	 rc;
	size_t			 i;

	for (i = 0; i < CLEANUP_NJOBS; i++) {
		if (run->dry)
			rc = cleanup_count(run, &cleanup_jobs[i],
			    &run->rows[i]);
		else
			rc = cleanup_delete(run, &cleanup_jobs[i],
			    &run->rows[i]);
		if (rc != AUTH_OK) {
			log_err("cleanup", "stopped at %s status=%s",
			    cleanup_jobs[i].name, auth_strerror(rc));
			return rc;
		}
	}
	return AUTH_OK;
}

/*
 * Print the summary line on stdout: the rows of each job (deleted, or
 * that would be under -n), the milliseconds spent pausing for other
 * sessions (-p) and the seconds the run took.
 */
static void
cleanup_summary(const struct cleanup_run *run)
{
	size_t	 i;

	(void)printf("%s:%s", CLEANUP_PROG, run->dry ? " dry-run" : "");
	for (i = 0; i < CLEANUP_NJOBS; i++)
		(void)printf(" %s=%llu", cleanup_jobs[i].name, run->rows[i]);
	(void)printf(" paused_ms=%lld seconds=%.2f\n", run->paused_ms,
	    cleanup_elapsed(run));
	(void)fflush(stdout);
}

/*
 * Send what is due in the queue before cleaning up, within the time
 * limit, unless every sender slot is taken (then their holders do).  A
 * failure is logged and does not stop the cleanup.
 */
static void
cleanup_deliver(struct cleanup_run *run, const struct cfg *cfg)
{
	struct courier_opts	 opts;
	struct courier_stats	 stats;

	memset(&opts, 0, sizeof(opts));
	memset(&stats, 0, sizeof(stats));
	opts.limit = run->limit;
	opts.stop = &cleanup_stop;
	(void)courier_run(run->db, cfg, &opts, &stats);
}

/*
 * Connect, take the lock, do the jobs, release the lock.  Returns the
 * exit status.
 */
static int
cleanup_main(const struct cfg *cfg, const struct cleanup_args *a)
{
	struct cleanup_run	 run;
	unsigned long long	 rows[CLEANUP_NJOBS];
	enum auth_status	 rc;
	int			 held = 0, status = CLEANUP_EXIT_DB;

	memset(&run, 0, sizeof(run));
	memset(rows, 0, sizeof(rows));
	run.dry = a->dry;
	run.limit = a->limit;
	run.pace = a->pace;
	run.rows = rows;
	if (clock_gettime(CLOCK_MONOTONIC, &run.start) == -1) {
		log_err("startup", "clock_gettime: %s", strerror(errno));
		goto out;
	}
	/* Statements are prepared when first used. */
	if ((run.db = db_new(&cfg->db, NULL, 0)) == NULL) {
		log_err("startup", "out of memory");
		goto out;
	}
	/* db.c has said why, unless memory ran out. */
	if ((rc = db_connect(run.db)) != AUTH_OK) {
		if (rc == AUTH_ERR_NOMEM)
			log_err("startup", "out of memory");
		goto out;
	}
	if (!a->dry)
		cleanup_deliver(&run, cfg);
	if ((rc = cleanup_lock(&run, &held)) != AUTH_OK) {
		log_err("lock", "cannot take the lock status=%s",
		    auth_strerror(rc));
		goto out;
	}
	if (!held) {
		/* Routine when several hosts run the same timer. */
		if (!a->quiet) {
			(void)printf("%s: another run is in progress\n",
			    CLEANUP_PROG);
			(void)fflush(stdout);
		}
		status = CLEANUP_EXIT_OK;
		goto out;
	}

	cleanup_cutoffs(&run, cfg);
	/* A failed look counts as Galera: READ COMMITTED is always safe. */
	if (!run.dry) {
		long long	 g = 1;

		(void)cleanup_scalar(run.db, DB_Q_CLEANUP_GALERA, &g);
		run.galera = g != 0;
	}
	/* The look the first batch's statements are counted from. */
	if (!run.dry && run.pace < 100)
		(void)cleanup_busy(&run);
	rc = cleanup_jobs_run(&run);
	/*
	 * After AUTH_ERR_DB_UNAVAIL the connection may be gone, and
	 * db_exec() would open a new one only to release a lock the old
	 * session took with it; after losing the lock it is not ours.
	 * db_free() closes the connection, which releases it in every case.
	 */
	if (rc != AUTH_ERR_DB_UNAVAIL && run.locked && !run.lock_lost)
		cleanup_unlock(run.db);
	if (rc != AUTH_OK)
		goto out;
	if (!a->quiet)
		cleanup_summary(&run);
	status = CLEANUP_EXIT_OK;
out:
	db_free(run.db);
	return status;
}

/*
 * The mail sender alone (--deliver): take over the slot reserved for us,
 * or take a free one, and send until the queue is empty.  Returns the
 * exit status.
 */
static int
cleanup_courier(const struct cfg *cfg, const struct cleanup_args *a)
{
	struct courier_opts	 opts;
	struct courier_stats	 stats;
	struct db		*db;
	enum auth_status	 rc;

	/*
	 * The requests first: on a busy machine the sender's CPU (TLS, the
	 * message) must not slow the programs that answer.  A failure
	 * leaves us as we are.
	 */
	errno = 0;
	if (nice(CLEANUP_SENDER_NICE) == -1 && errno != 0)
		log_warn("courier", "nice: %s", strerror(errno));
	memset(&opts, 0, sizeof(opts));
	memset(&stats, 0, sizeof(stats));
	opts.slot = a->slot;
	opts.holder = a->holder;
	opts.wait = 1;
	opts.recruit = 1;
	opts.limit = -1;
	opts.stop = &cleanup_stop;
	if ((db = db_new(&cfg->db, NULL, 0)) == NULL) {
		log_err("startup", "out of memory");
		return CLEANUP_EXIT_DB;
	}
	rc = courier_run(db, cfg, &opts, &stats);
	if (stats.requests + stats.sent + stats.failed + stats.dropped > 0)
		log_info("courier", "done requests=%llu sent=%llu failed=%llu "
		    "dropped=%llu", stats.requests, stats.sent, stats.failed,
		    stats.dropped);
	db_free(db);
	return rc == AUTH_OK ? CLEANUP_EXIT_OK : CLEANUP_EXIT_DB;
}

/*
 * Return 1 if standard error goes nowhere (/dev/null, as when
 * forgot-password started us after a plain-CGI answer), else 0.
 */
static int
cleanup_stderr_is_null(void)
{
	struct stat	 err, null;

	return fstat(STDERR_FILENO, &err) == 0 &&
	    stat("/dev/null", &null) == 0 && S_ISCHR(err.st_mode) &&
	    err.st_rdev == null.st_rdev;
}

/*
 * Parse the command line into *a.  Returns 0, or -1 after saying why.
 */
static int
cleanup_args(int argc, char *argv[], struct cleanup_args *a)
{
	static const struct option longopts[] = {
		{ "deliver", no_argument, NULL, 'D' },
		{ "slot", required_argument, NULL, 'S' },
		{ "holder", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	long	 v;
	int	 ch;

	memset(a, 0, sizeof(*a));
	a->limit = CLEANUP_TIME_DEFAULT;
	a->pace = CLEANUP_PACE_DEFAULT;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "np:qt:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'n':
			a->dry = 1;
			break;
		case 'q':
			a->quiet = 1;
			break;
		case 'p':
			if (cleanup_parse_num(optarg, 1, 100, &a->pace) ==
			    -1) {
				log_err("usage", "-p wants a percentage from "
				    "1 to 100");
				return -1;
			}
			break;
		case 't':
			if (cleanup_parse_num(optarg, 0, CLEANUP_TIME_MAX,
			    &a->limit) == -1) {
				log_err("usage", "-t wants whole seconds "
				    "from 0 to %d", CLEANUP_TIME_MAX);
				return -1;
			}
			break;
		case 'D':
			a->deliver = 1;
			break;
		case 'S':
			if (cleanup_parse_num(optarg, 1, 255, &v) == -1) {
				log_err("usage", "--slot wants a number");
				return -1;
			}
			a->slot = (int)v;
			break;
		case 'H':
			if (strlen(optarg) != MAILQ_TOKEN_HEX ||
			    strspn(optarg, "0123456789abcdef") !=
			    MAILQ_TOKEN_HEX) {
				log_err("usage", "--holder wants %d hex digits",
				    MAILQ_TOKEN_HEX);
				return -1;
			}
			a->holder = optarg;
			break;
		default:
			if (optopt == 't' || optopt == 'p')
				log_err("usage", "-%c needs a number", optopt);
			else
				log_err("usage", "unknown option");
			return -1;
		}
	}
	if (optind != argc) {
		log_err("usage", "unexpected argument");
		return -1;
	}
	if ((a->slot != 0) != (a->holder != NULL) ||
	    (a->slot != 0 && !a->deliver)) {
		log_err("usage", "--slot and --holder go together, with "
		    "--deliver");
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct cleanup_args	 a;
	struct sigaction	 sa;
	struct cfg		 cfg;
	char			 err[512];
	int			 status;

	log_init(CLEANUP_PROG);
	memset(&cfg, 0, sizeof(cfg));
	if (cleanup_args(argc, argv, &a) == -1) {
		usage();
		return CLEANUP_EXIT_CONFIG;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cleanup_on_signal;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);

	if (cfg_load_default(&cfg, err, sizeof(err)) != AUTH_OK) {
		log_err("config", "%s", err);
		return CLEANUP_EXIT_CONFIG;
	}
	if (cfg.log_file != NULL && log_open(cfg.log_file) == -1) {
		log_err("config", "LOG_FILE: %s: %s", cfg.log_file,
		    strerror(errno));
		cfg_free(&cfg);
		return CLEANUP_EXIT_CONFIG;
	}
	/* Started with nowhere to write: the lines go to syslog. */
	if (cleanup_stderr_is_null())
		log_syslog();
	if (a.deliver)
		status = cleanup_courier(&cfg, &a);
	else
		status = cleanup_main(&cfg, &a);
	cfg_free(&cfg);
	return status;
}
