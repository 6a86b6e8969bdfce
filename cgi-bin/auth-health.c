/* SPDX-License-Identifier: ISC */
/*
 * GET /api/auth/health: whether this program's database answers, for
 * load balancers and monitoring.  Answers
 *	200 {"status": "ok"} when the database answered a SELECT 1;
 *	503 {"status": "unavailable"} when it did not (logged, once per
 *	    failed probe: a passing probe writes no log line);
 *	405 with "Allow: GET, HEAD" for another method, 404 for a path
 *	    below it (req.c).
 * HEAD gets the same status and headers without the body.  There is no
 * throttle: a probe must never be refused for probing.
 */
#include "config.h"

#include "app.h"
#include "log.h"
#include "req.h"
#include "resp.h"

/*
 * Ask the database for SELECT 1.  Returns AUTH_OK when it answered 1.
 */
static enum auth_status
health_ping(struct db *db)
{
	MYSQL_BIND		 res[1];
	MYSQL_STMT		*st;
	enum auth_status	 rc;
	int			 one = 0;

	if ((rc = db_exec(db, DB_Q_HEALTH, NULL, &st)) != AUTH_OK)
		return rc;
	db_bind_int(&res[0], &one);
	if ((rc = db_fetch_one(db, st, res)) != AUTH_OK)
		return rc;
	return one == 1 ? AUTH_OK : AUTH_ERR_DB;
}

static void
health_handle(struct app *app, struct req *r)
{
	enum auth_status	 rc;

	if ((rc = health_ping(app->db)) == AUTH_OK) {
		resp_field(r, 200, "status", "ok");
		return;
	}
	log_warn("health", "database does not answer status=%s",
	    auth_strerror(rc));
	resp_field(r, 503, "status", "unavailable");
}

int
main(void)
{
	static const struct app_endpoint ep = {
		.prog = "auth-health",
		.handle = health_handle,
		.allow = "GET, HEAD",
		.flags = APP_QUIET,
	};

	return app_main(&ep);
}
