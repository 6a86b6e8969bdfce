/* SPDX-License-Identifier: ISC */
/*
 * The benchmark's second ceiling: a FastCGI responder that does nothing
 * but a refresh's one database statement, the session rotation
 * (DB_Q_SESSION_ROTATE of common/db.c, through db.c as the programs do).
 * Each request names the session and its current token id in its query
 * string, "sid=HEX32&uid=N&jti=HEX32", and gets the next token id back as
 * its body, so that a client can chain its requests exactly as
 * refresh-token's clients chain their tokens.  As in session.c, a token
 * id is its generation in 8 hex digits and 96 random bits.  No JSON, no
 * token, no log line: what a refresh could reach if all but the database
 * round trip cost nothing.
 *
 * Answers 200 with the new jti, 409 when the row did not change (not the
 * current generation), 400 for a malformed query, 503 when the database
 * fails.  Reads AUTH_CONFIG (or the compiled-in path) like the programs.
 *
 * Run as plain CGI it answers one request and leaves as the programs do
 * (closing its connection, then _exit()): what a plain CGI request costs
 * at the least, exec, linking, the config, a connection and one
 * statement, the floor for refresh-token as plain CGI.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "cfg.h"
#include "db.h"
#include "jwt.h"
#include "log.h"
#include "rng.h"

struct ceiling_query {
	char		 sid[JWT_ID_LEN + 1];
	char		 jti[JWT_ID_LEN + 1];
	long long	 uid;
};

/*
 * Copy the JWT_ID_LEN lower-case hex digits after "name=" in q to out.
 * Returns 0, or -1 if they are not there.
 */
static int
ceiling_hex(const char *q, const char *name, char *out)
{
	const char	*p;
	size_t		 n = strlen(name);

	for (p = q; p != NULL; p = strchr(p, '&')) {
		if (*p == '&')
			p++;
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			break;
	}
	if (p == NULL || strspn(p + n + 1, "0123456789abcdef") != JWT_ID_LEN)
		return -1;
	memcpy(out, p + n + 1, JWT_ID_LEN);
	out[JWT_ID_LEN] = '\0';
	return 0;
}

static int
ceiling_parse(const char *q, struct ceiling_query *out)
{
	const char	*p;
	char		*end;

	if (q == NULL || ceiling_hex(q, "sid", out->sid) == -1 ||
	    ceiling_hex(q, "jti", out->jti) == -1 ||
	    (p = strstr(q, "uid=")) == NULL)
		return -1;
	errno = 0;
	out->uid = strtoll(p + 4, &end, 10);
	if (errno != 0 || end == p + 4 || (*end != '\0' && *end != '&') ||
	    out->uid <= 0)
		return -1;
	return 0;
}

/*
 * Write the answer, status and body, to r's output, or to standard output
 * (plain CGI) when r is NULL.
 */
static void
ceiling_answer(FCGX_Request *r, int status, const char *body)
{
	char	 out[256];
	int	 n;

	n = snprintf(out, sizeof(out), "Status: %d\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %zu\r\n\r\n%s", status, strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(out))
		return;
	if (r != NULL)
		(void)FCGX_PutStr(out, n, r->out);
	else if (write(STDOUT_FILENO, out, (size_t)n) != n)
		(void)fputs("rotate-ceiling: short write\n", stderr);
}

/*
 * One rotation for the query string q: the programs' statement with the
 * programs' parameters (session.c's session_rotate()), grace the
 * config's.  Answers on r (NULL: standard output).
 */
static void
ceiling_rotate(struct db *db, long grace, const char *q, FCGX_Request *r)
{
	struct ceiling_query	 cq;
	char			 newjti[JWT_ID_LEN + 1], gen[9];
	MYSQL_BIND		 p[8];
	MYSQL_TIME		 now, since;
	MYSQL_STMT		*st;
	unsigned long		 newlen = JWT_ID_LEN, sidlen = JWT_ID_LEN;
	unsigned long		 jtilen = JWT_ID_LEN;
	long long		 g, t = (long long)time(NULL);

	if (ceiling_parse(q, &cq) == -1) {
		ceiling_answer(r, 400, "");
		return;
	}
	memcpy(gen, cq.jti, 8);
	gen[8] = '\0';
	g = strtoll(gen, NULL, 16);
	(void)snprintf(newjti, 9, "%08llx", (unsigned long long)(g + 1));
	if (rng_hex(newjti + 8, sizeof(newjti) - 8, (JWT_ID_LEN - 8) / 2) !=
	    AUTH_OK) {
		ceiling_answer(r, 503, "");
		return;
	}
	db_time_from_epoch(&since, t - grace);
	db_time_from_epoch(&now, t);
	db_bind_time(&p[0], &since);
	db_bind_str(&p[1], newjti, &newlen);
	db_bind_time(&p[2], &now);
	db_bind_str(&p[3], cq.sid, &sidlen);
	db_bind_llong(&p[4], &cq.uid);
	db_bind_str(&p[5], cq.jti, &jtilen);
	db_bind_llong(&p[6], &g);
	db_bind_time(&p[7], &now);
	if (db_exec(db, DB_Q_SESSION_ROTATE, p, &st) != AUTH_OK)
		ceiling_answer(r, 503, "");
	else if (mysql_stmt_affected_rows(st) != 1)
		ceiling_answer(r, 409, "");
	else
		ceiling_answer(r, 200, newjti);
}

int
main(void)
{
	struct cfg		 cfg;
	struct db		*db = NULL;
	FCGX_Request		 r;
	char			 err[512];
	int			 rc = 1;

	memset(&cfg, 0, sizeof(cfg));
	log_init("rotate-ceiling");
	if (cfg_load_default(&cfg, err, sizeof(err)) != AUTH_OK) {
		log_err("config", "%s", err);
		goto out;
	}
	app_openssl_init(&cfg);
	if ((db = db_new(&cfg.db, NULL, 0)) == NULL ||
	    db_connect(db) != AUTH_OK) {
		log_err("startup", "no database");
		goto out;
	}
	if (FCGX_Init() != 0)
		goto out;
	if (FCGX_IsCGI()) {
		ceiling_rotate(db, cfg.refresh_reuse_grace_seconds,
		    getenv("QUERY_STRING"), NULL);
		db_free(db);
		cfg_free(&cfg);
		_exit(0);
	}
	if (FCGX_InitRequest(&r, 0, 0) != 0)
		goto out;
	while (FCGX_Accept_r(&r) >= 0) {
		ceiling_rotate(db, cfg.refresh_reuse_grace_seconds,
		    FCGX_GetParam("QUERY_STRING", r.envp), &r);
		FCGX_Finish_r(&r);
	}
	FCGX_Free(&r, 1);
	rc = 0;
out:
	db_free(db);
	cfg_free(&cfg);
	return rc;
}
