/* SPDX-License-Identifier: ISC */
/*
 * Mail: one plain-text message to one recipient.  The message is built
 * here, headers and all (RFC 5322), then either handed to an SMTP server
 * through libcurl, one easy handle per process whose connection the next
 * message reuses (mail_smtp()), or written into an outbox directory as an
 * .eml file for development and tests.
 *
 * Every address and header value is checked for control characters
 * before it reaches curl or the message: libcurl copies MAIL FROM and
 * RCPT TO into the SMTP commands unchecked, so a CR or LF there would be
 * a second command (SMTP command injection), and in a header a second
 * header (header injection).  Messages hold one-time codes: the buffer is
 * wiped after use, and neither the body nor the recipient is ever logged.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cfg.h"
#include "log.h"
#include "mail.h"
#include "rng.h"
#include "valid.h"

#define MAIL_LINE_MAX		998	/* RFC 5322, 2.1.1, without CRLF */
#define MAIL_ADDR_MAX		1016	/* 254 characters of UTF-8 */
#define MAIL_HOST_MAX		253
#define MAIL_WORD_BYTES		39	/* input bytes per encoded-word */
#define MAIL_CONNECT_TIMEOUT	10L	/* seconds */
#define MAIL_TIMEOUT		30L	/* seconds, a message's whole exchange,
					   and any one reply (QUIT's too) */
#define MAIL_IDLE_MAX		20L	/* seconds a connection waits for reuse */

/*
 * A message being built in a caller's buffer: always NUL-terminated;
 * once something did not fit, full is set and nothing more is added.
 */
struct mail_buf {
	char		*p;
	size_t		 sz;
	size_t		 len;
	int		 full;
};

/* What the read callback hands to curl: the message, from off on. */
struct mail_upload {
	const char	*p;
	size_t		 len;
	size_t		 off;
};

/* Fixed English names: the Date header must not depend on the locale. */
static const char *const mail_days[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const mail_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static int	 mail_inited;
/*
 * The curl handle of this process's SMTP messages, kept from one to the
 * next with its connection (mail_smtp()); mail_close() ends it.
 */
static CURL	*mail_conn;

static void
mail_add(struct mail_buf *b, const char *s, size_t n)
{

	if (b->full)
		return;
	if (n >= b->sz - b->len) {
		b->full = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
mail_adds(struct mail_buf *b, const char *s)
{

	mail_add(b, s, strlen(s));
}

static int
mail_alnum(unsigned char c)
{

	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * Return 1 if every byte of s is printable ASCII, else 0.
 */
static int
mail_ascii(const char *s)
{

	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/*
 * Return 1 if s is an address we are willing to put into an SMTP command
 * and a header (valid_address(): no quoted strings, so no "<", ">",
 * space, comma or quote can appear).  Non-ASCII UTF-8 is allowed (RFC
 * 6531 and 6532: the FastAPI backend stored such addresses; libcurl sends
 * SMTPUTF8 when the server offers it).  Else 0.
 */
static int
mail_addr_ok(const char *s)
{

	return s != NULL && valid_address(s, strlen(s), VALID_ADDR_UTF8);
}

/*
 * Return 1 if s can be the host of an smtp:// URL as it is: a host name
 * or an IPv4 or IPv6 address, so letters, digits, ".", "-" and ":" only
 * (no "/", "@", "?", "#", "%", space or brackets to change the URL).
 */
static int
mail_host_ok(const char *s)
{
	size_t		 i;

	if (s == NULL || *s == '\0' || strlen(s) > MAIL_HOST_MAX)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!mail_alnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '-' && s[i] != ':')
			return 0;
	return 1;
}

/*
 * Add s (well-formed UTF-8) as RFC 2047 encoded-words, "B" encoding,
 * each of at most MAIL_WORD_BYTES bytes of whole characters, so that no
 * word is longer than 75 characters and no line longer than 76 (RFC 2047,
 * 2); words after the first start a folded line.
 */
static void
mail_add_words(struct mail_buf *b, const char *s)
{
	unsigned char	 enc[4 * ((MAIL_WORD_BYTES + 2) / 3) + 1];
	size_t		 len, n;
	int		 first = 1;

	len = strlen(s);
	while (len > 0) {
		n = len < MAIL_WORD_BYTES ? len : MAIL_WORD_BYTES;
		/* Never split a character: back off to its first byte. */
		while (n < len && n > 0 &&
		    ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		if (!first)
			mail_adds(b, "\r\n ");
		(void)EVP_EncodeBlock(enc, (const unsigned char *)s, (int)n);
		mail_adds(b, "=?UTF-8?B?");
		mail_adds(b, (const char *)enc);
		mail_adds(b, "?=");
		first = 0;
		s += n;
		len -= n;
	}
}

/*
 * Add the display name of From: as an RFC 5322 quoted-string when it is
 * printable ASCII, with "\" and '"' escaped (3.2.4), else as
 * encoded-words.  The caller has checked it.
 */
static void
mail_add_name(struct mail_buf *b, const char *name)
{
	const char	*p;

	if (!mail_ascii(name)) {
		mail_add_words(b, name);
		return;
	}
	mail_adds(b, "\"");
	for (p = name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			mail_adds(b, "\\");
		mail_add(b, p, 1);
	}
	mail_adds(b, "\"");
}

/*
 * Return 1 if s may go into a header as text: no control characters,
 * and, when it is not ASCII, well-formed UTF-8 for the encoded-words.
 */
static int
mail_text_ok(const char *s)
{

	return s != NULL && mail_header_ok(s) && valid_utf8(s, strlen(s));
}

/*
 * Add the body, each LF or CRLF becoming CRLF, and a final CRLF if it
 * lacks one.  Returns 0 for a CR that is not followed by LF, else 1.
 */
static int
mail_add_body(struct mail_buf *b, const char *body)
{
	const char	*p;

	for (p = body; *p != '\0'; p++) {
		if (*p == '\r') {
			if (p[1] != '\n')
				return 0;
			continue;
		}
		if (*p == '\n')
			mail_adds(b, "\r\n");
		else
			mail_add(b, p, 1);
	}
	if (p > body && p[-1] != '\n')
		mail_adds(b, "\r\n");
	return 1;
}

/*
 * Return 1 if every line of the NUL-terminated message s ends in CRLF
 * (no bare CR or LF) and holds at most 998 bytes, else 0.
 */
static int
mail_lines_ok(const char *s)
{
	size_t		 col = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\r') {
			if (s[1] != '\n')
				return 0;
			s++;
			col = 0;
		} else if (*s == '\n')
			return 0;
		else if (++col > MAIL_LINE_MAX)
			return 0;
	}
	return 1;
}

/*
 * The read callback of the upload: copy the next part of the message.
 */
static size_t
mail_read(char *dst, size_t size, size_t nitems, void *arg)
{
	struct mail_upload	*u = arg;
	size_t			 n;

	n = size * nitems;
	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(dst, u->p + u->off, n);
	u->off += n;
	return n;
}

/*
 * Write the message (len bytes) into the outbox dir as
 * <YYYYmmddTHHMMSSZ>-<16 hex>.eml: first to a new file of mode 0600
 * beside it, renamed into place when complete, so that a reader of the
 * outbox never sees half a message.  Returns AUTH_OK, AUTH_ERR_SYSTEM or
 * AUTH_ERR_CRYPTO (logged).
 */
static enum auth_status
mail_file(const char *dir, const char *msg, size_t len, long long now,
    const char *ctx)
{
	char		 rnd[17], name[64], tmp[PATH_MAX], path[PATH_MAX];
	struct tm	 tm;
	time_t		 t = (time_t)now;
	enum auth_status rc = AUTH_ERR_SYSTEM;
	const char	*what = "open";
	size_t		 off = 0;
	ssize_t		 w;
	int		 fd = -1, made = 0, n, saved = 0;

	if (gmtime_r(&t, &tm) == NULL) {
		what = "time";
		saved = errno;
		goto out;
	}
	if ((rc = rng_hex(rnd, sizeof(rnd), 8)) != AUTH_OK)
		goto out;
	rc = AUTH_ERR_SYSTEM;
	(void)snprintf(name, sizeof(name),
	    "%04d%02d%02dT%02d%02d%02dZ-%s.eml", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd);
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		what = "path";
		saved = ENAMETOOLONG;
		goto out;
	}
	n = snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		what = "path";
		saved = ENAMETOOLONG;
		goto out;
	}

	if ((fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC |
	    O_NOFOLLOW, S_IRUSR | S_IWUSR)) == -1) {
		saved = errno;
		goto out;
	}
	made = 1;
	what = "write";
	while (off < len) {
		if ((w = write(fd, msg + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			goto out;
		}
		off += (size_t)w;
	}
	what = "close";
	n = close(fd);
	fd = -1;
	if (n == -1) {
		saved = errno;
		goto out;
	}
	what = "rename";
	if (rename(tmp, path) == -1) {
		saved = errno;
		goto out;
	}
	made = 0;
	log_info("mail", "queued outbox=%s file=%s %s", dir, name, ctx);
	rc = AUTH_OK;
out:
	if (rc == AUTH_ERR_SYSTEM)
		log_err("mail", "outbox write failed outbox=%s step=%s "
		    "error=%s %s", dir, what, strerror(saved), ctx);
	if (fd != -1)
		(void)close(fd);
	if (made)
		(void)unlink(tmp);
	return rc;
}

/*
 * Write into url (urlsz bytes) the URL of MAIL_SERVER:MAIL_PORT: smtps://
 * for implicit TLS, else smtp://; an IPv6 address in brackets.  Returns
 * AUTH_OK or AUTH_ERR_CONFIG (logged).
 */
static enum auth_status
mail_smtp_url(const struct cfg *cfg, char *url, size_t urlsz)
{
	const char	*host = cfg->mail_server;
	int		 n;

	n = snprintf(url, urlsz, strchr(host, ':') != NULL ?
	    "%s://[%s]:%ld" : "%s://%s:%ld",
	    cfg->mail_ssl_tls ? "smtps" : "smtp", host, cfg->mail_port);
	if (n < 0 || (size_t)n >= urlsz) {
		log_err("config", "MAIL_SERVER is too long");
		return AUTH_ERR_CONFIG;
	}
	return AUTH_OK;
}

/*
 * Set every option of the transfer on h: the URL, the envelope, the
 * upload from up, bounded time, no proxy, protocols smtp and smtps only,
 * TLS 1.2 or later with the certificate verified unless VALIDATE_CERTS is
 * false, STARTTLS required when configured (CURLUSESSL_TRY would go on
 * in clear), and the credentials as options, never in the URL.  Returns
 * the first failure, or CURLE_OK.
 */
static CURLcode
mail_smtp_options(CURL *h, const struct cfg *cfg, const char *url,
    const char *from, struct curl_slist *rcpts, struct mail_upload *up,
    char *errbuf)
{
	long		 verify = cfg->validate_certs ? 1L : 0L;
	CURLcode	 cc;

	if ((cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf)) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_VERBOSE, 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps")) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_URL, url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_PROXY, "")) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
	    MAIL_CONNECT_TIMEOUT)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_TIMEOUT, MAIL_TIMEOUT)) !=
	    CURLE_OK ||
	    /*
	     * CURLOPT_TIMEOUT does not bound the QUIT curl says when it
	     * drops a connection after a refusal, nor the one of
	     * mail_close(): without this, a server that never answers
	     * QUIT holds the sender 120 s, past its claim and its slot.
	     */
	    (cc = curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT,
	    MAIL_TIMEOUT)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_MAXAGE_CONN,
	    MAIL_IDLE_MAX)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, verify)) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST,
	    verify ? 2L : 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_MAIL_FROM, from)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_UPLOAD, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_READFUNCTION, mail_read)) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_READDATA, up)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)up->len)) != CURLE_OK)
		return cc;
	if (cfg->mail_starttls && !cfg->mail_ssl_tls &&
	    (cc = curl_easy_setopt(h, CURLOPT_USE_SSL,
	    (long)CURLUSESSL_ALL)) != CURLE_OK)
		return cc;
	if (cfg->use_credentials && cfg->mail_username != NULL &&
	    *cfg->mail_username != '\0' &&
	    ((cc = curl_easy_setopt(h, CURLOPT_USERNAME,
	    cfg->mail_username)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_PASSWORD,
	    cfg->mail_password != NULL ? cfg->mail_password : "")) !=
	    CURLE_OK))
		return cc;
	return CURLE_OK;
}

/*
 * Return 1 if a transfer that failed with cc and the last reply code
 * (0: none), on a connection that curl reused (made none: conns 0) and
 * before the message's first byte was read (up), failed because the
 * server had closed that connection while it was idle: its idle
 * time-out (a 421 or 221, or TLS close_notify, then the close, which
 * curl's check before reuse takes for life when the reply is still
 * unread), or a drop.  The server then cannot have taken the message,
 * so it may be sent again at once on a new connection.  Not so a refusal
 * (any other code: curl reports a refused MAIL or RCPT as a send error
 * too), nor a time-out: a server that stalls would stall the new
 * connection too, and the claim would not outlast both.
 */
static int
mail_idle_closed(CURLcode cc, long code, long conns,
    const struct mail_upload *up)
{

	if (conns != 0 || up->off != 0)
		return 0;
	if (code != 0 && code != 221 && code != 421)
		return 0;
	return cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
	    cc == CURLE_GOT_NOTHING;
}

/*
 * Send the message (len bytes) from MAIL_FROM to to over SMTP.  The
 * process's messages share one curl handle and, through it, the
 * connection (and TLS session) of the message before, when it is less
 * than MAIL_IDLE_MAX seconds idle and still open: a sender with a queue
 * to empty then pays the connection, the greeting, EHLO, STARTTLS and
 * AUTH once, not per message.  Every message goes to the same server
 * with the same settings (one config per process).  When the server had
 * closed the reused connection (mail_idle_closed()), the message goes
 * at once on a new one: one line at info level, not a failed try.  After
 * a failure the handle and its connection go, so that the next try
 * starts afresh.  Returns AUTH_OK, AUTH_ERR_NOMEM, AUTH_ERR_CONFIG or
 * AUTH_ERR_SYSTEM; the outcome is one log line, without secrets, ending
 * in ctx (who and which try, from the caller).
 */
static enum auth_status
mail_smtp(const struct cfg *cfg, const char *to, const char *msg,
    size_t len, const char *ctx)
{
	char			 url[MAIL_HOST_MAX + 32];
	char			 from[MAIL_ADDR_MAX + 3];
	char			 rcpt[MAIL_ADDR_MAX + 3];
	char			 errbuf[CURL_ERROR_SIZE];
	struct mail_upload	 up;
	struct curl_slist	*rcpts = NULL;
	enum auth_status	 rc;
	CURLcode		 cc = CURLE_OK;
	CURL			*h = NULL;
	long			 code, conns;
	int			 again = 1;

	if ((rc = mail_smtp_url(cfg, url, sizeof(url))) != AUTH_OK)
		return rc;
	(void)snprintf(from, sizeof(from), "<%s>", cfg->mail_from);
	(void)snprintf(rcpt, sizeof(rcpt), "<%s>", to);
	if ((rcpts = curl_slist_append(NULL, rcpt)) == NULL)
		goto nomem;
	for (;;) {
		errbuf[0] = '\0';
		up.p = msg;
		up.len = len;
		up.off = 0;
		if (mail_conn == NULL)
			mail_conn = curl_easy_init();
		if ((h = mail_conn) == NULL)
			goto nomem;
		if ((cc = mail_smtp_options(h, cfg, url, from, rcpts, &up,
		    errbuf)) == CURLE_OK && (cc = curl_easy_perform(h)) ==
		    CURLE_OK)
			break;
		if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) !=
		    CURLE_OK)
			code = 0;
		if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns) !=
		    CURLE_OK)
			conns = 1;
		mail_close();
		if (again && mail_idle_closed(cc, code, conns, &up)) {
			log_info("mail", "reused connection closed by the "
			    "server server=%s port=%ld smtp_status=%ld "
			    "error=%s; trying a new one %s", cfg->mail_server,
			    cfg->mail_port, code, curl_easy_strerror(cc), ctx);
			again = 0;
			continue;
		}
		log_err("mail", "send failed server=%s port=%ld "
		    "smtp_status=%ld error=%s detail=%s %s", cfg->mail_server,
		    cfg->mail_port, code, curl_easy_strerror(cc),
		    errbuf[0] != '\0' ? errbuf : "none", ctx);
		rc = AUTH_ERR_SYSTEM;
		goto out;
	}
	log_info("mail", "sent server=%s port=%ld %s", cfg->mail_server,
	    cfg->mail_port, ctx);
	rc = AUTH_OK;
	goto out;
nomem:
	log_err("mail", "send failed server=%s port=%ld error=out of memory "
	    "%s", cfg->mail_server, cfg->mail_port, ctx);
	rc = AUTH_ERR_NOMEM;
out:
	/* The handle keeps pointers to these until it is reset. */
	if (mail_conn != NULL)
		curl_easy_reset(mail_conn);
	curl_slist_free_all(rcpts);
	return rc;
}

/*
 * End the SMTP connection that mail_send() keeps, if any (curl says QUIT
 * when the server is still there), and its handle.  A process that sent
 * mail calls it before it exits; mail_send() starts a new one if called
 * again.
 */
void
mail_close(void)
{

	if (mail_conn != NULL) {
		curl_easy_cleanup(mail_conn);
		mail_conn = NULL;
	}
}

/*
 * Initialise libcurl once per process; call it at start-up, before the
 * accept loop, while the program has one thread (curl_global_init(3)).
 * Further calls do nothing.  Returns AUTH_OK or AUTH_ERR_SYSTEM (logged).
 */
enum auth_status
mail_init(void)
{

	if (mail_inited)
		return AUTH_OK;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("startup", "curl_global_init failed");
		return AUTH_ERR_SYSTEM;
	}
	mail_inited = 1;
	return AUTH_OK;
}

/*
 * Return 1 if s may go into an SMTP command or a mail header: no byte
 * below 0x20 (CR, LF, TAB and NUL included) and no DEL.  Bytes of 0x80
 * and above (UTF-8) are allowed here.  A NULL s is refused: 0.
 */
int
mail_header_ok(const char *s)
{

	if (s == NULL)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

/*
 * Return the length of the well-formed UTF-8 character that starts at p,
 * or 0 when none does (or *p is the NUL): the length its first byte
 * announces, if that many bytes follow and valid_utf8() takes them.
 */
static size_t
mail_char_len(const unsigned char *p)
{
	size_t	 n;

	if (*p == '\0')
		return 0;
	if (*p < 0x80)
		n = 1;
	else if (*p >= 0xc0 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf7)
		n = 4;
	else
		return 0;
	if (strnlen((const char *)p, n) != n ||
	    !valid_utf8((const char *)p, n))
		return 0;
	return n;
}

/*
 * Copy the text src into dst (dstsz bytes, always NUL-terminated when
 * dstsz > 0) so that it can stand in one line of a message body whatever
 * it holds: each control character, DEL, and byte that does not belong
 * to a well-formed UTF-8 character becomes "?", and after maxchars
 * characters, or when dst is full, the text is cut (never inside a
 * character) and ends in "...".  For values from the database, such as
 * a legacy username of any length.
 */
void
mail_line_text(char *dst, size_t dstsz, const char *src, size_t maxchars)
{
	const unsigned char	*p = (const unsigned char *)src;
	size_t			 len = 0, chars = 0, n;
	int			 cut = 0;

	if (dstsz == 0)
		return;
	dst[0] = '\0';
	if (dstsz < 4)
		return;
	while (*p != '\0') {
		if (chars == maxchars) {
			cut = 1;
			break;
		}
		n = mail_char_len(p);
		/* Room for this character, "..." and the NUL. */
		if (len + (n == 0 ? 1 : n) + 4 > dstsz) {
			cut = 1;
			break;
		}
		if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
			dst[len++] = '?';
			p++;
		} else {
			memcpy(dst + len, p, n);
			len += n;
			p += n;
		}
		chars++;
	}
	if (cut) {
		memcpy(dst + len, "...", 3);
		len += 3;
	}
	dst[len] = '\0';
}

/*
 * Build into out (outsz bytes, NUL-terminated) the RFC 5322 message from
 * MAIL_FROM (and MAIL_FROM_NAME) in cfg to the address to, with the
 * given subject and body, dated now (seconds since the epoch, written in
 * UTC).  The headers are Date, Message-ID, From, To, Subject,
 * MIME-Version, Content-Type (text/plain, UTF-8) and
 * Content-Transfer-Encoding (8bit); non-ASCII names and subjects become
 * RFC 2047 encoded-words.  Every line ends in CRLF (the body's LF are
 * converted) and holds at most 998 bytes.  Returns AUTH_OK;
 * AUTH_ERR_INVALID for a missing or malformed MAIL_FROM, an address that
 * is not local@domain, a control character in any address or header
 * value, a body with a bare CR, a line that is too long or a message
 * that does not fit (then out holds the empty string); or
 * AUTH_ERR_CRYPTO when no random Message-ID can be had.
 */
enum auth_status
mail_format(const struct cfg *cfg, const char *to, const char *subject,
    const char *body, long long now, char *out, size_t outsz)
{
	char			 date[64], id[33];
	struct mail_buf		 b;
	struct tm		 tm;
	time_t			 t;
	const char		*name;
	enum auth_status	 rc = AUTH_ERR_INVALID;

	if (out == NULL || outsz == 0)
		return AUTH_ERR_INVALID;
	out[0] = '\0';
	b.p = out;
	b.sz = outsz;
	b.len = 0;
	b.full = 0;

	name = cfg->mail_from_name;
	if (name != NULL && *name == '\0')
		name = NULL;
	if (!mail_addr_ok(cfg->mail_from) || !mail_addr_ok(to) ||
	    subject == NULL || !mail_text_ok(subject) || body == NULL ||
	    (name != NULL && !mail_text_ok(name)))
		goto out;

	t = (time_t)now;
	if ((long long)t != now || gmtime_r(&t, &tm) == NULL)
		goto out;
	(void)snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d "
	    "+0000", mail_days[tm.tm_wday], tm.tm_mday,
	    mail_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	if ((rc = rng_hex(id, sizeof(id), 16)) != AUTH_OK)
		goto out;
	rc = AUTH_ERR_INVALID;

	mail_adds(&b, "Date: ");
	mail_adds(&b, date);
	mail_adds(&b, "\r\nMessage-ID: <");
	mail_adds(&b, id);
	mail_adds(&b, "@");
	mail_adds(&b, strchr(cfg->mail_from, '@') + 1);
	mail_adds(&b, ">\r\nFrom: ");
	if (name != NULL) {
		mail_add_name(&b, name);
		mail_adds(&b, " <");
		mail_adds(&b, cfg->mail_from);
		mail_adds(&b, ">");
	} else
		mail_adds(&b, cfg->mail_from);
	mail_adds(&b, "\r\nTo: ");
	mail_adds(&b, to);
	mail_adds(&b, "\r\nSubject: ");
	if (mail_ascii(subject))
		mail_adds(&b, subject);
	else
		mail_add_words(&b, subject);
	mail_adds(&b, "\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "\r\n");
	if (!mail_add_body(&b, body) || b.full || !mail_lines_ok(out))
		goto out;
	rc = AUTH_OK;
out:
	if (rc != AUTH_OK) {
		OPENSSL_cleanse(out, b.len < outsz ? b.len + 1 : outsz);
		out[0] = '\0';
	}
	return rc;
}

/*
 * Send one message from MAIL_FROM to the address to: through the outbox
 * directory when MAIL_OUTBOX_DIR is set (or MAIL_SERVER is not), else
 * over SMTP to MAIL_SERVER:MAIL_PORT.  The recipient and the body (which
 * holds a one-time code) are never logged, and the formatted message is
 * wiped before returning.  The outcome is one log line, ending in ctx
 * (key=value words naming the account and the try; NULL for none).
 * Returns AUTH_OK; AUTH_ERR_CONFIG (logged) when
 * neither transport is configured or MAIL_SERVER, MAIL_FROM or
 * MAIL_FROM_NAME is unusable; AUTH_ERR_INVALID (logged) when the message
 * cannot be built; AUTH_ERR_SYSTEM (logged) when it cannot be delivered
 * to the server or the outbox; AUTH_ERR_NOMEM or AUTH_ERR_CRYPTO.
 */
enum auth_status
mail_send(const struct cfg *cfg, const char *to, const char *subject,
    const char *body, const char *ctx)
{
	char			 msg[MAIL_MAX];
	const char		*dir, *server;
	enum auth_status	 rc;
	long long		 now;

	msg[0] = '\0';
	if (ctx == NULL)
		ctx = "";
	dir = cfg->mail_outbox_dir;
	if (dir != NULL && *dir == '\0')
		dir = NULL;
	server = cfg->mail_server;
	if (server != NULL && *server == '\0')
		server = NULL;

	rc = AUTH_ERR_CONFIG;
	if (dir == NULL && server == NULL) {
		log_err("config", "no mail transport: set MAIL_SERVER or "
		    "MAIL_OUTBOX_DIR %s", ctx);
		goto out;
	}
	if (dir == NULL && !mail_host_ok(server)) {
		log_err("config", "MAIL_SERVER is not a host name or address");
		goto out;
	}
	if (dir == NULL && (cfg->mail_port < 1 || cfg->mail_port > 65535)) {
		log_err("config", "MAIL_PORT is out of range");
		goto out;
	}
	if (!mail_addr_ok(cfg->mail_from)) {
		log_err("config", "MAIL_FROM is %s",
		    cfg->mail_from == NULL ? "not set" : "not an address");
		goto out;
	}
	if (cfg->mail_from_name != NULL && !mail_text_ok(cfg->mail_from_name)) {
		log_err("config", "MAIL_FROM_NAME has control characters or "
		    "is not UTF-8");
		goto out;
	}
	if ((rc = mail_init()) != AUTH_OK)
		goto out;

	now = (long long)time(NULL);
	if ((rc = mail_format(cfg, to, subject, body, now, msg,
	    sizeof(msg))) != AUTH_OK) {
		log_err("mail", "not sent reason=%s %s", rc == AUTH_ERR_INVALID ?
		    "unusable-message" : auth_strerror(rc), ctx);
		goto out;
	}
	if (dir != NULL)
		rc = mail_file(dir, msg, strlen(msg), now, ctx);
	else
		rc = mail_smtp(cfg, to, msg, strlen(msg), ctx);
out:
	OPENSSL_cleanse(msg, sizeof(msg));
	return rc;
}
