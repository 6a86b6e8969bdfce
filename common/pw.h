/* SPDX-License-Identifier: ISC */
/*
 * Password hashing with bcrypt through libxcrypt.
 */
#ifndef AUTH_PW_H
#define AUTH_PW_H

#include <stddef.h>

#include "status.h"

#define PW_HASH_MAX	128	/* a bcrypt hash is 60 bytes */
#define PW_KEY_MAX	72	/* bytes of a password bcrypt reads */

/* pw.c */
enum auth_status pw_hash(const char *, long, char *, size_t);
int		 pw_verify(const char *, const char *);
int		 pw_check(const char *, const char *, long);
int		 pw_cost(const char *);
void		 pw_bcrypt_key(const char *, char *);

#endif /* !AUTH_PW_H */
