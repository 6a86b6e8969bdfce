/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the Authorization header (bearer.c): the input is
 * the header's value, as the web server hands it over (HTTP_AUTHORIZATION
 * or, for an authorizer, the header itself).
 *
 * Properties (any broken one aborts):
 *  - a token is found only in "Bearer" (any case), one or more spaces,
 *    one b64token (RFC 6750, 2.1: letters, digits, "-._~+/", then any
 *    "="), and nothing after it but spaces and tabs; it lies inside the
 *    header and is not empty;
 *  - anything else gives no token (NULL, length 0);
 *  - "Bearer " and the token found is read back as the same token;
 *  - a value that does not start with "Bearer" and a space, a tab or its
 *    end is never "malformed": it is some other scheme.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bearer.h"
#include "oracle.h"

#define FUZZ_MAX	8192	/* longer inputs are ignored */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* RFC 9110, 5.6.2: what may follow "Bearer" in another scheme's name. */
static const char fuzz_tchars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~";

/*
 * Return 1 if the len bytes at s are one b64token, else 0.
 */
static int
fuzz_b64token(const char *s, size_t len)
{
	static const char	 chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-._~+/";
	size_t			 n;

	n = strspn(s, chars);
	if (n == 0 || n > len)
		return 0;
	while (n < len && s[n] == '=')
		n++;
	return n == len;
}

/*
 * The libFuzzer entry point.  Always returns 0.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 hdr[FUZZ_MAX + 1], again[FUZZ_MAX + 8];
	const char		*tok, *tok2;
	size_t			 len, len2, lead, i;
	enum bearer_kind	 k;

	if (size > FUZZ_MAX || memchr(data, '\0', size) != NULL)
		return 0;
	memcpy(hdr, data, size);
	hdr[size] = '\0';
	k = bearer_token(hdr, &tok, &len);
	if (k >= BEARER__MAX)
		oracle_fail("kind %d", (int)k);
	if (k != BEARER_TOKEN) {
		if (tok != NULL || len != 0)
			oracle_fail("no token, but one returned");
		if (k == BEARER_MALFORMED && (strncasecmp(hdr, "Bearer", 6) !=
		    0 || (hdr[6] != '\0' && strchr(fuzz_tchars, hdr[6]) !=
		    NULL)))
			oracle_fail("another scheme called malformed");
		return 0;
	}
	if (strncasecmp(hdr, "Bearer ", 7) != 0 || tok < hdr + 7 ||
	    tok + len > hdr + size || len == 0)
		oracle_fail("token outside the header");
	lead = (size_t)(tok - hdr);
	for (i = 6; i < lead; i++)
		if (hdr[i] != ' ')
			oracle_fail("not spaces before the token");
	if (!fuzz_b64token(tok, len))
		oracle_fail("not a b64token: %.*s", (int)len, tok);
	for (i = lead + len; i < size; i++)
		if (hdr[i] != ' ' && hdr[i] != '\t')
			oracle_fail("something after the token");
	memcpy(again, "Bearer ", 7);
	memcpy(again + 7, tok, len);
	again[7 + len] = '\0';
	if (bearer_token(again, &tok2, &len2) != BEARER_TOKEN ||
	    len2 != len || memcmp(tok2, tok, len) != 0)
		oracle_fail("the token read back differs");
	return 0;
}
