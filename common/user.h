/* SPDX-License-Identifier: ISC */
/*
 * Accounts: rows of the FastAPI backend's `user` table.
 */
#ifndef AUTH_USER_H
#define AUTH_USER_H

#include "pw.h"
#include "status.h"
#include "valid.h"

#include <stddef.h>

struct db;

/*
 * The most bytes user.email can hold: VARCHAR(255) of utf8mb4, four
 * bytes a character.
 */
#define USER_EMAIL_COLUMN_MAX	1020

struct user {
	long long	 id;
	char		 email[VALID_EMAIL_MAX + 1];
	char		 username[VALID_USERNAME_MAX + 1];
	int		 is_active;
	long long	 created_at;	/* seconds since the epoch, UTC */
};

/* An account as login sees it. */
struct user_login {
	long long	 id;
	char		 hash[PW_HASH_MAX];	/* hashed_password */
	int		 is_active;
};

/* user.c */
int		 user_email_matches(const char *, size_t, const char *);
enum auth_status user_create(struct db *, const char *, const char *,
		    const char *, struct user *);
enum auth_status user_by_email(struct db *, const char *,
		    struct user_login *);
enum auth_status user_rehash(struct db *, long long, const char *,
		    const char *);
enum auth_status user_active(struct db *, long long, int *);

#endif /* !AUTH_USER_H */
