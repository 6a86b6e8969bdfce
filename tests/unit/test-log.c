/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for log.c: the line format and the escaping that keeps a
 * client from forging log lines.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

struct case_escape {
	const char	*in;
	size_t		 size;
	const char	*out;
};

static const struct case_escape escapes[] = {
	{ "plain text", 64, "plain text" },
	{ "a\nb", 64, "a\\x0ab" },
	{ "cr\r\nforged: error", 64, "cr\\x0d\\x0aforged: error" },
	{ "tab\there", 64, "tab\\x09here" },
	{ "back\\slash", 64, "back\\x5cslash" },
	{ "del\x7f", 64, "del\\x7f" },
	{ "\xc3\xa4", 64, "\\xc3\\xa4" },
	{ "abcdef", 4, "abc" },
	{ "ab\ncd", 6, "ab" },	/* an escape is never cut in half */
	{ "", 8, "" },
};

/*
 * Run fn with stderr sent to a temporary file, and return what it wrote.
 */
static char *
capture_stderr(void (*fn)(void))
{
	static char	 buf[4096];
	FILE		*f;
	int		 saved;
	size_t		 n;

	if ((f = tmpfile()) == NULL || (saved = dup(STDERR_FILENO)) == -1)
		abort();
	if (dup2(fileno(f), STDERR_FILENO) == -1)
		abort();
	fn();
	if (dup2(saved, STDERR_FILENO) == -1)
		abort();
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
emit_one(void)
{

	log_info("request", "status=%d client=%s", 201, "192.0.2.1");
}

static void
emit_forged(void)
{

	log_warn("login", "email=%s", "x\nauth-login[1]: info: ok");
}

static void
emit_bare(void)
{

	log_err("startup", NULL);
}

int
main(void)
{
	char		 buf[64], want[128];
	const char	*s;
	size_t		 i, n;

	for (i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		n = log_escape(buf, escapes[i].size, escapes[i].in);
		tap_ok(strcmp(buf, escapes[i].out) == 0 &&
		    n == strlen(escapes[i].out), "escape case %zu: \"%s\"", i,
		    escapes[i].out);
	}

	log_init("auth-test");
	s = capture_stderr(emit_one);
	(void)snprintf(want, sizeof(want),
	    "auth-test[%ld]: info: request status=201 client=192.0.2.1\n",
	    (long)getpid());
	tap_ok(strcmp(s, want) == 0, "line format prog[pid]: level: event k=v");
	s = capture_stderr(emit_forged);
	tap_ok(strchr(s, '\n') == s + strlen(s) - 1 &&
	    strstr(s, "warn: login email=x\\x0aauth-login[1]") != NULL,
	    "a newline from the client cannot start a new line");
	s = capture_stderr(emit_bare);
	(void)snprintf(want, sizeof(want), "auth-test[%ld]: error: startup\n",
	    (long)getpid());
	tap_ok(strcmp(s, want) == 0, "an event without key=value");
	{
		char	 path[] = "/tmp/test-log.XXXXXX", line[256];
		int	 fd;
		ssize_t	 got;

		if ((fd = mkstemp(path)) == -1)
			abort();
		close(fd);
		tap_ok(log_open(path) == 0, "log_open: a file takes the lines");
		s = capture_stderr(emit_one);
		tap_ok(*s == '\0', "and stderr gets none");
		emit_bare();
		if ((fd = open(path, O_RDONLY)) == -1)
			abort();
		got = read(fd, line, sizeof(line) - 1);
		close(fd);
		line[got > 0 ? got : 0] = '\0';
		tap_ok(strstr(line, "info: request status=201") != NULL &&
		    strstr(line, "error: startup\n") != NULL,
		    "appended, one line per event");
		tap_ok(log_open("/nonexistent/dir/x.log") == -1,
		    "an unwritable LOG_FILE is an error");
		unlink(path);
	}
	return tap_done();
}
