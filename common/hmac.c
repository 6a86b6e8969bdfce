/* SPDX-License-Identifier: ISC */
/*
 * HMAC-SHA256 (RFC 2104, FIPS 198-1) on OpenSSL's SHA-256 functions.
 *
 * Why not HMAC() or EVP_MAC: in OpenSSL 3 they fetch their algorithms
 * from a provider, and the first fetch in a process copies every legacy
 * cipher and digest name into OpenSSL's name map and builds the table of
 * every digest: about 4 million instructions, a millisecond of CPU.  A
 * FastCGI process pays that once; a plain CGI process, one request long,
 * pays it on every request (a refresh-token as plain CGI spent a third
 * of its CPU there; tests/bench/run measures it).  SHA256_Init() and its
 * companions, deprecated in OpenSSL 3.0 but present in every 3.x, run
 * the same SHA-256 code as the provider without any fetch.  The HMAC
 * construction around them is the RFC's; tests/unit/test-hmac checks it
 * against RFC 4231's vectors and against HMAC() for every key length up
 * to two blocks.
 */
#include "config.h"

/* This file alone uses the SHA256_* functions: see above. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "hmac.h"

#define HMAC_BLOCK	64	/* SHA-256's block size in bytes */

/*
 * Write HMAC-SHA256 with the keylen bytes of key over the n bytes at data
 * into out, which holds HMAC_SHA256_LEN bytes.  A key longer than a block
 * is hashed first, as RFC 2104 says.  Returns AUTH_OK, or AUTH_ERR_CRYPTO
 * with out zeroed.  Every intermediate buffer is wiped.
 */
enum auth_status
hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
    unsigned char *out)
{
	SHA256_CTX		 ctx;
	unsigned char		 k[HMAC_BLOCK], pad[HMAC_BLOCK];
	unsigned char		 inner[HMAC_SHA256_LEN];
	enum auth_status	 rc = AUTH_ERR_CRYPTO;
	size_t			 i;

	memset(out, 0, HMAC_SHA256_LEN);
	memset(k, 0, sizeof(k));
	if (keylen > HMAC_BLOCK) {
		if (SHA256_Init(&ctx) != 1 ||
		    SHA256_Update(&ctx, key, keylen) != 1 ||
		    SHA256_Final(k, &ctx) != 1)
			goto out;
	} else if (keylen > 0)
		memcpy(k, key, keylen);
	for (i = 0; i < HMAC_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	if (SHA256_Init(&ctx) != 1 ||
	    SHA256_Update(&ctx, pad, sizeof(pad)) != 1 ||
	    SHA256_Update(&ctx, data, n) != 1 ||
	    SHA256_Final(inner, &ctx) != 1)
		goto out;
	for (i = 0; i < HMAC_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	if (SHA256_Init(&ctx) != 1 ||
	    SHA256_Update(&ctx, pad, sizeof(pad)) != 1 ||
	    SHA256_Update(&ctx, inner, sizeof(inner)) != 1 ||
	    SHA256_Final(out, &ctx) != 1) {
		OPENSSL_cleanse(out, HMAC_SHA256_LEN);
		goto out;
	}
	rc = AUTH_OK;
out:
	OPENSSL_cleanse(&ctx, sizeof(ctx));
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	return rc;
}
