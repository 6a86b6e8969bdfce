/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for hmac.c: RFC 4231's HMAC-SHA256 test cases, and the same
 * result as OpenSSL's HMAC() for every key length from 0 to two blocks
 * and more, over data of many lengths.
 */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hmac.h"
#include "rng.h"
#include "tap.h"

struct case_rfc4231 {
	const char	*name;
	unsigned char	 keybyte;	/* the key: keylen of these... */
	size_t		 keylen;
	const char	*key;		/* ...unless this is set */
	const char	*data;		/* the data, or datalen of databyte */
	unsigned char	 databyte;
	size_t		 datalen;
	const char	*mac;		/* hex */
};

static const struct case_rfc4231 cases[] = {
	{ "4.2 (test case 1)", 0x0b, 20, NULL, "Hi There", 0, 0,
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ "4.3 (a key shorter than the output)", 0, 0, "Jefe",
	  "what do ya want for nothing?", 0, 0,
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ "4.4 (50 bytes of 0xdd)", 0xaa, 20, NULL, NULL, 0xdd, 50,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ "4.7 (a key larger than a block)", 0xaa, 131, NULL,
	  "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	{ "4.8 (key and data larger than a block)", 0xaa, 131, NULL,
	  "This is a test using a larger than block-size key and a larger "
	  "than block-size data. The key needs to be hashed before being "
	  "used by the HMAC algorithm.", 0, 0,
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

int
main(void)
{
	unsigned char	 key[200], data[300], md[HMAC_SHA256_LEN];
	unsigned char	 ref[EVP_MAX_MD_SIZE];
	unsigned int	 reflen;
	char		 hex[2 * HMAC_SHA256_LEN + 1];
	const unsigned char *k, *d;
	size_t		 i, kl, dl, klen, dlen, bad;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].key != NULL) {
			k = (const unsigned char *)cases[i].key;
			klen = strlen(cases[i].key);
		} else {
			memset(key, cases[i].keybyte, cases[i].keylen);
			k = key;
			klen = cases[i].keylen;
		}
		if (cases[i].data != NULL) {
			d = (const unsigned char *)cases[i].data;
			dlen = strlen(cases[i].data);
		} else {
			memset(data, cases[i].databyte, cases[i].datalen);
			d = data;
			dlen = cases[i].datalen;
		}
		tap_ok(hmac_sha256(k, klen, d, dlen, md) == AUTH_OK &&
		    rng_hex_encode(md, sizeof(md), hex, sizeof(hex)) ==
		    AUTH_OK && strcmp(hex, cases[i].mac) == 0,
		    "RFC 4231 %s", cases[i].name);
	}

	if (rng_bytes(key, sizeof(key)) != AUTH_OK ||
	    rng_bytes(data, sizeof(data)) != AUTH_OK)
		return 1;
	bad = 0;
	for (kl = 0; kl <= 2 * 64 + 8; kl++)
		for (dl = 0; dl <= sizeof(data); dl += 1 + dl / 4) {
			if (hmac_sha256(key, kl, data, dl, md) != AUTH_OK ||
			    HMAC(EVP_sha256(), key, (int)kl, data, dl, ref,
			    &reflen) == NULL || reflen != sizeof(md) ||
			    memcmp(md, ref, sizeof(md)) != 0)
				bad++;
		}
	tap_ok(bad == 0, "as OpenSSL's HMAC() for keys of 0 to 136 bytes and "
	    "data of 0 to 300 (%zu differ)", bad);
	tap_ok(hmac_sha256(NULL, 0, NULL, 0, md) == AUTH_OK &&
	    HMAC(EVP_sha256(), "", 0, (const unsigned char *)"", 0, ref,
	    &reflen) != NULL && memcmp(md, ref, sizeof(md)) == 0,
	    "an empty key over empty data");
	return tap_done();
}
