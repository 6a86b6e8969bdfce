/* SPDX-License-Identifier: ISC */
/*
 * One-time codes for password recovery: six digits derived from a random
 * nonce, stored only as an HMAC, both under keys that are not in the
 * database.
 */
#ifndef AUTH_OTP_H
#define AUTH_OTP_H

#include <stddef.h>

#include "status.h"

#define OTP_DIGITS	6
#define OTP_DIGEST_HEX	64	/* HMAC-SHA256, in hex */
#define OTP_NONCE_HEX	64	/* 32 random bytes, in hex */

struct cfg;

/* otp.c */
enum auth_status otp_init(const struct cfg *);
enum auth_status otp_code_from_nonce(long long, long long, const char *,
		    char *, size_t);
enum auth_status otp_digest(long long, const char *, size_t, char *, size_t);
int		 otp_matches(long long, const char *, size_t, const char *);
void		 otp_clear(void);

#endif /* !AUTH_OTP_H */
