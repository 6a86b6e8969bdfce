/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for otp.c.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "otp.h"
#include "tap.h"

#define JWT	"jwt-secret-of-at-least-thirty-two-bytes"
#define OTPKEY	"otp-secret-of-at-least-thirty-two-bytes"

/*
 * For 20 nonces, count those that give account u1, row m1 and account u2,
 * row m2 the same code (or fail).
 */
static unsigned int
same_codes(long long u1, long long m1, long long u2, long long m2)
{
	char		 nonce[16], a[OTP_DIGITS + 1], b[OTP_DIGITS + 1];
	unsigned int	 i, n = 0;

	for (i = 0; i < 20; i++) {
		(void)snprintf(nonce, sizeof(nonce), "n%u", i);
		if (otp_code_from_nonce(u1, m1, nonce, a, sizeof(a)) !=
		    AUTH_OK || otp_code_from_nonce(u2, m2, nonce, b,
		    sizeof(b)) != AUTH_OK || strcmp(a, b) == 0)
			n++;
	}
	return n;
}

int
main(void)
{
	struct cfg	 c;
	char		 code[OTP_DIGITS + 1], code2[OTP_DIGITS + 1];
	char		 d1[OTP_DIGEST_HEX + 1], d2[OTP_DIGEST_HEX + 1];
	char		 small[6], nonce[OTP_NONCE_HEX + 1];
	unsigned int	 seen[10], i, bad = 0;
	size_t		 k;

	memset(&c, 0, sizeof(c));
	c.jwt_secret_key = (char *)(uintptr_t)JWT;
	c.jwt_secret_len = strlen(JWT);

	tap_ok(otp_digest(1, "123456", 6, d1, sizeof(d1)) == AUTH_ERR_INVALID,
	    "no digest before otp_init");
	tap_ok(otp_code_from_nonce(1, 1, "ab", code, sizeof(code)) ==
	    AUTH_ERR_INVALID && code[0] == '\0',
	    "no code before otp_init");
	tap_ok(otp_init(&c) == AUTH_OK, "key derived from JWT_SECRET_KEY");

	/* Codes from nonces: 6 digits, uniform, a function of the inputs. */
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 2000; i++) {
		(void)snprintf(nonce, sizeof(nonce), "%064u", i);
		if (otp_code_from_nonce(7, 9, nonce, code, sizeof(code)) !=
		    AUTH_OK || strlen(code) != OTP_DIGITS ||
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
	tap_ok(otp_code_from_nonce(7, 9, "n1", code, sizeof(code)) ==
	    AUTH_OK && otp_code_from_nonce(7, 9, "n1", code2,
	    sizeof(code2)) == AUTH_OK && strcmp(code, code2) == 0,
	    "the same nonce gives the same code");
	bad = same_codes(7, 9, 8, 9);
	tap_ok(bad <= 1, "another account, another code (%u of 20 equal)",
	    bad);
	bad = same_codes(7, 9, 7, 10);
	tap_ok(bad <= 1, "another queue row, another code (%u of 20 equal)",
	    bad);
	tap_ok(otp_code_from_nonce(7, 9, "n1", small, sizeof(small)) ==
	    AUTH_ERR_INVALID, "no room for the NUL is refused");
	memset(nonce, 'a', sizeof(nonce) - 1);
	nonce[sizeof(nonce) - 1] = '\0';
	tap_ok(otp_code_from_nonce(7, 9, nonce, code, sizeof(code)) ==
	    AUTH_OK, "a nonce of 64 bytes is accepted");

	(void)otp_code_from_nonce(7, 9, "n1", code, sizeof(code));
	tap_ok(otp_digest(7, code, 6, d1, sizeof(d1)) == AUTH_OK &&
	    strlen(d1) == OTP_DIGEST_HEX &&
	    strspn(d1, "0123456789abcdef") == OTP_DIGEST_HEX,
	    "digest is 64 hex digits");
	tap_ok(strstr(d1, code) == NULL, "digest does not hold the code");
	tap_ok(otp_digest(8, code, 6, d2, sizeof(d2)) == AUTH_OK &&
	    strcmp(d1, d2) != 0, "the digest is bound to the account");
	tap_ok(otp_matches(7, code, 6, d1), "the nonce's code matches");
	(void)snprintf(code2, sizeof(code2), "%06u",
	    (unsigned int)(strtoul(code, NULL, 10) + 1) % 1000000U);
	tap_ok(!otp_matches(7, code2, 6, d1), "another code does not");
	tap_ok(!otp_matches(8, code, 6, d1),
	    "right code, other account: no match");
	tap_ok(!otp_matches(7, code, 5, d1) &&
	    !otp_matches(7, "1234567", 7, d1), "other lengths do not match");
	tap_ok(!otp_matches(7, code, 6, code),
	    "a plain code stored in the table never matches");
	tap_ok(otp_init(&c) == AUTH_OK && otp_matches(7, code, 6, d1),
	    "naming the same configuration again keeps the keys");

	c.otp_secret_key = (char *)(uintptr_t)OTPKEY;
	otp_clear();
	tap_ok(otp_init(&c) == AUTH_OK &&
	    otp_digest(7, code, 6, d2, sizeof(d2)) == AUTH_OK &&
	    strcmp(d1, d2) != 0, "OTP_SECRET_KEY gives another key");
	tap_ok(!otp_matches(7, code, 6, d1),
	    "digests made under the old key no longer match");
	tap_ok(otp_code_from_nonce(7, 9, "n1", code2, sizeof(code2)) ==
	    AUTH_OK && strcmp(code, code2) != 0,
	    "and the same nonce gives another code");
	otp_clear();
	tap_ok(!otp_matches(7, code, 6, d2), "no match once cleared");
	return tap_done();
}
