/* SPDX-License-Identifier: ISC */
/*
 * Validation of the email, username and password a client sends.  Each
 * validator returns NULL when the value is acceptable, or a static message
 * that becomes the "msg" of a FastAPI-style 422 answer; the endpoint tests
 * compare these messages verbatim, so change them in both places.
 * Only ASCII is ever folded to lower case, so the result does not depend
 * on the locale.  Nothing here logs: the values are the client's, and one
 * of them is a password.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "valid.h"

#define VALID_LABEL_MAX		63	/* RFC 1035, 2.3.4 */

#define MSG_EMAIL_EMPTY		"Email must not be empty"
#define MSG_EMAIL_LONG		"Email must be at most 254 characters"
#define MSG_EMAIL_LOCAL_LONG	"Email local part must be at most 64 " \
				"characters"
#define MSG_EMAIL_INVALID	"Invalid email address"
#define MSG_USERNAME_LEN	"Username must be 3 to 32 characters"
#define MSG_USERNAME_CHARS	"Username may contain only letters, " \
				"digits, '_', '.' and '-'"
#define MSG_PASSWORD_SHORT	"Password must be at least 8 characters"
#define MSG_PASSWORD_LONG	"Password must be at most 72 bytes"
#define MSG_PASSWORD_MATCH	"Password must not match the email or " \
				"username"
#define MSG_PASSWORD_COMMON	"Password is too common"

/*
 * The characters besides letters and digits that RFC 5322, 3.2.3 allows
 * in an atom.  The dot is handled apart: it separates atoms.
 */
#define EMAIL_ATEXT_SPECIALS	"!#$%&'*+/=?^_`{|}~-"

/*
 * The list of common passwords, lower-cased, sorted bytewise and without
 * duplicates, compiled in by scripts/gen-common-passwords: one string of
 * NUL-terminated passwords and the offset of each in it.
 */
extern const char valid_common_passwords[];
extern const unsigned int valid_common_password_at[];
extern const size_t valid_common_passwords_count;

static int
ascii_space(unsigned char c)
{

	return c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\r';
}

static int
ascii_alnum(unsigned char c)
{

	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static char
ascii_lower(unsigned char c)
{

	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	return (char)c;
}

/*
 * Return 1 if a (alen bytes) and b (blen bytes) are equal when ASCII
 * letters are folded to lower case, else 0.
 */
static int
ascii_caseeq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t	 i;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++)
		if (ascii_lower((unsigned char)a[i]) !=
		    ascii_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/*
 * Return the length of the UTF-8 sequence that starts at s (n bytes
 * left, n >= 1) if it is well-formed (RFC 3629, 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF), else 0.
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t		 k, need;
	unsigned char	 lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	if (n - 1 < need)
		return 0;
	for (k = 1; k <= need; k++, lo = 0x80, hi = 0xbf)
		if (s[k] < lo || s[k] > hi)
			return 0;
	return need + 1;
}

/*
 * Return the number of characters in the len bytes of well-formed UTF-8
 * at s.
 */
static size_t
utf8_chars(const char *s, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * Return 1 if the character of n bytes at s may stand in an atom or a
 * domain label as a letter would: with VALID_ADDR_UTF8 in flags, any
 * non-ASCII character but the C1 controls U+0080 to U+009F (RFC 6531,
 * 3.3: UTF8-non-ascii); without it, none.
 */
static int
addr_utf8_ok(const unsigned char *s, size_t n, int flags)
{

	if ((flags & VALID_ADDR_UTF8) == 0 || n < 2)
		return 0;
	return !(s[0] == 0xc2 && s[1] < 0xa0);
}

/*
 * Return 1 if the len (at least 1) bytes at s are a dot-atom as in
 * RFC 5322, 3.2.3, without comments or folding white space, of at most
 * VALID_EMAIL_LOCAL_MAX characters, else 0.  Quoted local parts are
 * refused on purpose: no mail we send needs them, the FastAPI backend's
 * validator refused them too, and they make the address harder to pass
 * safely to SMTP.  The bytes are well-formed UTF-8.
 */
static int
addr_local_ok(const char *s, size_t len, int flags)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, n;

	if (utf8_chars(s, len) > VALID_EMAIL_LOCAL_MAX)
		return 0;
	for (i = 0; i < len; i += n) {
		n = utf8_seq(p + i, len - i);
		if (p[i] == '.') {
			if (i == 0 || i == len - 1 || p[i - 1] == '.')
				return 0;
		} else if (p[i] >= 0x80) {
			if (!addr_utf8_ok(p + i, n, flags))
				return 0;
		} else if (!ascii_alnum(p[i]) && (p[i] == '\0' ||
		    strchr(EMAIL_ATEXT_SPECIALS, p[i]) == NULL))
			return 0;
	}
	return 1;
}

/*
 * Return 1 if the len bytes at s are a host name of at least two labels,
 * each of letters, digits and hyphens that neither starts nor ends with
 * a hyphen (RFC 1123, 2.1) and is 1 to 63 bytes long (RFC 1035, 2.3.4),
 * else 0.  With VALID_ADDR_UTF8 a label may also hold non-ASCII
 * characters (an internationalised domain as the user sees it, RFC 5890);
 * such a label is not held to 63 bytes, which bind its ASCII form only.
 * A trailing dot leaves an empty last label and is refused.  The bytes
 * are well-formed UTF-8.
 */
static int
addr_domain_ok(const char *s, size_t len, int flags)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, n, start = 0, labels = 0;
	int			 utf8 = 0;

	for (i = 0; i <= len; i += n) {
		n = 1;
		if (i == len || p[i] == '.') {
			if (i == start ||
			    (!utf8 && i - start > VALID_LABEL_MAX))
				return 0;
			if (p[start] == '-' || p[i - 1] == '-')
				return 0;
			labels++;
			start = i + 1;
			utf8 = 0;
			continue;
		}
		if (p[i] >= 0x80) {
			n = utf8_seq(p + i, len - i);
			if (!addr_utf8_ok(p + i, n, flags))
				return 0;
			utf8 = 1;
		} else if (!ascii_alnum(p[i]) && p[i] != '-')
			return 0;
	}
	return labels >= 2;
}

/*
 * Return 1 if the n bytes at s are well-formed UTF-8 (RFC 3629, 4): no
 * overlong forms, no surrogates, nothing above U+10FFFF; else 0.  NUL
 * bytes are well-formed; a caller that refuses them checks apart.
 */
int
valid_utf8(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, k;

	for (i = 0; i < n; i += k)
		if ((k = utf8_seq(p + i, n - i)) == 0)
			return 0;
	return 1;
}

/*
 * Return 1 if the len bytes at s (not NUL-terminated, not trimmed) are an
 * address local@domain that we accept anywhere, else 0: exactly one "@",
 * a dot-atom local part (RFC 5322, 3.2.3) of 1 to 64 characters and a
 * host name of two labels or more (see addr_domain_ok), at most 254
 * characters in all (RFC 5321, 4.5.3.1.3).  Without flags everything must
 * be ASCII, and then characters are bytes.  With VALID_ADDR_UTF8 the
 * bytes must be well-formed UTF-8 and non-ASCII characters (except the C1
 * controls) count as letters (RFC 6531, 3.3), as in the addresses the
 * FastAPI backend's validator (email-validator) accepted.  No address
 * this accepts holds a control character, a space, a quote, "<", ">",
 * "," or a second "@": safe in an SMTP command and a header.
 */
int
valid_address(const char *s, size_t len, int flags)
{
	const char	*at;
	size_t		 locallen;

	if (s == NULL || len == 0 || !valid_utf8(s, len) ||
	    utf8_chars(s, len) > VALID_EMAIL_MAX)
		return 0;
	if ((at = memchr(s, '@', len)) == NULL)
		return 0;
	locallen = (size_t)(at - s);
	if (memchr(at + 1, '@', len - locallen - 1) != NULL)
		return 0;
	return locallen > 0 && addr_local_ok(s, locallen, flags) &&
	    addr_domain_ok(at + 1, len - locallen - 1, flags);
}

static int
common_cmp(const void *key, const void *elem)
{

	return strcmp((const char *)key,
	    valid_common_passwords + *(const unsigned int *)elem);
}

/*
 * The rules valid_email() and valid_email_lookup() share, in the order
 * of their messages: trim ASCII white space; not empty; (with
 * VALID_ADDR_UTF8) well-formed UTF-8; at most 254 characters; one "@";
 * a local part of at most 64 characters; then valid_address().  On
 * success the address with its ASCII letters lower-cased (and nothing
 * else: the result does not depend on the locale or on Unicode tables) is
 * written NUL-terminated to out, which must hold outmax + 1 bytes.
 */
static const char *
email_normalise(const char *in, size_t inlen, char *out, size_t outsz,
    size_t outmax, int flags)
{
	const char	*s, *at;
	size_t		 len, i;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (out == NULL || outsz < outmax + 1)
		return MSG_EMAIL_INVALID;
	if (in == NULL)
		return MSG_EMAIL_EMPTY;

	s = in;
	len = inlen;
	while (len > 0 && ascii_space((unsigned char)s[0])) {
		s++;
		len--;
	}
	while (len > 0 && ascii_space((unsigned char)s[len - 1]))
		len--;

	if (len == 0)
		return MSG_EMAIL_EMPTY;
	if ((flags & VALID_ADDR_UTF8) != 0 && !valid_utf8(s, len))
		return MSG_EMAIL_INVALID;
	if (((flags & VALID_ADDR_UTF8) != 0 ? utf8_chars(s, len) : len) >
	    VALID_EMAIL_MAX || len > outmax)
		return MSG_EMAIL_LONG;
	if ((at = memchr(s, '@', len)) == NULL ||
	    memchr(at + 1, '@', len - (size_t)(at - s) - 1) != NULL)
		return MSG_EMAIL_INVALID;
	if (((flags & VALID_ADDR_UTF8) != 0 ? utf8_chars(s, (size_t)(at - s)) :
	    (size_t)(at - s)) > VALID_EMAIL_LOCAL_MAX)
		return MSG_EMAIL_LOCAL_LONG;
	if (!valid_address(s, len, flags))
		return MSG_EMAIL_INVALID;

	for (i = 0; i < len; i++)
		out[i] = ascii_lower((unsigned char)s[i]);
	out[len] = '\0';
	return NULL;
}

/*
 * Validate and normalise the email address of a new account: in (inlen
 * bytes, not NUL-terminated, no embedded NUL).  Leading and trailing
 * ASCII white space is trimmed, then the address must be ASCII, at most
 * 254 bytes (RFC 5321, 4.5.3.1.3), with one "@", a dot-atom local part
 * of 1 to 64 bytes and a host name of two labels or more (valid_address()
 * without flags).  On success the address, with ASCII letters
 * lower-cased, is written NUL-terminated to out and NULL is returned.
 * Otherwise out holds the empty string and a static message is returned.
 * outsz must be at least VALID_EMAIL_MAX + 1; a smaller buffer is a
 * caller's bug and every address is then refused.
 */
const char *
valid_email(const char *in, size_t inlen, char *out, size_t outsz)
{

	return email_normalise(in, inlen, out, outsz, VALID_EMAIL_MAX, 0);
}

/*
 * Validate and normalise an email address that names an existing
 * account (login, forgot-password, reset-password): accept every address
 * the FastAPI backend could have stored, which valid_email() would not
 * all take (its validator, email-validator 2.x, took UTF-8 local parts
 * and internationalised domains: jos\u00e9@example.com,
 * bob@b\u00fccher.de).  As
 * valid_email(), but valid_address() with VALID_ADDR_UTF8: well-formed
 * UTF-8, at most 254 characters (local part 64), no control character,
 * no space, exactly one "@".  Only ASCII letters are lower-cased: compare
 * the result with a stored address through user_email_matches().  On
 * success out (outsz at least VALID_EMAIL_LOOKUP_MAX + 1 bytes) holds
 * the result and NULL is returned; otherwise out is "" and a static
 * message is returned.
 */
const char *
valid_email_lookup(const char *in, size_t inlen, char *out, size_t outsz)
{

	return email_normalise(in, inlen, out, outsz, VALID_EMAIL_LOOKUP_MAX,
	    VALID_ADDR_UTF8);
}

/*
 * Validate the username s (len bytes, not trimmed): 3 to 32 of the ASCII
 * letters, digits, "_", "." and "-".  Returns NULL if it is acceptable,
 * else a static message; a NULL s counts as empty.
 */
const char *
valid_username(const char *s, size_t len)
{
	size_t		 i;
	unsigned char	 c;

	if (s == NULL || len < VALID_USERNAME_MIN || len > VALID_USERNAME_MAX)
		return MSG_USERNAME_LEN;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (!ascii_alnum(c) && c != '_' && c != '.' && c != '-')
			return MSG_USERNAME_CHARS;
	}
	return NULL;
}

/*
 * Validate the password pw (len bytes of UTF-8, no NUL).  It must be 8 to
 * 72 bytes: bcrypt reads no more than 72 (crypt(5)), and a longer
 * password is refused rather than silently cut.  It must not equal,
 * ignoring ASCII case, the normalised email, the email's local part or
 * the username; email and username may be NULL when they were themselves
 * invalid, and are then not compared.  Last, it must not be in the list
 * of common passwords.  Returns NULL if it is acceptable, else the static
 * message of the first rule broken, in that order.
 */
const char *
valid_password(const char *pw, size_t len, const char *email,
    const char *username)
{
	const char	*at;

	if (pw == NULL || len < VALID_PASSWORD_MIN)
		return MSG_PASSWORD_SHORT;
	if (len > VALID_PASSWORD_MAX)
		return MSG_PASSWORD_LONG;
	if (email != NULL) {
		if (ascii_caseeq(pw, len, email, strlen(email)))
			return MSG_PASSWORD_MATCH;
		if ((at = strchr(email, '@')) != NULL &&
		    ascii_caseeq(pw, len, email, (size_t)(at - email)))
			return MSG_PASSWORD_MATCH;
	}
	if (username != NULL &&
	    ascii_caseeq(pw, len, username, strlen(username)))
		return MSG_PASSWORD_MATCH;
	if (valid_common_password(pw, len))
		return MSG_PASSWORD_COMMON;
	return NULL;
}

/*
 * Return 1 if the password pw (len bytes), with ASCII letters lower-cased,
 * is in the compiled-in list of common passwords, else 0.  A password
 * longer than VALID_PASSWORD_MAX bytes, or holding a NUL, is never in the
 * list.  The lower-cased copy lives on the stack and is wiped before
 * returning.
 */
int
valid_common_password(const char *pw, size_t len)
{
	char	 buf[VALID_PASSWORD_MAX + 1];
	size_t	 i;
	int	 found = 0;

	if (pw == NULL || len > VALID_PASSWORD_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (pw[i] == '\0')
			goto out;
		buf[i] = ascii_lower((unsigned char)pw[i]);
	}
	buf[len] = '\0';
	found = bsearch(buf, valid_common_password_at,
	    valid_common_passwords_count, sizeof(valid_common_password_at[0]),
	    common_cmp) != NULL;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return found;
}
