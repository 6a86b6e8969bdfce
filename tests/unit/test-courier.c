/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/courier.c without a database: the text of the
 * reset mail for every kind of stored username, which must never stop
 * the mail from being built (a legacy username of 900 bytes and more
 * used to overflow it).  The sending itself runs against MariaDB and a
 * real SMTP server in tests/endpoint.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "courier.h"
#include "mail.h"
#include "tap.h"

#define CODE	"042917"
#define FROM	"noreply@mail.example.org"
#define TO	"alice@example.com"

/*
 * Return 1 if every line of s (LF-separated) holds at most max bytes and
 * no control character but the LF, else 0.
 */
static int
lines_ok(const char *s, size_t max)
{
	size_t	 col = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\n') {
			col = 0;
			continue;
		}
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f ||
		    ++col > max)
			return 0;
	}
	return 1;
}

/* The greeting line of body, into out. */
static void
greeting(const char *body, char *out, size_t outsz)
{
	size_t	 n = strcspn(body, "\n");

	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, body, n);
	out[n] = '\0';
}

int
main(void)
{
	static const struct {
		const char	*name;
		const char	*greet;
		const char	*what;
	} names[] = {
		{ "alice", "Hello alice,", "a plain username" },
		{ "", "Hello,", "an empty username" },
		{ "Zo\xc3\xab", "Hello Zo\xc3\xab,", "a UTF-8 username" },
		{ "bob\r\nBcc: x", "Hello bob??Bcc: x,",
		    "CR LF in a username: no line of its own" },
		{ "a\xff\x01z", "Hello a??z,", "broken UTF-8 and controls" },
	};
	struct cfg	 c;
	char		 body[2048], msg[MAIL_MAX], line[512];
	char		 huge[4096], name65[66];
	size_t		 i;

	memset(&c, 0, sizeof(c));
	c.otp_expire_minutes = 30;
	c.mail_from = (char *)(uintptr_t)FROM;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		tap_ok(courier_body(&c, names[i].name, CODE, body,
		    sizeof(body)) == AUTH_OK, "%s: the body is built",
		    names[i].what);
		greeting(body, line, sizeof(line));
		tap_ok(strcmp(line, names[i].greet) == 0, "%s: \"%s\"",
		    names[i].what, names[i].greet);
	}
	tap_ok(courier_body(&c, "alice", CODE, body, sizeof(body)) ==
	    AUTH_OK && strstr(body, "\n    " CODE "\n") != NULL &&
	    strstr(body, "expires in 30 minutes") != NULL &&
	    strstr(body, "ignore this mail") != NULL,
	    "the body holds the code on a line of its own, the expiry and "
	    "what to do if it was not asked for");

	/* Legacy usernames of any length: 255 four-byte characters. */
	for (i = 0; i + 4 < sizeof(huge) && i < 1020; i += 4)
		memcpy(huge + i, "\xf0\x9f\x98\x80", 4);
	huge[i] = '\0';
	tap_ok(courier_body(&c, huge, CODE, body, sizeof(body)) == AUTH_OK,
	    "a username of 1020 bytes (255 emoji): the body is built");
	greeting(body, line, sizeof(line));
	tap_ok(strlen(line) == strlen("Hello ,") + 64 * 4 + 3 &&
	    strstr(line, "...,") != NULL,
	    "its greeting holds 64 characters and \"...\"");
	memset(huge, 'x', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	tap_ok(courier_body(&c, huge, CODE, body, sizeof(body)) == AUTH_OK &&
	    lines_ok(body, 200), "a username of 4095 bytes: built, every "
	    "line short");
	memset(name65, 'y', 65);
	name65[65] = '\0';
	tap_ok(courier_body(&c, name65, CODE, body, sizeof(body)) ==
	    AUTH_OK && strstr(body, "Hello " "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy...,") != NULL,
	    "65 characters: cut to 64 and \"...\"");
	tap_ok(courier_body(&c, huge, CODE, body, sizeof(body)) == AUTH_OK &&
	    mail_format(&c, TO, "Your password reset code", body,
	    1795659215LL, msg, sizeof(msg)) == AUTH_OK,
	    "and mail_format() takes the body as it is");
	tap_ok(courier_body(&c, "alice", CODE, body, 100) ==
	    AUTH_ERR_INVALID && body[0] == '\0',
	    "a buffer too small is refused, and left empty");
	return tap_done();
}
