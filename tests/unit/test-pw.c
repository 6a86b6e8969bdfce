/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/pw.c: hashing round trips, hashes made by the
 * Python service's bcrypt, and stored strings that must never verify.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crypt.h>

#include "pw.h"
#include "status.h"
#include "tap.h"

/*
 * Made with python3-bcrypt 3.2.2:
 * bcrypt.hashpw(b"correct horse battery", bcrypt.gensalt(12))
 */
#define FIXTURE_PW	"correct horse battery"
#define FIXTURE_HASH \
	"$2b$12$3zk4PYG2.W2tW8ObLzwFH.Y0HZEHggb.uOrBxogRzkzYGfxioYUMO"

#define X8		"abcdefgh"
#define X64		X8 X8 X8 X8 X8 X8 X8 X8
#define PW_72		X64 "k7#Qm2vX"

struct malformed {
	const char	*what;
	size_t		 pos;	/* byte of FIXTURE_HASH to replace ... */
	const char	*with;	/* ... by these, or NULL to cut there */
};

/* Each is FIXTURE_HASH changed in one place, so only that place is bad. */
static const struct malformed malformeds[] = {
	{ "59 bytes", 59, NULL },
	{ "61 bytes", 60, "O" },
	{ "prefix $2x$", 2, "x" },
	{ "prefix $2c$", 2, "c" },
	{ "prefix $3b$", 1, "3" },
	{ "cost 3x", 4, "3x" },
	{ "cost 03", 4, "03" },
	{ "cost 32", 4, "32" },
	{ "cost 1", 4, "1$" },
	{ "no $ after cost", 6, "x" },
	{ "'!' in salt", 10, "!" },
	{ "'=' at end", 59, "=" },
	{ "'+' in hash", 40, "+" },
	{ NULL, 0, NULL }
};

static struct crypt_data test_cd;

/*
 * Hash phrase with setting straight through libxcrypt into buf, as some
 * other system might have stored it; buf is "" if libxcrypt refused.
 */
static void
mkcrypt(const char *phrase, const char *setting, char *buf, size_t bufsz)
{
	const char	*h;

	memset(&test_cd, 0, sizeof(test_cd));
	h = crypt_rn(phrase, setting, &test_cd, (int)sizeof(test_cd));
	if (h == NULL || h[0] == '*' || strlen(h) >= bufsz)
		buf[0] = '\0';
	else
		memcpy(buf, h, strlen(h) + 1);
}

static void
test_roundtrip(void)
{
	char			 h1[PW_HASH_MAX], h2[PW_HASH_MAX];
	enum auth_status	 rc;

	rc = pw_hash("hunter2-but-longer", 10, h1, sizeof(h1));
	tap_ok(rc == AUTH_OK, "pw_hash cost 10: %s", auth_strerror(rc));
	tap_ok(strlen(h1) == 60 && strncmp(h1, "$2b$10$", 7) == 0,
	    "hash is $2b$10$ and 60 bytes: %s", h1);
	tap_ok(pw_verify("hunter2-but-longer", h1) == 1, "right password");
	tap_ok(pw_verify("hunter2-but-longeR", h1) == 0, "wrong password");
	tap_ok(pw_verify("", h1) == 0, "empty password");
	tap_ok(pw_verify(NULL, h1) == 0, "NULL password");
	tap_ok(pw_cost(h1) == 10, "pw_cost is 10");

	rc = pw_hash("hunter2-but-longer", 4, h2, sizeof(h2));
	tap_ok(rc == AUTH_OK && strncmp(h2, "$2b$04$", 7) == 0 &&
	    pw_cost(h2) == 4, "pw_hash cost 4: %s", h2);
	tap_ok(strncmp(h1 + 7, h2 + 7, 22) != 0, "fresh salt each time");
	tap_ok(pw_verify("hunter2-but-longer", h2) == 1, "cost 4 verifies");
}

static void
test_refusals(void)
{
	char			 h[PW_HASH_MAX];
	enum auth_status	 rc;
	static const long	 bad[] = { -1, 0, 3, 32, 100 };
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(h, "stale", sizeof("stale"));
		rc = pw_hash("hunter2-but-longer", bad[i], h, sizeof(h));
		tap_ok(rc == AUTH_ERR_INVALID && h[0] == '\0',
		    "rounds %ld refused: %s", bad[i], auth_strerror(rc));
	}
	memcpy(h, "stale", sizeof("stale"));
	rc = pw_hash(NULL, 4, h, sizeof(h));
	tap_ok(rc == AUTH_ERR_INVALID && h[0] == '\0', "NULL password refused");

	/* 60 bytes and the NUL need 61. */
	memcpy(h, "stale", sizeof("stale"));
	rc = pw_hash("hunter2-but-longer", 4, h, 60);
	tap_ok(rc == AUTH_ERR_CRYPTO && h[0] == '\0', "outsz 60 too small");
	rc = pw_hash("hunter2-but-longer", 4, h, 61);
	tap_ok(rc == AUTH_OK && strlen(h) == 60, "outsz 61 is enough");
}

static void
test_fixture(void)
{
	char	 h[sizeof(FIXTURE_HASH)];

	tap_ok(pw_verify(FIXTURE_PW, FIXTURE_HASH) == 1,
	    "python bcrypt hash verifies");
	tap_ok(pw_verify("correct horse battery ", FIXTURE_HASH) == 0,
	    "python bcrypt hash, wrong password");
	tap_ok(pw_verify("Correct horse battery", FIXTURE_HASH) == 0,
	    "python bcrypt hash, case matters");
	tap_ok(pw_cost(FIXTURE_HASH) == 12, "python bcrypt hash cost 12");

	memcpy(h, FIXTURE_HASH, sizeof(h));
	h[2] = 'a';
	tap_ok(pw_verify(FIXTURE_PW, h) == 1 && pw_cost(h) == 12,
	    "$2a$ variant verifies");
	tap_ok(pw_verify("wrong", h) == 0, "$2a$ variant, wrong password");
	h[2] = 'y';
	tap_ok(pw_verify(FIXTURE_PW, h) == 1 && pw_cost(h) == 12,
	    "$2y$ variant verifies");
	tap_ok(pw_verify("wrong", h) == 0, "$2y$ variant, wrong password");
}

static void
test_foreign(void)
{
	char	 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	char	 h[CRYPT_OUTPUT_SIZE];

	/* crypt(3) with a two-character salt is traditional DES. */
	mkcrypt("pw", "ab", h, sizeof(h));
	tap_ok(strlen(h) == 13, "DES hash made: %s", h);
	tap_ok(pw_verify("pw", h) == 0 && pw_cost(h) == -1,
	    "DES hash of the right password refused");

	mkcrypt(FIXTURE_PW, "$1$saltsalt$", h, sizeof(h));
	tap_ok(strncmp(h, "$1$", 3) == 0, "md5crypt hash made: %s", h);
	tap_ok(pw_verify(FIXTURE_PW, h) == 0 && pw_cost(h) == -1,
	    "md5crypt hash of the right password refused");

	/* A 13-character salt makes this exactly 60 bytes, like bcrypt. */
	mkcrypt(FIXTURE_PW, "$5$abcdefghijklm$", h, sizeof(h));
	tap_ok(strncmp(h, "$5$", 3) == 0 && strlen(h) == 60,
	    "60-byte sha256crypt hash made: %s", h);
	tap_ok(pw_verify(FIXTURE_PW, h) == 0 && pw_cost(h) == -1,
	    "sha256crypt hash of the right password refused");

	mkcrypt(FIXTURE_PW, "$6$saltsalt$", h, sizeof(h));
	tap_ok(strncmp(h, "$6$", 3) == 0, "sha512crypt hash made");
	tap_ok(pw_verify(FIXTURE_PW, h) == 0 && pw_cost(h) == -1,
	    "sha512crypt hash of the right password refused");

	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting,
	    (int)sizeof(setting)) == NULL)
		setting[0] = '\0';
	mkcrypt(FIXTURE_PW, setting, h, sizeof(h));
	tap_ok(strncmp(h, "$y$", 3) == 0, "yescrypt hash made: %s", h);
	tap_ok(pw_verify(FIXTURE_PW, h) == 0 && pw_cost(h) == -1,
	    "yescrypt hash of the right password refused");

	tap_ok(pw_verify("", "") == 0 && pw_cost("") == -1, "empty refused");
	tap_ok(pw_verify(FIXTURE_PW, "*0") == 0 && pw_cost("*0") == -1,
	    "*0 refused");
	tap_ok(pw_verify(FIXTURE_PW, "*") == 0 && pw_cost("*") == -1,
	    "* refused");
	tap_ok(pw_verify(FIXTURE_PW, NULL) == 0 && pw_cost(NULL) == -1,
	    "NULL refused");
}

static void
test_malformed(void)
{
	const struct malformed	*m;
	char			 h[sizeof(FIXTURE_HASH) + 8];
	size_t			 i;

	for (i = 0; malformeds[i].what != NULL; i++) {
		m = &malformeds[i];
		memset(h, 0, sizeof(h));
		memcpy(h, FIXTURE_HASH, sizeof(FIXTURE_HASH));
		if (m->with == NULL)
			h[m->pos] = '\0';
		else
			memcpy(h + m->pos, m->with, strlen(m->with));
		/* pw_cost first: verifying "cost 32" would never end. */
		if (pw_cost(h) != -1) {
			tap_ok(0, "malformed %s: pw_cost %d", m->what,
			    pw_cost(h));
			continue;
		}
		tap_ok(pw_verify(FIXTURE_PW, h) == 0, "malformed %s: %s",
		    m->what, h);
	}

	/* The format check does not stop at cost 31 ... */
	memcpy(h, FIXTURE_HASH, sizeof(FIXTURE_HASH));
	memcpy(h + 4, "31", 2);
	tap_ok(pw_cost(h) == 31, "cost 31 is well-formed");
	/* ... nor at 04. */
	memcpy(h + 4, "04", 2);
	tap_ok(pw_cost(h) == 4, "cost 04 is well-formed");
}

static void
test_long(void)
{
	char			 h[PW_HASH_MAX], raw[CRYPT_OUTPUT_SIZE];
	enum auth_status	 rc;

	tap_ok(strlen(PW_72) == 72, "fixture PW_72 is 72 bytes");
	rc = pw_hash(PW_72, 4, h, sizeof(h));
	tap_ok(rc == AUTH_OK, "72-byte password hashed");
	tap_ok(pw_verify(PW_72, h) == 1, "72-byte password verifies");

	/* libxcrypt alone would accept the longer password ... */
	mkcrypt(PW_72 "x", h, raw, sizeof(raw));
	tap_ok(strcmp(raw, h) == 0,
	    "libxcrypt cuts a 73-byte password to 72 (why we check)");
	/* ... pw_verify never does. */
	tap_ok(pw_verify(PW_72 "x", h) == 0,
	    "73-byte password does not verify against its first 72 bytes");
	memcpy(raw, "stale", sizeof("stale"));
	rc = pw_hash(PW_72 "x", 4, raw, sizeof(raw));
	tap_ok(rc == AUTH_ERR_INVALID && raw[0] == '\0',
	    "73-byte password not hashed");
}

/* CPU seconds pw_check() takes on password against stored at cost. */
static double
check_time(const char *password, const char *stored, long cost, int *ok)
{
	struct timespec	 a, b;

	(void)clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	*ok = pw_check(password, stored, cost);
	(void)clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	return (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * pw_check(): the answer, and a failure's cost whatever the account.
 * Costs are compared as CPU time of this process, medians of
 * interleaved runs: never as absolute times.
 */
static void
test_check(void)
{
	char		 h6[PW_HASH_MAX], h9[PW_HASH_MAX];
	double		 unknown[7], cheap[7], same[7], right[7], r1, r2, r3;
	int		 i, ok, bad = 0;

	tap_ok(pw_hash("right-password-1", 6, h6, sizeof(h6)) == AUTH_OK &&
	    pw_hash("right-password-1", 9, h9, sizeof(h9)) == AUTH_OK,
	    "hashes at cost 6 and 9");
	tap_ok(pw_check("right-password-1", h6, 9) == 1 &&
	    pw_check("right-password-1", h9, 9) == 1 &&
	    pw_check("right-password-1", FIXTURE_HASH, 4) == 0 &&
	    pw_check(FIXTURE_PW, FIXTURE_HASH, 4) == 1,
	    "pw_check: the right password matches at any stored cost");
	tap_ok(pw_check("wrong-password-1", h6, 9) == 0 &&
	    pw_check("right-password-1", NULL, 9) == 0 &&
	    pw_check("right-password-1", "*", 9) == 0 &&
	    pw_check("", h6, 9) == 0,
	    "pw_check: a wrong password, no account, \"*\" fail");
	for (i = 0; i < 7; i++) {
		unknown[i] = check_time("wrong-password-1", NULL, 9, &ok);
		bad += ok;
		cheap[i] = check_time("wrong-password-1", h6, 9, &ok);
		bad += ok;
		same[i] = check_time("wrong-password-1", h9, 9, &ok);
		bad += ok;
		right[i] = check_time("right-password-1", h6, 9, &ok);
		bad += !ok;
	}
	qsort(unknown, 7, sizeof(double), cmp_double);
	qsort(cheap, 7, sizeof(double), cmp_double);
	qsort(same, 7, sizeof(double), cmp_double);
	qsort(right, 7, sizeof(double), cmp_double);
	r1 = cheap[3] / unknown[3];
	r2 = same[3] / unknown[3];
	r3 = right[3] / unknown[3];
	tap_ok(bad == 0, "timed checks gave the right answers");
	tap_ok(r1 > 0.8 && r1 < 1.25, "a failure against a cost-6 hash costs "
	    "what one for no account does at cost 9 (CPU ratio %.2f)", r1);
	tap_ok(r2 > 0.8 && r2 < 1.25, "a failure against a cost-9 hash too "
	    "(CPU ratio %.2f)", r2);
	tap_ok(r3 < 0.5, "a success against a cost-6 hash costs only its "
	    "check (CPU ratio %.2f)", r3);
}

int
main(void)
{

	test_check();
	test_roundtrip();
	test_refusals();
	test_fixture();
	test_foreign();
	test_malformed();
	test_long();
	return tap_done();
}
