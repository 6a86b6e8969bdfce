/* SPDX-License-Identifier: ISC */
/*
 * Throttles: counters in the shared database, so every process on every
 * web server sees the same counts.
 */
#ifndef AUTH_THROTTLE_H
#define AUTH_THROTTLE_H

#include <stddef.h>

#include "status.h"

struct cfg;
struct db;

/*
 * The limits.  The numbers are stored in auth_throttle.kind: never
 * renumber or reuse one.
 */
enum throttle_kind {
	THROTTLE_NONE = 0,
	THROTTLE_LOGIN_ACCOUNT = 1,		/* failed logins, per email */
	THROTTLE_LOGIN_ADDRESS_FAILURES = 2,	/* failed logins, per address */
	THROTTLE_LOGIN_ADDRESS = 3,		/* any login, per address */
	THROTTLE_REGISTER_ADDRESS = 4,
	THROTTLE_FORGOT_ADDRESS = 5,
	THROTTLE_RESET_ADDRESS = 6,
	THROTTLE_REFRESH_ADDRESS = 7,
	THROTTLE__MAX
};

#define THROTTLE_HITS_MAX	3	/* limits one request counts against */
#define THROTTLE_KEY_LEN	32	/* SHA-256 */

/* One counter a request counts against: the limit and whose it is. */
struct throttle_hit {
	enum throttle_kind	 kind;
	const char		*key;	/* normalised email or client address */
};

/* throttle.c */
enum auth_status throttle_check(struct db *, const struct cfg *,
		    const struct throttle_hit *, size_t, long long, long *,
		    enum throttle_kind *);
enum auth_status throttle_login_ok(struct db *, const struct cfg *,
		    const char *, const char *, long long);
int		 throttle_key(enum throttle_kind, const char *,
		    unsigned char *);
const char	*throttle_name(enum throttle_kind);

#endif /* !AUTH_THROTTLE_H */
