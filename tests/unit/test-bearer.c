/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for bearer.c: which Authorization header values hold a
 * bearer token (RFC 6750, 2.1), and which token.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bearer.h"
#include "tap.h"

struct valid {
	const char	*hdr;
	const char	*tok;
};

static const struct valid valids[] = {
	{ "Bearer abc.def.ghi", "abc.def.ghi" },
	{ "bearer abc", "abc" },
	{ "BEARER abc", "abc" },
	{ "Bearer   abc", "abc" },
	{ "Bearer abc ", "abc" },
	{ "Bearer abc\t", "abc" },
	{ "Bearer a-b_c~d+e/f", "a-b_c~d+e/f" },
	{ "Bearer abc==", "abc==" },
	{ "Bearer eyJ0.eyJ1.c2ln", "eyJ0.eyJ1.c2ln" },
};

/* No bearer credentials presented at all. */
static const char *const nones[] = {
	"",
	"Bearer",
	"Bearer ",
	"Bearer  \t",
	"Bearerabc",
	"Bearer-x abc",
	"Basic dXNlcjpwYXNz",
	"Token abc",
	" Bearer abc",
	"abc.def.ghi",
};

/* The Bearer scheme, and something that is not one b64token. */
static const char *const malformed[] = {
	"Bearer\tabc",
	"Bearer abc def",
	"Bearer abc,def",
	"Bearer abc=def",
	"Bearer =abc",
	"Bearer abc\"",
	"Bearer abc\r\nX-Evil: 1",
	"Bearer abc\n",
	"Bearer ab\x01" "c",
	"Bearer \xc3\xa9t\xc3\xa9",
	"Bearer realm=\"x\"",
	"Bearer token=\"abc\"",
	"Bearer abc, Basic xyz",
	"Bearer Bearer abc",
	"Bearer,abc",
};

static void
check_refused(const char *const *vals, size_t n, enum bearer_kind want,
    const char *what)
{
	const char	*tok;
	size_t		 i, len;

	for (i = 0; i < n; i++) {
		tok = "x";
		len = 7;
		tap_ok(bearer_token(vals[i], &tok, &len) == want &&
		    tok == NULL && len == 0, "%s: value %zu", what, i);
	}
}

int
main(void)
{
	const char	*tok;
	size_t		 i, len;

	for (i = 0; i < sizeof(valids) / sizeof(valids[0]); i++) {
		tap_ok(bearer_token(valids[i].hdr, &tok, &len) ==
		    BEARER_TOKEN && len == strlen(valids[i].tok) &&
		    strncmp(tok, valids[i].tok, len) == 0,
		    "bearer token in \"%s\"", valids[i].hdr);
	}
	check_refused(nones, sizeof(nones) / sizeof(nones[0]), BEARER_NONE,
	    "no bearer credentials");
	check_refused(malformed, sizeof(malformed) / sizeof(malformed[0]),
	    BEARER_MALFORMED, "malformed bearer credentials");
	tok = "x";
	len = 7;
	tap_ok(bearer_token(NULL, &tok, &len) == BEARER_NONE && tok == NULL &&
	    len == 0, "no header: no credentials");
	return tap_done();
}
