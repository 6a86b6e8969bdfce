/* SPDX-License-Identifier: ISC */
/*
 * Accounts: rows of the FastAPI backend's `user` table.
 */
#ifndef AUTH_USER_H
#define AUTH_USER_H

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

/* user.c */
enum auth_status user_create(struct db *, const char *, const char *,
		    const char *, struct user *);

#endif /* !AUTH_USER_H */
