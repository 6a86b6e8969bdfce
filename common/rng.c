/* SPDX-License-Identifier: ISC */
/*
 * Randomness, from the kernel's CSPRNG only, through getentropy(3)
 * (getrandom(2) on Linux, which blocks only until the kernel's generator
 * is seeded at boot).  Not OpenSSL's RAND_bytes(): its first call in a
 * process instantiates OpenSSL's DRBGs and builds its table of every
 * cipher, about 3 million instructions, which a plain CGI process, one
 * request long, would pay on every request (a refresh-token as plain CGI
 * spent a quarter of its CPU there); the kernel's generator is what
 * seeds OpenSSL's anyway.  A failure is reported, never ignored: a
 * caller that needs a random value and cannot have one fails the request.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "rng.h"

#define RNG_CHUNK	256	/* getentropy()'s most per call */

/*
 * Fill the n bytes at buf with random bytes.  Returns AUTH_OK or
 * AUTH_ERR_CRYPTO (logged).
 */
enum auth_status
rng_bytes(void *buf, size_t n)
{
	unsigned char	*p = buf;
	size_t		 k;

	while (n > 0) {
		k = n < RNG_CHUNK ? n : RNG_CHUNK;
		if (getentropy(p, k) == -1) {
			log_err("rng", "getentropy: %s", strerror(errno));
			return AUTH_ERR_CRYPTO;
		}
		p += k;
		n -= k;
	}
	return AUTH_OK;
}

/*
 * Write the n bytes at in as 2 * n lower-case hex digits and a NUL into
 * out, which holds outsz bytes.  Returns AUTH_OK, or AUTH_ERR_INVALID
 * (out then holds "" if outsz > 0) when out is too small.
 */
enum auth_status
rng_hex_encode(const void *in, size_t n, char *out, size_t outsz)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = in;
	size_t			 i;

	if (outsz > 0)
		out[0] = '\0';
	if (outsz == 0 || n > (outsz - 1) / 2)
		return AUTH_ERR_INVALID;
	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0xf];
	}
	out[2 * n] = '\0';
	return AUTH_OK;
}

/*
 * Return the value (0 to 15) of the hex digit c, in either case, or -1
 * if c is none: rng_hex_encode()'s inverse, digit by digit.
 */
int
rng_hex_value(int c)
{

	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Write nbytes (at most 64) random bytes as 2 * nbytes lower-case hex
 * digits and a NUL into out, which holds outsz bytes.  Returns AUTH_OK,
 * AUTH_ERR_INVALID if out is too small, or AUTH_ERR_CRYPTO.
 */
enum auth_status
rng_hex(char *out, size_t outsz, size_t nbytes)
{
	unsigned char		 buf[64];
	enum auth_status	 rc;

	if (outsz == 0)
		return AUTH_ERR_INVALID;
	out[0] = '\0';
	if (nbytes > sizeof(buf) || outsz < 2 * nbytes + 1)
		return AUTH_ERR_INVALID;
	if ((rc = rng_bytes(buf, nbytes)) == AUTH_OK)
		rc = rng_hex_encode(buf, nbytes, out, outsz);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/*
 * Set *out to a uniformly distributed integer in [0, bound), bound > 0,
 * by rejection sampling: 32-bit draws at or above the largest multiple
 * of bound are discarded, so no value is more likely than another (the
 * modulo bias of a plain "% bound").  Returns AUTH_OK, AUTH_ERR_INVALID
 * or AUTH_ERR_CRYPTO.
 */
enum auth_status
rng_uniform(unsigned int bound, unsigned int *out)
{
	unsigned int		 limit, v;
	enum auth_status	 rc;

	*out = 0;
	if (bound == 0)
		return AUTH_ERR_INVALID;
	/* The largest multiple of bound that fits: 2^32 - (2^32 % bound). */
	limit = UINT_MAX - (unsigned int)(((unsigned long long)UINT_MAX + 1) %
	    bound) + 1;
	for (;;) {
		if ((rc = rng_bytes(&v, sizeof(v))) != AUTH_OK)
			return rc;
		/* limit wraps to 0 when bound divides 2^32: take any. */
		if (limit == 0 || v < limit)
			break;
	}
	*out = v % bound;
	return AUTH_OK;
}
