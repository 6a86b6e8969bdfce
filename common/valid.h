/* SPDX-License-Identifier: ISC */
/*
 * Validation of the fields a client sends.  Each validator returns NULL
 * when the value is acceptable, or a static message fit for the "msg" of
 * a 422 answer.
 */
#ifndef AUTH_VALID_H
#define AUTH_VALID_H

#include <stddef.h>

#define VALID_EMAIL_MAX		254	/* RFC 5321 4.5.3.1.3, path less <> */
#define VALID_EMAIL_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 */
#define VALID_EMAIL_LOOKUP_MAX	1016	/* bytes: 254 characters of UTF-8 */
#define VALID_USERNAME_MIN	3
#define VALID_USERNAME_MAX	32
#define VALID_PASSWORD_MIN	8
#define VALID_PASSWORD_MAX	72	/* bcrypt reads no more */

/* valid_address() flags */
#define VALID_ADDR_UTF8		0x01	/* non-ASCII characters allowed */

/* valid.c */
int		 valid_utf8(const char *, size_t);
int		 valid_address(const char *, size_t, int);
const char	*valid_email_lookup(const char *, size_t, char *, size_t);
const char	*valid_email(const char *, size_t, char *, size_t);
const char	*valid_username(const char *, size_t);
const char	*valid_password(const char *, size_t, const char *,
		    const char *);
int		 valid_common_password(const char *, size_t);

#endif /* !AUTH_VALID_H */
