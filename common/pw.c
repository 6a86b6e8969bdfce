/* SPDX-License-Identifier: ISC */
/*
 * Password hashing and checking with bcrypt through libxcrypt (crypt(5)).
 * New hashes are always "$2b$"; "$2a$" and "$2y$" rows left by the older
 * Python service still verify.  A stored string must look like bcrypt
 * before libxcrypt sees it, so that a DES, MD5, SHA-crypt or yescrypt row,
 * or a "*" placeholder, can never be matched.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <crypt.h>
#include <openssl/crypto.h>

#include "pw.h"

#define PW_BCRYPT_LEN		60	/* "$2b$NN$", 22 salt, 31 hash */
#define PW_BCRYPT_PREFIX_LEN	4	/* "$2b$" */
#define PW_BCRYPT_KEY_MAX	72	/* crypt(5): no more is read */
#define PW_BCRYPT_COST_MIN	4
#define PW_BCRYPT_COST_MAX	31

/*
 * libxcrypt's scratch space, about 32 KiB: too big for a worker's stack,
 * and the programs are single-threaded.  It holds state derived from the
 * password, so it is zeroed before and wiped after every use.
 */
static struct crypt_data pw_data;

/*
 * Return 1 if c is in bcrypt's base64 alphabet, else 0.
 */
static int
pw_b64(unsigned char c)
{

	return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * Return the cost of stored if it is exactly a bcrypt hash: 60 bytes,
 * "$2a$", "$2b$" or "$2y$", a two-digit cost from 04 to 31, "$", then 53
 * characters of bcrypt's base64.  Otherwise return -1.
 */
static int
pw_parse(const char *stored)
{
	size_t	 i;
	int	 cost;

	if (stored == NULL || strlen(stored) != PW_BCRYPT_LEN)
		return -1;
	if (strncmp(stored, "$2a$", PW_BCRYPT_PREFIX_LEN) != 0 &&
	    strncmp(stored, "$2b$", PW_BCRYPT_PREFIX_LEN) != 0 &&
	    strncmp(stored, "$2y$", PW_BCRYPT_PREFIX_LEN) != 0)
		return -1;
	if (stored[4] < '0' || stored[4] > '9' ||
	    stored[5] < '0' || stored[5] > '9' || stored[6] != '$')
		return -1;
	cost = (stored[4] - '0') * 10 + (stored[5] - '0');
	if (cost < PW_BCRYPT_COST_MIN || cost > PW_BCRYPT_COST_MAX)
		return -1;
	for (i = 7; i < PW_BCRYPT_LEN; i++)
		if (!pw_b64((unsigned char)stored[i]))
			return -1;
	return cost;
}

/*
 * Hash password with bcrypt ("$2b$") at cost rounds (4 to 31; each step
 * doubles the work) and a fresh salt from the operating system's random
 * source, and write the 60-byte hash NUL-terminated to out (outsz bytes;
 * PW_HASH_MAX is enough).  Returns AUTH_OK, AUTH_ERR_INVALID for a NULL
 * argument, a cost out of range or a password longer than 72 bytes
 * (refused rather than cut, as bcrypt would do), or AUTH_ERR_CRYPTO if
 * libxcrypt fails or out is too small.  On failure out holds "".
 */
enum auth_status
pw_hash(const char *password, long rounds, char *out, size_t outsz)
{
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*h;
	size_t			 hlen;
	enum auth_status	 rc = AUTH_ERR_CRYPTO;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (password == NULL || out == NULL || outsz == 0 ||
	    rounds < PW_BCRYPT_COST_MIN || rounds > PW_BCRYPT_COST_MAX ||
	    strlen(password) > PW_BCRYPT_KEY_MAX)
		return AUTH_ERR_INVALID;

	memset(&pw_data, 0, sizeof(pw_data));
	if (crypt_gensalt_rn("$2b$", (unsigned long)rounds, NULL, 0,
	    setting, (int)sizeof(setting)) == NULL || setting[0] == '*')
		goto out;
	h = crypt_rn(password, setting, &pw_data, (int)sizeof(pw_data));
	if (h == NULL || h[0] == '*')
		goto out;
	/* Never hand out something pw_verify() would not accept. */
	if (pw_parse(h) != rounds)
		goto out;
	if ((hlen = strlen(h)) > outsz - 1)
		goto out;
	memcpy(out, h, hlen + 1);
	rc = AUTH_OK;
out:
	OPENSSL_cleanse(&pw_data, sizeof(pw_data));
	return rc;
}

/*
 * Return 1 if password matches the stored bcrypt hash, else 0.  A stored
 * string that is not a well-formed "$2a$", "$2b$" or "$2y$" hash never
 * matches, nor does a password longer than 72 bytes: bcrypt would ignore
 * its tail.  The hashes are compared in constant time.
 */
int
pw_verify(const char *password, const char *stored)
{
	const char	*h;
	int		 ok = 0;

	if (password == NULL || pw_parse(stored) == -1 ||
	    strlen(password) > PW_BCRYPT_KEY_MAX)
		return 0;

	memset(&pw_data, 0, sizeof(pw_data));
	h = crypt_rn(password, stored, &pw_data, (int)sizeof(pw_data));
	if (h == NULL || h[0] == '*')
		goto out;
	if (strlen(h) != PW_BCRYPT_LEN)
		goto out;
	ok = CRYPTO_memcmp(h, stored, PW_BCRYPT_LEN) == 0;
out:
	OPENSSL_cleanse(&pw_data, sizeof(pw_data));
	return ok;
}

/*
 * Spend on password the bcrypt work of one check at cost, as pw_verify()
 * would (a password it would not hash costs nothing there, and nothing
 * here), against a hash that no password matches: a fixed salt, and a
 * hash whose last character has bits set that bcrypt's never has (its
 * 184 bits leave the last of 31 characters two low bits of zero; "z" has
 * them set).  Nothing in it is secret: it only stands in for an account,
 * so that a failure costs what a check against a real hash would.
 */
static void
pw_spend(const char *password, int cost)
{
	char	 dummy[PW_BCRYPT_LEN + 1];
	int	 n;

	n = snprintf(dummy, sizeof(dummy), "$2b$%02d$%s", cost,
	    "abcdefghijklmnopqrstuu" "0123456789ABCDEFGHIJKLMNOPQRSTz");
	if (n == PW_BCRYPT_LEN)
		(void)pw_verify(password, dummy);
}

/*
 * Check password against stored, the hash of an account (NULL: there is
 * no such account), and return 1 if it matches, else 0; in either case
 * after at least the bcrypt work of one check at cost (BCRYPT_ROUNDS).
 * A check fails in the same time whatever the account: unknown (no
 * hash), unusable (not bcrypt: "!", "*", DES), or hashed at a lower cost
 * before BCRYPT_ROUNDS was raised.  For that last one the difference is
 * spent on dummy checks at the costs between, since 2^c + 2^c + 2^(c+1) +
 * ... + 2^(cost-1) = 2^cost.  A success costs the check alone: the
 * caller rehashes at cost after it.  A hash costlier than cost is
 * checked at its own cost: such an account fails more slowly than an
 * unknown one (README: BCRYPT_ROUNDS should not be lowered).
 */
int
pw_check(const char *password, const char *stored, long cost)
{
	int	 have, c;

	if (cost < PW_BCRYPT_COST_MIN || cost > PW_BCRYPT_COST_MAX)
		cost = PW_BCRYPT_COST_MIN;
	if ((have = pw_parse(stored)) == -1) {
		pw_spend(password, (int)cost);
		return 0;
	}
	if (pw_verify(password, stored))
		return 1;
	for (c = have; c < cost; c++)
		pw_spend(password, c);
	return 0;
}

/*
 * Return the cost (4 to 31) of the stored bcrypt hash, or -1 if stored
 * is not a well-formed "$2a$", "$2b$" or "$2y$" hash.  A caller compares
 * it with the configured cost to decide whether to rehash after login.
 */
int
pw_cost(const char *stored)
{

	return pw_parse(stored);
}
