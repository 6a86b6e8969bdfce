/* SPDX-License-Identifier: ISC */
/*
 * Bearer credentials (RFC 6750, 2.1): the access token in an
 * Authorization request header.
 */
#ifndef AUTH_BEARER_H
#define AUTH_BEARER_H

#include <stddef.h>

/* bearer.c */
int	 bearer_token(const char *, const char **, size_t *);

#endif /* !AUTH_BEARER_H */
