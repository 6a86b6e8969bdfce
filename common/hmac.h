/* SPDX-License-Identifier: ISC */
/*
 * HMAC-SHA256 without OpenSSL's algorithm fetching (see hmac.c).
 */
#ifndef AUTH_HMAC_H
#define AUTH_HMAC_H

#include <stddef.h>

#include "status.h"

#define HMAC_SHA256_LEN	32	/* bytes of an HMAC-SHA256 */

/* hmac.c */
enum auth_status hmac_sha256(const void *, size_t, const void *, size_t,
		    unsigned char *);

#endif /* !AUTH_HMAC_H */
