/* SPDX-License-Identifier: ISC */
/*
 * Bearer credentials.  The Authorization header holds
 *	credentials = "Bearer" 1*SP b64token
 *	b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
 *	              "/" ) *"="
 * (RFC 6750, 2.1); the scheme name is case-insensitive (RFC 9110, 11.1).
 * Anything else is no bearer token: parameters, a second token, control
 * characters.  What the token says is jwt_verify()'s business.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "bearer.h"

/*
 * Return 1 if c may appear in a b64token before its padding.
 */
static int
bearer_char(unsigned char c)
{

	if (c == '\0')
		return 0;
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || strchr("-._~+/", c) != NULL;
}

/*
 * Find the token of the Authorization header value hdr (NULL when the
 * request had none).  Returns 1 with *tok pointing into hdr and *len its
 * length, or 0 (with *tok NULL and *len 0) when hdr holds no bearer
 * token: missing, another scheme, or malformed.  Trailing white space,
 * which a server may leave, is allowed.
 */
int
bearer_token(const char *hdr, const char **tok, size_t *len)
{
	const char	*p, *t;
	size_t		 n;

	*tok = NULL;
	*len = 0;
	if (hdr == NULL || strncasecmp(hdr, "Bearer", 6) != 0 ||
	    hdr[6] != ' ')
		return 0;
	for (p = hdr + 6; *p == ' '; p++)
		continue;
	for (t = p; bearer_char((unsigned char)*p); p++)
		continue;
	if (p == t)
		return 0;
	while (*p == '=')
		p++;
	n = (size_t)(p - t);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return 0;
	*tok = t;
	*len = n;
	return 1;
}
