/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/jwt.c: the strict base64url codec (RFC 4648
 * vectors, round trips, refusals), RFC 7515 Appendix A.1, tokens made by
 * PyJWT and python-jose, tokens of ours that both accepted, and one
 * case for every way jwt_verify() must refuse a token.  Tokens for the
 * refusals are built here and signed with the right key, so that each
 * is refused for the one defect it carries and not for its signature.
 * Every token is handed over in a buffer of exactly its length, without
 * a NUL, so that AddressSanitizer sees any read past the end.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"
#include "tap.h"

/* The secret of every fixture: 40 bytes. */
#define KEY		"collab-auth-test-secret-0123456789abcdef"
#define KEYLEN		(sizeof(KEY) - 1)
/* Another 40-byte secret, for the "foreign key" cases. */
#define FOREIGN		"foreign-secret-not-ours-0123456789abcdef"

#define SID		"0123456789abcdef0123456789abcdef"
#define JTI		"fedcba9876543210fedcba9876543210"

/* Crafted tokens are issued at 1700000000, expire at 1700000900. */
#define NOW		1700000100LL
/* Fixtures: iat 1700000000, exp 4102444800 (2100-01-01), so valid now. */
#define FIX_NOW		1750000000LL

#define HDR		"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define ACC		"{\"sub\":\"42\",\"type\":\"access\"," \
			"\"iat\":1700000000,\"exp\":1700000900}"
#define REF		"{\"sub\":\"42\",\"type\":\"refresh\",\"sid\":\"" SID \
			"\",\"jti\":\"" JTI "\"," \
			"\"iat\":1700000000,\"exp\":1700000900}"
/* An access payload with the given sub, quoted or not. */
#define ACC_SUB(s)	"{\"sub\":" s ",\"type\":\"access\"," \
			"\"iat\":1700000000,\"exp\":1700000900}"
/* An access payload with the given iat and exp. */
#define ACC_T(i, e)	"{\"sub\":\"42\",\"type\":\"access\"," \
			"\"iat\":" i ",\"exp\":" e "}"
/* A refresh payload with the given sid and jti members. */
#define REF_IDS(ids)	"{\"sub\":\"42\",\"type\":\"refresh\"," ids "," \
			"\"iat\":1700000000,\"exp\":1700000900}"

#define BUFSZ		4096

enum mac {
	MAC_SHA256,
	MAC_SHA384,
	MAC_SHA512,
	MAC__MAX
};

/* A token built from a header and a payload, and what we expect of it. */
struct craft {
	const char	*what;
	const char	*hdr;		/* JSON text; NULL for HDR */
	const char	*pay;		/* JSON text */
	size_t		 paylen;	/* 0: strlen(pay) */
	enum mac	 mac;
	int		 foreign;	/* signed with FOREIGN, not KEY */
	enum jwt_type	 want;
	long long	 now;
	int		 ok;
};

struct b64_vector {
	const char	*raw;
	const char	*enc;
};

struct b64_refusal {
	const char	*what;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
};

/* A literal token from elsewhere and what jwt_verify() must say. */
struct fixture {
	const char	*what;
	const char	*tok;
	enum jwt_type	 want;
	int		 ok;
	long long	 sub;
	const char	*sid;		/* for accepted refresh tokens */
	const char	*jti;
	long long	 iat;
};

/* RFC 4648, 10, without the padding (RFC 4648, 5; RFC 7515, 2). */
static const struct b64_vector b64_vectors[] = {
	{ "f", "Zg" },
	{ "fo", "Zm8" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg" },
	{ "fooba", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy" },
};

static const struct b64_refusal b64_refusals[] = {
	{ "padding \"==\"", "Zg==", 0 },
	{ "padding \"=\"", "Zm8=", 0 },
	{ "\"=\" alone after a full group", "Zm9v=", 0 },
	{ "\"=\" in the middle", "Zm=v", 0 },
	{ "\"+\" (base64, not base64url)", "Zm+v", 0 },
	{ "\"/\" (base64, not base64url)", "Zm/v", 0 },
	{ "a space inside", "Zm9 v", 0 },
	{ "a leading space", " Zm9v", 0 },
	{ "a trailing newline", "Zm9v\n", 0 },
	{ "a CR LF inside", "Zm\r\n9v", 0 },
	{ "a tab", "Zm9v\tYg", 0 },
	{ "a NUL inside", "Zm\0v", 4 },
	{ "a high byte", "Zm9\xc3", 0 },
	{ "length 1 mod 4 (1)", "Z", 0 },
	{ "length 1 mod 4 (5)", "Zm9vY", 0 },
	{ "length 1 mod 4 (9)", "Zm9vYmFyZ", 0 },
	/* Their 6 leftover bits are zero: only the length refuses these. */
	{ "length 1 mod 4, \"A\"", "A", 0 },
	{ "length 1 mod 4, \"Zm9vA\"", "Zm9vA", 0 },
	{ "non-canonical \"QR\" (4 leftover bits)", "QR", 0 },
	{ "non-canonical \"QUF\" (2 leftover bits)", "QUF", 0 },
	{ "non-canonical \"Zh\"", "Zh", 0 },
	{ "non-canonical \"Zm9\" (\"fo\" is \"Zm8\")", "Zm9", 0 },
};

/*
 * PyJWT 2.6.0 and python-jose 3.3.0 (Debian 12's python3-jwt and
 * python3-jose), run with /usr/bin/python3 and the secret KEY:
 *   jwt.encode(claims, KEY, algorithm="HS256")
 *   jose.jwt.encode(claims, KEY, algorithm="HS256")
 * For the same claims the two libraries wrote the very same bytes, so
 * python-jose's fixtures use other claims.  Both write the header
 * {"alg":"HS256","typ":"JWT"}; python-jose sorts its keys, which shows
 * with a "kid": {"alg":"HS256","kid":"k1","typ":"JWT"}.
 */
static const struct fixture fixtures[] = {
	{ "PyJWT access {sub 42, type, iat, exp}",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI0MiIsInR5cGUiOiJhY2Nlc3MiLCJpYXQiOjE3MDAwMDAwMDAsImV4"
	  "cCI6NDEwMjQ0NDgwMH0."
	  "YOjdfuLJtYoj-zEti7-iyLON9xtz9DQiJhpU998JXtk",
	  JWT_ACCESS, 1, 42, NULL, NULL, 1700000000 },
	{ "PyJWT refresh {sub 42, type, sid, jti, iat, exp}",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI0MiIsInR5cGUiOiJyZWZyZXNoIiwic2lkIjoiMDEyMzQ1Njc4OWFi"
	  "Y2RlZjAxMjM0NTY3ODlhYmNkZWYiLCJqdGkiOiJmZWRjYmE5ODc2NTQzMjEwZmVk"
	  "Y2JhOTg3NjU0MzIxMCIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjo0MTAyNDQ0ODAw"
	  "fQ."
	  "0p9NPSvnvbMqy9VaHXG2ZAZWJDAxN19xI1dX3SrhLds",
	  JWT_REFRESH, 1, 42, SID, JTI, 1700000000 },
	{ "python-jose access {sub 7, iat 1700000001}",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI3IiwidHlwZSI6ImFjY2VzcyIsImlhdCI6MTcwMDAwMDAwMSwiZXhw"
	  "Ijo0MTAyNDQ0ODAwfQ."
	  "zQObpFH81cbLv5_RCdrbydy7T5T9S6vrM3ACEua0WKE",
	  JWT_ACCESS, 1, 7, NULL, NULL, 1700000001 },
	{ "python-jose refresh {sub 1234567890123, jti before sid}",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiIxMjM0NTY3ODkwMTIzIiwidHlwZSI6InJlZnJlc2giLCJqdGkiOiIw"
	  "MDExMjIzMzQ0NTU2Njc3ODg5OWFhYmJjY2RkZWVmZiIsInNpZCI6ImZmZWVkZGNj"
	  "YmJhYTk5ODg3NzY2NTU0NDMzMjIxMTAwIiwiaWF0IjoxNzAwMDAwMDAxLCJleHAi"
	  "OjQxMDI0NDQ4MDB9."
	  "wigpMCKjtPfoshz1mU87GCGD1GxYFWPLiaXd-YhKrNE",
	  JWT_REFRESH, 1, 1234567890123LL, "ffeeddccbbaa99887766554433221100",
	  "00112233445566778899aabbccddeeff", 1700000001 },
	{ "python-jose access with header \"kid\" (ignored)",
	  "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0."
	  "eyJzdWIiOiI3IiwidHlwZSI6ImFjY2VzcyIsImlhdCI6MTcwMDAwMDAwMSwiZXhw"
	  "Ijo0MTAyNDQ0ODAwfQ."
	  "p1WFZBdcLvHSCo6ZMW3oMTl4fkH5PUYbT9U7HaRRXYE",
	  JWT_ACCESS, 1, 7, NULL, NULL, 1700000001 },
	/* The PyJWT access claims, but signed with FOREIGN. */
	{ "PyJWT access signed with a foreign key",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI0MiIsInR5cGUiOiJhY2Nlc3MiLCJpYXQiOjE3MDAwMDAwMDAsImV4"
	  "cCI6NDEwMjQ0NDgwMH0."
	  "tAQjNrDinfybnJPNAa_fG1vSaxpwA0OfDUIzt1T8nek",
	  JWT_ACCESS, 0, 0, NULL, NULL, 0 },
	/* jwt.encode(claims, KEY, algorithm="HS512"): correctly signed. */
	{ "PyJWT HS512 (HMAC-SHA512 with our key)",
	  "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI0MiIsInR5cGUiOiJhY2Nlc3MiLCJpYXQiOjE3MDAwMDAwMDAsImV4"
	  "cCI6NDEwMjQ0NDgwMH0."
	  "k-UbagAIt8K5Btt4ZgxcFxFC6VpldleqQATaTmjGCYnyXO_bvEnA6VeqEa9O_Jch"
	  "JJZIXjhNTCxaUHh78QYn-Q",
	  JWT_ACCESS, 0, 0, NULL, NULL, 0 },
	{ "PyJWT HS384 (HMAC-SHA384 with our key)",
	  "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI0MiIsInR5cGUiOiJhY2Nlc3MiLCJpYXQiOjE3MDAwMDAwMDAsImV4"
	  "cCI6NDEwMjQ0NDgwMH0."
	  "R3FtKOMMSCTDYf7wy_cxRPq8cydUYeUJh9RUanN4MSE0R2r22URbyR6DercBxmjg",
	  JWT_ACCESS, 0, 0, NULL, NULL, 0 },
	/* jwt.encode(claims, None, algorithm="none"): empty signature. */
	{ "PyJWT alg \"none\" with an empty signature",
	  "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
	  "eyJzdWIiOiI0MiIsInR5cGUiOiJhY2Nlc3MiLCJpYXQiOjE3MDAwMDAwMDAsImV4"
	  "cCI6NDEwMjQ0NDgwMH0.",
	  JWT_ACCESS, 0, 0, NULL, NULL, 0 },
	{ "PyJWT access presented as a refresh token",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI0MiIsInR5cGUiOiJhY2Nlc3MiLCJpYXQiOjE3MDAwMDAwMDAsImV4"
	  "cCI6NDEwMjQ0NDgwMH0."
	  "YOjdfuLJtYoj-zEti7-iyLON9xtz9DQiJhpU998JXtk",
	  JWT_REFRESH, 0, 0, NULL, NULL, 0 },
};

/*
 * Tokens of ours: jwt_sign() of these claims with KEY.  Each string was
 * checked on 2026-11-26 with /usr/bin/python3:
 *   jwt.decode(T, KEY, algorithms=["HS256"])        (PyJWT 2.6.0)
 *   jose.jwt.decode(T, KEY, algorithms=["HS256"])   (python-jose 3.3.0)
 * and both returned the claims.  The access token is byte for byte the
 * one PyJWT and python-jose make for the same claims.
 */
#define SIGNED_ACCESS \
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
	"eyJzdWIiOiI0MiIsInR5cGUiOiJhY2Nlc3MiLCJpYXQiOjE3MDAwMDAwMDAsImV4" \
	"cCI6NDEwMjQ0NDgwMH0." \
	"YOjdfuLJtYoj-zEti7-iyLON9xtz9DQiJhpU998JXtk"
/* Claims: sub 9223372036854775807 (LLONG_MAX), refresh, SID, JTI. */
#define SIGNED_REFRESH \
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
	"eyJzdWIiOiI5MjIzMzcyMDM2ODU0Nzc1ODA3IiwidHlwZSI6InJlZnJlc2giLCJp" \
	"YXQiOjE3MDAwMDAwMDAsImV4cCI6NDEwMjQ0NDgwMCwic2lkIjoiMDEyMzQ1Njc4" \
	"OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYiLCJqdGkiOiJmZWRjYmE5ODc2NTQzMjEw" \
	"ZmVkY2JhOTg3NjU0MzIxMCJ9." \
	"13dIM7QgpEh0xixWy2foUJ6BJIDlBn1Whcj1gbZgWgc"

/*
 * RFC 7515, Appendix A.1: the HS256 example, its header
 * {"typ":"JWT",\r\n "alg":"HS256"} and payload {"iss":"joe",\r\n
 * "exp":1300819380,\r\n "http://example.com/is_root":true}, and the
 * JWK "k" of the key.  Rechecked with Python's hmac module.
 */
#define RFC7515_A1_HDR	"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
#define RFC7515_A1_PAY \
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt" \
	"cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
#define RFC7515_A1_SIG	"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define RFC7515_A1_K \
	"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0i" \
	"PS4hcgUuTwjAzZr1Z9CAow"

/*
 * Header and claim cases: each token is signed with KEY (unless the
 * case is about the key or the algorithm), so only its defect can make
 * it fail.
 */
static const struct craft crafts[] = {
	/* Accepted shapes. */
	{ "access token", NULL, ACC, 0, MAC_SHA256, 0, JWT_ACCESS, NOW, 1 },
	{ "refresh token", NULL, REF, 0, MAC_SHA256, 0, JWT_REFRESH, NOW, 1 },
	{ "header keys in the other order",
	  "{\"typ\":\"JWT\",\"alg\":\"HS256\"}", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 1 },
	{ "header without typ", "{\"alg\":\"HS256\"}", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 1 },
	{ "header with RFC 7515 A.1's CR LF white space",
	  "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 1 },
	{ "header with trailing white space", HDR " \r\n", ACC, 0, MAC_SHA256,
	  0, JWT_ACCESS, NOW, 1 },
	{ "header with kid, jku, x5u (never used)",
	  "{\"alg\":\"HS256\",\"kid\":\"1\",\"jku\":\"https://e.example/k\","
	  "\"x5u\":\"https://e.example/c\"}", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 1 },
	{ "duplicate alg: json-c keeps the last, HS256",
	  "{\"alg\":\"none\",\"alg\":\"HS256\"}", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 1 },
	{ "access token with a bad sid and jti (ignored)", NULL,
	  "{\"sub\":\"42\",\"type\":\"access\",\"sid\":\"x\",\"jti\":5,"
	  "\"iat\":1700000000,\"exp\":1700000900}", 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 1 },
	{ "extra claims ignored", NULL,
	  "{\"sub\":\"42\",\"type\":\"access\",\"iat\":1700000000,"
	  "\"exp\":1700000900,\"iss\":\"x\",\"roles\":[\"a\"],\"n\":1.5}",
	  0, MAC_SHA256, 0, JWT_ACCESS, NOW, 1 },
	{ "sub 9223372036854775807 (LLONG_MAX)", NULL,
	  ACC_SUB("\"9223372036854775807\""), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 1 },
	{ "sub \"1\"", NULL, ACC_SUB("\"1\""), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 1 },
	{ "exp now - 30, inside the leeway", NULL,
	  ACC_T("1700000000", "1700000070"), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 1 },
	{ "exp now - 59, the last second of the leeway", NULL,
	  ACC_T("1700000000", "1700000041"), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 1 },
	{ "iat now + 30, inside the leeway", NULL,
	  ACC_T("1700000130", "1700000900"), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 1 },
	{ "iat now + 60, the edge of the leeway", NULL,
	  ACC_T("1700000160", "1700000900"), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 1 },
	{ "iat 0 and exp 2^53", NULL, ACC_T("0", "9007199254740992"), 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 1 },

	/* Key and algorithm. */
	{ "foreign key", NULL, ACC, 0, MAC_SHA256, 1, JWT_ACCESS, NOW, 0 },
	{ "alg \"none\" with an HS256 signature",
	  "{\"alg\":\"none\",\"typ\":\"JWT\"}", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "alg \"None\"", "{\"alg\":\"None\",\"typ\":\"JWT\"}", ACC, 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "alg \"hs256\"", "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", ACC, 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "alg HS384, HMAC-SHA384 signature",
	  "{\"alg\":\"HS384\",\"typ\":\"JWT\"}", ACC, 0, MAC_SHA384, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "alg HS384 with an HS256 signature",
	  "{\"alg\":\"HS384\",\"typ\":\"JWT\"}", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "alg HS512, HMAC-SHA512 signature",
	  "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", ACC, 0, MAC_SHA512, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "alg HS512 with an HS256 signature",
	  "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "alg RS256 (HMAC-signed)", "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
	  ACC, 0, MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "alg ES256 (HMAC-signed)", "{\"alg\":\"ES256\",\"typ\":\"JWT\"}",
	  ACC, 0, MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "alg missing", "{\"typ\":\"JWT\"}", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "alg null", "{\"alg\":null}", ACC, 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "alg a number", "{\"alg\":256}", ACC, 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "alg an array [\"HS256\"]", "{\"alg\":[\"HS256\"]}", ACC, 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "alg \"HS256\\u0000\"", "{\"alg\":\"HS256\\u0000\"}", ACC, 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "duplicate alg: the last is none",
	  "{\"alg\":\"HS256\",\"alg\":\"none\"}", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "typ \"JWS\"", "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", ACC, 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "typ \"jwt\"", "{\"alg\":\"HS256\",\"typ\":\"jwt\"}", ACC, 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "typ null", "{\"alg\":\"HS256\",\"typ\":null}", ACC, 0, MAC_SHA256,
	  0, JWT_ACCESS, NOW, 0 },
	{ "crit present", "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
	  ACC, 0, MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "crit empty", "{\"alg\":\"HS256\",\"crit\":[]}", ACC, 0, MAC_SHA256,
	  0, JWT_ACCESS, NOW, 0 },

	/* Header and payload JSON. */
	{ "header not JSON", "not json", ACC, 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "header an array", "[\"HS256\"]", ACC, 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "header a string", "\"HS256\"", ACC, 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "header with trailing bytes", HDR "x", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "header with two objects", HDR "{}", ACC, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "header with single quotes (not strict)", "{'alg':'HS256'}", ACC,
	  0, MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "header with a trailing comma (not strict)", "{\"alg\":\"HS256\",}",
	  ACC, 0, MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "header with a comment (not strict)",
	  "{\"alg\":\"HS256\"/* c */}", ACC, 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "header with invalid UTF-8", "{\"alg\":\"HS256\",\"x\":\"\xff\"}",
	  ACC, 0, MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "header nested four levels",
	  "{\"alg\":\"HS256\",\"x\":{\"a\":{\"b\":{\"c\":1}}}}", ACC, 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "payload not JSON", NULL, "sub=42", 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "payload an array", NULL, "[" ACC "]", 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "payload with trailing bytes", NULL, ACC "]", 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "payload with a NUL after the object", NULL, ACC "\0",
	  sizeof(ACC "\0") - 1, MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "payload {}", NULL, "{}", 0, MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },

	/* sub. */
	{ "sub missing", NULL,
	  "{\"type\":\"access\",\"iat\":1700000000,\"exp\":1700000900}", 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "sub an integer", NULL, ACC_SUB("42"), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "sub null", NULL, ACC_SUB("null"), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "sub \"\"", NULL, ACC_SUB("\"\""), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "sub \"0\"", NULL, ACC_SUB("\"0\""), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "sub \"-1\"", NULL, ACC_SUB("\"-1\""), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "sub \"+1\"", NULL, ACC_SUB("\"+1\""), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "sub \"01\"", NULL, ACC_SUB("\"01\""), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "sub \" 42\"", NULL, ACC_SUB("\" 42\""), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "sub \"42 \"", NULL, ACC_SUB("\"42 \""), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "sub \"4a\"", NULL, ACC_SUB("\"4a\""), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "sub \"42\\u0000\"", NULL, ACC_SUB("\"42\\u0000\""), 0, MAC_SHA256,
	  0, JWT_ACCESS, NOW, 0 },
	{ "sub of 20 digits", NULL, ACC_SUB("\"12345678901234567890\""), 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "sub of 19 digits above LLONG_MAX", NULL,
	  ACC_SUB("\"9223372036854775808\""), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },

	/* type. */
	{ "type missing", NULL,
	  "{\"sub\":\"42\",\"iat\":1700000000,\"exp\":1700000900}", 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "type \"Access\"", NULL,
	  "{\"sub\":\"42\",\"type\":\"Access\",\"iat\":1700000000,"
	  "\"exp\":1700000900}", 0, MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "type an integer", NULL,
	  "{\"sub\":\"42\",\"type\":0,\"iat\":1700000000,"
	  "\"exp\":1700000900}", 0, MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "access token presented as refresh", NULL, ACC, 0, MAC_SHA256, 0,
	  JWT_REFRESH, NOW, 0 },
	{ "refresh token presented as access", NULL, REF, 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },

	/* exp and iat. */
	{ "exp now - 61, beyond the leeway", NULL,
	  ACC_T("1700000000", "1700000039"), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "exp now - 60, just beyond the leeway", NULL,
	  ACC_T("1700000000", "1700000040"), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "iat now + 61, beyond the leeway", NULL,
	  ACC_T("1700000161", "1700000900"), 0, MAC_SHA256, 0, JWT_ACCESS,
	  NOW, 0 },
	{ "exp missing", NULL,
	  "{\"sub\":\"42\",\"type\":\"access\",\"iat\":1700000000}", 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "iat missing", NULL,
	  "{\"sub\":\"42\",\"type\":\"access\",\"exp\":1700000900}", 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "exp a string", NULL, ACC_T("1700000000", "\"1700000900\""), 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "exp a double", NULL, ACC_T("1700000000", "1700000900.0"), 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "exp in exponent form", NULL, ACC_T("1700000000", "17000009e2"), 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "exp NaN", NULL, ACC_T("1700000000", "NaN"), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "exp true", NULL, ACC_T("1700000000", "true"), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "exp 2^53 + 1", NULL, ACC_T("1700000000", "9007199254740993"), 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "exp 2^64 (beyond int64)", NULL,
	  ACC_T("1700000000", "18446744073709551616"), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "iat a string", NULL, ACC_T("\"1700000000\"", "1700000900"), 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "iat a double", NULL, ACC_T("1700000000.5", "1700000900"), 0,
	  MAC_SHA256, 0, JWT_ACCESS, NOW, 0 },
	{ "iat true", NULL, ACC_T("true", "1700000900"), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },
	{ "iat -1", NULL, ACC_T("-1", "1700000900"), 0, MAC_SHA256, 0,
	  JWT_ACCESS, NOW, 0 },

	/* sid and jti of a refresh token. */
	{ "refresh without sid", NULL, REF_IDS("\"jti\":\"" JTI "\""), 0,
	  MAC_SHA256, 0, JWT_REFRESH, NOW, 0 },
	{ "refresh without jti", NULL, REF_IDS("\"sid\":\"" SID "\""), 0,
	  MAC_SHA256, 0, JWT_REFRESH, NOW, 0 },
	{ "sid of 31 characters", NULL,
	  REF_IDS("\"sid\":\"0123456789abcdef0123456789abcde\","
	  "\"jti\":\"" JTI "\""), 0, MAC_SHA256, 0, JWT_REFRESH, NOW, 0 },
	{ "sid of 33 characters", NULL,
	  REF_IDS("\"sid\":\"0123456789abcdef0123456789abcdef0\","
	  "\"jti\":\"" JTI "\""), 0, MAC_SHA256, 0, JWT_REFRESH, NOW, 0 },
	{ "sid in upper-case hex", NULL,
	  REF_IDS("\"sid\":\"0123456789ABCDEF0123456789ABCDEF\","
	  "\"jti\":\"" JTI "\""), 0, MAC_SHA256, 0, JWT_REFRESH, NOW, 0 },
	{ "sid an integer", NULL,
	  REF_IDS("\"sid\":12345678901234567890123456789012,"
	  "\"jti\":\"" JTI "\""), 0, MAC_SHA256, 0, JWT_REFRESH, NOW, 0 },
	{ "jti with a \"g\"", NULL,
	  REF_IDS("\"sid\":\"" SID "\","
	  "\"jti\":\"fedcba9876543210fedcba987654321g\""), 0, MAC_SHA256, 0,
	  JWT_REFRESH, NOW, 0 },
	{ "jti of 31 characters and a NUL", NULL,
	  REF_IDS("\"sid\":\"" SID "\","
	  "\"jti\":\"fedcba9876543210fedcba987654321\\u0000\""), 0,
	  MAC_SHA256, 0, JWT_REFRESH, NOW, 0 },
};

/*
 * A deterministic byte pattern for the round trips.
 */
static unsigned char
pattern(size_t i)
{

	return (unsigned char)((i * 131 + 7) ^ (i >> 2) * 29);
}

/*
 * Write into out the NUL-terminated strings given, up to a NULL, one
 * after the other.  Return the length, or 0 (and "") if it does not fit.
 */
static size_t
cat(char *out, size_t outsz, ...)
{
	va_list		 ap;
	const char	*a;
	size_t		 n = 0, m;

	va_start(ap, outsz);
	while ((a = va_arg(ap, const char *)) != NULL) {
		m = strlen(a);
		if (m >= outsz - n) {
			va_end(ap);
			out[0] = '\0';
			return 0;
		}
		memcpy(out + n, a, m);
		n += m;
	}
	va_end(ap);
	out[n] = '\0';
	return n;
}

/*
 * Write into out the string s with its skip bytes at offset at replaced
 * by ins.  Return the length, or 0.
 */
static size_t
splice(char *out, size_t outsz, const char *s, size_t at, size_t skip,
    const char *ins)
{
	char	 head[BUFSZ];

	if (at >= sizeof(head) || at + skip > strlen(s))
		return 0;
	memcpy(head, s, at);
	head[at] = '\0';
	return cat(out, outsz, head, ins, s + at + skip, (const char *)NULL);
}

/*
 * Make a token from the base64url parts h and p as given, signed with
 * HMAC (mac) over "h.p" with key, into out.  Return its length, or 0.
 */
static size_t
mk_parts(char *out, size_t outsz, const char *h, const char *p,
    enum mac mac, const char *key)
{
	const EVP_MD	*md;
	unsigned char	 sig[EVP_MAX_MD_SIZE];
	unsigned int	 siglen = 0;
	size_t		 n, m;
	int		 w;

	md = mac == MAC_SHA512 ? EVP_sha512() :
	    mac == MAC_SHA384 ? EVP_sha384() : EVP_sha256();
	w = snprintf(out, outsz, "%s.%s", h, p);
	if (w < 0 || (size_t)w + 1 >= outsz)
		return 0;
	n = (size_t)w;
	if (HMAC(md, key, (int)strlen(key), (const unsigned char *)out, n,
	    sig, &siglen) == NULL)
		return 0;
	out[n++] = '.';
	if ((m = jwt_b64url_encode(sig, siglen, out + n, outsz - n)) == 0)
		return 0;
	return n + m;
}

/*
 * Make a token from the JSON texts hdr and pay (plen bytes) into out.
 * Return its length, or 0.
 */
static size_t
mk(char *out, size_t outsz, const char *hdr, const char *pay, size_t plen,
    enum mac mac, const char *key)
{
	char	 h[BUFSZ], p[BUFSZ];

	if (jwt_b64url_encode((const unsigned char *)hdr, strlen(hdr), h,
	    sizeof(h)) == 0 ||
	    jwt_b64url_encode((const unsigned char *)pay, plen, p,
	    sizeof(p)) == 0)
		return 0;
	return mk_parts(out, outsz, h, p, mac, key);
}

/*
 * Return 1 if the n bytes at p are all zero.
 */
static int
zeroed(const void *p, size_t n)
{
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/*
 * Run jwt_verify() on the len bytes of tok, copied into a buffer of
 * exactly len bytes, with KEY.  Return its status and fill *c.
 */
static enum auth_status
verify(const char *tok, size_t len, enum jwt_type want, long long now,
    struct jwt_claims *c)
{
	enum auth_status	 rc;
	char			*copy;

	if ((copy = malloc(len == 0 ? 1 : len)) == NULL) {
		perror("malloc");
		exit(2);
	}
	memcpy(copy, tok, len);
	memset(c, 0xa5, sizeof(*c));
	rc = jwt_verify((const unsigned char *)KEY, KEYLEN, copy, len, want,
	    now, c);
	free(copy);
	return rc;
}

/*
 * Check that jwt_verify() refuses tok (len bytes) with AUTH_ERR_INVALID
 * and leaves the claims zeroed.
 */
static void
check_reject(const char *what, const char *tok, size_t len, enum jwt_type want,
    long long now)
{
	struct jwt_claims	 c;
	enum auth_status	 rc;

	rc = verify(tok, len, want, now, &c);
	tap_ok(len > 0 && rc == AUTH_ERR_INVALID && zeroed(&c, sizeof(c)),
	    "reject: %s", what);
}

/*
 * Check that jwt_verify() accepts tok (len bytes).
 */
static void
check_accept(const char *what, const char *tok, size_t len, enum jwt_type want,
    long long now)
{
	struct jwt_claims	 c;

	tap_ok(len > 0 && verify(tok, len, want, now, &c) == AUTH_OK &&
	    c.type == want, "accept: %s", what);
}

/*
 * The codec: RFC 4648 vectors, round trips, and every refusal.
 */
static void
test_b64(void)
{
	const struct b64_vector		*v;
	const struct b64_refusal	*r;
	unsigned char			 raw[64], dec[64];
	char				 enc[128];
	size_t				 i, j, n, len, want;
	int				 ok;

	for (i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]); i++) {
		v = &b64_vectors[i];
		n = jwt_b64url_encode((const unsigned char *)v->raw,
		    strlen(v->raw), enc, sizeof(enc));
		tap_ok(n == strlen(v->enc) && strcmp(enc, v->enc) == 0,
		    "b64url: encode \"%s\" is \"%s\"", v->raw, v->enc);
		ok = jwt_b64url_decode(v->enc, strlen(v->enc), dec,
		    sizeof(dec), &len) == 0;
		tap_ok(ok && len == strlen(v->raw) &&
		    memcmp(dec, v->raw, len) == 0,
		    "b64url: decode \"%s\" is \"%s\"", v->enc, v->raw);
	}

	/* Round trips of 0 to 40 bytes, through every residue mod 3. */
	for (n = 0; n <= 40; n++) {
		for (j = 0; j < n; j++)
			raw[j] = pattern(j + n * 41);
		want = n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
		len = jwt_b64url_encode(raw, n, enc, sizeof(enc));
		ok = len == want && strlen(enc) == want;
		memset(dec, 0xee, sizeof(dec));
		ok = ok && jwt_b64url_decode(enc, len, dec, n, &len) == 0 &&
		    len == n && memcmp(dec, raw, n) == 0;
		tap_ok(ok, "b64url: round trip of %zu bytes", n);
	}

	tap_ok(jwt_b64url_decode("", 0, dec, sizeof(dec), &len) == 0 &&
	    len == 0, "b64url: decode \"\" is empty");
	tap_ok(jwt_b64url_decode("QQ", 2, dec, sizeof(dec), &len) == 0 &&
	    len == 1 && dec[0] == 0x41,
	    "b64url: canonical \"QQ\" is 0x41");
	tap_ok(jwt_b64url_decode("QUE", 3, dec, sizeof(dec), &len) == 0 &&
	    len == 2 && dec[0] == 0x41 && dec[1] == 0x41,
	    "b64url: canonical \"QUE\" is 0x41 0x41");
	tap_ok(jwt_b64url_decode("-_-_", 4, dec, sizeof(dec), &len) == 0 &&
	    len == 3 && dec[0] == 0xfb && dec[1] == 0xff && dec[2] == 0xbf,
	    "b64url: \"-_-_\" is fb ff bf");

	for (i = 0; i < sizeof(b64_refusals) / sizeof(b64_refusals[0]); i++) {
		r = &b64_refusals[i];
		n = r->len != 0 ? r->len : strlen(r->in);
		len = 99;
		memset(dec, 0xee, sizeof(dec));
		ok = jwt_b64url_decode(r->in, n, dec, sizeof(dec), &len) == -1;
		tap_ok(ok && len == 0, "b64url: decode refuses %s", r->what);
	}

	/* The 4 bytes decoded before the "!" are wiped, no more. */
	memset(dec, 0xee, sizeof(dec));
	tap_ok(jwt_b64url_decode("Zm9vYm!y", 8, dec, sizeof(dec), &len) ==
	    -1 && zeroed(dec, 4) && dec[4] == 0xee,
	    "b64url: a refused decode leaves no partial output");

	/* Output buffers exactly big enough, and one byte too small. */
	tap_ok(jwt_b64url_decode("Zm9v", 4, dec, 3, &len) == 0 && len == 3,
	    "b64url: decode into exactly 3 bytes");
	tap_ok(jwt_b64url_decode("Zm9v", 4, dec, 2, &len) == -1 && len == 0,
	    "b64url: decode refuses a 2-byte buffer for 3 bytes");
	tap_ok(jwt_b64url_decode("Zm8", 3, dec, 1, &len) == -1,
	    "b64url: decode refuses a 1-byte buffer for 2 bytes");
	tap_ok(jwt_b64url_encode((const unsigned char *)"foo", 3, enc, 5) ==
	    4 && strcmp(enc, "Zm9v") == 0,
	    "b64url: encode into exactly 5 bytes");
	memset(enc, 'x', sizeof(enc));
	tap_ok(jwt_b64url_encode((const unsigned char *)"foo", 3, enc, 4) ==
	    0 && enc[0] == '\0',
	    "b64url: encode refuses a 4-byte buffer and leaves \"\"");
	tap_ok(jwt_b64url_encode((const unsigned char *)"f", 0, enc,
	    sizeof(enc)) == 0 && enc[0] == '\0',
	    "b64url: encode of nothing is 0 and \"\"");
}

/*
 * RFC 7515, Appendix A.1, through jwt_hs256_check().
 */
static void
test_rfc7515(void)
{
	static const char tok[] = RFC7515_A1_HDR "." RFC7515_A1_PAY "."
	    RFC7515_A1_SIG;
	static const char bad[] = RFC7515_A1_HDR "." RFC7515_A1_PAY "."
	    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl";
	unsigned char	 key[64];
	char		 buf[BUFSZ];
	struct jwt_claims c;
	size_t		 keylen, n;

	tap_ok(jwt_b64url_decode(RFC7515_A1_K, strlen(RFC7515_A1_K), key,
	    sizeof(key), &keylen) == 0 && keylen == 64 && key[0] == 0x03 &&
	    key[63] == 0xa3, "RFC 7515 A.1: the JWK k decodes to 64 bytes");
	tap_ok(jwt_hs256_check(key, keylen, tok, sizeof(tok) - 1) == 1,
	    "RFC 7515 A.1: the HS256 example verifies");
	tap_ok(jwt_hs256_check(key, keylen - 1, tok, sizeof(tok) - 1) == 0,
	    "RFC 7515 A.1: not with the key one byte short");
	tap_ok(jwt_hs256_check((const unsigned char *)KEY, KEYLEN, tok,
	    sizeof(tok) - 1) == 0,
	    "RFC 7515 A.1: not with another key");
	/* "k" is 0x24 in the last sextet, "l" 0x25: the other low bit. */
	tap_ok(jwt_hs256_check(key, keylen, bad, sizeof(bad) - 1) == 0,
	    "RFC 7515 A.1: not with a non-canonical last signature char");
	tap_ok(jwt_verify(key, keylen, tok, sizeof(tok) - 1, JWT_ACCESS,
	    1300819380 - 100, &c) == AUTH_ERR_INVALID,
	    "RFC 7515 A.1: jwt_verify refuses it (no sub, no type)");

	/* Its header, with CR LF and typ first, on one of our tokens. */
	n = mk_parts(buf, sizeof(buf), RFC7515_A1_HDR,
	    "eyJzdWIiOiI0MiIsInR5cGUiOiJhY2Nlc3MiLCJpYXQiOjE3MDAwMDAwMDAsImV4"
	    "cCI6NDEwMjQ0NDgwMH0", MAC_SHA256, KEY);
	check_accept("RFC 7515 A.1's header on our claims", buf, n, JWT_ACCESS,
	    FIX_NOW);
}

/*
 * Tokens made by PyJWT and python-jose.
 */
static void
test_fixtures(void)
{
	const struct fixture	*f;
	struct jwt_claims	 c;
	enum auth_status	 rc;
	size_t			 i;
	int			 ok;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		f = &fixtures[i];
		if (!f->ok) {
			check_reject(f->what, f->tok, strlen(f->tok), f->want,
			    FIX_NOW);
			continue;
		}
		rc = verify(f->tok, strlen(f->tok), f->want, FIX_NOW, &c);
		ok = rc == AUTH_OK && c.type == f->want && c.sub == f->sub &&
		    c.iat == f->iat && c.exp == 4102444800LL;
		if (f->want == JWT_REFRESH)
			ok = ok && strcmp(c.sid, f->sid) == 0 &&
			    strcmp(c.jti, f->jti) == 0;
		else
			ok = ok && c.sid[0] == '\0' && c.jti[0] == '\0';
		tap_ok(ok, "fixture: %s", f->what);
	}
}

/*
 * jwt_sign(): tokens the Python libraries accepted, and its refusals.
 */
static void
test_sign(void)
{
	struct jwt_claims	 a = { JWT_ACCESS, 42, 1700000000,
				    4102444800LL, "", "" };
	struct jwt_claims	 r = { JWT_REFRESH, 9223372036854775807LL,
				    1700000000, 4102444800LL, SID, JTI };
	struct jwt_claims	 bad, c;
	char			 out[JWT_MAX + 1];
	enum auth_status	 rc;
	size_t			 n;

	rc = jwt_sign((const unsigned char *)KEY, KEYLEN, &a, out,
	    sizeof(out));
	tap_diag("jwt_sign access: %s", out);
	tap_ok(rc == AUTH_OK && strcmp(out, SIGNED_ACCESS) == 0,
	    "sign: access token is the one PyJWT and python-jose accepted");
	check_accept("our access token", out, strlen(out), JWT_ACCESS, FIX_NOW);

	rc = jwt_sign((const unsigned char *)KEY, KEYLEN, &r, out,
	    sizeof(out));
	tap_diag("jwt_sign refresh: %s", out);
	tap_ok(rc == AUTH_OK && strcmp(out, SIGNED_REFRESH) == 0,
	    "sign: refresh token is the one PyJWT and python-jose accepted");
	rc = verify(out, strlen(out), JWT_REFRESH, FIX_NOW, &c);
	tap_ok(rc == AUTH_OK && c.type == JWT_REFRESH &&
	    c.sub == 9223372036854775807LL && c.iat == 1700000000 &&
	    c.exp == 4102444800LL && strcmp(c.sid, SID) == 0 &&
	    strcmp(c.jti, JTI) == 0, "sign: our refresh token verifies back");
	check_reject("our refresh token as access", out, strlen(out),
	    JWT_ACCESS, FIX_NOW);

	/* The output buffer: exactly big enough, then one byte short. */
	n = strlen(SIGNED_ACCESS);
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &a, out, n + 1) ==
	    AUTH_OK && strcmp(out, SIGNED_ACCESS) == 0,
	    "sign: fits in exactly strlen + 1 bytes");
	memset(out, 'x', sizeof(out));
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &a, out, n) ==
	    AUTH_ERR_INVALID && zeroed(out, n),
	    "sign: refuses a buffer one byte short, out is \"\"");
	memset(out, 'x', sizeof(out));
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &a, out, 40) ==
	    AUTH_ERR_INVALID && out[0] == '\0',
	    "sign: refuses a buffer cut after the header");

	bad = a;
	bad.type = JWT_TYPE__MAX;
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &bad, out,
	    sizeof(out)) == AUTH_ERR_INVALID && out[0] == '\0',
	    "sign: refuses an unknown type");
	bad = a;
	bad.sub = 0;
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &bad, out,
	    sizeof(out)) == AUTH_ERR_INVALID && out[0] == '\0',
	    "sign: refuses sub 0");
	bad = a;
	bad.iat = -1;
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &bad, out,
	    sizeof(out)) == AUTH_ERR_INVALID && out[0] == '\0',
	    "sign: refuses iat -1");
	bad = a;
	bad.exp = (1LL << 53) + 1;
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &bad, out,
	    sizeof(out)) == AUTH_ERR_INVALID && out[0] == '\0',
	    "sign: refuses exp 2^53 + 1");
	bad = r;
	bad.sid[0] = '\0';
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &bad, out,
	    sizeof(out)) == AUTH_ERR_INVALID && out[0] == '\0',
	    "sign: refuses a refresh token without sid");
	bad = r;
	bad.jti[0] = '\0';
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &bad, out,
	    sizeof(out)) == AUTH_ERR_INVALID && out[0] == '\0',
	    "sign: refuses a refresh token without jti");
	bad = r;
	bad.jti[5] = 'A';
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &bad, out,
	    sizeof(out)) == AUTH_ERR_INVALID && out[0] == '\0',
	    "sign: refuses a jti in upper case");
	bad = r;
	memset(bad.sid, 'a', sizeof(bad.sid));
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &bad, out,
	    sizeof(out)) == AUTH_ERR_INVALID && out[0] == '\0',
	    "sign: refuses a sid that is not NUL-terminated");
	tap_ok(jwt_sign((const unsigned char *)KEY, 31, &a, out,
	    sizeof(out)) == AUTH_ERR_INVALID && out[0] == '\0',
	    "sign: refuses a key of 31 bytes (RFC 7518, 3.2)");
	bad = a;
	memcpy(bad.sid, SID, sizeof(bad.sid));
	tap_ok(jwt_sign((const unsigned char *)KEY, KEYLEN, &bad, out,
	    sizeof(out)) == AUTH_OK && strcmp(out, SIGNED_ACCESS) == 0,
	    "sign: an access token carries no sid");
}

/*
 * The crafts[] table: header and claim cases.
 */
static void
test_crafted(void)
{
	const struct craft	*k;
	char			 tok[BUFSZ];
	size_t			 i, n;

	for (i = 0; i < sizeof(crafts) / sizeof(crafts[0]); i++) {
		k = &crafts[i];
		n = mk(tok, sizeof(tok), k->hdr != NULL ? k->hdr : HDR,
		    k->pay, k->paylen != 0 ? k->paylen : strlen(k->pay),
		    k->mac, k->foreign ? FOREIGN : KEY);
		if (k->ok)
			check_accept(k->what, tok, n, k->want, k->now);
		else
			check_reject(k->what, tok, n, k->want, k->now);
	}
}

/*
 * Cases about the token's text rather than its JSON: tampering, the
 * signature's length, parts, padding, white space, NUL, length, and
 * arguments.
 */
static void
test_structure(void)
{
	unsigned char	 sig[33];
	char		 tok[BUFSZ], h[BUFSZ], p[BUFSZ], t[BUFSZ], pay[BUFSZ];
	char		 s[BUFSZ], s2[BUFSZ], x[BUFSZ];
	const char	*d1, *d2;
	struct jwt_claims c;
	size_t		 n, k, hlen, plen, siglen;

	/* A good token, and its parts h, p and s. */
	n = mk(tok, sizeof(tok), HDR, ACC, strlen(ACC), MAC_SHA256, KEY);
	check_accept("the base token", tok, n, JWT_ACCESS, NOW);
	d1 = strchr(tok, '.');
	d2 = strchr(d1 + 1, '.');
	hlen = (size_t)(d1 - tok);
	plen = (size_t)(d2 - d1 - 1);
	memcpy(h, tok, hlen);
	h[hlen] = '\0';
	memcpy(p, d1 + 1, plen);
	p[plen] = '\0';
	cat(s, sizeof(s), d2 + 1, (const char *)NULL);

	/* Claims come back as signed. */
	tap_ok(verify(tok, n, JWT_ACCESS, NOW, &c) == AUTH_OK &&
	    c.type == JWT_ACCESS && c.sub == 42 && c.iat == 1700000000 &&
	    c.exp == 1700000900 && c.sid[0] == '\0' && c.jti[0] == '\0',
	    "verify: claims of the base token");

	/*
	 * Tampering, keeping the signature: each altered token is still a
	 * well-formed token with good claims, so only the signature check
	 * can refuse it.
	 */
	jwt_b64url_encode((const unsigned char *)ACC_SUB("\"43\""),
	    strlen(ACC_SUB("\"43\"")), x, sizeof(x));
	cat(t, sizeof(t), h, ".", x, ".", s, (const char *)NULL);
	check_reject("payload changed (sub \"42\" -> \"43\")", t, strlen(t),
	    JWT_ACCESS, NOW);
	jwt_b64url_encode((const unsigned char *)"{\"typ\":\"JWT\","
	    "\"alg\":\"HS256\"}", 27, x, sizeof(x));
	cat(t, sizeof(t), x, ".", p, ".", s, (const char *)NULL);
	check_reject("header changed (same keys, other order)", t, strlen(t),
	    JWT_ACCESS, NOW);
	memcpy(t, tok, n + 1);
	t[hlen + 1 + plen + 1] = t[hlen + 1 + plen + 1] == 'A' ? 'B' : 'A';
	check_reject("signature with its first character changed", t, n,
	    JWT_ACCESS, NOW);
	/*
	 * The last of 43 characters carries 4 bits of the signature and 2
	 * unused ones, which must be zero: setting the lowest changes no
	 * decoded byte, so only strict decoding refuses it.
	 */
	memcpy(t, tok, n + 1);
	tap_ok(strchr("AEIMQUYcgkosw048", t[n - 1]) != NULL,
	    "the base signature ends in a canonical character");
	t[n - 1] = (char)(t[n - 1] + 1);
	check_reject("signature with a non-canonical last character", t, n,
	    JWT_ACCESS, NOW);

	/* Signature length: 31 and 33 bytes, canonically encoded. */
	tap_ok(jwt_b64url_decode(s, strlen(s), sig, sizeof(sig), &siglen) ==
	    0 && siglen == 32, "the base signature is 32 bytes");
	jwt_b64url_encode(sig, 31, x, sizeof(x));
	cat(t, sizeof(t), h, ".", p, ".", x, (const char *)NULL);
	check_reject("signature of 31 bytes", t, strlen(t), JWT_ACCESS,
	    NOW);
	/*
	 * A token whose HMAC ends in a zero byte, cut to its first 31
	 * bytes: were the length not checked, the verifier's zeroed
	 * buffer would make it compare equal.
	 */
	for (k = 0, siglen = 0; k < 10000; k++) {
		snprintf(pay, sizeof(pay), "{\"sub\":\"42\","
		    "\"type\":\"access\",\"iat\":1700000000,"
		    "\"exp\":1700000900,\"x\":%zu}", k);
		n = mk(x, sizeof(x), HDR, pay, strlen(pay), MAC_SHA256, KEY);
		d2 = strrchr(x, '.');
		if (n > 0 && jwt_b64url_decode(d2 + 1, strlen(d2 + 1), sig,
		    sizeof(sig), &siglen) == 0 && siglen == 32 &&
		    sig[31] == 0)
			break;
	}
	tap_ok(k < 10000, "found an HMAC ending in 00 (x = %zu)", k);
	t[0] = '\0';
	if (k < 10000) {
		jwt_b64url_encode(sig, 31, s2, sizeof(s2));
		n = (size_t)(d2 - x);
		x[n] = '\0';
		cat(t, sizeof(t), x, ".", s2, (const char *)NULL);
	}
	check_reject("signature of 31 bytes, the 32nd being 00", t,
	    strlen(t), JWT_ACCESS, NOW);
	sig[32] = 0;
	jwt_b64url_encode(sig, 33, x, sizeof(x));
	cat(t, sizeof(t), h, ".", p, ".", x, (const char *)NULL);
	check_reject("signature of 33 bytes", t, strlen(t), JWT_ACCESS,
	    NOW);
	splice(t, sizeof(t), tok, n - 1, 1, "");
	check_reject("signature cut to 42 characters", t, strlen(t),
	    JWT_ACCESS, NOW);
	cat(t, sizeof(t), tok, "=", (const char *)NULL);
	check_reject("signature padded with \"=\"", t, strlen(t), JWT_ACCESS,
	    NOW);

	/* Parts. */
	cat(t, sizeof(t), h, ".", p, (const char *)NULL);
	check_reject("two parts", t, strlen(t), JWT_ACCESS, NOW);
	cat(t, sizeof(t), tok, ".", (const char *)NULL);
	check_reject("four parts, the last empty", t, strlen(t), JWT_ACCESS,
	    NOW);
	cat(t, sizeof(t), tok, ".", s, (const char *)NULL);
	check_reject("four parts, the signature twice", t, strlen(t),
	    JWT_ACCESS, NOW);
	cat(t, sizeof(t), h, ".", p, ".", (const char *)NULL);
	check_reject("empty signature", t, strlen(t), JWT_ACCESS, NOW);
	cat(t, sizeof(t), ".", p, ".", s, (const char *)NULL);
	check_reject("empty header", t, strlen(t), JWT_ACCESS, NOW);
	n = mk_parts(t, sizeof(t), h, "", MAC_SHA256, KEY);
	check_reject("empty payload (signed)", t, n, JWT_ACCESS, NOW);
	n = mk_parts(t, sizeof(t), "", p, MAC_SHA256, KEY);
	check_reject("empty header (signed)", t, n, JWT_ACCESS, NOW);
	check_reject("no dot at all", h, hlen, JWT_ACCESS, NOW);
	check_reject("\"..\"", "..", 2, JWT_ACCESS, NOW);
	memset(&c, 0xa5, sizeof(c));
	tap_ok(jwt_verify((const unsigned char *)KEY, KEYLEN, "", 0,
	    JWT_ACCESS, NOW, &c) == AUTH_ERR_INVALID && zeroed(&c, sizeof(c)),
	    "reject: empty token");

	/* Padding and white space inside parts, signed as they are. */
	cat(t, sizeof(t), p, "==", (const char *)NULL);
	n = mk_parts(x, sizeof(x), h, t, MAC_SHA256, KEY);
	check_reject("payload padded with \"==\" (signed)", x, n, JWT_ACCESS,
	    NOW);
	cat(t, sizeof(t), h, "=", (const char *)NULL);
	n = mk_parts(x, sizeof(x), t, p, MAC_SHA256, KEY);
	check_reject("header with \"=\" (signed)", x, n, JWT_ACCESS, NOW);
	splice(t, sizeof(t), p, 20, 0, " ");
	n = mk_parts(x, sizeof(x), h, t, MAC_SHA256, KEY);
	check_reject("payload with a space (signed)", x, n, JWT_ACCESS, NOW);
	splice(t, sizeof(t), p, 20, 0, "\n");
	n = mk_parts(x, sizeof(x), h, t, MAC_SHA256, KEY);
	check_reject("payload with a newline (signed)", x, n, JWT_ACCESS,
	    NOW);
	splice(t, sizeof(t), p, 20, 1, "+");
	n = mk_parts(x, sizeof(x), h, t, MAC_SHA256, KEY);
	check_reject("payload with \"+\" (signed)", x, n, JWT_ACCESS, NOW);

	/* Bytes around the token, and a NUL. */
	n = strlen(tok);
	cat(t, sizeof(t), tok, "\n", (const char *)NULL);
	check_reject("a trailing newline", t, n + 1, JWT_ACCESS, NOW);
	cat(t, sizeof(t), " ", tok, (const char *)NULL);
	check_reject("a leading space", t, n + 1, JWT_ACCESS, NOW);
	cat(t, sizeof(t), "Bearer ", tok, (const char *)NULL);
	check_reject("a \"Bearer \" prefix", t, n + 7, JWT_ACCESS, NOW);
	memcpy(t, tok, n + 1);
	check_reject("the terminating NUL counted in len", t, n + 1,
	    JWT_ACCESS, NOW);
	memcpy(t, tok, n + 1);
	t[hlen + 5] = '\0';
	check_reject("a NUL byte inside", t, n, JWT_ACCESS, NOW);
	cat(t, sizeof(t), tok, ".", s, (const char *)NULL);
	check_accept("the first len bytes of a longer string", t, n,
	    JWT_ACCESS, NOW);

	/* Length: JWT_MAX is accepted, one byte more is not. */
	for (k = 0, n = 0; k < 1000 && n != JWT_MAX; k++) {
		snprintf(pay, sizeof(pay), "%s", ACC);
		snprintf(pay + strlen(pay) - 1, sizeof(pay) - strlen(pay) + 1,
		    ",\"x\":\"%0*d\"}", (int)k, 0);
		n = mk(t, sizeof(t), HDR, pay, strlen(pay), MAC_SHA256, KEY);
	}
	tap_ok(n == JWT_MAX, "a token of exactly JWT_MAX bytes was built");
	check_accept("a token of JWT_MAX bytes", t, n, JWT_ACCESS, NOW);
	snprintf(pay + strlen(pay) - 2, 4, "0\"}");
	n = mk(t, sizeof(t), HDR, pay, strlen(pay), MAC_SHA256, KEY);
	tap_ok(n == JWT_MAX + 1, "a token of JWT_MAX + 1 bytes was built");
	check_reject("a token of JWT_MAX + 1 bytes", t, n, JWT_ACCESS, NOW);

	/* Arguments. */
	n = strlen(tok);
	check_reject("want JWT_TYPE__MAX", tok, n, JWT_TYPE__MAX, NOW);
	tap_ok(jwt_verify((const unsigned char *)KEY, KEYLEN, NULL, 0,
	    JWT_ACCESS, NOW, &c) == AUTH_ERR_INVALID,
	    "reject: a NULL token");
	tap_ok(jwt_verify((const unsigned char *)KEY, KEYLEN, tok, n,
	    JWT_ACCESS, NOW, NULL) == AUTH_OK,
	    "verify: out may be NULL");
	memset(&c, 0xa5, sizeof(c));
	tap_ok(jwt_verify((const unsigned char *)KEY, 31, tok, n,
	    JWT_ACCESS, NOW, &c) == AUTH_ERR_INVALID &&
	    zeroed(&c, sizeof(c)),
	    "reject: a key of 31 bytes (RFC 7518, 3.2)");
	tap_ok(jwt_verify(NULL, KEYLEN, tok, n, JWT_ACCESS, NOW, &c) ==
	    AUTH_ERR_INVALID, "reject: a NULL key");
	tap_ok(jwt_hs256_check((const unsigned char *)KEY, KEYLEN, tok, n) ==
	    1, "jwt_hs256_check: the base token");
	tap_ok(jwt_hs256_check((const unsigned char *)FOREIGN, KEYLEN, tok,
	    n) == 0, "jwt_hs256_check: not with a foreign key");
}

/*
 * The FastAPI backend's refresh tokens: python-jose 3.3.0 (Debian 12's
 * python3-jose), /usr/bin/python3, jose.jwt.encode(claims, KEY,
 * algorithm="HS256") unless said otherwise.
 */
struct legacy {
	const char	*what;
	const char	*tok;
	int		 legacy_ok;	/* jwt_verify_legacy() accepts it */
	long long	 iat;
};

static const struct legacy legacies[] = {
	{ "{sub 7, type refresh, exp}, the FastAPI backend's",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI3IiwidHlwZSI6InJlZnJlc2giLCJleHAiOjQxMDI0NDQ4MDB9."
	  "2vLnAc5FnthqkoeW-D37vTHaCuOPW7IvRADvz-e-zu0", 1, 0 },
	{ "{sub 7, type refresh, iat, exp}",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI3IiwidHlwZSI6InJlZnJlc2giLCJpYXQiOjE3MDAwMDAwMDEsImV4"
	  "cCI6NDEwMjQ0NDgwMH0."
	  "wjQfUJT67P148glZ9kH7jzCkbbD-FN4dztJMrjDQKiM", 1, 1700000001 },
	{ "{sub 7, type access, exp}: an access token",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI3IiwidHlwZSI6ImFjY2VzcyIsImV4cCI6NDEwMjQ0NDgwMH0."
	  "Zifzck64qIa2yuYeAntAPebaQVA36Yr1pMEVLOv3kag", 0, 0 },
	{ "{sub 7, type refresh, sid, exp}: names a session",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI3IiwidHlwZSI6InJlZnJlc2giLCJzaWQiOiIwMTIzNDU2Nzg5YWJj"
	  "ZGVmMDEyMzQ1Njc4OWFiY2RlZiIsImV4cCI6NDEwMjQ0NDgwMH0."
	  "IDHs_8iSMaque8wKMc0s-jwLKtFjeJzpOn3D5S3v8OE", 0, 0 },
	{ "{sub 7, type refresh, jti, exp}: names a generation",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI3IiwidHlwZSI6InJlZnJlc2giLCJqdGkiOiJ4IiwiZXhwIjo0MTAy"
	  "NDQ0ODAwfQ."
	  "cgwStojQMzX-p5fsVUHpHKRUIUdzZdfmUC-5MOu5Wws", 0, 0 },
	{ "{sub 7, type refresh, exp 1700000000}: expired",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI3IiwidHlwZSI6InJlZnJlc2giLCJleHAiOjE3MDAwMDAwMDB9."
	  "5bbmkWgXT0URQZO3iuTb7YeFFxxnXHqe-gIXvafYrxE", 0, 0 },
	{ "{sub 7, type refresh, exp} signed with FOREIGN",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI3IiwidHlwZSI6InJlZnJlc2giLCJleHAiOjQxMDI0NDQ4MDB9."
	  "uumcJeMk9quC13PmcteFVknu-Pxr71dOT_eP2J12AGs", 0, 0 },
	{ "{sub 7, type refresh, iat \"x\", exp}: a bad iat",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI3IiwidHlwZSI6InJlZnJlc2giLCJpYXQiOiJ4IiwiZXhwIjo0MTAy"
	  "NDQ0ODAwfQ."
	  "jKPR1l1DiPAlpx7F-jmMJpOWPQN0hss49wOeWVxlyyU", 0, 0 },
	{ "{sub 7, exp}: no type",
	  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
	  "eyJzdWIiOiI3IiwiZXhwIjo0MTAyNDQ0ODAwfQ."
	  "Rs5gg7itPWredu6KznfV16r_vpOS-V8xyJia7ITeBaI", 0, 0 },
};

/*
 * jwt_verify_legacy(): the FastAPI backend's refresh tokens, and only
 * them; jwt_verify() refuses every one of them.
 */
static void
test_legacy(void)
{
	const struct legacy	*l;
	struct jwt_claims	 c;
	enum auth_status	 rc;
	size_t			 i, n;
	char			*copy;

	for (i = 0; i < sizeof(legacies) / sizeof(legacies[0]); i++) {
		l = &legacies[i];
		n = strlen(l->tok);
		if ((copy = malloc(n)) == NULL) {
			perror("malloc");
			exit(2);
		}
		memcpy(copy, l->tok, n);
		memset(&c, 0xa5, sizeof(c));
		rc = jwt_verify_legacy((const unsigned char *)KEY, KEYLEN,
		    copy, n, JWT_REFRESH, FIX_NOW, &c);
		free(copy);
		if (l->legacy_ok)
			tap_ok(rc == AUTH_OK && c.type == JWT_REFRESH &&
			    c.sub == 7 && c.exp == 4102444800LL &&
			    c.iat == l->iat && c.sid[0] == '\0' &&
			    c.jti[0] == '\0', "legacy: accepts %s", l->what);
		else
			tap_ok(rc == AUTH_ERR_INVALID && zeroed(&c, sizeof(c)),
			    "legacy: refuses %s", l->what);
		tap_ok(verify(l->tok, n, JWT_REFRESH, FIX_NOW, &c) ==
		    AUTH_ERR_INVALID, "jwt_verify refuses %s", l->what);
	}
	/* The FastAPI backend's access token, as an access token. */
	tap_ok(jwt_verify_legacy((const unsigned char *)KEY, KEYLEN,
	    legacies[2].tok, strlen(legacies[2].tok), JWT_ACCESS, FIX_NOW,
	    &c) == AUTH_OK && c.type == JWT_ACCESS && c.sub == 7 &&
	    c.iat == 0, "legacy: accepts %s as an access token",
	    legacies[2].what);
	tap_ok(jwt_verify_legacy((const unsigned char *)KEY, KEYLEN,
	    legacies[0].tok, strlen(legacies[0].tok), JWT_ACCESS, FIX_NOW,
	    NULL) == AUTH_ERR_INVALID, "legacy: a refresh token is no access "
	    "token");
	/* Our own refresh token is no legacy one. */
	tap_ok(jwt_verify_legacy((const unsigned char *)KEY, KEYLEN,
	    fixtures[1].tok, strlen(fixtures[1].tok), JWT_REFRESH, FIX_NOW,
	    NULL) ==
	    AUTH_ERR_INVALID, "legacy: refuses a refresh token with sid and "
	    "jti (%s)", fixtures[1].what);
	tap_ok(jwt_verify_legacy((const unsigned char *)KEY, 31,
	    legacies[0].tok, strlen(legacies[0].tok), JWT_REFRESH, FIX_NOW,
	    NULL) ==
	    AUTH_ERR_INVALID, "legacy: a key under 32 bytes is refused");
}

int
main(void)
{

	test_b64();
	test_rfc7515();
	test_fixtures();
	test_sign();
	test_crafted();
	test_structure();
	test_legacy();
	return tap_done();
}
