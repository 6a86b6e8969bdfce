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

static const char *const invalids[] = {
	"",
	"Bearer",
	"Bearer ",
	"Bearer  ",
	"Bearerabc",
	"Bearer\tabc",
	"Basic dXNlcjpwYXNz",
	"Token abc",
	" Bearer abc",
	"Bearer abc def",
	"Bearer abc,def",
	"Bearer abc=def",
	"Bearer =abc",
	"Bearer abc\"",
	"Bearer abc\r\nX-Evil: 1",
	"Bearer ab\x01" "c",
	"Bearer \xc3\xa9t\xc3\xa9",
	"Bearer realm=\"x\"",
	"Bearer abc, Basic xyz",
};

int
main(void)
{
	const char	*tok;
	size_t		 i, len;
	int		 ok;

	for (i = 0; i < sizeof(valids) / sizeof(valids[0]); i++) {
		ok = bearer_token(valids[i].hdr, &tok, &len);
		tap_ok(ok && len == strlen(valids[i].tok) &&
		    strncmp(tok, valids[i].tok, len) == 0,
		    "bearer token in \"%s\"", valids[i].hdr);
	}
	for (i = 0; i < sizeof(invalids) / sizeof(invalids[0]); i++) {
		tok = "x";
		len = 7;
		ok = bearer_token(invalids[i], &tok, &len);
		tap_ok(!ok && tok == NULL && len == 0,
		    "no bearer token in invalid value %zu", i);
	}
	tok = "x";
	len = 7;
	tap_ok(!bearer_token(NULL, &tok, &len) && tok == NULL && len == 0,
	    "no header: no token");
	return tap_done();
}
