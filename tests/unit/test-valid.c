/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/valid.c: tables of accepted and refused emails,
 * usernames and passwords, each refusal with its exact 422 message.
 */
#include "config.h"

#include <string.h>

#include "tap.h"
#include "valid.h"

/* Building blocks for long fixtures; their lengths are checked in main. */
#define X8	"abcdefgh"
#define X16	X8 X8
#define X32	X16 X16
#define X64	X32 X32
#define L61	X32 X16 X8 "abcde"
#define L62	X32 X16 X8 "abcdef"
#define L63	X32 X16 X8 "abcdefg"

/* 64 + 1 + 63 + 1 + 63 + 1 + 61 = 254 bytes, the most allowed. */
#define EMAIL_254	X64 "@" L63 "." L63 "." L61
/* The same with a last label one longer: 255 bytes. */
#define EMAIL_255	X64 "@" L63 "." L63 "." L62

#define PW_72		X64 "k7#Qm2vX"
/* U+00E4 is two bytes in UTF-8: 37 characters, 74 bytes. */
#define AE4		"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4"
#define PW_74_UTF8	AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 "\xc3\xa4"

#define MSG_EMAIL_EMPTY		"Email must not be empty"
#define MSG_EMAIL_LONG		"Email must be at most 254 characters"
#define MSG_EMAIL_LOCAL_LONG	"Email local part must be at most 64 " \
				"characters"
#define MSG_EMAIL_INVALID	"Invalid email address"
#define MSG_USERNAME_LEN	"Username must be 3 to 32 characters"
#define MSG_USERNAME_CHARS	"Username may contain only letters, " \
				"digits, '_', '.' and '-'"
#define MSG_PASSWORD_SHORT	"Password must be at least 8 characters"
#define MSG_PASSWORD_LONG	"Password must be at most 72 bytes"
#define MSG_PASSWORD_MATCH	"Password must not match the email or " \
				"username"
#define MSG_PASSWORD_COMMON	"Password is too common"

struct email_valid {
	const char	*in;
	const char	*out;	/* normalised */
};

struct refusal {
	const char	*in;
	const char	*msg;
};

struct pw_case {
	const char	*pw;
	const char	*email;	/* normalised, or NULL */
	const char	*username;
	const char	*msg;	/* only in pw_invalids[] */
};

extern const char valid_common_passwords[];
extern const unsigned int valid_common_password_at[];
extern const size_t valid_common_passwords_count;

static const struct email_valid email_valids[] = {
	{ "  Alice.Smith+tag@Example.COM \n", "alice.smith+tag@example.com" },
	{ "a@b.co", "a@b.co" },
	{ "o'brien@x.io", "o'brien@x.io" },
	{ " \t\r\n\v\fA@B.CO\f\v\n\r\t ", "a@b.co" },
	{ "!#$%&'*+/=?^_`{|}~-@x.io", "!#$%&'*+/=?^_`{|}~-@x.io" },
	{ "first.middle.last@mail.example.org",
	  "first.middle.last@mail.example.org" },
	{ "a@b-c.d-e.com", "a@b-c.d-e.com" },
	{ "0@123.45", "0@123.45" },
	{ "a@" L63 ".com", "a@" L63 ".com" },
	{ X64 "@b.co", X64 "@b.co" },
	{ EMAIL_254, EMAIL_254 },
	{ "   " EMAIL_254 "  \n", EMAIL_254 },	/* trimmed before counting */
	{ NULL, NULL }
};

static const struct refusal email_invalids[] = {
	{ "", MSG_EMAIL_EMPTY },
	{ " \t\r\n\v\f", MSG_EMAIL_EMPTY },
	{ EMAIL_255, MSG_EMAIL_LONG },
	{ X64 "a@b.co", MSG_EMAIL_LOCAL_LONG },
	{ "a@b", MSG_EMAIL_INVALID },
	{ "ab.com", MSG_EMAIL_INVALID },
	{ "@b.com", MSG_EMAIL_INVALID },
	{ "a@", MSG_EMAIL_INVALID },
	{ "a@@b.com", MSG_EMAIL_INVALID },
	{ "a@b@c.com", MSG_EMAIL_INVALID },
	{ X64 "a@b@c.com", MSG_EMAIL_INVALID },	/* two "@" before length */
	{ "a b@c.com", MSG_EMAIL_INVALID },
	{ "a@b..com", MSG_EMAIL_INVALID },
	{ "a@.b.com", MSG_EMAIL_INVALID },
	{ "a@-b.com", MSG_EMAIL_INVALID },
	{ "a@b-.com", MSG_EMAIL_INVALID },
	{ "a@b.com-", MSG_EMAIL_INVALID },
	{ ".a@b.com", MSG_EMAIL_INVALID },
	{ "a.@b.com", MSG_EMAIL_INVALID },
	{ "a..b@c.com", MSG_EMAIL_INVALID },
	{ "a@b.com.", MSG_EMAIL_INVALID },
	{ "a\t@b.com", MSG_EMAIL_INVALID },
	{ "a@b\t.com", MSG_EMAIL_INVALID },
	{ "a\x01" "b@c.com", MSG_EMAIL_INVALID },
	{ "a@b\x7f.com", MSG_EMAIL_INVALID },
	{ "a@b.com\r\nRCPT TO:<evil@x.io>", MSG_EMAIL_INVALID },
	{ "\xc3\xbc@b.com", MSG_EMAIL_INVALID },		/* ü */
	{ "a@b\xc3\xbc.com", MSG_EMAIL_INVALID },
	{ "\xc2\xa0" "a@b.com", MSG_EMAIL_INVALID },	/* no-break space */
	{ "\"q\"@b.com", MSG_EMAIL_INVALID },
	{ "\"a b\"@c.com", MSG_EMAIL_INVALID },
	{ "a@b_c.com", MSG_EMAIL_INVALID },
	{ "a@" X64 ".com", MSG_EMAIL_INVALID },
	{ "a<b@c.com", MSG_EMAIL_INVALID },
	{ "<a@b.com>", MSG_EMAIL_INVALID },
	{ "a(b)@c.com", MSG_EMAIL_INVALID },
	{ "a[b]@c.com", MSG_EMAIL_INVALID },
	{ "a,b@c.com", MSG_EMAIL_INVALID },
	{ "a;b@c.com", MSG_EMAIL_INVALID },
	{ "a:b@c.com", MSG_EMAIL_INVALID },
	{ "a\\b@c.com", MSG_EMAIL_INVALID },
	{ "a@[192.0.2.1]", MSG_EMAIL_INVALID },
	{ "a@b.c!m", MSG_EMAIL_INVALID },
	{ NULL, NULL }
};

/* Addresses the FastAPI backend stored that valid_email() refuses. */
static const struct email_valid lookup_valids[] = {
	/* jose with an acute accent, b u-umlaut cher */
	{ "jos\xc3\xa9@example.com", "jos\xc3\xa9@example.com" },
	{ " Bob@B\xc3\xbc" "cher.DE ", "bob@b\xc3\xbc" "cher.de" },
	/* Only ASCII is folded: the Ü stays as it is. */
	{ "JOS\xc3\x89@x.io", "jos\xc3\x89@x.io" },
	{ "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac"
	  "\xe5\x8f\xb8", "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90."
	  "\xe5\x85\xac\xe5\x8f\xb8" },				/* CJK */
	{ "Bob.Mixed@Example.com", "bob.mixed@example.com" },
	{ EMAIL_254, EMAIL_254 },
	/* 64 two-byte characters: 64 characters, 128 bytes. */
	{ AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4
	  "@b.co", AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4
	  AE4 AE4 "@b.co" },
	{ NULL, NULL }
};

static const struct refusal lookup_invalids[] = {
	{ "", MSG_EMAIL_EMPTY },
	{ EMAIL_255, MSG_EMAIL_LONG },
	{ X64 "a@b.co", MSG_EMAIL_LOCAL_LONG },
	{ AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4 AE4
	  "\xc3\xa4@b.co", MSG_EMAIL_LOCAL_LONG },	/* 65 characters */
	{ "jos\xc3@example.com", MSG_EMAIL_INVALID },	/* cut sequence */
	{ "jos\xc0\xa9@example.com", MSG_EMAIL_INVALID },	/* overlong */
	{ "a\xed\xa0\x80@b.co", MSG_EMAIL_INVALID },	/* surrogate */
	{ "a\xc2\x85@b.co", MSG_EMAIL_INVALID },		/* C1 NEL */
	{ "a@b\xc2\x9f.co", MSG_EMAIL_INVALID },		/* C1 APC */
	{ "a@b", MSG_EMAIL_INVALID },
	{ "a@@b.com", MSG_EMAIL_INVALID },
	{ "a b@c.com", MSG_EMAIL_INVALID },
	{ "a\t@b.com", MSG_EMAIL_INVALID },
	{ "a@b.com\r\nRCPT TO:<evil@x.io>", MSG_EMAIL_INVALID },
	{ "\"q\"@b.com", MSG_EMAIL_INVALID },
	{ "<a@b.com>", MSG_EMAIL_INVALID },
	{ "a@-b\xc3\xbc.com", MSG_EMAIL_INVALID },
	{ "a@b\xc3\xbc..com", MSG_EMAIL_INVALID },
	{ ".a\xc3\xbc@b.com", MSG_EMAIL_INVALID },
	{ NULL, NULL }
};

static const char *const username_valids[] = {
	"abc",
	X32,
	"a.b-c_d",
	"ABC_123",
	"Zz9",
	NULL
};

static const struct refusal username_invalids[] = {
	{ "", MSG_USERNAME_LEN },
	{ "ab", MSG_USERNAME_LEN },
	{ X32 "a", MSG_USERNAME_LEN },
	{ "a b c", MSG_USERNAME_CHARS },
	{ "abc!", MSG_USERNAME_CHARS },
	{ "\xc3\xbc" "ber", MSG_USERNAME_CHARS },		/* über */
	{ "x'; DROP TABLE user;--", MSG_USERNAME_CHARS },
	{ " abc", MSG_USERNAME_CHARS },
	{ "abc\n", MSG_USERNAME_CHARS },
	{ "ab@cd", MSG_USERNAME_CHARS },
	{ NULL, NULL }
};

static const struct pw_case pw_valids[] = {
	{ "k7#Qm2vX", NULL, NULL, NULL },
	{ PW_72, NULL, NULL, NULL },
	{ "correct-Horse-7-battery", "alice@example.com", "alice", NULL },
	{ "p\xc3\xa4ssw\xc3\xb6rd-ok-1", "bob@example.com", "bob", NULL },
	/* Without an email or username there is nothing to compare. */
	{ "Alice.Smith+Tag@Example.com", NULL, NULL, NULL },
	/* Close to the email is not equal to it. */
	{ "alice.smith+tag1", "alice.smith+tag@example.com", "alice", NULL },
	{ NULL, NULL, NULL, NULL }
};

static const struct pw_case pw_invalids[] = {
	{ "", NULL, NULL, MSG_PASSWORD_SHORT },
	{ "k7#Qm2v", NULL, NULL, MSG_PASSWORD_SHORT },
	{ "1234567", NULL, NULL, MSG_PASSWORD_SHORT },	/* short first */
	{ PW_72 "z", NULL, NULL, MSG_PASSWORD_LONG },
	{ PW_74_UTF8, NULL, NULL, MSG_PASSWORD_LONG },
	{ "Alice.Smith+Tag@Example.com", "alice.smith+tag@example.com",
	  "alice", MSG_PASSWORD_MATCH },
	{ "ALICE.SMITH+TAG", "alice.smith+tag@example.com", "alice",
	  MSG_PASSWORD_MATCH },
	{ "wONDERland_42", "alice@example.com", "Wonderland_42",
	  MSG_PASSWORD_MATCH },
	/* Matching the username is reported before being common. */
	{ "Password", "alice@example.com", "PASSWORD", MSG_PASSWORD_MATCH },
	{ "password", NULL, NULL, MSG_PASSWORD_COMMON },
	{ "PASSWORD", NULL, NULL, MSG_PASSWORD_COMMON },
	{ "PassWord", "alice@example.com", "alice", MSG_PASSWORD_COMMON },
	{ "12345678", NULL, NULL, MSG_PASSWORD_COMMON },
	{ "baseball", NULL, NULL, MSG_PASSWORD_COMMON },
	{ "BaseBall", NULL, NULL, MSG_PASSWORD_COMMON },
	{ "password123", NULL, NULL, MSG_PASSWORD_COMMON },
	{ "iloveyou", NULL, NULL, MSG_PASSWORD_COMMON },
	{ "TRUSTNO1", NULL, NULL, MSG_PASSWORD_COMMON },
	{ NULL, NULL, NULL, MSG_PASSWORD_SHORT },
	{ NULL, NULL, NULL, NULL }
};

static int
streq(const char *a, const char *b)
{

	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
test_email(void)
{
	char		 out[VALID_EMAIL_MAX + 1];
	const char	*msg;
	size_t		 i;

	for (i = 0; email_valids[i].in != NULL; i++) {
		memcpy(out, "stale", sizeof("stale"));
		msg = valid_email(email_valids[i].in,
		    strlen(email_valids[i].in), out, sizeof(out));
		tap_ok(msg == NULL && strcmp(out, email_valids[i].out) == 0,
		    "email valid #%zu: \"%s\" -> \"%s\"", i, out,
		    msg == NULL ? "(ok)" : msg);
	}
	for (i = 0; email_invalids[i].in != NULL; i++) {
		memcpy(out, "stale", sizeof("stale"));
		msg = valid_email(email_invalids[i].in,
		    strlen(email_invalids[i].in), out, sizeof(out));
		tap_ok(streq(msg, email_invalids[i].msg) && out[0] == '\0',
		    "email invalid #%zu: %s", i,
		    msg == NULL ? "(accepted)" : msg);
	}

	/* Only inlen bytes are read: the JSON string is not terminated. */
	msg = valid_email("a@b.coXYZ", 6, out, sizeof(out));
	tap_ok(msg == NULL && strcmp(out, "a@b.co") == 0,
	    "email reads only inlen bytes");
	memcpy(out, "stale", sizeof("stale"));
	msg = valid_email(NULL, 0, out, sizeof(out));
	tap_ok(streq(msg, MSG_EMAIL_EMPTY) && out[0] == '\0',
	    "email NULL is empty");
	memcpy(out, "stale", sizeof("stale"));
	msg = valid_email("a@b.co", 6, out, VALID_EMAIL_MAX);
	tap_ok(streq(msg, MSG_EMAIL_INVALID) && out[0] == '\0',
	    "email refused with an output buffer below VALID_EMAIL_MAX + 1");
}

static void
test_lookup(void)
{
	char		 out[VALID_EMAIL_LOOKUP_MAX + 1];
	const char	*msg;
	size_t		 i;

	for (i = 0; lookup_valids[i].in != NULL; i++) {
		memcpy(out, "stale", sizeof("stale"));
		msg = valid_email_lookup(lookup_valids[i].in,
		    strlen(lookup_valids[i].in), out, sizeof(out));
		tap_ok(msg == NULL && strcmp(out, lookup_valids[i].out) == 0,
		    "lookup valid #%zu: \"%s\" -> \"%s\"", i, out,
		    msg == NULL ? "(ok)" : msg);
	}
	/* Everything valid_email() accepts, the lookup accepts alike. */
	for (i = 0; email_valids[i].in != NULL; i++) {
		memcpy(out, "stale", sizeof("stale"));
		msg = valid_email_lookup(email_valids[i].in,
		    strlen(email_valids[i].in), out, sizeof(out));
		tap_ok(msg == NULL && strcmp(out, email_valids[i].out) == 0,
		    "lookup takes email valid #%zu alike", i);
	}
	for (i = 0; lookup_invalids[i].in != NULL; i++) {
		memcpy(out, "stale", sizeof("stale"));
		msg = valid_email_lookup(lookup_invalids[i].in,
		    strlen(lookup_invalids[i].in), out, sizeof(out));
		tap_ok(streq(msg, lookup_invalids[i].msg) && out[0] == '\0',
		    "lookup invalid #%zu: %s", i,
		    msg == NULL ? "(accepted)" : msg);
	}
	msg = valid_email_lookup("a@b.co", 6, out, VALID_EMAIL_LOOKUP_MAX);
	tap_ok(streq(msg, MSG_EMAIL_INVALID) && out[0] == '\0',
	    "lookup refused with an output buffer below "
	    "VALID_EMAIL_LOOKUP_MAX + 1");
	/* The strict rule still refuses what only the lookup takes. */
	for (i = 0; lookup_valids[i].in != NULL; i++) {
		char	 strict[VALID_EMAIL_MAX + 1];

		if (strspn(lookup_valids[i].out, "abcdefghijklmnopqrstuvwxyz"
		    "0123456789.@") == strlen(lookup_valids[i].out))
			continue;
		tap_ok(valid_email(lookup_valids[i].in,
		    strlen(lookup_valids[i].in), strict,
		    sizeof(strict)) != NULL,
		    "registration still refuses lookup valid #%zu", i);
	}
}

static void
test_utf8_address(void)
{

	tap_ok(valid_utf8("", 0) && valid_utf8("abc", 3) &&
	    valid_utf8("\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80", 9) &&
	    valid_utf8("a\0b", 3), "valid_utf8: ASCII, 2, 3, 4 bytes, NUL");
	tap_ok(!valid_utf8("\xc0\xaf", 2) && !valid_utf8("\xe0\x80\xaf", 3) &&
	    !valid_utf8("\xf0\x80\x80\xaf", 4),
	    "valid_utf8 refuses overlong forms");
	tap_ok(!valid_utf8("\xed\xa0\x80", 3) && !valid_utf8("\xf4\x90\x80\x80",
	    4) && !valid_utf8("\xf5\x80\x80\x80", 4),
	    "valid_utf8 refuses surrogates and code points above U+10FFFF");
	tap_ok(!valid_utf8("\xc3", 1) && !valid_utf8("\xe2\x82", 2) &&
	    !valid_utf8("\x80", 1) && !valid_utf8("\xff", 1),
	    "valid_utf8 refuses cut sequences and stray bytes");
	tap_ok(valid_utf8("\xc3\xa4\xc3", 2) && !valid_utf8("\xc3\xa4\xc3", 3),
	    "valid_utf8 reads exactly n bytes");

	tap_ok(valid_address("a@b.co", 6, 0) &&
	    valid_address("a@b.co", 6, VALID_ADDR_UTF8),
	    "valid_address: a@b.co in both modes");
	tap_ok(!valid_address("jos\xc3\xa9@b.co", 9, 0) &&
	    valid_address("jos\xc3\xa9@b.co", 9, VALID_ADDR_UTF8),
	    "valid_address: a UTF-8 local part only with VALID_ADDR_UTF8");
	tap_ok(!valid_address("a@b.co\r\n", 8, VALID_ADDR_UTF8) &&
	    !valid_address("a@b.co>", 7, VALID_ADDR_UTF8) &&
	    !valid_address(" a@b.co", 7, VALID_ADDR_UTF8),
	    "valid_address: no CR, LF, \">\" or space, even with UTF-8");
	tap_ok(!valid_address("a@b-.co", 7, 0) && !valid_address("a@b", 3, 0) &&
	    !valid_address("a@" X64 ".co", 69, 0) &&
	    valid_address("a@" L63 ".co", 68, 0),
	    "valid_address: labels of 1 to 63, no hyphen at an end, two "
	    "or more");
	tap_ok(!valid_address(NULL, 0, 0) && !valid_address("", 0, 0) &&
	    !valid_address(EMAIL_255, 255, 0) &&
	    valid_address(EMAIL_254, 254, 0),
	    "valid_address: NULL, empty, 255 refused; 254 taken");
}

static void
test_username(void)
{
	const char	*msg;
	size_t		 i;

	for (i = 0; username_valids[i] != NULL; i++) {
		msg = valid_username(username_valids[i],
		    strlen(username_valids[i]));
		tap_ok(msg == NULL, "username valid: \"%s\"",
		    username_valids[i]);
	}
	for (i = 0; username_invalids[i].in != NULL; i++) {
		msg = valid_username(username_invalids[i].in,
		    strlen(username_invalids[i].in));
		tap_ok(streq(msg, username_invalids[i].msg),
		    "username invalid #%zu: %s", i,
		    msg == NULL ? "(accepted)" : msg);
	}
	msg = valid_username(NULL, 0);
	tap_ok(streq(msg, MSG_USERNAME_LEN), "username NULL refused");
	msg = valid_username("abc!", 3);
	tap_ok(msg == NULL, "username reads only len bytes");
}

static void
test_password(void)
{
	const struct pw_case	*c;
	const char		*msg;
	size_t			 i;

	for (i = 0; pw_valids[i].pw != NULL; i++) {
		c = &pw_valids[i];
		msg = valid_password(c->pw, strlen(c->pw), c->email,
		    c->username);
		tap_ok(msg == NULL, "password valid #%zu: %s", i,
		    msg == NULL ? "(ok)" : msg);
	}
	for (i = 0; pw_invalids[i].msg != NULL; i++) {
		c = &pw_invalids[i];
		msg = valid_password(c->pw, c->pw == NULL ? 0 : strlen(c->pw),
		    c->email, c->username);
		tap_ok(streq(msg, c->msg), "password invalid #%zu: %s", i,
		    msg == NULL ? "(accepted)" : msg);
	}
}

static void
test_common(void)
{
	const char	*p;
	size_t		 i, missed;

	/* Every entry is found: the table is sorted as bsearch expects. */
	missed = 0;
	for (i = 0; i < valid_common_passwords_count; i++) {
		p = valid_common_passwords + valid_common_password_at[i];
		if (!valid_common_password(p, strlen(p)) && missed++ < 5)
			tap_diag("not found: \"%s\"", p);
	}
	tap_ok(valid_common_passwords_count > 1000 && missed == 0,
	    "all %zu common passwords found", valid_common_passwords_count);

	tap_ok(valid_common_password("PaSsWoRd", 8) == 1,
	    "common: case folded");
	tap_ok(valid_common_password("passwordXYZ", 8) == 1,
	    "common: only len bytes read");
	tap_ok(valid_common_password("zq-not-common-7", 15) == 0,
	    "common: unknown password");
	tap_ok(valid_common_password("passwordzq", 10) == 0,
	    "common: an entry with more after it is not the entry");
	tap_ok(valid_common_password(PW_72 "z", 73) == 0,
	    "common: longer than 72 bytes is never in the list");
	tap_ok(valid_common_password("pass\0word", 9) == 0,
	    "common: a NUL is never in the list");
	tap_ok(valid_common_password(NULL, 0) == 0, "common: NULL");
}

int
main(void)
{

	tap_ok(strlen(EMAIL_254) == 254 && strlen(EMAIL_255) == 255 &&
	    strlen(X64) == 64 && strlen(L63) == 63 && strlen(PW_72) == 72 &&
	    strlen(PW_74_UTF8) == 74, "fixture lengths");
	test_email();
	test_lookup();
	test_utf8_address();
	test_username();
	test_password();
	test_common();
	return tap_done();
}
