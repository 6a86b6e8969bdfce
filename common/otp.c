/* SPDX-License-Identifier: ISC */
/*
 * One-time codes.  A code is 6 digits.  The database never holds a code:
 * passwordresettoken.otp holds
 *	hex(HMAC-SHA256(key, "collab-auth-otp:" user_id ":" code))
 * and the mail queue (auth_mail_queue.nonce) a random nonce from which
 * the code is derived when the mail is built:
 *	code = uniform 6 digits from
 *	    HMAC-SHA256(mailkey, "collab-auth-code:" user_id ":" message_id ":"
 *	    nonce ":" counter)
 * where key is OTP_SECRET_KEY (hashed down to 32 bytes) or, when that is
 * unset, one derived from JWT_SECRET_KEY, and mailkey is derived from key.
 * Someone who reads the database cannot try the million codes against a
 * digest, nor turn a nonce into a code, without the key, and a digest or
 * a nonce is bound to its account (and the nonce to its queue row).  The keys are derived on
 * first use, so a request that needs no code costs nothing here.
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
#define OTP_CODE_SPACE	1000000U	/* 10^OTP_DIGITS */
/* The largest multiple of OTP_CODE_SPACE below 2^32: 4294 * 10^6. */
#define OTP_CODE_LIMIT	4294000000U

static const struct cfg	*otp_cfg;	/* where the keys come from */
static unsigned char	 otp_key[OTP_KEY_LEN];	/* the digest key */
static unsigned char	 otp_mail_key[OTP_KEY_LEN]; /* the nonce key */
static int		 otp_ready;	/* both keys derived */

/*
 * Derive both keys from the configuration otp_init() named, unless done
 * already.  Returns AUTH_OK, AUTH_ERR_INVALID (no configuration) or
 * AUTH_ERR_CRYPTO.
 */
static enum auth_status
otp_keys(void)
{
	static const char	 label[] = "collab-auth one-time code key v1";
	static const char	 mlabel[] = "collab-auth mail code key v1";
	unsigned int		 len = 0, mlen = 0;
	const struct cfg	*cfg = otp_cfg;

	if (otp_ready)
		return AUTH_OK;
	if (cfg == NULL)
		return AUTH_ERR_INVALID;
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
	if (len != OTP_KEY_LEN ||
	    HMAC(EVP_sha256(), otp_key, OTP_KEY_LEN,
	    (const unsigned char *)mlabel, sizeof(mlabel) - 1, otp_mail_key,
	    &mlen) == NULL || mlen != OTP_KEY_LEN) {
		otp_clear();
		otp_cfg = cfg;
		return AUTH_ERR_CRYPTO;
	}
	otp_ready = 1;
	return AUTH_OK;
}

/*
 * Name the configuration whose OTP_SECRET_KEY (or JWT_SECRET_KEY) the
 * keys come from; cfg must outlive their use.  The keys themselves are
 * derived when first needed; naming the same configuration again keeps
 * them (otp_clear() first to re-read it).  Returns AUTH_OK.
 */
enum auth_status
otp_init(const struct cfg *cfg)
{

	if (cfg == otp_cfg)
		return AUTH_OK;
	otp_clear();
	otp_cfg = cfg;
	return AUTH_OK;
}

/*
 * Wipe the keys and forget the configuration.
 */
void
otp_clear(void)
{

	OPENSSL_cleanse(otp_key, sizeof(otp_key));
	OPENSSL_cleanse(otp_mail_key, sizeof(otp_mail_key));
	otp_ready = 0;
	otp_cfg = NULL;
}

/*
 * Write the code of account user_id, mail queue row message_id and nonce
 * (a string of at most 64 bytes) and a NUL into out (outsz >
 * OTP_DIGITS): OTP_DIGITS decimal digits, uniform from 000000 to 999999,
 * taken by rejection from HMACs under the mail key (see above).  The same
 * inputs always give the same code.  Returns AUTH_OK, AUTH_ERR_INVALID
 * (no key configured, no room, a long nonce) or AUTH_ERR_CRYPTO.
 */
enum auth_status
otp_code_from_nonce(long long user_id, long long message_id,
    const char *nonce, char *out, size_t outsz)
{
	unsigned char		 md[EVP_MAX_MD_SIZE], msg[160];
	unsigned int		 mdlen = 0, v, counter, i;
	enum auth_status	 rc = AUTH_ERR_INVALID;
	int			 n;

	if (outsz == 0)
		return AUTH_ERR_INVALID;
	out[0] = '\0';
	if (outsz <= OTP_DIGITS || strlen(nonce) > 64)
		return AUTH_ERR_INVALID;
	if ((rc = otp_keys()) != AUTH_OK)
		return rc;
	rc = AUTH_ERR_CRYPTO;
	/* Each HMAC gives 8 tries; all 8 fail with probability 1e-29. */
	for (counter = 0; counter < 16 && out[0] == '\0'; counter++) {
		n = snprintf((char *)msg, sizeof(msg),
		    "collab-auth-code:%lld:%lld:%s:%u", user_id, message_id,
		    nonce, counter);
		if (n < 0 || (size_t)n >= sizeof(msg))
			goto out;
		if (HMAC(EVP_sha256(), otp_mail_key, OTP_KEY_LEN, msg,
		    (size_t)n, md, &mdlen) == NULL || mdlen < 32)
			goto out;
		for (i = 0; i + 4 <= mdlen; i += 4) {
			v = (unsigned int)md[i] << 24 |
			    (unsigned int)md[i + 1] << 16 |
			    (unsigned int)md[i + 2] << 8 | md[i + 3];
			if (v < OTP_CODE_LIMIT) {
				(void)snprintf(out, outsz, "%06u",
				    v % OTP_CODE_SPACE);
				break;
			}
		}
	}
	if (out[0] != '\0')
		rc = AUTH_OK;
out:
	v = 0;
	OPENSSL_cleanse(msg, sizeof(msg));
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
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
	unsigned char		 md[EVP_MAX_MD_SIZE], msg[128];
	unsigned int		 mdlen = 0;
	enum auth_status	 rc;
	int			 n;

	if (outsz == 0)
		return AUTH_ERR_INVALID;
	out[0] = '\0';
	if (outsz <= OTP_DIGEST_HEX || len > 64 || otp_keys() != AUTH_OK)
		return AUTH_ERR_INVALID;
	n = snprintf((char *)msg, sizeof(msg), "collab-auth-otp:%lld:",
	    user_id);
	if (n < 0 || (size_t)n + len > sizeof(msg))
		return AUTH_ERR_INVALID;
	memcpy(msg + n, code, len);
	if (HMAC(EVP_sha256(), otp_key, OTP_KEY_LEN, msg, (size_t)n + len,
	    md, &mdlen) == NULL || mdlen * 2 != OTP_DIGEST_HEX) {
		OPENSSL_cleanse(msg, sizeof(msg));
		return AUTH_ERR_CRYPTO;
	}
	rc = rng_hex_encode(md, mdlen, out, outsz);
	OPENSSL_cleanse(msg, sizeof(msg));
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
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
