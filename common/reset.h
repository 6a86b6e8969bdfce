/* SPDX-License-Identifier: ISC */
/*
 * Password recovery in the database: issuing one-time codes (with the
 * per-account cooldown and hourly cap) and redeeming them.
 */
#ifndef AUTH_RESET_H
#define AUTH_RESET_H

#include "otp.h"
#include "status.h"
#include "valid.h"

struct cfg;
struct db;

enum reset_issue_result {
	RESET_ISSUED,		/* a new code for an active account */
	RESET_NO_ACCOUNT,	/* unknown email or disabled account */
	RESET_COOLDOWN,		/* a code was issued too recently */
	RESET_HOURLY_CAP,	/* too many codes in the last hour */
	RESET_ISSUE__MAX
};

/* user.username is VARCHAR(255) in utf8mb4: up to 1020 bytes. */
#define RESET_USERNAME_MAX	1020

struct reset_code {
	enum reset_issue_result	 result;
	long long		 user_id;
	char			 username[RESET_USERNAME_MAX + 1];
	char			 code[OTP_DIGITS + 1];	/* if RESET_ISSUED */
};

enum reset_redeem_result {
	RESET_DONE,		/* password replaced, sessions revoked */
	RESET_BAD_CODE,		/* anything that is answered 400 */
	RESET_WEAK_PASSWORD,	/* new password equals the username */
	RESET_REDEEM__MAX
};

/* reset.c */
enum auth_status reset_issue(struct db *, const struct cfg *, const char *,
		    long long, struct reset_code *);
enum auth_status reset_redeem(struct db *, const struct cfg *, const char *,
		    const char *, size_t, const char *, long long,
		    enum reset_redeem_result *, long long *);

#endif /* !AUTH_RESET_H */
