/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the building of a mail (mail.c): the input is
 * MAIL_FROM, MAIL_FROM_NAME, the recipient, the subject and the body,
 * separated by NUL bytes, given to mail_format() and mail_header_ok().
 *
 * Properties (any broken one aborts):
 *  - mail_header_ok() refuses exactly the strings with a control
 *    character (CR and LF included) or DEL;
 *  - no CR/LF injection: a control character in an address, the name or
 *    the subject, or an address that is not one UTF-8 local@domain
 *    without spaces, quotes, brackets or commas, is refused;
 *  - a built message has exactly the eight documented header fields, in
 *    order, each once: no value can start a header of its own;
 *  - every line ends in CRLF and holds at most 998 bytes; encoded-words
 *    are at most 75 characters;
 *  - From and To give back MAIL_FROM and the recipient exactly, the
 *    name and the subject decode (quoted-string or RFC 2047 "B" words)
 *    to exactly what was given, Message-ID is at MAIL_FROM's domain, and
 *    the body is the given one with its line ends made CRLF;
 *  - a refusal leaves the output empty;
 *  - mail_line_text() (database text put into a body line) writes within
 *    its buffer, NUL-terminated, well-formed UTF-8 without control
 *    characters, at most the characters asked for and "...", and gives
 *    back printable UTF-8 that fits unchanged.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cfg.h"
#include "mail.h"
#include "oracle.h"
#include "valid.h"

#define FUZZ_MAX	(MAIL_MAX + 1024)	/* longer inputs are ignored */
#define FUZZ_NOW	1700000000LL
#define FUZZ_FIELDS	8

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const fuzz_names[FUZZ_FIELDS] = {
	"Date", "Message-ID", "From", "To", "Subject", "MIME-Version",
	"Content-Type", "Content-Transfer-Encoding",
};

/*
 * Return 1 if s may be an address as mail.c promises to take it: UTF-8
 * (RFC 6531), one "@" with something on both sides, none of the bytes
 * that would end or change an SMTP path or an address header.
 */
static int
fuzz_addr_plausible(const char *s)
{
	const char	*at;

	if (oracle_control(s) || strpbrk(s, " \"(),:;<>[\\]") != NULL ||
	    !valid_utf8(s, strlen(s)))
		return 0;
	return (at = strchr(s, '@')) != NULL && at != s && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL;
}

/*
 * Decode the RFC 2047 "B" encoded-words in the n bytes at s (separated
 * by white space or folds, which are dropped) into out (outsz bytes);
 * return the decoded length.
 */
static size_t
fuzz_words(const char *s, size_t n, unsigned char *out, size_t outsz)
{
	const char	*end = s + n, *w, *q;
	size_t		 len = 0, wl;
	int		 got;

	while (s < end) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
			s++;
			continue;
		}
		if ((size_t)(end - s) < 12 || strncmp(s, "=?UTF-8?B?", 10) != 0)
			oracle_fail("not an encoded-word: %.*s",
			    (int)(end - s), s);
		w = s + 10;
		if ((q = strstr(w, "?=")) == NULL || q > end)
			oracle_fail("unterminated encoded-word");
		if ((size_t)(q + 2 - s) > 75)
			oracle_fail("encoded-word of %zu characters",
			    (size_t)(q + 2 - s));
		wl = (size_t)(q - w);
		if (wl % 4 != 0 || len + wl / 4 * 3 > outsz)
			oracle_fail("bad encoded-word length");
		if ((got = EVP_DecodeBlock(out + len, (const unsigned char *)w,
		    (int)wl)) < 0)
			oracle_fail("bad base64 in an encoded-word");
		if (wl >= 1 && w[wl - 1] == '=')
			got--;
		if (wl >= 2 && w[wl - 2] == '=')
			got--;
		len += (size_t)got;
		s = q + 2;
	}
	return len;
}

/*
 * Check that the n bytes at v give back text: as it is when it is
 * printable ASCII and quote is 0, as a quoted-string when quote is 1,
 * else as encoded-words.
 */
static void
fuzz_text(const char *v, size_t n, const char *text, int quote,
    const char *what)
{
	static unsigned char	 dec[FUZZ_MAX];
	const unsigned char	*t;
	size_t			 i, len = 0;
	int			 ascii = 1;

	for (t = (const unsigned char *)text; *t != '\0'; t++)
		if (*t < 0x20 || *t > 0x7e)
			ascii = 0;
	if (ascii && !quote) {
		if (n != strlen(text) || memcmp(v, text, n) != 0)
			oracle_fail("%s changed", what);
		return;
	}
	if (ascii) {
		if (n < 2 || v[0] != '"' || v[n - 1] != '"')
			oracle_fail("%s not quoted", what);
		for (i = 1; i < n - 1; i++) {
			if (v[i] == '"')
				oracle_fail("%s: unescaped quote", what);
			if (v[i] == '\\')
				i++;
			dec[len++] = (unsigned char)v[i];
		}
	} else
		len = fuzz_words(v, n, dec, sizeof(dec));
	if (len != strlen(text) || memcmp(dec, text, len) != 0)
		oracle_fail("%s does not decode to what was given", what);
}

/*
 * What the body must become: each LF, or CRLF, a CRLF, and a final CRLF
 * when it does not end in one.  Returns the length written to out.
 */
static size_t
fuzz_crlf(const char *body, char *out)
{
	size_t	 n = 0;

	for (; *body != '\0'; body++) {
		if (*body == '\r' && body[1] == '\n')
			continue;
		if (*body == '\n')
			out[n++] = '\r';
		out[n++] = *body;
	}
	if (n > 0 && out[n - 1] != '\n') {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	out[n] = '\0';
	return n;
}

/*
 * Check a message mail_format() built.
 */
static void
fuzz_message(const char *m, const struct cfg *cfg, const char *to,
    const char *subject, const char *body)
{
	static char	 want[2 * FUZZ_MAX + 3];
	const char	*hstart[FUZZ_FIELDS], *hend[FUZZ_FIELDS];
	const char	*p, *eol, *end, *v, *lt;
	size_t		 nf = 0, col, vl, i;

	for (p = m, col = 0; *p != '\0'; p++) {
		if (*p == '\r' && p[1] == '\n') {
			p++;
			col = 0;
		} else if (*p == '\r' || *p == '\n')
			oracle_fail("bare CR or LF");
		else if (++col > 998)
			oracle_fail("line longer than 998 bytes");
	}
	if (p > m && p[-1] != '\n')
		oracle_fail("message does not end in CRLF");
	if ((end = strstr(m, "\r\n\r\n")) == NULL)
		oracle_fail("no end of headers");
	end += 2;
	for (p = m; p < end; p = eol + 2) {
		eol = strstr(p, "\r\n");
		if (*p == ' ' || *p == '\t') {
			if (nf == 0)
				oracle_fail("folded first line");
			hend[nf - 1] = eol;
			continue;
		}
		if (nf == FUZZ_FIELDS)
			oracle_fail("more than %d header fields", FUZZ_FIELDS);
		i = strlen(fuzz_names[nf]);
		if (strncmp(p, fuzz_names[nf], i) != 0 || p[i] != ':' ||
		    p[i + 1] != ' ')
			oracle_fail("header %zu is not %s", nf,
			    fuzz_names[nf]);
		hstart[nf] = p + i + 2;
		hend[nf++] = eol;
	}
	if (nf != FUZZ_FIELDS)
		oracle_fail("%zu header fields", nf);

	/* From: [name <]address[>] */
	v = hstart[2];
	vl = (size_t)(hend[2] - v);
	if (cfg->mail_from_name == NULL || cfg->mail_from_name[0] == '\0') {
		if (vl != strlen(cfg->mail_from) ||
		    memcmp(v, cfg->mail_from, vl) != 0)
			oracle_fail("From is not MAIL_FROM");
	} else {
		for (lt = hend[2]; lt > v && lt[-1] != '<'; lt--)
			continue;
		if (lt < v + 2 || lt[-2] != ' ' || hend[2][-1] != '>' ||
		    (size_t)(hend[2] - 1 - lt) != strlen(cfg->mail_from) ||
		    memcmp(lt, cfg->mail_from, strlen(cfg->mail_from)) != 0)
			oracle_fail("From address is not MAIL_FROM");
		fuzz_text(v, (size_t)(lt - 2 - v), cfg->mail_from_name, 1,
		    "MAIL_FROM_NAME");
	}
	vl = (size_t)(hend[3] - hstart[3]);
	if (vl != strlen(to) || memcmp(hstart[3], to, vl) != 0)
		oracle_fail("To is not the recipient");
	fuzz_text(hstart[4], (size_t)(hend[4] - hstart[4]), subject, 0,
	    "Subject");
	v = strchr(cfg->mail_from, '@') + 1;
	if (hend[1] - hstart[1] < 3 || hend[1][-1] != '>' ||
	    (size_t)(hend[1] - hstart[1]) < strlen(v) + 2 ||
	    memcmp(hend[1] - 1 - strlen(v), v, strlen(v)) != 0 ||
	    hend[1][-2 - (long)strlen(v)] != '@')
		oracle_fail("Message-ID is not at MAIL_FROM's domain");
	(void)fuzz_crlf(body, want);
	if (strcmp(end + 2, want) != 0)
		oracle_fail("the body changed");
}

/*
 * Check mail_line_text() on src with a buffer of dstsz bytes (at most
 * 255) and at most maxchars characters.
 */
static void
fuzz_line(const char *src, size_t dstsz, size_t maxchars)
{
	char		 out[256];
	size_t		 len, chars = 0, i;

	memset(out, 'x', sizeof(out));
	mail_line_text(out, dstsz, src, maxchars);
	if (dstsz == 0) {
		if (out[0] != 'x')
			oracle_fail("line text: wrote into no buffer");
		return;
	}
	if ((len = strnlen(out, dstsz)) == dstsz || out[dstsz] != 'x')
		oracle_fail("line text: past its buffer of %zu", dstsz);
	if (oracle_control(out) || !valid_utf8(out, len))
		oracle_fail("line text: \"%s\"", out);
	for (i = 0; i < len; i++)
		if (((unsigned char)out[i] & 0xc0) != 0x80)
			chars++;
	if (chars > maxchars + 3)
		oracle_fail("line text: %zu characters for %zu", chars,
		    maxchars);
	for (i = 0, chars = 0; src[i] != '\0'; i++)
		if (((unsigned char)src[i] & 0xc0) != 0x80)
			chars++;
	if (!oracle_control(src) && valid_utf8(src, i) &&
	    chars <= maxchars && i + 4 <= dstsz && strcmp(out, src) != 0)
		oracle_fail("line text: \"%s\" changed", src);
}

/*
 * The libFuzzer entry point.  Always returns 0.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 buf[FUZZ_MAX + 1], out[MAIL_MAX];
	const char		*f[5] = { "", "", "", "", "" };
	struct cfg		 cfg;
	char			*p;
	size_t			 n = 0, i;
	enum auth_status	 rc;

	if (size > FUZZ_MAX)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf; n < 5 && p <= buf + size; p += strlen(p) + 1)
		f[n++] = p;
	for (i = 0; i < 5; i++)
		if ((mail_header_ok(f[i]) != 0) == oracle_control(f[i]))
			oracle_fail("mail_header_ok() wrong on field %zu", i);

	fuzz_line(f[4], size % 256, size % 70);

	memset(&cfg, 0, sizeof(cfg));
	cfg.mail_from = (char *)(uintptr_t)f[0];
	cfg.mail_from_name = (char *)(uintptr_t)f[1];
	memset(out, 'x', sizeof(out));
	rc = mail_format(&cfg, f[2], f[3], f[4], FUZZ_NOW, out, sizeof(out));
	if (rc != AUTH_OK) {
		if (rc != AUTH_ERR_INVALID || out[0] != '\0')
			oracle_fail("refused: status %d, output left",
			    (int)rc);
		return 0;
	}
	if (!fuzz_addr_plausible(f[0]) || !fuzz_addr_plausible(f[2]) ||
	    oracle_control(f[1]) || oracle_control(f[3]))
		oracle_fail("built a message from a field it must refuse");
	fuzz_message(out, &cfg, f[2], f[3], f[4]);
	return 0;
}
