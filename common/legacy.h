/* SPDX-License-Identifier: ISC */
/*
 * Refresh tokens the FastAPI backend issued before the switch, which name
 * no session: each is traded once for a session of ours, so that its
 * users stay logged in (LEGACY_TOKENS).
 */
#ifndef AUTH_LEGACY_H
#define AUTH_LEGACY_H

#include <stddef.h>

#include "session.h"
#include "status.h"

struct cfg;
struct db;
struct jwt_claims;

/* legacy.c */
enum auth_status legacy_trade(struct db *, const struct cfg *, const char *,
		    size_t, const struct jwt_claims *, long long,
		    struct session *, enum session_result *);
enum auth_status legacy_retire(struct db *, const struct cfg *, const char *,
		    size_t, const struct jwt_claims *, int, long long);
enum auth_status legacy_cutoff(struct db *, long long, long long);
long long	 legacy_issued_at(const struct jwt_claims *, long);
int		 legacy_may_trade(int, const long long *, long long);

#endif /* !AUTH_LEGACY_H */
