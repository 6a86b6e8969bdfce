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
 * duplicates, compiled in by scripts/gen-common-passwords.
 */
extern const char *const valid_common_passwords[];
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
 * Return 1 if the len (at least 1) bytes at s are a dot-atom as in
 * RFC 5322, 3.2.3, without comments or folding white space, else 0.
 * Quoted local parts are refused on purpose: no mail we send needs them
 * and they make the address harder to pass safely to SMTP.
 */
static int
email_local_ok(const char *s, size_t len)
{
	size_t		 i;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '.') {
			if (i == 0 || i == len - 1 || s[i - 1] == '.')
				return 0;
		} else if (!ascii_alnum(c) &&
		    (c == '\0' || strchr(EMAIL_ATEXT_SPECIALS, c) == NULL))
			return 0;
	}
	return 1;
}

/*
 * Return 1 if the len bytes at s are a host name of at least two labels,
 * each of 1 to 63 letters, digits and hyphens that neither starts nor
 * ends with a hyphen (RFC 1123, 2.1), else 0.  A trailing dot leaves an
 * empty last label and is refused.  The domain's limit of 253 bytes needs
 * no test here: the whole address is at most 254 bytes and holds a
 * non-empty local part and an "@".
 */
static int
email_domain_ok(const char *s, size_t len)
{
	size_t		 i, start, labels;
	unsigned char	 c;

	labels = 0;
	start = 0;
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (i == start || i - start > VALID_LABEL_MAX)
				return 0;
			if (s[start] == '-' || s[i - 1] == '-')
				return 0;
			labels++;
			start = i + 1;
			continue;
		}
		c = (unsigned char)s[i];
		if (!ascii_alnum(c) && c != '-')
			return 0;
	}
	return labels >= 2;
}

static int
common_cmp(const void *key, const void *elem)
{

	return strcmp((const char *)key, *(const char *const *)elem);
}

/*
 * Validate and normalise the email address in (inlen bytes, not
 * NUL-terminated, no embedded NUL).  Leading and trailing ASCII white
 * space is trimmed, then the address must be at most 254 bytes
 * (RFC 5321, 4.5.3.1.3) with one "@", a dot-atom local part of 1 to 64
 * bytes and a host name of two labels or more.  On success the address,
 * with ASCII letters lower-cased, is written NUL-terminated to out and
 * NULL is returned.  Otherwise out holds the empty string and a static
 * message is returned.  outsz must be at least VALID_EMAIL_MAX + 1; a
 * smaller buffer is a caller's bug and every address is then refused.
 */
const char *
valid_email(const char *in, size_t inlen, char *out, size_t outsz)
{
	const char	*s, *at;
	size_t		 len, locallen, i;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (out == NULL || outsz < VALID_EMAIL_MAX + 1)
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
	if (len > VALID_EMAIL_MAX)
		return MSG_EMAIL_LONG;
	if ((at = memchr(s, '@', len)) == NULL)
		return MSG_EMAIL_INVALID;
	locallen = (size_t)(at - s);
	if (memchr(at + 1, '@', len - locallen - 1) != NULL)
		return MSG_EMAIL_INVALID;
	if (locallen > VALID_EMAIL_LOCAL_MAX)
		return MSG_EMAIL_LOCAL_LONG;
	if (locallen == 0 || !email_local_ok(s, locallen) ||
	    !email_domain_ok(at + 1, len - locallen - 1))
		return MSG_EMAIL_INVALID;

	for (i = 0; i < len; i++)
		out[i] = ascii_lower((unsigned char)s[i]);
	out[len] = '\0';
	return NULL;
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
	found = bsearch(buf, valid_common_passwords,
	    valid_common_passwords_count, sizeof(valid_common_passwords[0]),
	    common_cmp) != NULL;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return found;
}
