/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the validators of what a client sends (valid.c)
 * and of the password hashes read back from the database (pw.c).  The
 * input is up to three fields separated by NUL bytes (a JSON string
 * holding a NUL never reaches them: req.c refuses it): an email, a
 * username and a password; the first field is also tried as a stored
 * hash.
 *
 * Properties (any broken one aborts):
 *  - an accepted email is at most 254 bytes, has one "@", no upper-case
 *    ASCII, no space, control character, quote, comma or angle bracket,
 *    validates again to itself, and is accepted by mail_format() as a
 *    recipient (or no mail could reach the account);
 *  - validation ignores ASCII case and surrounding white space;
 *  - the lenient validator for addresses of existing accounts
 *    (valid_email_lookup(), valid_address() with VALID_ADDR_UTF8) takes
 *    every address valid_email() takes, to the same result, and what it
 *    takes is at most 1016 bytes of text with one "@" and none of the
 *    bytes that would end or change an SMTP path or a header, validates
 *    again to itself, and is accepted by mail_format() (the code goes
 *    to the stored address such a lookup finds);
 *  - a username is accepted exactly when it is 3 to 32 of the ASCII
 *    letters, digits, "_", "." and "-";
 *  - an accepted password is 8 to 72 bytes, equals neither the email,
 *    its local part nor the username ignoring ASCII case, and is not a
 *    common password; the common-password check ignores ASCII case;
 *  - pw_cost() accepts exactly the 60-byte "$2a$"/"$2b$"/"$2y$" form with
 *    a cost from 04 to 31, and pw_verify() never accepts a stored string
 *    it refuses (a DES hash of the very password included);
 *  - a password hashed at cost 4 verifies, and one byte more or less
 *    does not; one longer than 72 bytes is refused, never cut.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <crypt.h>

#include "cfg.h"
#include "mail.h"
#include "oracle.h"
#include "pw.h"
#include "valid.h"

#define FUZZ_MAX	1024	/* longer inputs are ignored */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 fuzz_from[] = "noreply@example.org";

static int
fuzz_space(char c)
{

	return c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\r';
}

static void
fuzz_email(const char *in, size_t len)
{
	static char		 msgbuf[8192];
	char			 out[VALID_EMAIL_MAX + 1];
	char			 again[VALID_EMAIL_MAX + 1];
	char			 other[FUZZ_MAX + 2];
	struct cfg		 cfg;
	const char		*msg, *msg2, *at;
	size_t			 i;

	msg = valid_email(in, len, out, sizeof(out));
	/* The same with other ASCII case and more white space around. */
	other[0] = len % 2 ? ' ' : '\t';
	for (i = 0; i < len; i++)
		other[i + 1] = (char)((in[i] >= 'a' && in[i] <= 'z') ?
		    in[i] - 32 : (in[i] >= 'A' && in[i] <= 'Z') ?
		    in[i] + 32 : in[i]);
	other[len + 1] = '\n';
	msg2 = valid_email(other, len + 2, again, sizeof(again));
	if ((msg == NULL) != (msg2 == NULL) ||
	    (msg == NULL && strcmp(out, again) != 0))
		oracle_fail("email: case or white space changed the answer");
	if (msg != NULL) {
		if (out[0] != '\0')
			oracle_fail("email: refused, but out is set");
		return;
	}
	if (strlen(out) > VALID_EMAIL_MAX || (at = strchr(out, '@')) ==
	    NULL || strchr(at + 1, '@') != NULL || at == out ||
	    at[1] == '\0' || oracle_control(out) ||
	    strpbrk(out, " \"(),:;<>[\\]ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL)
		oracle_fail("email: accepted \"%s\"", out);
	for (i = 0; out[i] != '\0'; i++)
		if (fuzz_space(out[i]) || (unsigned char)out[i] >= 0x80)
			oracle_fail("email: accepted \"%s\"", out);
	if (valid_email(out, strlen(out), again, sizeof(again)) != NULL ||
	    strcmp(out, again) != 0)
		oracle_fail("email: \"%s\" does not validate to itself", out);
	memset(&cfg, 0, sizeof(cfg));
	cfg.mail_from = fuzz_from;
	if (mail_format(&cfg, out, "Subject", "Body\n", 1700000000LL,
	    msgbuf, sizeof(msgbuf)) != AUTH_OK)
		oracle_fail("email: mail_format() refuses \"%s\"", out);
}

/*
 * Return 1 if s (len bytes) can pass for an address in an SMTP command or
 * a header: one "@" with something on both sides, no control character,
 * DEL, space, quote, comma, angle bracket or backslash, else 0.
 */
static int
fuzz_addr_safe(const char *s, size_t len)
{
	const char	*at;
	size_t		 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f ||
		    strchr("\"<>,\\", s[i]) != NULL)
			return 0;
	return (at = memchr(s, '@', len)) != NULL && at != s &&
	    at != s + len - 1 && memchr(at + 1, '@', len - (size_t)(at - s) -
	    1) == NULL;
}

static void
fuzz_lookup(const char *in, size_t len)
{
	static char	 msgbuf[8192];
	struct cfg	 cfg;
	char		 out[VALID_EMAIL_LOOKUP_MAX + 1];
	char		 again[VALID_EMAIL_LOOKUP_MAX + 1];
	char		 strict[VALID_EMAIL_MAX + 1];
	const char	*msg;

	if (valid_address(in, len, 0) && !valid_address(in, len,
	    VALID_ADDR_UTF8))
		oracle_fail("valid_address(): UTF8 refuses what ASCII takes");
	if (valid_address(in, len, VALID_ADDR_UTF8) &&
	    !fuzz_addr_safe(in, len))
		oracle_fail("valid_address() took an unsafe address");
	msg = valid_email_lookup(in, len, out, sizeof(out));
	if (valid_email(in, len, strict, sizeof(strict)) == NULL &&
	    (msg != NULL || strcmp(out, strict) != 0))
		oracle_fail("lookup: refuses or changes what valid_email() "
		    "takes");
	if (msg != NULL) {
		if (out[0] != '\0')
			oracle_fail("lookup: refused, but out is set");
		return;
	}
	if (strlen(out) > VALID_EMAIL_LOOKUP_MAX ||
	    !fuzz_addr_safe(out, strlen(out)) ||
	    strpbrk(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL)
		oracle_fail("lookup: accepted \"%s\"", out);
	if (valid_email_lookup(out, strlen(out), again, sizeof(again)) !=
	    NULL || strcmp(out, again) != 0)
		oracle_fail("lookup: \"%s\" does not validate to itself",
		    out);
	memset(&cfg, 0, sizeof(cfg));
	cfg.mail_from = fuzz_from;
	if (mail_format(&cfg, out, "Subject", "Body\n", 1700000000LL,
	    msgbuf, sizeof(msgbuf)) != AUTH_OK)
		oracle_fail("lookup: mail_format() refuses \"%s\"", out);
}

static void
fuzz_username(const char *s, size_t len)
{
	size_t	 i;
	int	 ok;

	ok = len >= 3 && len <= 32;
	for (i = 0; i < len && ok; i++)
		ok = (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-';
	if ((valid_username(s, len) == NULL) != ok)
		oracle_fail("username: wrong answer");
}

static void
fuzz_password(const char *pw, size_t len, const char *email,
    const char *user)
{
	char	 up[FUZZ_MAX + 1];
	size_t	 i;

	for (i = 0; i < len; i++)
		up[i] = (char)((pw[i] >= 'a' && pw[i] <= 'z') ?
		    pw[i] - 32 : pw[i]);
	up[len] = '\0';
	if (valid_common_password(pw, len) != valid_common_password(up, len))
		oracle_fail("password: the common check sees case");
	if (valid_password(pw, len, email, user) != NULL)
		return;
	if (len < 8 || len > 72 || valid_common_password(pw, len) ||
	    (email != NULL && strcasecmp(pw, email) == 0) ||
	    (user != NULL && strcasecmp(pw, user) == 0) ||
	    (email != NULL && strchr(email, '@') != NULL &&
	    (size_t)(strchr(email, '@') - email) == len &&
	    strncasecmp(pw, email, len) == 0))
		oracle_fail("password: accepted one it must refuse");
}

/*
 * Return the cost if s is exactly a bcrypt hash pw.c must accept, else
 * -1.
 */
static int
fuzz_bcrypt_cost(const char *s)
{
	size_t	 i;
	int	 cost;

	if (strlen(s) != 60 || (strncmp(s, "$2a$", 4) != 0 &&
	    strncmp(s, "$2b$", 4) != 0 && strncmp(s, "$2y$", 4) != 0) ||
	    s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' ||
	    s[6] != '$')
		return -1;
	cost = (s[4] - '0') * 10 + (s[5] - '0');
	if (cost < 4 || cost > 31)
		return -1;
	for (i = 7; i < 60; i++)
		if (strchr("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
		    "xyz0123456789", s[i]) == NULL || s[i] == '\0')
			return -1;
	return cost;
}

static void
fuzz_hash(const char *stored, const char *pw, size_t len, int deep)
{
	static struct crypt_data	 cd;
	char				 hash[PW_HASH_MAX], cut[80];
	const char			*des;
	int				 cost;

	cost = pw_cost(stored);
	if (cost != fuzz_bcrypt_cost(stored))
		oracle_fail("pw_cost() says %d", cost);
	/* A refused stored string never matches; verifying is cheap then. */
	if (cost == -1 && pw_verify(pw, stored) != 0)
		oracle_fail("pw_verify() matched a non-bcrypt string");
	if (len > 72 && pw_hash(pw, 4, hash, sizeof(hash)) !=
	    AUTH_ERR_INVALID)
		oracle_fail("pw_hash() took %zu bytes", len);
	if (!deep || len > 72)
		return;
	memset(&cd, 0, sizeof(cd));
	if ((des = crypt_rn(pw, "ab", &cd, sizeof(cd))) != NULL &&
	    des[0] != '*' && pw_verify(pw, des) != 0)
		oracle_fail("pw_verify() matched a DES hash");
	if (pw_hash(pw, 4, hash, sizeof(hash)) != AUTH_OK ||
	    pw_cost(hash) != 4 || pw_verify(pw, hash) != 1)
		oracle_fail("a cost-4 hash does not verify");
	if (len > 0) {
		memcpy(cut, pw, len - 1);
		cut[len - 1] = '\0';
		if (pw_verify(cut, hash) != 0)
			oracle_fail("one byte less verifies");
	}
	if (len < 72) {
		memcpy(cut, pw, len);
		cut[len] = 'x';
		cut[len + 1] = '\0';
		if (pw_verify(cut, hash) != 0)
			oracle_fail("one byte more verifies");
	}
}

/*
 * The libFuzzer entry point.  Always returns 0.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 buf[FUZZ_MAX + 1];
	char		 email[VALID_EMAIL_MAX + 1];
	const char	*f[3] = { "", "", "" }, *e = NULL, *u = NULL;
	size_t		 n = 0, i;
	char		*p;

	if (size > FUZZ_MAX)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf; n < 3 && p <= buf + size; p += strlen(p) + 1)
		f[n++] = p;
	for (i = 0; i < 3; i++)
		if (f[i] == NULL)
			f[i] = "";
	fuzz_email(f[0], strlen(f[0]));
	fuzz_lookup(f[0], strlen(f[0]));
	fuzz_username(f[1], strlen(f[1]));
	if (valid_email(f[0], strlen(f[0]), email, sizeof(email)) == NULL)
		e = email;
	if (valid_username(f[1], strlen(f[1])) == NULL)
		u = f[1];
	fuzz_password(f[2], strlen(f[2]), e, u);
	/* bcrypt is slow: hash only one input in 64. */
	fuzz_hash(f[0], f[2], strlen(f[2]), size % 64 == 1);
	return 0;
}
