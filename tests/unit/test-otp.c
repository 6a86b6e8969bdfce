/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for otp.c.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "cfg.h"
#include "otp.h"
#include "tap.h"

#define JWT	"jwt-secret-of-at-least-thirty-two-bytes"
#define OTPKEY	"otp-secret-of-at-least-thirty-two-bytes"

int
main(void)
{
	struct cfg	 c;
	char		 code[OTP_DIGITS + 1], d1[OTP_DIGEST_HEX + 1];
	char		 d2[OTP_DIGEST_HEX + 1], small[8];
	unsigned int	 seen[10], i, bad = 0;
	size_t		 k;

	memset(&c, 0, sizeof(c));
	c.jwt_secret_key = (char *)(uintptr_t)JWT;
	c.jwt_secret_len = strlen(JWT);

	tap_ok(otp_digest(1, "123456", 6, d1, sizeof(d1)) == AUTH_ERR_INVALID,
	    "no digest before otp_init");
	tap_ok(otp_init(&c) == AUTH_OK, "key derived from JWT_SECRET_KEY");

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 2000; i++) {
		if (otp_generate(code, sizeof(code)) != AUTH_OK ||
		    strlen(code) != OTP_DIGITS ||
		    strspn(code, "0123456789") != OTP_DIGITS)
			bad++;
		for (k = 0; k < OTP_DIGITS; k++)
			seen[code[k] - '0']++;
	}
	tap_ok(bad == 0, "codes are always 6 digits, leading zeros kept");
	for (k = 0, bad = 0; k < 10; k++)
		if (seen[k] < 1000 || seen[k] > 1400)	/* 1200 expected */
			bad++;
	tap_ok(bad == 0, "every digit about equally frequent");
	tap_ok(otp_generate(small, 6) == AUTH_ERR_INVALID,
	    "no room for the NUL is refused");

	tap_ok(otp_digest(7, "123456", 6, d1, sizeof(d1)) == AUTH_OK &&
	    strlen(d1) == OTP_DIGEST_HEX &&
	    strspn(d1, "0123456789abcdef") == OTP_DIGEST_HEX,
	    "digest is 64 hex digits");
	tap_ok(strstr(d1, "123456") == NULL, "digest does not hold the code");
	tap_ok(otp_digest(8, "123456", 6, d2, sizeof(d2)) == AUTH_OK &&
	    strcmp(d1, d2) != 0, "the digest is bound to the account");
	tap_ok(otp_matches(7, "123456", 6, d1), "right code matches");
	tap_ok(!otp_matches(7, "123457", 6, d1), "wrong code does not");
	tap_ok(!otp_matches(8, "123456", 6, d1),
	    "right code, other account: no match");
	tap_ok(!otp_matches(7, "12345", 5, d1) &&
	    !otp_matches(7, "1234567", 7, d1), "other lengths do not match");
	tap_ok(!otp_matches(7, "123456", 6, "123456"),
	    "a plain code stored in the table never matches");

	c.otp_secret_key = (char *)(uintptr_t)OTPKEY;
	tap_ok(otp_init(&c) == AUTH_OK &&
	    otp_digest(7, "123456", 6, d2, sizeof(d2)) == AUTH_OK &&
	    strcmp(d1, d2) != 0, "OTP_SECRET_KEY gives another key");
	tap_ok(!otp_matches(7, "123456", 6, d1),
	    "digests made under the old key no longer match");
	otp_clear();
	tap_ok(!otp_matches(7, "123456", 6, d2), "no match once cleared");
	return tap_done();
}
