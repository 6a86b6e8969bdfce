/* SPDX-License-Identifier: ISC */
/*
 * Accounts: rows of the FastAPI backend's `user` table.
 */
#ifndef AUTH_USER_H
#define AUTH_USER_H

#include "pw.h"
#include "status.h"
#include "valid.h"

struct db;

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
enum auth_status user_create(struct db *, const char *, const char *,
		    const char *, struct user *);
enum auth_status user_by_email(struct db *, const char *,
		    struct user_login *);
enum auth_status user_rehash(struct db *, long long, const char *,
		    const char *);
enum auth_status user_active(struct db *, long long, int *);

#endif /* !AUTH_USER_H */
