/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for rng.c.
 */
#include "config.h"

#include <string.h>

#include "rng.h"
#include "tap.h"

#define DRAWS	60000

int
main(void)
{
	unsigned int	 counts[10], v, i, bad;
	unsigned char	 a[32], b[32];
	char		 hex[65], small[8];
	size_t		 k;

	tap_ok(rng_bytes(a, sizeof(a)) == AUTH_OK &&
	    rng_bytes(b, sizeof(b)) == AUTH_OK &&
	    memcmp(a, b, sizeof(a)) != 0, "two draws of 32 bytes differ");

	tap_ok(rng_hex(hex, sizeof(hex), 16) == AUTH_OK && strlen(hex) == 32 &&
	    strspn(hex, "0123456789abcdef") == 32,
	    "rng_hex: 16 bytes are 32 lower-case hex digits");
	tap_ok(rng_hex(small, sizeof(small), 4) == AUTH_ERR_INVALID &&
	    small[0] == '\0', "rng_hex refuses a buffer without room");
	tap_ok(rng_hex(hex, sizeof(hex), 32) == AUTH_OK && strlen(hex) == 64,
	    "rng_hex fills exactly 2n + 1 bytes");

	{
		static const unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80,
		    0xab, 0xff };
		char	 out[13], tight[12];

		tap_ok(rng_hex_encode(in, sizeof(in), out, sizeof(out)) ==
		    AUTH_OK && strcmp(out, "00017f80abff") == 0,
		    "rng_hex_encode: 00 01 7f 80 ab ff");
		tap_ok(rng_hex_encode(in, sizeof(in), tight, sizeof(tight)) ==
		    AUTH_ERR_INVALID && tight[0] == '\0',
		    "rng_hex_encode refuses an output without room for "
		    "the NUL");
		tap_ok(rng_hex_encode(in, 0, out, 1) == AUTH_OK &&
		    out[0] == '\0', "rng_hex_encode of nothing is \"\"");
		tap_ok(rng_hex_encode(in, 0, out, 0) == AUTH_ERR_INVALID,
		    "rng_hex_encode refuses an output of 0 bytes");
		tap_ok(rng_hex_value('0') == 0 && rng_hex_value('9') == 9 &&
		    rng_hex_value('a') == 10 && rng_hex_value('F') == 15 &&
		    rng_hex_value('g') == -1 && rng_hex_value('/') == -1 &&
		    rng_hex_value(':') == -1 && rng_hex_value('\0') == -1 &&
		    rng_hex_value(0xe0) == -1,
		    "rng_hex_value: 0-9, a-f, A-F; nothing else");
	}

	tap_ok(rng_uniform(0, &v) == AUTH_ERR_INVALID, "bound 0 refused");
	bad = 0;
	for (i = 0; i < 100; i++)
		if (rng_uniform(1, &v) != AUTH_OK || v != 0)
			bad++;
	tap_ok(bad == 0, "bound 1 always gives 0");
	bad = 0;
	for (i = 0; i < 1000; i++)
		if (rng_uniform(1000000, &v) != AUTH_OK || v >= 1000000)
			bad++;
	tap_ok(bad == 0, "bound 1000000 stays below the bound");

	/*
	 * 60,000 draws over 10 values: each count is 6000 +- 77 (one
	 * standard deviation); 5 sigma either side cannot fail by chance
	 * in practice, but a broken sampler (say, always even) fails.
	 */
	memset(counts, 0, sizeof(counts));
	for (i = 0; i < DRAWS; i++) {
		if (rng_uniform(10, &v) != AUTH_OK || v >= 10)
			break;
		counts[v]++;
	}
	bad = 0;
	for (k = 0; k < 10; k++)
		if (counts[k] < 6000 - 390 || counts[k] > 6000 + 390)
			bad++;
	tap_ok(i == DRAWS && bad == 0,
	    "rng_uniform(10): every digit about equally likely");
	return tap_done();
}
