/* SPDX-License-Identifier: ISC */
/*
 * whoami: the "other program" of the endpoint tests, which the shipped
 * example configs guard with auth-verify.  A FastCGI responder (only:
 * it is never run as plain CGI) that answers what the web server told it
 * about the caller:
 *	200 {"auth_user_id": "42" or null, "remote_user": ... or null,
 *	     "method": "GET", "body_length": N}
 * and, when WHOAMI_LOG names a file in its environment at start, appends
 * one line per request to it ("AUTH_USER_ID=42"), so that a test can
 * tell whether a request ever reached it.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#define WHOAMI_BODY_MAX	65536

static void
whoami_add(struct json_object *o, const char *name, const char *value)
{

	json_object_object_add(o, name, value == NULL ? NULL :
	    json_object_new_string(value));
}

static void
whoami_log(const char *path, const char *uid)
{
	char	 line[256];
	int	 fd, n;

	if (path == NULL)
		return;
	n = snprintf(line, sizeof(line), "AUTH_USER_ID=%s\n",
	    uid != NULL ? uid : "-");
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644)) == -1)
		return;
	if (write(fd, line, (size_t)n) != n)
		fprintf(stderr, "whoami: %s: short write\n", path);
	(void)close(fd);
}

static void
whoami_serve(FCGX_Request *fr, const char *logpath)
{
	char			 buf[4096];
	const char		*uid, *s;
	struct json_object	*o;
	long			 total = 0;
	int			 n;

	uid = FCGX_GetParam("AUTH_USER_ID", fr->envp);
	whoami_log(logpath, uid);
	/* Read the body, as a program behind an authorizer must get it. */
	while (total < WHOAMI_BODY_MAX &&
	    (n = FCGX_GetStr(buf, sizeof(buf), fr->in)) > 0)
		total += n;
	if ((o = json_object_new_object()) == NULL)
		return;
	whoami_add(o, "auth_user_id", uid);
	whoami_add(o, "remote_user", FCGX_GetParam("REMOTE_USER", fr->envp));
	s = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	whoami_add(o, "method", s);
	json_object_object_add(o, "body_length", json_object_new_int64(total));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	FCGX_FPrintF(fr->out, "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n\r\n%s", s);
	json_object_put(o);
}

int
main(void)
{
	FCGX_Request	 fr;
	const char	*logpath;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0)
		return 1;
	logpath = getenv("WHOAMI_LOG");
	while (FCGX_Accept_r(&fr) >= 0) {
		whoami_serve(&fr, logpath);
		FCGX_Finish_r(&fr);
	}
	return 0;
}
