/* SPDX-License-Identifier: ISC */
/*
 * The answer to a successful login or refresh: a new access and refresh
 * token pair; and the check of a refresh token presented back.
 */
#ifndef AUTH_TOKEN_H
#define AUTH_TOKEN_H

#include <stddef.h>

struct app;
struct jwt_claims;
struct req;
struct session;

/* token.c */
void	 token_respond(struct app *, struct req *, const struct session *,
	    long long);
void	 token_refresh_refuse(struct app *, struct req *);
int	 token_refresh_claims(struct app *, struct req *, const char *,
	    const char *, size_t, long long, struct jwt_claims *, int *);

#endif /* !AUTH_TOKEN_H */
