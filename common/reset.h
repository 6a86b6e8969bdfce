/* SPDX-License-Identifier: ISC */
/*
 * Password recovery in the database: issuing one-time codes for queued
 * requests (with the per-account cooldown and hourly cap) and redeeming
 * them (with the per-code and per-day guessing limits).
 */
#ifndef AUTH_RESET_H
#define AUTH_RESET_H

#include <stddef.h>

#include "status.h"

struct cfg;
struct db;
struct mailq_row;

enum reset_issue_result {
	RESET_ISSUED,		/* a new code for an active account */
	RESET_NO_ACCOUNT,	/* unknown or disabled, or a look-alike */
	RESET_COOLDOWN,		/* a code was issued too recently */
	RESET_HOURLY_CAP,	/* too many codes in the last hour */
	RESET_SUPERSEDED,	/* the request is no longer ours */
	RESET_ISSUE__MAX
};

/* user.username is VARCHAR(255) in utf8mb4: up to 1020 bytes. */
#define RESET_USERNAME_MAX	1020

/* What became of one request. */
struct reset_issue {
	enum reset_issue_result	 result;
	long long		 user_id;	/* 0 when no account */
};

enum reset_redeem_result {
	RESET_DONE,		/* password replaced, sessions revoked */
	RESET_BAD_CODE,		/* anything that is answered 400 */
	RESET_WEAK_PASSWORD,	/* new password equals the username */
	RESET_REDEEM__MAX
};

/* reset.c */
enum auth_status reset_issue(struct db *, const struct cfg *,
		    struct mailq_row *, long long, struct reset_issue *);
enum auth_status reset_redeem(struct db *, const struct cfg *, const char *,
		    const char *, size_t, const char *, long long,
		    enum reset_redeem_result *, long long *);

#endif /* !AUTH_RESET_H */
