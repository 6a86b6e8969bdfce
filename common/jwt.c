/* SPDX-License-Identifier: ISC */
/*
 * JSON Web Tokens (RFC 7519) in the JWS compact serialisation (RFC 7515,
 * 7.1), signed with HMAC-SHA256 (RFC 7518, 3.2): the access and refresh
 * tokens of the API.  The verifier is deliberately narrow: one algorithm,
 * one key, strict base64url, strict JSON, the signature checked before
 * any claim is read, and a single answer for every kind of rejection so
 * that callers have nothing to leak.  Nothing here logs, and nothing
 * is allocated beyond json-c's objects and tokener: the module is pure.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "hmac.h"
#include "jwt.h"

#define JWT_HS256_LEN	HMAC_SHA256_LEN
#define JWT_KEY_MIN	32	/* RFC 7518, 3.2: at least the hash size */
#define JWT_SUB_DIGITS	19	/* LLONG_MAX has 19 decimal digits */
#define JWT_TIME_MAX	(1LL << 53)	/* exact in an IEEE double */
/* json-c counts one more than the levels it allows: three levels. */
#define JWT_JSON_DEPTH	4

static const char jwt_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * The only protected header we write, {"alg":"HS256","typ":"JWT"} byte
 * for byte (issue 3), in base64url.  python-jose wrote the same bytes,
 * so nearly every token presented starts with it, and jwt_check() takes
 * it as read without parsing it again.
 */
static const char jwt_header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

static const char *const jwt_type_names[JWT_TYPE__MAX] = {
	"access", /* JWT_ACCESS */
	"refresh", /* JWT_REFRESH */
};

/*
 * Return the 6-bit value of base64url character c (RFC 4648, 5), or -1
 * if c is not in that alphabet: no "+", "/", "=" or white space.
 */
static int
jwt_b64url_value(unsigned char c)
{

	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Return 1 if key is usable as an HS256 key: present, at least the size
 * of the hash (RFC 7518, 3.2 makes that a MUST), and of a sane length.
 * Otherwise return 0.
 */
static int
jwt_key_ok(const unsigned char *key, size_t keylen)
{

	return key != NULL && keylen >= JWT_KEY_MIN && keylen <= INT_MAX;
}

/*
 * Return 1 if the n bytes at s are exactly JWT_ID_LEN lower-case
 * hexadecimal digits, the form of our sid and jti; else 0.
 */
static int
jwt_id_ok(const char *s, size_t n)
{
	size_t	 i;

	if (n != JWT_ID_LEN)
		return 0;
	for (i = 0; i < n; i++)
		if ((s[i] < '0' || s[i] > '9') && (s[i] < 'a' || s[i] > 'f'))
			return 0;
	return 1;
}

/*
 * Return 1 if t is a time we accept in "iat" or "exp": a number of
 * seconds from 0 to 2^53, so that Python and JavaScript peers read the
 * same value and adding the leeway cannot overflow.  Else return 0.
 */
static int
jwt_time_ok(long long t)
{

	return t >= 0 && t <= JWT_TIME_MAX;
}

/*
 * Decode the n base64url characters at in strictly and parse them as one
 * JSON object with json-c in strict mode: valid UTF-8, at most three
 * levels deep, nothing but white space after the value.  Return the
 * object, which the caller puts, or NULL.
 */
static struct json_object *
jwt_json_object(const char *in, size_t n)
{
	unsigned char		 buf[JWT_MAX];
	struct json_tokener	*tok = NULL;
	struct json_object	*obj = NULL;
	size_t			 len;

	if (jwt_b64url_decode(in, n, buf, sizeof(buf), &len) == -1 ||
	    len == 0)
		goto out;
	if ((tok = json_tokener_new_ex(JWT_JSON_DEPTH)) == NULL)
		goto out;
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	/*
	 * json-c consumes trailing white space itself; it stops before a
	 * NUL byte, which the parse end then shows.
	 */
	if (obj == NULL ||
	    json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		obj = NULL;
	}
out:
	if (tok != NULL)
		json_tokener_free(tok);
	return obj;
}

/*
 * Return the string member key of obj and set *len, or return NULL if it
 * is missing, not a JSON string, or holds a NUL byte ("\u0000").  The
 * string is borrowed from obj.  Where a key appears twice json-c keeps
 * the last value (RFC 8259, 4 leaves it open), and it cuts a key at a
 * "\u0000"; that is acceptable because nothing is accepted unless the
 * header and payload, exactly as received, were signed with our key, and
 * we never write such JSON.
 */
static const char *
jwt_string(struct json_object *obj, const char *key, size_t *len)
{
	struct json_object	*v;
	const char		*s;
	int			 n;

	*len = 0;
	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	if ((s = json_object_get_string(v)) == NULL ||
	    (n = json_object_get_string_len(v)) < 0 ||
	    strlen(s) != (size_t)n)
		return NULL;
	*len = (size_t)n;
	return s;
}

/*
 * Return 1 if member key of obj is exactly the string want, else 0.
 */
static int
jwt_string_is(struct json_object *obj, const char *key, const char *want)
{
	const char	*s;
	size_t		 len;

	if ((s = jwt_string(obj, key, &len)) == NULL)
		return 0;
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

/*
 * Read member key of obj as a time ("iat", "exp"): a JSON integer, never
 * a double, string or boolean (json-c would convert those), from 0 to
 * 2^53.  Return 1 and set *t, or return 0.
 */
static int
jwt_time(struct json_object *obj, const char *key, long long *t)
{
	struct json_object	*v;
	int64_t			 x;

	*t = 0;
	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	/* Values beyond INT64_MAX come back clamped to it: out of range. */
	x = json_object_get_int64(v);
	if (!jwt_time_ok(x))
		return 0;
	*t = x;
	return 1;
}

/*
 * Read "sub", our user id: a JSON string (as the FastAPI backend writes
 * it) of 1 to 19 decimal digits, no sign, no leading zero, at least 1,
 * not above LLONG_MAX.  Return 1 and set *sub, or return 0.
 */
static int
jwt_sub(struct json_object *obj, long long *sub)
{
	const char	*s;
	size_t		 i, len;
	long long	 x = 0;
	int		 d;

	*sub = 0;
	if ((s = jwt_string(obj, "sub", &len)) == NULL ||
	    len == 0 || len > JWT_SUB_DIGITS || s[0] == '0')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		d = s[i] - '0';
		if (x > (LLONG_MAX - d) / 10)
			return 0;
		x = x * 10 + d;
	}
	*sub = x;
	return 1;
}

/*
 * Return 1 if the claims are ones jwt_verify() would accept back: a
 * known type, a positive sub, times in range and, for a refresh token,
 * a sid and a jti of JWT_ID_LEN lower-case hex digits.  Else return 0.
 */
static int
jwt_claims_ok(const struct jwt_claims *c)
{

	if ((unsigned int)c->type >= JWT_TYPE__MAX || c->sub < 1 ||
	    !jwt_time_ok(c->iat) || !jwt_time_ok(c->exp))
		return 0;
	if (c->type != JWT_REFRESH)
		return 1;
	return jwt_id_ok(c->sid, strnlen(c->sid, sizeof(c->sid))) &&
	    jwt_id_ok(c->jti, strnlen(c->jti, sizeof(c->jti)));
}

/*
 * Return 1 if the protected header, the n base64url characters at h, is
 * one we accept: a strict JSON object with "alg" exactly "HS256", "typ"
 * absent or exactly "JWT", and no "crit"; else 0.  RFC 7515, 4.1.1 and
 * RFC 8725, 3.1: the algorithm is ours to choose, never the token's.
 * RFC 7515, 4.1.11: an extension we are told we must understand is one
 * we do not.  "kid", "jku", "jwk", "x5u" and "x5c" are ignored: the key
 * never comes from the token.
 */
static int
jwt_header_ok(const char *h, size_t n)
{
	struct json_object	*hdr;
	int			 ok;

	/* Our own header, byte for byte: it says exactly that. */
	if (n == sizeof(jwt_header_b64) - 1 &&
	    memcmp(h, jwt_header_b64, n) == 0)
		return 1;
	if ((hdr = jwt_json_object(h, n)) == NULL)
		return 0;
	ok = jwt_string_is(hdr, "alg", "HS256") &&
	    !json_object_object_get_ex(hdr, "crit", NULL) &&
	    (!json_object_object_get_ex(hdr, "typ", NULL) ||
	    jwt_string_is(hdr, "typ", "JWT"));
	json_object_put(hdr);
	return ok;
}

/*
 * Check everything about tok that does not depend on its claims, in this
 * order: at most JWT_MAX bytes with no NUL, exactly three non-empty
 * dot-separated parts, a protected header that is a strict JSON object
 * with "alg" exactly "HS256", "typ" absent or exactly "JWT" and no
 * "crit", a signature that strictly decodes to 32 bytes, and that
 * signature equal (in constant time) to HMAC-SHA256 with key over the
 * header and payload parts exactly as received (RFC 7515, 5.2).
 * Return 1 and set *pay and *paylen to the payload part, or return 0.
 */
static int
jwt_check(const unsigned char *key, size_t keylen, const char *tok,
    size_t len, const char **pay, size_t *paylen)
{
	unsigned char		 md[JWT_HS256_LEN], sig[JWT_HS256_LEN];
	const char		*d1, *d2, *s;
	size_t			 hlen, plen, slen, siglen = 0;
	int			 ok = 0;

	*pay = NULL;
	*paylen = 0;
	memset(sig, 0, sizeof(sig));
	if (!jwt_key_ok(key, keylen) || tok == NULL || len > JWT_MAX ||
	    memchr(tok, '\0', len) != NULL)
		goto out;

	/* Exactly two dots, so three parts; none of them empty. */
	if ((d1 = memchr(tok, '.', len)) == NULL)
		goto out;
	hlen = (size_t)(d1 - tok);
	if ((d2 = memchr(d1 + 1, '.', len - hlen - 1)) == NULL)
		goto out;
	plen = (size_t)(d2 - d1 - 1);
	s = d2 + 1;
	slen = len - hlen - plen - 2;
	if (memchr(s, '.', slen) != NULL || hlen == 0 || plen == 0 ||
	    slen == 0)
		goto out;

	if (!jwt_header_ok(tok, hlen))
		goto out;

	/* Strict decoding makes the signature's text canonical too. */
	if (jwt_b64url_decode(s, slen, sig, sizeof(sig), &siglen) == -1 ||
	    siglen != JWT_HS256_LEN)
		goto out;
	if (hmac_sha256(key, keylen, tok, hlen + 1 + plen, md) != AUTH_OK)
		goto out;
	if (CRYPTO_memcmp(md, sig, JWT_HS256_LEN) != 0)
		goto out;

	*pay = d1 + 1;
	*paylen = plen;
	ok = 1;
out:
	OPENSSL_cleanse(md, sizeof(md));
	OPENSSL_cleanse(sig, sizeof(sig));
	return ok;
}

/*
 * What jwt_verify() and jwt_verify_legacy() share: verify tok (len
 * bytes) signed with key as a token of type want at time now.  legacy
 * says a token of the FastAPI backend's: "iat" may be absent (then 0),
 * and neither "sid" nor "jti" may be present.
 */
static enum auth_status
jwt_read(const unsigned char *key, size_t keylen, const char *tok,
    size_t len, enum jwt_type want, int legacy, long long now,
    struct jwt_claims *out)
{
	struct json_object	*obj = NULL;
	struct jwt_claims	 c;
	const char		*pay, *s;
	size_t			 paylen, n;
	enum auth_status	 rc = AUTH_ERR_INVALID;

	memset(&c, 0, sizeof(c));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if ((unsigned int)want >= JWT_TYPE__MAX)
		goto out;
	if (!jwt_check(key, keylen, tok, len, &pay, &paylen))
		goto out;

	/* The signature is good: the payload is ours to read. */
	if ((obj = jwt_json_object(pay, paylen)) == NULL)
		goto out;
	if (!jwt_sub(obj, &c.sub) ||
	    !jwt_string_is(obj, "type", jwt_type_names[want]) ||
	    !jwt_time(obj, "exp", &c.exp))
		goto out;
	if (!jwt_time(obj, "iat", &c.iat) &&
	    (!legacy || json_object_object_get_ex(obj, "iat", NULL)))
		goto out;
	c.type = want;
	/* Both times are in 0..2^53: neither sum can overflow. */
	if (now >= c.exp + JWT_LEEWAY || c.iat - JWT_LEEWAY > now)
		goto out;
	if (legacy) {
		/* A token naming a session is ours: jwt_verify() judges it. */
		if (json_object_object_get_ex(obj, "sid", NULL) ||
		    json_object_object_get_ex(obj, "jti", NULL))
			goto out;
	} else if (want == JWT_REFRESH) {
		if ((s = jwt_string(obj, "sid", &n)) == NULL ||
		    !jwt_id_ok(s, n))
			goto out;
		memcpy(c.sid, s, n);
		if ((s = jwt_string(obj, "jti", &n)) == NULL ||
		    !jwt_id_ok(s, n))
			goto out;
		memcpy(c.jti, s, n);
	}
	if (out != NULL)
		*out = c;
	rc = AUTH_OK;
out:
	json_object_put(obj);
	return rc;
}

/*
 * Encode the n bytes at in as base64url without padding (RFC 4648, 5;
 * RFC 7515, 2) into out, which holds outsz bytes, and NUL-terminate it.
 * Return the length of the text, or 0 if it does not fit (out is then
 * "" when outsz allows) or n is 0.
 */
size_t
jwt_b64url_encode(const unsigned char *in, size_t n, char *out,
    size_t outsz)
{
	size_t		 i, o = 0, need;
	uint32_t	 v;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (in == NULL || out == NULL || n == 0 || n / 3 >= SIZE_MAX / 4 - 1)
		return 0;
	need = n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
	if (need >= outsz)
		return 0;
	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = jwt_b64url_alphabet[v >> 18 & 0x3f];
		out[o++] = jwt_b64url_alphabet[v >> 12 & 0x3f];
		if (i + 1 < n)
			out[o++] = jwt_b64url_alphabet[v >> 6 & 0x3f];
		if (i + 2 < n)
			out[o++] = jwt_b64url_alphabet[v & 0x3f];
	}
	out[o] = '\0';
	return o;
}

/*
 * Decode the n characters at in (not NUL-terminated) as strict base64url
 * (RFC 4648, 5 without padding, as RFC 7515, 2 requires) into out, which
 * holds outsz bytes.  Every character must be in the alphabet A-Z a-z
 * 0-9 "-" "_"; a length of 1 modulo 4 is impossible; the bits left over
 * in the last character must be zero (RFC 4648, 3.5), so that each byte
 * string has exactly one encoding.  Return 0 and set *outlen, or return
 * -1 with *outlen 0 and whatever was written to out zeroed.
 */
int
jwt_b64url_decode(const char *in, size_t n, unsigned char *out,
    size_t outsz, size_t *outlen)
{
	size_t		 i, o = 0, need;
	uint32_t	 acc = 0;
	int		 bits = 0, v, rc = -1;

	*outlen = 0;
	if (n % 4 == 1 || (n > 0 && (in == NULL || out == NULL)))
		goto out;
	need = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
	if (need > outsz)
		goto out;
	for (i = 0; i < n; i++) {
		if ((v = jwt_b64url_value((unsigned char)in[i])) == -1)
			goto out;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1U << bits) - 1;
		}
	}
	/* Here acc holds only the 0, 2 or 4 leftover bits. */
	if (acc != 0)
		goto out;
	*outlen = o;
	rc = 0;
out:
	if (rc == -1 && o > 0)
		OPENSSL_cleanse(out, o);
	return rc;
}

/*
 * Return 1 if tok, len bytes that need not be NUL-terminated, is a JWS
 * whose protected header asks for HS256 and whose signature is
 * HMAC-SHA256 with key over its first two parts; else 0.  The payload
 * is not looked at: jwt_verify() does that after this says yes.  This
 * is what RFC 7515's Appendix A.1 example can be checked with.
 */
int
jwt_hs256_check(const unsigned char *key, size_t keylen, const char *tok,
    size_t len)
{
	const char	*pay;
	size_t		 paylen;

	return jwt_check(key, keylen, tok, len, &pay, &paylen);
}

/*
 * Make an HS256 JWT for the claims c with key into out, which holds
 * outsz bytes: the header {"alg":"HS256","typ":"JWT"}, a payload with
 * "sub" (c->sub in decimal, as a string), "type", "iat" and "exp" and,
 * for a refresh token, "sid" and "jti", and the signature.  Return
 * AUTH_OK; AUTH_ERR_INVALID for claims jwt_verify() would refuse, a key
 * shorter than 32 bytes, or a token that would not fit in outsz or
 * exceed JWT_MAX bytes; or AUTH_ERR_CRYPTO.  On failure
 * out is "" (when outsz > 0).
 */
enum auth_status
jwt_sign(const unsigned char *key, size_t keylen, const struct jwt_claims *c,
    char *out, size_t outsz)
{
	char			 pay[JWT_MAX];
	unsigned char		 md[JWT_HS256_LEN];
	size_t			 lim, n, m;
	int			 plen;
	enum auth_status	 rc = AUTH_ERR_INVALID;

	/* We write at most the JWT_MAX bytes of a token and a NUL. */
	lim = out == NULL ? 0 : outsz < JWT_MAX + 1 ? outsz : JWT_MAX + 1;
	if (lim > 0)
		out[0] = '\0';
	if (lim == 0 || c == NULL || !jwt_key_ok(key, keylen) ||
	    !jwt_claims_ok(c))
		goto out;

	/*
	 * Every value is a number or, checked above, a fixed type name or
	 * lower-case hex: nothing to escape.  The members in the order of
	 * test-jwt's known-answer tokens, which PyJWT and python-jose read.
	 */
	if (c->type == JWT_REFRESH)
		plen = snprintf(pay, sizeof(pay), "{\"sub\":\"%lld\",\"type\":"
		    "\"%s\",\"iat\":%lld,\"exp\":%lld,\"sid\":\"%s\","
		    "\"jti\":\"%s\"}", c->sub, jwt_type_names[c->type],
		    c->iat, c->exp, c->sid, c->jti);
	else
		plen = snprintf(pay, sizeof(pay), "{\"sub\":\"%lld\",\"type\":"
		    "\"%s\",\"iat\":%lld,\"exp\":%lld}", c->sub,
		    jwt_type_names[c->type], c->iat, c->exp);
	if (plen < 0 || (size_t)plen >= sizeof(pay))
		goto out;

	n = sizeof(jwt_header_b64) - 1;
	if (n + 1 >= lim)
		goto out;
	memcpy(out, jwt_header_b64, n);
	out[n++] = '.';
	if ((m = jwt_b64url_encode((const unsigned char *)pay, (size_t)plen,
	    out + n, lim - n)) == 0)
		goto out;
	n += m;
	rc = AUTH_ERR_CRYPTO;
	if (hmac_sha256(key, keylen, out, n, md) != AUTH_OK)
		goto out;
	rc = AUTH_ERR_INVALID;
	if (n + 1 >= lim)
		goto out;
	out[n++] = '.';
	if (jwt_b64url_encode(md, sizeof(md), out + n, lim - n) == 0)
		goto out;
	rc = AUTH_OK;
out:
	OPENSSL_cleanse(md, sizeof(md));
	if (rc != AUTH_OK && lim > 0)
		memset(out, 0, lim);
	return rc;
}

/*
 * Verify tok, len bytes that need not be NUL-terminated, as an HS256 JWT
 * signed with key, of type want, at time now (seconds since the epoch).
 * First everything jwt_hs256_check() checks, so that no claim is read
 * before the signature is known good; then the payload must be a strict
 * JSON object whose "sub" is a string of decimal digits naming a user id
 * of at least 1, whose "type" is want's name, whose "iat" and "exp" are
 * integers from 0 to 2^53 with "iat" no more than JWT_LEEWAY seconds in
 * the future and "exp" no more than JWT_LEEWAY seconds in the past
 * (RFC 7519, 4.1.4 and 4.1.6), and, for a refresh token, whose "sid" and
 * "jti" are JWT_ID_LEN lower-case hex digits; an access token's are
 * ignored, as are claims we do not know.  Return AUTH_OK and fill *out
 * (sid and jti are "" for an access token), or AUTH_ERR_INVALID for any
 * reason at all, with *out zeroed.  out may be NULL.
 */
enum auth_status
jwt_verify(const unsigned char *key, size_t keylen, const char *tok,
    size_t len, enum jwt_type want, long long now, struct jwt_claims *out)
{

	return jwt_read(key, keylen, tok, len, want, 0, now, out);
}

/*
 * Verify tok as a token of type want the FastAPI backend issued before
 * the switch: python-jose's {"sub", "type", "exp"}, signed with the same
 * key, naming no session.  Everything jwt_verify() checks, but "iat" may
 * be absent (*out's is then 0) and "sid" and "jti" must be: a token with
 * either is ours or forged, and only jwt_verify() may accept it.  Return
 * AUTH_OK and fill *out (sid and jti ""), or AUTH_ERR_INVALID with *out
 * zeroed.  out may be NULL.
 */
enum auth_status
jwt_verify_legacy(const unsigned char *key, size_t keylen, const char *tok,
    size_t len, enum jwt_type want, long long now, struct jwt_claims *out)
{

	return jwt_read(key, keylen, tok, len, want, 1, now, out);
}
