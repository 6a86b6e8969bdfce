/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for db.c that need no server: time conversion and what a
 * request sees while the database is away.  The statements themselves
 * are exercised against MariaDB by the endpoint tests.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "db.h"
#include "dburl.h"
#include "tap.h"

struct case_time {
	long long	 epoch;
	unsigned int	 y, mo, d, h, mi, s;
};

static const struct case_time times[] = {
	{ 0, 1970, 1, 1, 0, 0, 0 },
	{ 951782400, 2000, 2, 29, 0, 0, 0 },
	{ 1700000000, 2023, 11, 14, 22, 13, 20 },
	{ 4102444799, 2099, 12, 31, 23, 59, 59 },
};

int
main(void)
{
	static const enum db_q use[] = { DB_Q_USER_INSERT };
	struct dburl	 u;
	struct db	*db;
	MYSQL_TIME	 t;
	MYSQL_STMT	*st = (MYSQL_STMT *)&t;
	char		 err[256];
	size_t		 i;
	time_t		 t0;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		db_time_from_epoch(&t, times[i].epoch);
		tap_ok(t.year == times[i].y && t.month == times[i].mo &&
		    t.day == times[i].d && t.hour == times[i].h &&
		    t.minute == times[i].mi && t.second == times[i].s &&
		    t.time_type == MYSQL_TIMESTAMP_DATETIME,
		    "epoch %lld is %04u-%02u-%02u %02u:%02u:%02u UTC",
		    times[i].epoch, times[i].y, times[i].mo, times[i].d,
		    times[i].h, times[i].mi, times[i].s);
		tap_ok(db_time_to_epoch(&t) == times[i].epoch,
		    "and back to %lld", times[i].epoch);
	}

	/* A server that is not there: 503, quickly, and again later. */
	if (dburl_parse("mysql://u:p@/db?unix_socket=/nonexistent/mysqld.sock",
	    &u, err, sizeof(err)) != AUTH_OK)
		return 1;
	db = db_new(&u, use, 1);
	tap_ok(db != NULL, "db_new makes a handle without connecting");
	t0 = time(NULL);
	tap_ok(db_connect(db) == AUTH_ERR_DB_UNAVAIL,
	    "an absent server is AUTH_ERR_DB_UNAVAIL");
	tap_ok(db_exec(db, DB_Q_USER_INSERT, NULL, &st) ==
	    AUTH_ERR_DB_UNAVAIL && st == NULL,
	    "db_exec tries to connect again and says unavailable");
	tap_ok(time(NULL) - t0 < 5, "without hanging");
	db_free(db);
	dburl_free(&u);
	db_free(NULL);
	tap_ok(1, "db_free(NULL) is harmless");
	return tap_done();
}
