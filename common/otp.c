/* SPDX-License-Identifier: ISC */
/*
 * One-time codes.  A code is 6 digits drawn without modulo bias.  The
 * database never holds a code: passwordresettoken.otp holds
 *	hex(HMAC-SHA256(key, "collab-auth-otp:" user_id ":" code))
 * where key is OTP_SECRET_KEY, or, when that is unset, one derived from
 * JWT_SECRET_KEY.  Someone who reads the database cannot try the million
 * codes offline without the key, and a digest is bound to its account.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cfg.h"
#include "log.h"
#include "otp.h"
#include "rng.h"

#define OTP_KEY_LEN	32

static unsigned char	 otp_key[OTP_KEY_LEN];
static size_t		 otp_key_len;

/*
 * Set the HMAC key from the configuration, once per process.  Returns
 * AUTH_OK or AUTH_ERR_CRYPTO.
 */
enum auth_status
otp_init(const struct cfg *cfg)
{
	static const char	 label[] = "collab-auth one-time code key v1";
	unsigned int		 len = 0;

	otp_clear();
	if (cfg->otp_secret_key != NULL) {
		/* A long key is hashed down, as HMAC would do itself. */
		if (EVP_Digest(cfg->otp_secret_key,
		    strlen(cfg->otp_secret_key), otp_key, &len, EVP_sha256(),
		    NULL) != 1)
			return AUTH_ERR_CRYPTO;
	} else if (HMAC(EVP_sha256(), cfg->jwt_secret_key,
	    (int)cfg->jwt_secret_len, (const unsigned char *)label,
	    sizeof(label) - 1, otp_key, &len) == NULL)
		return AUTH_ERR_CRYPTO;
	if (len != OTP_KEY_LEN)
		return AUTH_ERR_CRYPTO;
	otp_key_len = len;
	return AUTH_OK;
}

/*
 * Wipe the key.
 */
void
otp_clear(void)
{

	OPENSSL_cleanse(otp_key, sizeof(otp_key));
	otp_key_len = 0;
}

/*
 * Write a new code of OTP_DIGITS decimal digits and a NUL into out
 * (outsz > OTP_DIGITS), uniformly from 000000 to 999999.
 */
enum auth_status
otp_generate(char *out, size_t outsz)
{
	unsigned int		 v;
	enum auth_status	 rc;

	if (outsz <= OTP_DIGITS)
		return AUTH_ERR_INVALID;
	out[0] = '\0';
	if ((rc = rng_uniform(1000000, &v)) != AUTH_OK)
		return rc;
	(void)snprintf(out, outsz, "%06u", v);
	v = 0;
	return AUTH_OK;
}

/*
 * Write the hex digest of code (len bytes) for account user_id and a
 * NUL into out (outsz > OTP_DIGEST_HEX).  Returns AUTH_OK,
 * AUTH_ERR_INVALID (no key yet, or no room) or AUTH_ERR_CRYPTO.
 */
enum auth_status
otp_digest(long long user_id, const char *code, size_t len, char *out,
    size_t outsz)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE], msg[128];
	unsigned int		 mdlen = 0, i;
	int			 n;

	if (outsz == 0)
		return AUTH_ERR_INVALID;
	out[0] = '\0';
	if (otp_key_len == 0 || outsz <= OTP_DIGEST_HEX || len > 64)
		return AUTH_ERR_INVALID;
	n = snprintf((char *)msg, sizeof(msg), "collab-auth-otp:%lld:",
	    user_id);
	if (n < 0 || (size_t)n + len > sizeof(msg))
		return AUTH_ERR_INVALID;
	memcpy(msg + n, code, len);
	if (HMAC(EVP_sha256(), otp_key, (int)otp_key_len, msg, (size_t)n + len,
	    md, &mdlen) == NULL || mdlen * 2 != OTP_DIGEST_HEX) {
		OPENSSL_cleanse(msg, sizeof(msg));
		return AUTH_ERR_CRYPTO;
	}
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[2 * mdlen] = '\0';
	OPENSSL_cleanse(msg, sizeof(msg));
	OPENSSL_cleanse(md, sizeof(md));
	return AUTH_OK;
}

/*
 * Return 1 if code (len bytes, as the client sent it) is the one whose
 * digest for user_id is stored, comparing in constant time; else 0.
 */
int
otp_matches(long long user_id, const char *code, size_t len,
    const char *stored)
{
	char	 d[OTP_DIGEST_HEX + 1];
	int	 ok;

	if (strlen(stored) != OTP_DIGEST_HEX ||
	    otp_digest(user_id, code, len, d, sizeof(d)) != AUTH_OK)
		return 0;
	ok = CRYPTO_memcmp(d, stored, OTP_DIGEST_HEX) == 0;
	OPENSSL_cleanse(d, sizeof(d));
	return ok;
}
