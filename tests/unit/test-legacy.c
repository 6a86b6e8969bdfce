/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for legacy.c's decisions on a refresh token of the FastAPI
 * backend: when it was issued, and whether its account may trade it.
 * The trade itself, in the database, is tested end to end
 * (tests/endpoint/test_legacy.py, tests/switch/).
 */
#include "config.h"

#include <string.h>

#include "jwt.h"
#include "legacy.h"
#include "tap.h"

#define DAYS21	(21L * 86400)

int
main(void)
{
	struct jwt_claims	 c;
	long long		 cut;

	memset(&c, 0, sizeof(c));
	c.exp = 1700000000LL + DAYS21;
	tap_ok(legacy_issued_at(&c, DAYS21) == 1700000000LL,
	    "no iat (python-jose wrote none): exp less the refresh lifetime");
	c.iat = 1700000123LL;
	tap_ok(legacy_issued_at(&c, DAYS21) == 1700000123LL,
	    "an iat: the iat");

	tap_ok(legacy_may_trade(1, NULL, 1700000000LL) == 1,
	    "an active account never reset: may trade");
	tap_ok(legacy_may_trade(0, NULL, 1700000000LL) == 0,
	    "a disabled account: may not");
	cut = 1700000100LL;
	tap_ok(legacy_may_trade(1, &cut, 1700000000LL) == 0,
	    "issued before every session was revoked: may not");
	tap_ok(legacy_may_trade(1, &cut, 1700000100LL) == 0,
	    "issued in the second of the revocation: may not");
	tap_ok(legacy_may_trade(1, &cut, 1700000101LL) == 1,
	    "issued after it: may");
	tap_ok(legacy_may_trade(0, &cut, 1700000101LL) == 0,
	    "issued after it, account disabled: may not");
	return tap_done();
}
