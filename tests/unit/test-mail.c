/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/mail.c, without network: the header check
 * against SMTP command and header injection, the exact message that
 * mail_format() builds, and mail_send() through the file transport and
 * its configuration errors.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cfg.h"
#include "mail.h"
#include "status.h"
#include "tap.h"

#define NOW		1795659215LL	/* Thu, 26 Nov 2026 02:13:35 UTC */
#define FROM		"noreply@mail.example.org"
#define TO		"alice.smith+reset@example.com"
#define SUBJECT		"Your password reset code"
#define CODE		"493817"
#define BODY		"Your password reset code is " CODE ".\n" \
			"It expires in 30 minutes.\n" \
			"\n" \
			".If you did not ask for it, ignore this mail.\n"

struct hdr_case {
	const char	*s;
	int		 ok;
	const char	*what;
};

static const struct hdr_case hdr_cases[] = {
	{ "victim@example.com", 1, "a plain address" },
	{ "Password reset code", 1, "plain text with spaces" },
	{ "", 1, "the empty string" },
	{ " !\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~", 1,
	    "every kind of printable ASCII" },
	{ "R\xc3\xa9initialisation \xe2\x9c\x93", 1, "UTF-8" },
	{ "victim@example.com>\r\nRCPT TO:<evil@x.example", 0,
	    "CRLF RCPT TO injection" },
	{ "Subject\r\nBcc: evil@x.example", 0, "CRLF header injection" },
	{ "a\rb", 0, "a lone CR" },
	{ "a\nb", 0, "a lone LF" },
	{ "a\tb", 0, "TAB" },
	{ "\x01", 0, "SOH" },
	{ "x\x1b[31m", 0, "ESC" },
	{ "x\x1f", 0, "US (0x1f)" },
	{ "\x7f", 0, "DEL" },
	{ "ok\x7fok", 0, "DEL inside" },
};

/* Addresses that mail_format() must refuse, as To and as MAIL_FROM. */
static const char *const bad_addrs[] = {
	"victim@example.com>\r\nRCPT TO:<evil@x.example",
	"victim@example.com\r\n",
	"victim@example.com\n",
	"vic\ttim@example.com",
	"victim@example.com\x7f",
	"<victim@example.com>",
	"victim@example.com>",
	"vic tim@example.com",
	"victim@example.com,evil@x.example",
	"victim@example.com evil@x.example",
	"\"vic tim\"@example.com",
	"victim",
	"@example.com",
	"victim@",
	"victim@@example.com",
	"a@b@example.com",
	".victim@example.com",
	"victim.@example.com",
	"vic..tim@example.com",
	"victim@.example.com",
	"victim@example..com",
	"victim@example.com.",
	"victim@exa_mple.com",
	"victim@[127.0.0.1]",
	"v\xc3" "ctim@example.com",		/* a cut UTF-8 character */
	"v\xed\xa0\x80" "ctim@example.com",	/* a surrogate */
	"victim@ex\xc0\xafmple.com",		/* an overlong "/" */
	"",
};

/* Addresses stored by the FastAPI backend that must be mailable. */
static const char *const utf8_addrs[] = {
	"v\xc3\xad" "ctim@example.com",
	"bob@b\xc3\xbc" "cher.de",
	"stra\xc3\x9f" "e@b\xc3\xbc" "cher.example",
	"\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8",
};

/*
 * Copies of test strings for the char * fields of struct cfg, freed at
 * the end.
 */
static char	*strs[128];
static size_t	 nstrs;

static char *
S(const char *s)
{

	if (s == NULL || nstrs == sizeof(strs) / sizeof(strs[0]))
		return NULL;
	if ((strs[nstrs] = strdup(s)) == NULL)
		return NULL;
	return strs[nstrs++];
}

static void
free_strs(void)
{

	while (nstrs > 0)
		free(strs[--nstrs]);
}

static void
cfg_init(struct cfg *c)
{

	memset(c, 0, sizeof(*c));
	c->mail_from = S(FROM);
	c->mail_port = 587;
	c->mail_starttls = 1;
	c->use_credentials = 1;
	c->validate_certs = 1;
}

/*
 * Return the line of msg that starts with prefix (a header name with its
 * colon), copied into buf, or NULL.
 */
static const char *
header(const char *msg, const char *prefix, char *buf, size_t bufsz)
{
	const char	*p, *e;
	size_t		 n, plen = strlen(prefix);

	for (p = msg; p != NULL && *p != '\0'; p = e == NULL ? NULL : e + 2) {
		e = strstr(p, "\r\n");
		if (e == p)
			return NULL;	/* end of the headers */
		if (strncmp(p, prefix, plen) != 0)
			continue;
		n = e == NULL ? strlen(p) : (size_t)(e - p);
		if (n >= bufsz)
			return NULL;
		memcpy(buf, p, n);
		buf[n] = '\0';
		return buf;
	}
	return NULL;
}

/* 1 if s has a CR not followed by LF or an LF not preceded by CR. */
static int
bare_cr_or_lf(const char *s)
{
	const char	*p;

	for (p = s; *p != '\0'; p++) {
		if (*p == '\r' && p[1] != '\n')
			return 1;
		if (*p == '\n' && (p == s || p[-1] != '\r'))
			return 1;
	}
	return 0;
}

/* 1 if s is exactly n lower-case hex digits. */
static int
is_hex(const char *s, size_t n)
{

	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/*
 * Check the Message-ID line "Message-ID: <32 hex@domain>".
 */
static int
msgid_ok(const char *msg, const char *domain)
{
	char		 line[256], hex[64];
	const char	*p, *at;

	if (header(msg, "Message-ID: ", line, sizeof(line)) == NULL)
		return 0;
	p = line + strlen("Message-ID: ");
	if (*p != '<' || (at = strchr(p, '@')) == NULL ||
	    (size_t)(at - p - 1) >= sizeof(hex))
		return 0;
	memcpy(hex, p + 1, (size_t)(at - p - 1));
	hex[at - p - 1] = '\0';
	return is_hex(hex, 32) &&
	    strncmp(at + 1, domain, strlen(domain)) == 0 &&
	    strcmp(at + 1 + strlen(domain), ">") == 0;
}

/*
 * Decode the encoded-words of a header value (after the name), each
 * "=?UTF-8?B?...?=" separated by CRLF SP, into out; check that no word
 * is longer than 75 characters, no line longer than 76, and that no word
 * starts inside a UTF-8 character.  Returns 1 on success.
 */
static int
decode_words(const char *v, char *out, size_t outsz, size_t *nwords)
{
	unsigned char	 dec[128];
	const char	*p, *q, *line;
	size_t		 len = 0, n;
	int		 d;

	*nwords = 0;
	line = v;
	for (p = v;;) {
		if (strncmp(p, "=?UTF-8?B?", 10) != 0)
			return 0;
		if ((q = strstr(p + 10, "?=")) == NULL)
			return 0;
		if ((size_t)(q + 2 - p) > 75 || (size_t)(q - p - 10) >= 128 ||
		    (q - p - 10) % 4 != 0)
			return 0;
		d = EVP_DecodeBlock(dec, (const unsigned char *)p + 10,
		    (int)(q - p - 10));
		if (d < 0)
			return 0;
		n = (size_t)d;
		if (q[-1] == '=')
			n--;
		if (q[-2] == '=')
			n--;
		if (n > 0 && (dec[0] & 0xc0) == 0x80)
			return 0;
		if (len + n >= outsz)
			return 0;
		memcpy(out + len, dec, n);
		len += n;
		(*nwords)++;
		p = q + 2;
		if (*p == ' ')	/* the display name's " <addr>" */
			break;
		if (strncmp(p, "\r\n ", 3) != 0)
			break;
		if ((size_t)(p - line) > 76)
			return 0;
		p += 2;
		line = p;
		p++;
	}
	if ((size_t)(p - line) > 76)
		return 0;
	out[len] = '\0';
	return 1;
}

static void
test_header_ok(void)
{
	size_t		 i;
	char		 s[2];

	for (i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++)
		tap_ok(mail_header_ok(hdr_cases[i].s) == hdr_cases[i].ok,
		    "mail_header_ok %s: %s", hdr_cases[i].ok ? "accepts" :
		    "refuses", hdr_cases[i].what);
	tap_ok(mail_header_ok(NULL) == 0, "mail_header_ok refuses NULL");
	s[1] = '\0';
	for (i = 1; i < 0x20; i++) {
		s[0] = (char)i;
		if (mail_header_ok(s))
			break;
	}
	tap_ok(i == 0x20, "mail_header_ok refuses every byte 0x01-0x1f");
}

static void
test_format_exact(void)
{
	struct cfg	 c;
	char		 msg[MAIL_MAX], msg2[MAIL_MAX], line[256];
	const char	*id, *rest;
	static const char head[] =
	    "Date: Thu, 26 Nov 2026 02:13:35 +0000\r\n"
	    "Message-ID: <";
	static const char tail[] =
	    "@mail.example.org>\r\n"
	    "From: " FROM "\r\n"
	    "To: " TO "\r\n"
	    "Subject: " SUBJECT "\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "\r\n"
	    "Your password reset code is " CODE ".\r\n"
	    "It expires in 30 minutes.\r\n"
	    "\r\n"
	    ".If you did not ask for it, ignore this mail.\r\n";

	cfg_init(&c);
	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_OK, "mail_format: a plain message");
	tap_ok(strncmp(msg, head, sizeof(head) - 1) == 0,
	    "Date comes first: Thu, 26 Nov 2026 02:13:35 +0000 (UTC, "
	    "English names)");
	id = msg + sizeof(head) - 1;
	tap_ok(strspn(id, "0123456789abcdef") == 32 && id[32] == '@',
	    "Message-ID: 32 lower-case hex digits");
	rest = strlen(id) > 32 ? id + 32 : id;
	tap_ok(strcmp(rest, tail) == 0, "then exactly: Message-ID domain, "
	    "From, To, Subject, MIME-Version, Content-Type, "
	    "Content-Transfer-Encoding, blank line, body with CRLF");
	if (strcmp(rest, tail) != 0)
		tap_diag("got: %s", msg);
	tap_ok(msgid_ok(msg, "mail.example.org"),
	    "Message-ID is <32 hex@MAIL_FROM's domain>");
	tap_ok(!bare_cr_or_lf(msg), "no bare CR or LF anywhere");
	tap_ok(strstr(msg, "\r\n" CODE) == NULL && strstr(msg, " " CODE ".") !=
	    NULL, "the code is in the body as 6 digits");

	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg2, sizeof(msg2)) ==
	    AUTH_OK && strncmp(msg + sizeof(head) - 1, msg2 +
	    sizeof(head) - 1, 32) != 0, "each message has a new Message-ID");

	tap_ok(mail_format(&c, TO, SUBJECT, "", NOW, msg, sizeof(msg)) ==
	    AUTH_OK && strlen(msg) > 4 &&
	    strcmp(msg + strlen(msg) - 4, "\r\n\r\n") == 0 &&
	    strstr(msg, "8bit\r\n\r\n") != NULL,
	    "an empty body: the headers and the blank line");
	tap_ok(mail_format(&c, TO, SUBJECT, "a\nb", NOW, msg, sizeof(msg)) ==
	    AUTH_OK && strstr(msg, "8bit\r\n\r\na\r\nb\r\n") != NULL &&
	    strcmp(msg + strlen(msg) - 6, "a\r\nb\r\n") == 0,
	    "body LF becomes CRLF, and a final CRLF is added");
	tap_ok(mail_format(&c, TO, SUBJECT, "a\r\nb\r\n\r\n", NOW, msg,
	    sizeof(msg)) == AUTH_OK &&
	    strstr(msg, "8bit\r\n\r\na\r\nb\r\n\r\n") != NULL &&
	    !bare_cr_or_lf(msg), "body CRLF stays CRLF (not CRCRLF)");
	tap_ok(mail_format(&c, TO, SUBJECT, "a\rb", NOW, msg, sizeof(msg)) ==
	    AUTH_ERR_INVALID && msg[0] == '\0', "a bare CR in the body is "
	    "refused");

	/* Dates: the epoch, a leap day, a one-digit day. */
	tap_ok(mail_format(&c, TO, SUBJECT, "", 0, msg, sizeof(msg)) ==
	    AUTH_OK && header(msg, "Date: ", line, sizeof(line)) != NULL &&
	    strcmp(line, "Date: Thu, 01 Jan 1970 00:00:00 +0000") == 0,
	    "Date of 0: Thu, 01 Jan 1970 00:00:00 +0000");
	tap_ok(mail_format(&c, TO, SUBJECT, "", 1709251199LL, msg,
	    sizeof(msg)) == AUTH_OK &&
	    header(msg, "Date: ", line, sizeof(line)) != NULL &&
	    strcmp(line, "Date: Thu, 29 Feb 2024 23:59:59 +0000") == 0,
	    "Date of 1709251199: Thu, 29 Feb 2024 23:59:59 +0000");
	tap_ok(mail_format(&c, TO, SUBJECT, "", 1751328000LL, msg,
	    sizeof(msg)) == AUTH_OK &&
	    header(msg, "Date: ", line, sizeof(line)) != NULL &&
	    strcmp(line, "Date: Tue, 01 Jul 2025 00:00:00 +0000") == 0,
	    "Date of 1751328000: Tue, 01 Jul 2025 00:00:00 +0000");
}

static void
test_format_names(void)
{
	struct cfg	 c;
	char		 msg[MAIL_MAX], line[512], dec[512];
	size_t		 nwords;
	/* 4 x 13 two-byte characters and ASCII: words must split. */
	static const char long_subject[] =
	    "R\xc3\xa9initialisation \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9 du mot de passe \xe2\x9c\x93\xe2\x9c\x93"
	    "\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93"
	    "\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93 \xf0\x9f\x94\x91\xf0\x9f"
	    "\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91\xf0\x9f\x94\x91"
	    " fin";

	cfg_init(&c);
	c.mail_from_name = S("Collab Auth");
	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_OK && header(msg, "From: ", line, sizeof(line)) != NULL &&
	    strcmp(line, "From: \"Collab Auth\" <" FROM ">") == 0,
	    "From with MAIL_FROM_NAME: \"Collab Auth\" <addr>");
	c.mail_from_name = S("Collab \"Auth\" \\ Team");
	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_OK && header(msg, "From: ", line, sizeof(line)) != NULL &&
	    strcmp(line, "From: \"Collab \\\"Auth\\\" \\\\ Team\" <" FROM
	    ">") == 0, "From: '\"' and '\\' escaped in the quoted-string");
	c.mail_from_name = S("");
	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_OK && header(msg, "From: ", line, sizeof(line)) != NULL &&
	    strcmp(line, "From: " FROM) == 0,
	    "an empty MAIL_FROM_NAME is no name");
	c.mail_from_name = S("Collab \xc3\x85uth");
	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_OK && header(msg, "From: ", line, sizeof(line)) != NULL &&
	    strcmp(line, "From: =?UTF-8?B?Q29sbGFiIMOFdXRo?= <" FROM ">") == 0,
	    "From: a non-ASCII name is an RFC 2047 encoded-word");

	c.mail_from_name = NULL;
	tap_ok(mail_format(&c, TO, "R\xc3\xa9initialisation du mot de passe",
	    BODY, NOW, msg, sizeof(msg)) == AUTH_OK &&
	    header(msg, "Subject: ", line, sizeof(line)) != NULL &&
	    strcmp(line, "Subject: =?UTF-8?B?UsOpaW5pdGlhbGlzYXRpb24gZHUgbW90"
	    "IGRlIHBhc3Nl?=") == 0,
	    "Subject: non-ASCII is an RFC 2047 encoded-word");
	tap_ok(mail_format(&c, TO, long_subject, BODY, NOW, msg,
	    sizeof(msg)) == AUTH_OK && !bare_cr_or_lf(msg),
	    "a long non-ASCII subject is accepted");
	tap_ok(strstr(msg, "Subject: ") != NULL &&
	    decode_words(strstr(msg, "Subject: ") + 9, dec, sizeof(dec),
	    &nwords) && nwords > 1 && strcmp(dec, long_subject) == 0,
	    "it is folded into several encoded-words of at most 75 "
	    "characters, lines of at most 76, no character split, that "
	    "decode to the subject");
	tap_ok(strstr(msg, "?=\r\nMIME-Version: 1.0\r\n") != NULL,
	    "and MIME-Version follows the last word");

	c.mail_from_name = S(long_subject);
	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_OK && strstr(msg, "From: ") != NULL &&
	    decode_words(strstr(msg, "From: ") + 6, dec, sizeof(dec),
	    &nwords) && nwords > 1 && strcmp(dec, long_subject) == 0 &&
	    strstr(msg, "?= <" FROM ">\r\nTo: ") != NULL,
	    "a long non-ASCII name: several encoded-words, then <addr>");
}

static void
test_format_refused(void)
{
	struct cfg	 c;
	char		 msg[MAIL_MAX], body[1200];
	size_t		 i;
	int		 bad;

	cfg_init(&c);
	bad = 0;
	for (i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
		msg[0] = 'x';
		if (mail_format(&c, bad_addrs[i], SUBJECT, BODY, NOW, msg,
		    sizeof(msg)) != AUTH_ERR_INVALID || msg[0] != '\0') {
			tap_diag("To accepted: %s", bad_addrs[i]);
			bad++;
		}
	}
	tap_ok(bad == 0, "To: %zu malformed or injected addresses refused, "
	    "out left empty", sizeof(bad_addrs) / sizeof(bad_addrs[0]));
	bad = 0;
	for (i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
		c.mail_from = S(bad_addrs[i]);
		if (mail_format(&c, TO, SUBJECT, BODY, NOW, msg,
		    sizeof(msg)) != AUTH_ERR_INVALID) {
			tap_diag("MAIL_FROM accepted: %s", bad_addrs[i]);
			bad++;
		}
	}
	tap_ok(bad == 0, "MAIL_FROM: the same addresses refused");
	cfg_init(&c);
	bad = 0;
	for (i = 0; i < sizeof(utf8_addrs) / sizeof(utf8_addrs[0]); i++) {
		if (mail_format(&c, utf8_addrs[i], SUBJECT, BODY, NOW, msg,
		    sizeof(msg)) != AUTH_OK || strstr(msg, utf8_addrs[i]) ==
		    NULL) {
			tap_diag("To refused: %s", utf8_addrs[i]);
			bad++;
		}
	}
	tap_ok(bad == 0, "To: %zu addresses with UTF-8 local parts or "
	    "domains accepted, written as stored (RFC 6532)",
	    sizeof(utf8_addrs) / sizeof(utf8_addrs[0]));
	c.mail_from = NULL;
	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_ERR_INVALID, "MAIL_FROM unset: refused");
	cfg_init(&c);

	tap_ok(mail_format(&c, "x!#$%&'*+/=?^_`{|}~-.y@a-b.example", SUBJECT,
	    BODY, NOW, msg, sizeof(msg)) == AUTH_OK,
	    "every atext character is accepted");
	tap_ok(mail_format(&c, "a@localhost", SUBJECT, BODY, NOW, msg,
	    sizeof(msg)) == AUTH_ERR_INVALID, "a one-label domain is refused, "
	    "as valid_address() refuses it everywhere");

	c.mail_from_name = S("Collab\r\nBcc: evil@x.example");
	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_ERR_INVALID, "MAIL_FROM_NAME with CRLF refused");
	c.mail_from_name = S("Collab\nAuth");
	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_ERR_INVALID, "MAIL_FROM_NAME with LF refused");
	c.mail_from_name = S("Collab \xc3");
	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_ERR_INVALID, "MAIL_FROM_NAME that is not UTF-8 refused");
	c.mail_from_name = NULL;

	tap_ok(mail_format(&c, TO, "Reset\r\nBcc: evil@x.example", BODY, NOW,
	    msg, sizeof(msg)) == AUTH_ERR_INVALID,
	    "Subject with CRLF refused");
	tap_ok(mail_format(&c, TO, "Reset\rcode", BODY, NOW, msg,
	    sizeof(msg)) == AUTH_ERR_INVALID, "Subject with CR refused");
	tap_ok(mail_format(&c, TO, "Reset\tcode", BODY, NOW, msg,
	    sizeof(msg)) == AUTH_ERR_INVALID, "Subject with TAB refused");
	tap_ok(mail_format(&c, TO, "Reset\x7f", BODY, NOW, msg,
	    sizeof(msg)) == AUTH_ERR_INVALID, "Subject with DEL refused");
	tap_ok(mail_format(&c, TO, "Reset \xed\xa0\x80", BODY, NOW, msg,
	    sizeof(msg)) == AUTH_ERR_INVALID,
	    "Subject that is not UTF-8 (a surrogate) refused");
	tap_ok(mail_format(&c, TO, NULL, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_ERR_INVALID && mail_format(&c, TO, SUBJECT, NULL, NOW, msg,
	    sizeof(msg)) == AUTH_ERR_INVALID && mail_format(&c, NULL,
	    SUBJECT, BODY, NOW, msg, sizeof(msg)) == AUTH_ERR_INVALID,
	    "NULL to, subject or body refused");

	memset(body, 'a', sizeof(body));
	body[998] = '\n';
	body[999] = '\0';
	tap_ok(mail_format(&c, TO, SUBJECT, body, NOW, msg, sizeof(msg)) ==
	    AUTH_OK, "a body line of 998 bytes is accepted");
	memset(body, 'a', sizeof(body));
	body[999] = '\0';
	msg[0] = 'x';
	tap_ok(mail_format(&c, TO, SUBJECT, body, NOW, msg, sizeof(msg)) ==
	    AUTH_ERR_INVALID && msg[0] == '\0',
	    "a body line of 999 bytes is refused");
	memset(body, 'a', sizeof(body));
	body[990] = '\0';
	tap_ok(mail_format(&c, TO, body, BODY, NOW, msg, sizeof(msg)) ==
	    AUTH_ERR_INVALID, "a Subject line of 999 bytes is refused");

	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, msg, 200) ==
	    AUTH_ERR_INVALID && msg[0] == '\0',
	    "a message that does not fit is refused");
}

/*
 * Run mail_send() with stderr going to a temporary file whose contents
 * are returned in log (logsz bytes).
 */
static enum auth_status
send_logged(const struct cfg *c, const char *to, const char *subject,
    const char *body, char *log, size_t logsz)
{
	char			 path[] = "/tmp/test-mail-log.XXXXXX";
	enum auth_status	 rc;
	ssize_t			 n;
	int			 fd, saved;

	log[0] = '\0';
	fflush(stderr);
	if ((fd = mkstemp(path)) == -1)
		return mail_send(c, to, subject, body, "user=7 attempt=1");
	(void)unlink(path);
	saved = dup(STDERR_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	rc = mail_send(c, to, subject, body, "user=7 attempt=1");
	(void)dup2(saved, STDERR_FILENO);
	(void)close(saved);
	if ((n = pread(fd, log, logsz - 1, 0)) > 0)
		log[n] = '\0';
	(void)close(fd);
	fputs(log, stderr);
	return rc;
}

/*
 * The names in dir other than "." and "..", at most max of them, into
 * names (each 256 bytes).  Returns the count or -1.
 */
static int
list_dir(const char *dir, char names[][256], int max)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n < max)
			(void)snprintf(names[n], 256, "%s", e->d_name);
		n++;
	}
	(void)closedir(d);
	return n;
}

/* 1 if name is YYYYmmddTHHMMSSZ-<16 hex>.eml. */
static int
eml_name_ok(const char *name)
{
	char	 hex[17];
	size_t	 i;

	if (strlen(name) != 16 + 1 + 16 + 4)
		return 0;
	for (i = 0; i < 15; i++)
		if (i == 8 ? name[i] != 'T' : (name[i] < '0' || name[i] > '9'))
			return 0;
	memcpy(hex, name + 17, 16);
	hex[16] = '\0';
	return name[15] == 'Z' && name[16] == '-' && is_hex(hex, 16) &&
	    strcmp(name + 33, ".eml") == 0;
}

/* The message without its Date and Message-ID lines, into out. */
static void
strip_varying(const char *msg, char *out, size_t outsz)
{
	const char	*p, *e;
	size_t		 len = 0, n;

	out[0] = '\0';
	for (p = msg; *p != '\0'; p = e) {
		e = strstr(p, "\r\n");
		e = e == NULL ? p + strlen(p) : e + 2;
		n = (size_t)(e - p);
		if (strncmp(p, "Date: ", 6) == 0 ||
		    strncmp(p, "Message-ID: ", 12) == 0)
			continue;
		if (len + n >= outsz)
			return;
		memcpy(out + len, p, n);
		len += n;
		out[len] = '\0';
	}
}

static void
test_file_transport(void)
{
	struct cfg	 c;
	struct stat	 st;
	struct tm	 tm;
	char		 dir[] = "/tmp/test-mail.XXXXXX", names[4][256];
	char		 path[PATH_MAX], file[MAIL_MAX], want[MAIL_MAX];
	char		 a[MAIL_MAX], b[MAIL_MAX], log[4096], line[256];
	char		 line2[256];
	ssize_t		 n = -1;
	int		 fd, count, i;
	time_t		 t;

	if (mkdtemp(dir) == NULL) {
		tap_ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	cfg_init(&c);
	c.mail_from_name = S("Collab Auth");
	c.mail_outbox_dir = dir;
	tap_ok(send_logged(&c, TO, SUBJECT, BODY, log, sizeof(log)) ==
	    AUTH_OK, "file transport: mail_send succeeds");
	count = list_dir(dir, names, 4);
	tap_ok(count == 1, "exactly one file in the outbox (got %d)", count);
	tap_ok(count >= 1 && eml_name_ok(names[0]),
	    "named YYYYmmddTHHMMSSZ-<16 hex>.eml (%s)", count >= 1 ?
	    names[0] : "none");
	tap_ok(count >= 1 && strncmp(names[0], ".tmp-", 5) != 0,
	    "no .tmp- file is left");
	(void)snprintf(path, sizeof(path), "%s/%s", dir, count >= 1 ?
	    names[0] : "none");
	tap_ok(lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 07777) == 0600, "a regular file of mode 0600");
	if ((fd = open(path, O_RDONLY)) != -1) {
		n = read(fd, file, sizeof(file) - 1);
		(void)close(fd);
	}
	file[n > 0 ? n : 0] = '\0';
	tap_ok(mail_format(&c, TO, SUBJECT, BODY, NOW, want, sizeof(want)) ==
	    AUTH_OK, "mail_format of the same message");
	strip_varying(file, a, sizeof(a));
	strip_varying(want, b, sizeof(b));
	tap_ok(n > 0 && strcmp(a, b) == 0,
	    "the file is mail_format's message (but Date and Message-ID)");
	tap_ok(!bare_cr_or_lf(file) && msgid_ok(file, "mail.example.org"),
	    "the file has CRLF lines and a Message-ID");

	/* The file name's time is the Date header's. */
	memset(&tm, 0, sizeof(tm));
	if (count >= 1 && sscanf(names[0], "%4d%2d%2dT%2d%2d%2d",
	    &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	    &tm.tm_sec) == 6) {
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		t = timegm(&tm);
	} else
		t = 0;
	tap_ok(t != 0 && mail_format(&c, TO, SUBJECT, BODY, (long long)t,
	    want, sizeof(want)) == AUTH_OK &&
	    header(want, "Date: ", line, sizeof(line)) != NULL &&
	    header(file, "Date: ", line2, sizeof(line2)) != NULL &&
	    strcmp(line, line2) == 0 && llabs((long long)t - time(NULL)) < 60,
	    "the file name's UTC time is the Date header's, and now");

	tap_ok(strstr(log, "mail queued outbox=") != NULL &&
	    count >= 1 && strstr(log, names[0]) != NULL &&
	    strstr(log, " user=7 attempt=1\n") != NULL,
	    "logged: mail queued outbox=... file=<name>, then the caller's "
	    "context (user=7 attempt=1)");
	tap_ok(strstr(log, CODE) == NULL && strstr(log, "alice") == NULL &&
	    strstr(log, "expires") == NULL,
	    "the log has neither the code, the body nor the recipient");

	/* MAIL_OUTBOX_DIR wins over MAIL_SERVER, even an unusable one. */
	c.mail_server = S("smtp.example.com/x");
	tap_ok(mail_send(&c, TO, SUBJECT, BODY, NULL) == AUTH_OK &&
	    list_dir(dir, names, 4) == 2,
	    "MAIL_OUTBOX_DIR set: the outbox is used even with MAIL_SERVER");
	c.mail_server = NULL;

	tap_ok(send_logged(&c, "victim@example.com>\r\nRCPT TO:<evil@x.example",
	    SUBJECT, BODY, log, sizeof(log)) == AUTH_ERR_INVALID &&
	    list_dir(dir, names, 4) == 2 && strstr(log, "evil") == NULL,
	    "an injected recipient: refused, nothing written or logged");
	tap_ok(mail_send(&c, TO, "Reset\r\nBcc: evil@x.example", BODY, NULL) ==
	    AUTH_ERR_INVALID && list_dir(dir, names, 4) == 2,
	    "an injected subject: refused, nothing written");

	c.mail_from = NULL;
	tap_ok(mail_send(&c, TO, SUBJECT, BODY, NULL) == AUTH_ERR_CONFIG &&
	    list_dir(dir, names, 4) == 2, "MAIL_FROM unset: AUTH_ERR_CONFIG");
	c.mail_from = S("not-an-address");
	tap_ok(mail_send(&c, TO, SUBJECT, BODY, NULL) == AUTH_ERR_CONFIG,
	    "MAIL_FROM not an address: AUTH_ERR_CONFIG");
	c.mail_from = S(FROM);
	c.mail_from_name = S("Collab\r\nBcc: evil@x.example");
	tap_ok(mail_send(&c, TO, SUBJECT, BODY, NULL) == AUTH_ERR_CONFIG,
	    "MAIL_FROM_NAME with CRLF: AUTH_ERR_CONFIG");
	c.mail_from_name = NULL;

	count = list_dir(dir, names, 4);
	for (i = 0; i < count && i < 4; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void)unlink(path);
	}
	(void)rmdir(dir);

	c.mail_outbox_dir = dir;	/* now gone */
	tap_ok(mail_send(&c, TO, SUBJECT, BODY, NULL) == AUTH_ERR_SYSTEM,
	    "a missing outbox directory: AUTH_ERR_SYSTEM");
}

static void
test_config_errors(void)
{
	static const char *const bad_servers[] = {
		"smtp.example.com/x", "a b", "user:pw@smtp.example.com",
		"smtp.example.com?x", "smtp.example.com#x", "[::1]",
		"smtp.example.com\r\n", "fe80::1%eth0", "smtp_example.com",
	};
	struct cfg	 c;
	char		 log[4096];
	size_t		 i;
	time_t		 t0;
	int		 bad;

	cfg_init(&c);
	tap_ok(send_logged(&c, TO, SUBJECT, BODY, log, sizeof(log)) ==
	    AUTH_ERR_CONFIG && strstr(log, "no mail transport: set "
	    "MAIL_SERVER or MAIL_OUTBOX_DIR") != NULL,
	    "no MAIL_SERVER and no MAIL_OUTBOX_DIR: AUTH_ERR_CONFIG, logged");
	c.mail_server = S("");
	c.mail_outbox_dir = S("");
	tap_ok(mail_send(&c, TO, SUBJECT, BODY, NULL) == AUTH_ERR_CONFIG,
	    "both empty: AUTH_ERR_CONFIG");

	c.mail_outbox_dir = NULL;
	bad = 0;
	t0 = time(NULL);
	for (i = 0; i < sizeof(bad_servers) / sizeof(bad_servers[0]); i++) {
		c.mail_server = S(bad_servers[i]);
		if (mail_send(&c, TO, SUBJECT, BODY, NULL) != AUTH_ERR_CONFIG) {
			tap_diag("MAIL_SERVER accepted: %s", bad_servers[i]);
			bad++;
		}
	}
	tap_ok(bad == 0 && time(NULL) - t0 < 2, "MAIL_SERVER that is not a "
	    "plain host (\"/\", space, \"@\", \"?\", brackets, ...): "
	    "AUTH_ERR_CONFIG at once, without network");
	c.mail_server = S("smtp.example.com");
	c.mail_port = 0;
	tap_ok(mail_send(&c, TO, SUBJECT, BODY, NULL) == AUTH_ERR_CONFIG,
	    "MAIL_PORT 0: AUTH_ERR_CONFIG");
}

static void
test_line_text(void)
{
	static const struct {
		const char	*in;
		size_t		 max;
		const char	*want;
		const char	*what;
	} cases[] = {
		{ "alice", 64, "alice", "a plain name is kept" },
		{ "", 64, "", "the empty name stays empty" },
		{ "Zo\xc3\xab \xe2\x9c\x93", 64, "Zo\xc3\xab \xe2\x9c\x93",
		    "UTF-8 is kept" },
		{ "a\r\nBcc: x", 64, "a??Bcc: x",
		    "CR and LF become ?: no line of its own" },
		{ "a\tb\x7f\x1b[1m", 64, "a?b??[1m", "TAB, DEL, ESC become ?" },
		{ "a\xff" "b\xc3", 64, "a?b?", "broken UTF-8 becomes ?" },
		{ "a\xed\xa0\x80", 64, "a???", "a surrogate becomes ???" },
		{ "abcdefgh", 5, "abcde...", "cut after max characters, ..." },
		{ "\xc3\xa9\xc3\xa9\xc3\xa9", 2, "\xc3\xa9\xc3\xa9...",
		    "cut counts characters, not bytes" },
		{ "abcde", 5, "abcde", "exactly max characters: not cut" },
	};
	char	 out[300], big[2000];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mail_line_text(out, sizeof(out), cases[i].in, cases[i].max);
		tap_ok(strcmp(out, cases[i].want) == 0,
		    "mail_line_text: %s", cases[i].what);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mail_line_text(out, 10, big, 64);
	tap_ok(strcmp(out, "xxxxxx...") == 0,
	    "mail_line_text: a full buffer cuts the text, \"...\" and the NUL "
	    "fit");
	mail_line_text(out, 9, "\xe2\x9c\x93\xe2\x9c\x93", 64);
	tap_ok(strcmp(out, "\xe2\x9c\x93...") == 0,
	    "mail_line_text: never cuts inside a character");
}

int
main(void)
{

	tap_ok(mail_init() == AUTH_OK && mail_init() == AUTH_OK,
	    "mail_init succeeds, twice");
	test_header_ok();
	test_format_exact();
	test_format_names();
	test_format_refused();
	test_file_transport();
	test_config_errors();
	test_line_text();
	free_strs();
	return tap_done();
}
