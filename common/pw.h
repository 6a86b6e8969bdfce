/* SPDX-License-Identifier: ISC */
/*
 * Password hashing with bcrypt through libxcrypt.
 */
#ifndef AUTH_PW_H
#define AUTH_PW_H

#include <stddef.h>

#include "status.h"

#define PW_HASH_MAX	128	/* a bcrypt hash is 60 bytes */

/* pw.c */
enum auth_status pw_hash(const char *, long, char *, size_t);
int		 pw_verify(const char *, const char *);
int		 pw_check(const char *, const char *, long);
int		 pw_cost(const char *);

#endif /* !AUTH_PW_H */
