/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for common/jwt.c.  The first input byte picks what to
 * do with the rest:
 *   bit 0 clear: the rest is a token, given to jwt_verify() as it is;
 *   bit 0 set:   the rest is "header.payload", signed here with the
 *                fuzzing key before jwt_verify() sees it, so that the
 *                fuzzer gets past the signature to the claim checks;
 *   bit 1:       the type asked for, access or refresh.
 * The rest is also given to jwt_b64url_decode(), and what decodes must
 * encode back to exactly the same text (strict base64url has a single
 * encoding for each byte string); and the raw bytes must survive an
 * encode and decode.  A token that verifies must survive jwt_sign() and
 * verify again with the same claims.  Any broken property aborts.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"

#define FUZZ_MAX	(2 * JWT_MAX)	/* longer inputs are ignored */
#define FUZZ_B64_MAX	(FUZZ_MAX / 3 * 4 + 4)
#define FUZZ_NOW	1700000100LL

/* 40 bytes; the seed corpus tokens are signed with it. */
static const char fuzz_key[] = "fuzz-jwt-key-0123456789abcdefghijklmnopq";

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Check the codec on the n bytes at in: as text, a successful decode
 * encodes back to the same text; as bytes, an encode decodes back.
 */
static void
fuzz_b64(const uint8_t *in, size_t n)
{
	static unsigned char	 dec[FUZZ_MAX];
	static char		 enc[FUZZ_B64_MAX + 1];
	size_t			 len, m;

	if (jwt_b64url_decode((const char *)in, n, dec, sizeof(dec),
	    &len) == 0) {
		m = jwt_b64url_encode(dec, len, enc, sizeof(enc));
		if (m != n || memcmp(enc, in, n) != 0)
			abort();
	}
	if (n == 0)
		return;
	if ((m = jwt_b64url_encode(in, n, enc, sizeof(enc))) == 0 ||
	    strlen(enc) != m)
		abort();
	if (jwt_b64url_decode(enc, m, dec, sizeof(dec), &len) != 0 ||
	    len != n || memcmp(dec, in, n) != 0)
		abort();
}

/*
 * A token that verified: its claims must make a token of ours that
 * verifies with the same claims.
 */
static void
fuzz_resign(const struct jwt_claims *c, enum jwt_type want)
{
	struct jwt_claims	 c2;
	char			 tok[JWT_MAX + 1];

	if (jwt_sign((const unsigned char *)fuzz_key, sizeof(fuzz_key) - 1,
	    c, tok, sizeof(tok)) != AUTH_OK)
		abort();
	if (jwt_verify((const unsigned char *)fuzz_key, sizeof(fuzz_key) - 1,
	    tok, strlen(tok), want, FUZZ_NOW, &c2) != AUTH_OK)
		abort();
	if (c2.type != c->type || c2.sub != c->sub || c2.iat != c->iat ||
	    c2.exp != c->exp || strcmp(c2.sid, c->sid) != 0 ||
	    strcmp(c2.jti, c->jti) != 0)
		abort();
}

/*
 * The libFuzzer entry point.  Always returns 0.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt_claims	 c;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	char			*buf = NULL, sig[FUZZ_B64_MAX + 1];
	const char		*t;
	size_t			 n, len, m;
	enum jwt_type		 want;

	if (size < 1 || size > FUZZ_MAX)
		return 0;
	want = (data[0] & 2) ? JWT_REFRESH : JWT_ACCESS;
	n = size - 1;
	fuzz_b64(data + 1, n);

	if (data[0] & 1) {
		/* Sign the rest as "header.payload". */
		if (HMAC(EVP_sha256(), fuzz_key, (int)sizeof(fuzz_key) - 1,
		    data + 1, n, md, &mdlen) == NULL ||
		    (m = jwt_b64url_encode(md, mdlen, sig, sizeof(sig))) == 0)
			abort();
		/* Exactly len bytes: a read past them is a heap overflow. */
		len = n + 1 + m;
		if ((buf = malloc(len)) == NULL)
			return 0;
		memcpy(buf, data + 1, n);
		buf[n] = '.';
		memcpy(buf + n + 1, sig, m);
		t = buf;
	} else {
		/* libFuzzer's own buffer ends right after the input. */
		t = (const char *)data + 1;
		len = n;
	}

	if (jwt_verify((const unsigned char *)fuzz_key, sizeof(fuzz_key) - 1,
	    t, len, want, FUZZ_NOW, &c) == AUTH_OK) {
		if (c.type != want || c.sub < 1 ||
		    jwt_hs256_check((const unsigned char *)fuzz_key,
		    sizeof(fuzz_key) - 1, t, len) != 1)
			abort();
		fuzz_resign(&c, want);
	}
	free(buf);
	return 0;
}
