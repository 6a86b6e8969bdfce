/* SPDX-License-Identifier: ISC */
/*
 * Bearer credentials (RFC 6750, 2.1): the access token in an
 * Authorization request header.
 */
#ifndef AUTH_BEARER_H
#define AUTH_BEARER_H

#include <stddef.h>

/* What an Authorization header value holds. */
enum bearer_kind {
	BEARER_NONE,		/* no header, another scheme, nothing after */
	BEARER_MALFORMED,	/* "Bearer" and something no b64token */
	BEARER_TOKEN,		/* "Bearer" and one b64token */
	BEARER__MAX
};

/* bearer.c */
enum bearer_kind bearer_token(const char *, const char **, size_t *);

#endif /* !AUTH_BEARER_H */
