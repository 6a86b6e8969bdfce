/* SPDX-License-Identifier: ISC */
/*
 * Bearer credentials.  The Authorization header holds
 *	credentials = "Bearer" 1*SP b64token
 *	b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
 *	              "/" ) *"="
 * (RFC 6750, 2.1); the scheme name is case-insensitive (RFC 9110, 11.1).
 * The scheme with anything else after it (parameters, a second token,
 * control characters) is a malformed credential, which the caller refuses
 * as it refuses a bad token; another scheme, or none, is no credential.
 * What the token says is jwt_verify()'s business.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "bearer.h"

#define BEARER_B64TOKEN	"-._~+/"		/* and ALPHA, DIGIT */
#define BEARER_TCHAR	"!#$%&'*+-.^_`|~"	/* RFC 9110, 5.6.2 */

/*
 * Return 1 if c is a letter, a digit or one of the characters in more.
 */
static int
bearer_char(unsigned char c, const char *more)
{

	if (c == '\0')
		return 0;
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || strchr(more, c) != NULL;
}

/*
 * Find the token of the Authorization header value hdr (NULL when the
 * request had none).  Returns BEARER_TOKEN with *tok pointing into hdr
 * and *len its length; otherwise *tok is NULL and *len 0, and the result
 * says whether bearer credentials were presented at all: BEARER_NONE for
 * no header, another scheme, or the scheme with nothing after it, and
 * BEARER_MALFORMED for the scheme followed by anything that is not one
 * b64token (a second token, parameters, control characters).  Trailing
 * white space, which a server may leave, is allowed.
 */
enum bearer_kind
bearer_token(const char *hdr, const char **tok, size_t *len)
{
	const char	*p, *t;
	size_t		 n;

	*tok = NULL;
	*len = 0;
	/* "Bearerx" is another scheme (a token character follows). */
	if (hdr == NULL || strncasecmp(hdr, "Bearer", 6) != 0 ||
	    bearer_char((unsigned char)hdr[6], BEARER_TCHAR))
		return BEARER_NONE;
	p = hdr + 6;
	if (p[strspn(p, " \t")] == '\0')
		return BEARER_NONE;
	if (*p != ' ')
		return BEARER_MALFORMED;
	for (p++; *p == ' '; p++)
		continue;
	for (t = p; bearer_char((unsigned char)*p, BEARER_B64TOKEN); p++)
		continue;
	if (p == t)
		return BEARER_MALFORMED;
	while (*p == '=')
		p++;
	n = (size_t)(p - t);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return BEARER_MALFORMED;
	*tok = t;
	*len = n;
	return BEARER_TOKEN;
}
