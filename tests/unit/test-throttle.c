/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for throttle.c that need no server: which addresses share a
 * counter (throttle_key()) and the names of the limits in log lines.
 * Counting itself runs against MariaDB in tests/endpoint/test_throttle.py.
 */
#include "config.h"

#include <string.h>

#include "throttle.h"
#include "tap.h"

struct case_key {
	const char	*what;
	const char	*a;
	const char	*b;
	int		 same;		/* 1: one counter, 0: two */
};

static const struct case_key keys[] = {
	/* IPv4-mapped IPv6 is the IPv4 address (issue 10). */
	{ "a mapped address and its IPv4 address", "::ffff:192.0.2.1",
	    "192.0.2.1", 1 },
	{ "two mapped addresses", "::ffff:192.0.2.1", "::ffff:192.0.2.2", 0 },
	{ "two mapped addresses far apart", "::ffff:10.0.0.1",
	    "::ffff:198.51.100.1", 0 },
	{ "a mapped address and ::1", "::ffff:127.0.0.1", "::1", 0 },
	{ "two IPv4 addresses", "192.0.2.1", "192.0.2.2", 0 },
	{ "an IPv4 address in two spellings", "192.0.2.1", " 192.0.2.1 ", 1 },
	/* One host usually owns a /64. */
	{ "two addresses of one /64", "2001:db8:1:2::1",
	    "2001:db8:1:2:ffff:ffff:ffff:ffff", 1 },
	{ "two /64s of one /48", "2001:db8:1:2::1", "2001:db8:1:3::1", 0 },
	/* ... but not where unrelated hosts share one. */
	{ "::1 and ::2", "::1", "::2", 0 },
	{ "::1 and ::", "::1", "::", 0 },
	{ "two IPv4-compatible addresses", "::192.0.2.1", "::192.0.2.2", 0 },
	{ "two link-local addresses", "fe80::1", "fe80::2", 0 },
	{ "two link-local addresses (febf::/16)", "febf::1", "febf::2", 0 },
	{ "two multicast addresses", "ff02::1", "ff02::2", 0 },
	{ "two NAT64 clients", "64:ff9b::192.0.2.1", "64:ff9b::192.0.2.2",
	    0 },
	{ "two local-use NAT64 clients", "64:ff9b:1::192.0.2.1",
	    "64:ff9b:1::192.0.2.2", 0 },
	{ "two Teredo clients of one relay",
	    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
	    "2001:0:4136:e378:8000:63bf:3fff:fdd3", 0 },
	{ "fec0::/10 is not link-local: by /64", "fec0::1", "fec0::2", 1 },
	{ "an address and a text key", "192.0.2.1", "-", 0 },
	{ "two text keys", "-", "-", 1 },
};

int
main(void)
{
	unsigned char	 ka[THROTTLE_KEY_LEN], kb[THROTTLE_KEY_LEN];
	size_t		 i;
	int		 ok;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		ok = throttle_key(THROTTLE_LOGIN_ADDRESS, keys[i].a, ka) == 0 &&
		    throttle_key(THROTTLE_LOGIN_ADDRESS, keys[i].b, kb) == 0;
		tap_ok(ok && (memcmp(ka, kb, sizeof(ka)) == 0) ==
		    keys[i].same, "%s: %s counter", keys[i].what,
		    keys[i].same ? "one" : "two");
	}
	tap_ok(throttle_key(THROTTLE_LOGIN_ACCOUNT, "192.0.2.1", ka) == 0 &&
	    throttle_key(THROTTLE_REGISTER_ADDRESS, "192.0.2.1", kb) == 0 &&
	    memcmp(ka, kb, sizeof(ka)) != 0,
	    "an email key never equals an address key");
	tap_ok(strcmp(throttle_name(THROTTLE_LOGIN_ADDRESS_FAILURES),
	    "THROTTLE_LOGIN_ADDRESS_FAILURES") == 0 &&
	    strcmp(throttle_name(THROTTLE_REFRESH_ADDRESS),
	    "THROTTLE_REFRESH_ADDRESS") == 0 &&
	    strcmp(throttle_name(THROTTLE__MAX), "unknown") == 0,
	    "throttle_name() gives the configuration key");
	return tap_done();
}
