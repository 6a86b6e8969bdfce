/* SPDX-License-Identifier: ISC */
/*
 * The answer to a successful login or refresh: a new access and refresh
 * token pair.
 */
#ifndef AUTH_TOKEN_H
#define AUTH_TOKEN_H

struct app;
struct req;
struct session;

/* token.c */
void	 token_respond(struct app *, struct req *, const struct session *,
	    long long);

#endif /* !AUTH_TOKEN_H */
