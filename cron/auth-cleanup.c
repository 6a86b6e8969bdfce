/* SPDX-License-Identifier: ISC */
/*
 * auth-cleanup: purge the state that collab-auth no longer needs, as the
 * FastAPI backend's background worker did every 15 minutes.  Run from
 * cron or a systemd timer:
 *
 *	auth-cleanup [-nq] [-t seconds]
 *
 * One run at a time across every host sharing the database (a MariaDB
 * user lock); rows go in batches of at most CLEANUP_BATCH, each batch its
 * own transaction, so a request never waits behind a long delete; a run
 * starts no new batch once its time limit has passed.  The SQL is in
 * common/db.c, like every statement of the suite.
 *
 * Exit status: 0 on success, when another run holds the lock, and when
 * the time limit stopped the run; 1 after a database error; 2 for a bad
 * configuration or usage.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <mysqld_error.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "status.h"

#define CLEANUP_PROG		"auth-cleanup"
#define CLEANUP_BATCH		1000	/* rows per DELETE at most */
#define CLEANUP_TIME_DEFAULT	300	/* seconds, -t */
#define CLEANUP_TIME_MAX	86400	/* seconds, the largest -t */
#define CLEANUP_DEAD_SESSION	86400	/* seconds a dead session is kept */
#define CLEANUP_CODE_MIN_AGE	3600	/* seconds a reset code row is kept */

#define CLEANUP_EXIT_OK		0
#define CLEANUP_EXIT_DB		1	/* a database error */
#define CLEANUP_EXIT_CONFIG	2	/* bad configuration or usage */

/* Which moment a housekeeping statement compares its column with. */
enum cleanup_cut {
	CLEANUP_CUT_NONE,	/* no time condition */
	CLEANUP_CUT_NOW,	/* now: expired */
	CLEANUP_CUT_CODE,	/* now - max(1 hour, OTP_EXPIRE_MINUTES) */
	CLEANUP_CUT_SESSION,	/* now - CLEANUP_DEAD_SESSION */
	CLEANUP_CUT__MAX
};

/* One kind of row to purge: a DELETE ... LIMIT ? and its COUNT twin. */
struct cleanup_job {
	const char	*name;		/* key in the summary line */
	enum db_q	 del;		/* [cutoff,] batch size */
	enum db_q	 count;		/* [cutoff] */
	enum cleanup_cut cut;
};

/* What one run did. */
struct cleanup_run {
	struct db		*db;
	int			 dry;		/* -n */
	long long		 cut[CLEANUP_CUT__MAX]; /* epoch s, UTC */
	struct timespec		 start;		/* CLOCK_MONOTONIC */
	long			 limit;		/* -t, seconds */
	int			 timed_out;	/* the limit stopped the run */
	unsigned long long	*rows;		/* per job: deleted, counted */
};

/*
 * The housekeeping, in order.  Expired reset codes go before used ones,
 * so a code both used and expired is counted once, as expired.  A
 * housekeeping table added later (throttle counters, say) is one more
 * row here, its two statements in common/db.c and, if it needs one, a
 * new cutoff in enum cleanup_cut.
 */
static const struct cleanup_job cleanup_jobs[] = {
	{ "passwordresettoken_expired", DB_Q_CLEANUP_RESET_EXPIRED,
	  DB_Q_COUNT_RESET_EXPIRED, CLEANUP_CUT_NOW },
	{ "passwordresettoken_used", DB_Q_CLEANUP_RESET_USED,
	  DB_Q_COUNT_RESET_USED, CLEANUP_CUT_NONE },
	/*
	 * These rows back the per-account cooldown and hourly cap, and
	 * count the guesses at a live code: they must outlive the code and
	 * the hour.
	 */
	{ "auth_reset_code", DB_Q_CLEANUP_RESET_CODE,
	  DB_Q_COUNT_RESET_CODE, CLEANUP_CUT_CODE },
	/* A day's grace, so a late refresh still meets its session. */
	{ "auth_refresh_session_expired", DB_Q_CLEANUP_SESSION_EXPIRED,
	  DB_Q_COUNT_SESSION_EXPIRED, CLEANUP_CUT_SESSION },
	{ "auth_refresh_session_revoked", DB_Q_CLEANUP_SESSION_REVOKED,
	  DB_Q_COUNT_SESSION_REVOKED, CLEANUP_CUT_SESSION },
	/* Throttle counters whose window has ended. */
	{ "auth_throttle", DB_Q_CLEANUP_THROTTLE, DB_Q_COUNT_THROTTLE,
	  CLEANUP_CUT_NOW },
};

#define CLEANUP_NJOBS	(sizeof(cleanup_jobs) / sizeof(cleanup_jobs[0]))

/*
 * Print the usage line on stderr.
 */
static void
usage(void)
{

	(void)fprintf(stderr, "usage: %s [-nq] [-t seconds]\n",
	    CLEANUP_PROG);
}

/*
 * Parse the argument of -t: a decimal number of seconds from 0 to
 * CLEANUP_TIME_MAX, nothing else.  Returns 0 and sets *secs, or -1.
 */
static int
cleanup_parse_time(const char *s, long *secs)
{
	char		*end;
	long long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > CLEANUP_TIME_MAX)
		return -1;
	*secs = (long)v;
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
 * Return 1, after saying so once, if the time limit has passed and no
 * new batch may start; 0 otherwise.
 */
static int
cleanup_time_up(struct cleanup_run *run)
{

	if (run->timed_out)
		return 1;
	if (cleanup_elapsed(run) < (double)run->limit)
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
	long long	 now = (long long)time(NULL), code_age;

	code_age = (long long)cfg->otp_expire_minutes * 60;
	if (code_age < CLEANUP_CODE_MIN_AGE)
		code_age = CLEANUP_CODE_MIN_AGE;
	run->cut[CLEANUP_CUT_NONE] = 0;
	run->cut[CLEANUP_CUT_NOW] = now;
	run->cut[CLEANUP_CUT_CODE] = now - code_age;
	run->cut[CLEANUP_CUT_SESSION] = now - CLEANUP_DEAD_SESSION;
}

/*
 * Take the cleanup lock without waiting.  Returns AUTH_OK and sets *held
 * to 1 if this run has it or 0 if another session holds it, or a status
 * for a database error (GET_LOCK answering NULL is one).
 */
static enum auth_status
cleanup_lock(struct db *db, int *held)
{
	MYSQL_BIND		 res[1];
	MYSQL_STMT		*st;
	long long		 v = 0;
	my_bool			 isnull = 0;
	enum auth_status	 rc;

	*held = 0;
	rc = db_exec(db, DB_Q_CLEANUP_LOCK, NULL, &st);
	if (rc == AUTH_ERR_DB && db_last_errno(db) == ER_NOT_SUPPORTED_YET) {
		/*
		 * A Galera node refuses GET_LOCK (MDEV-30473).  The batches
		 * are safe to run twice, so go on, and say how to keep it
		 * to one run: from one host only.
		 */
		log_warn("lock", "GET_LOCK is not supported by this server "
		    "(Galera?); running without the lock: run auth-cleanup "
		    "from one host only");
		*held = 1;
		return AUTH_OK;
	}
	if (rc != AUTH_OK)
		return rc;
	db_bind_llong(&res[0], &v);
	res[0].is_null = &isnull;
	if ((rc = db_fetch_one(db, st, res)) != AUTH_OK)
		return rc == AUTH_ERR_NOT_FOUND ? AUTH_ERR_DB : rc;
	if (isnull) {
		log_err("lock", "GET_LOCK failed");
		return AUTH_ERR_DB;
	}
	*held = v == 1;
	return AUTH_OK;
}

/*
 * Release the cleanup lock.  A failure is only logged: closing the
 * connection, which follows, releases it too.
 */
static void
cleanup_unlock(struct db *db)
{
	MYSQL_BIND	 res[1];
	MYSQL_STMT	*st;
	long long	 v = 0;
	my_bool		 isnull = 0;

	if (db_exec(db, DB_Q_CLEANUP_UNLOCK, NULL, &st) != AUTH_OK)
		return;
	db_bind_llong(&res[0], &v);
	res[0].is_null = &isnull;
	if (db_fetch_one(db, st, res) != AUTH_OK || isnull || v != 1)
		log_warn("lock", "RELEASE_LOCK did not release the lock");
}

/*
 * Fill params (room for two) for one of job's statements: the cutoff,
 * if the job has one, at *t, then the batch size at *batch unless batch
 * is NULL (a count).  Returns params, or NULL when the statement takes
 * no parameter.
 */
static MYSQL_BIND *
cleanup_params(const struct cleanup_run *run, const struct cleanup_job *job,
    MYSQL_BIND *params, MYSQL_TIME *t, int *batch)
{
	size_t	 n = 0;

	if (job->cut != CLEANUP_CUT_NONE) {
		db_time_from_epoch(t, run->cut[job->cut]);
		db_bind_time(&params[n++], t);
	}
	if (batch != NULL)
		db_bind_int(&params[n++], batch);
	return n > 0 ? params : NULL;
}

/*
 * Count the rows job would delete into *rows.  Returns AUTH_OK or a
 * database status.
 */
static enum auth_status
cleanup_count(struct cleanup_run *run, const struct cleanup_job *job,
    unsigned long long *rows)
{
	MYSQL_BIND		 params[2], res[1];
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
 * Delete job's rows, CLEANUP_BATCH at most per statement and each batch
 * committed on its own, until a batch comes back short or the time limit
 * passes; add the rows deleted to *rows.  Returns AUTH_OK or a database
 * status (what earlier batches deleted stays deleted).
 */
static enum auth_status
cleanup_delete(struct cleanup_run *run, const struct cleanup_job *job,
    unsigned long long *rows)
{
	MYSQL_BIND		 params[2];
	MYSQL_TIME		 t;
	unsigned long long	 n;
	int			 batch = CLEANUP_BATCH;
	enum auth_status	 rc;

	do {
		if (cleanup_time_up(run))
			return AUTH_OK;
		/*
		 * An explicit transaction, so that the batch is committed
		 * even on a server whose autocommit default is off.
		 */
		if ((rc = db_begin(run->db)) != AUTH_OK)
			return rc;
		if ((rc = db_exec(run->db, job->del, cleanup_params(run, job,
		    params, &t, &batch), NULL)) != AUTH_OK) {
			db_rollback(run->db);
			return rc;
		}
		n = db_affected(run->db, job->del);
		if ((rc = db_commit(run->db)) != AUTH_OK)
			return rc;
		*rows += n;
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
 * that would be under -n) and the seconds the run took.
 */
static void
cleanup_summary(const struct cleanup_run *run)
{
	size_t	 i;

	(void)printf("%s:%s", CLEANUP_PROG, run->dry ? " dry-run" : "");
	for (i = 0; i < CLEANUP_NJOBS; i++)
		(void)printf(" %s=%llu", cleanup_jobs[i].name, run->rows[i]);
	(void)printf(" seconds=%.2f\n", cleanup_elapsed(run));
	(void)fflush(stdout);
}

/*
 * Connect, take the lock, do the jobs, release the lock.  Returns the
 * exit status.
 */
static int
cleanup_main(const struct cfg *cfg, int dry, int quiet, long limit)
{
	struct cleanup_run	 run;
	unsigned long long	 rows[CLEANUP_NJOBS];
	enum db_q		 use[2 + CLEANUP_NJOBS];
	enum auth_status	 rc;
	size_t			 i, n = 0;
	int			 held = 0, status = CLEANUP_EXIT_DB;

	memset(&run, 0, sizeof(run));
	memset(rows, 0, sizeof(rows));
	run.dry = dry;
	run.limit = limit;
	run.rows = rows;
	if (clock_gettime(CLOCK_MONOTONIC, &run.start) == -1) {
		log_err("startup", "clock_gettime: %s", strerror(errno));
		goto out;
	}

	/* Prepare all we use now: a missing table fails before any work. */
	use[n++] = DB_Q_CLEANUP_LOCK;
	use[n++] = DB_Q_CLEANUP_UNLOCK;
	for (i = 0; i < CLEANUP_NJOBS; i++)
		use[n++] = dry ? cleanup_jobs[i].count : cleanup_jobs[i].del;
	if ((run.db = db_new(&cfg->db, use, n)) == NULL) {
		log_err("startup", "out of memory");
		goto out;
	}
	/* db.c has said why, unless memory ran out. */
	if ((rc = db_connect(run.db)) != AUTH_OK) {
		if (rc == AUTH_ERR_NOMEM)
			log_err("startup", "out of memory");
		goto out;
	}
	if ((rc = cleanup_lock(run.db, &held)) != AUTH_OK) {
		log_err("lock", "cannot take the lock status=%s",
		    auth_strerror(rc));
		goto out;
	}
	if (!held) {
		/* Routine when several hosts run the same timer. */
		if (!quiet) {
			(void)printf("%s: another run is in progress\n",
			    CLEANUP_PROG);
			(void)fflush(stdout);
		}
		status = CLEANUP_EXIT_OK;
		goto out;
	}

	cleanup_cutoffs(&run, cfg);
	rc = cleanup_jobs_run(&run);
	/*
	 * After AUTH_ERR_DB_UNAVAIL the connection may be gone, and
	 * db_exec() would open a new one only to release a lock the old
	 * session took with it.  db_free() closes the connection, which
	 * releases the lock in every case.
	 */
	if (rc != AUTH_ERR_DB_UNAVAIL)
		cleanup_unlock(run.db);
	if (rc != AUTH_OK)
		goto out;
	if (!quiet)
		cleanup_summary(&run);
	status = CLEANUP_EXIT_OK;
out:
	db_free(run.db);
	return status;
}

int
main(int argc, char *argv[])
{
	struct cfg	 cfg;
	char		 err[512];
	long		 limit = CLEANUP_TIME_DEFAULT;
	int		 ch, dry = 0, quiet = 0, status;

	log_init(CLEANUP_PROG);
	memset(&cfg, 0, sizeof(cfg));

	opterr = 0;
	while ((ch = getopt(argc, argv, "nqt:")) != -1) {
		switch (ch) {
		case 'n':
			dry = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 't':
			if (cleanup_parse_time(optarg, &limit) == -1) {
				log_err("usage", "-t wants whole seconds "
				    "from 0 to %d", CLEANUP_TIME_MAX);
				usage();
				return CLEANUP_EXIT_CONFIG;
			}
			break;
		default:
			if (optopt == 't')
				log_err("usage", "-t needs a number of "
				    "seconds");
			else
				log_err("usage", "unknown option -%c",
				    optopt);
			usage();
			return CLEANUP_EXIT_CONFIG;
		}
	}
	if (optind != argc) {
		log_err("usage", "unexpected argument");
		usage();
		return CLEANUP_EXIT_CONFIG;
	}

	if (cfg_load_default(&cfg, err, sizeof(err)) != AUTH_OK) {
		log_err("config", "%s", err);
		return CLEANUP_EXIT_CONFIG;
	}
	status = cleanup_main(&cfg, dry, quiet, limit);
	cfg_free(&cfg);
	return status;
}
