/* SPDX-License-Identifier: ISC */
/*
 * Refresh sessions: one per login, rotated on every refresh, with an
 * absolute lifetime and reuse detection.
 */
#ifndef AUTH_SESSION_H
#define AUTH_SESSION_H

#include "jwt.h"
#include "status.h"

struct db;

struct session {
	char		 id[JWT_ID_LEN + 1];	/* the token's sid */
	char		 jti[JWT_ID_LEN + 1];	/* its current generation */
	long long	 user_id;
	long long	 expires_at;		/* absolute end, epoch */
};

/* What presenting a refresh token did to its session. */
enum session_result {
	SESSION_ROTATED,	/* current generation: advanced one */
	SESSION_GRACE,		/* replaced in the burst, inside the window */
	SESSION_REUSED,		/* older: session revoked */
	SESSION_INVALID,	/* revoked, expired, gone or inactive user */
	SESSION__MAX
};

/* What a logout with a refresh token did. */
enum session_end_result {
	SESSION_END_DONE,	/* ended now: the session, or all the user's */
	SESSION_END_GONE,	/* already revoked, expired or deleted */
	SESSION_END_REUSED,	/* an older generation: session revoked */
	SESSION_END__MAX
};

/* session.c */
enum auth_status session_start(struct db *, long long, long long, long,
		    struct session *);
enum auth_status session_refresh(struct db *, const struct jwt_claims *,
		    long long, long, struct session *, enum session_result *);
enum auth_status session_revoke_all(struct db *, long long, long long);
enum auth_status session_end(struct db *, const struct jwt_claims *, int,
		    long long, long, enum session_end_result *);

#endif /* !AUTH_SESSION_H */
