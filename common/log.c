/* SPDX-License-Identifier: ISC */
/*
 * Logging: one line per event on stderr, in the form
 *	prog[pid]: level: event key=value ...
 * Apache and lighttpd copy a FastCGI program's stderr into their error
 * log.  LOG_FILE sends the lines to a file instead, and work a plain CGI
 * program does after its answer logs to syslog (log_syslog()).  Values
 * may come from the client, so every byte that is not printable ASCII is
 * written as \xNN: no client can forge a log line.
 * Callers never pass passwords, codes, tokens or secrets.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	1024

static const char *const log_level_names[LOG_LEVEL__MAX] = {
	"info", /* LOG_LEVEL_INFO */
	"warn", /* LOG_LEVEL_WARN */
	"error", /* LOG_LEVEL_ERR */
};

static char log_prog[64] = "collab-auth";
static int log_fd = STDERR_FILENO;	/* where lines go, or -1: syslog */

/*
 * Set the program name that starts every line.  Call once, first thing
 * in main().
 */
void
log_init(const char *prog)
{

	if (prog != NULL && *prog != '\0')
		(void)snprintf(log_prog, sizeof(log_prog), "%s", prog);
}

/*
 * Send every later line to the file at path, appended, instead of
 * stderr: for hosting where the web server's error log is out of reach.
 * Returns 0, or -1 with errno set.
 */
int
log_open(const char *path)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640)) == -1)
		return -1;
	if (log_fd > STDERR_FILENO)
		(void)close(log_fd);
	log_fd = fd;
	return 0;
}

/*
 * Send every later line to syslog(3), facility authpriv, unless they go
 * to a file already.  For work that outlives the answer of a plain CGI
 * program, whose stderr the web server may hold the answer for.
 */
void
log_syslog(void)
{

	if (log_fd != STDERR_FILENO)
		return;
	openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	log_fd = -1;
}

/*
 * Copy src into dst (dstsz bytes, always NUL-terminated when dstsz > 0),
 * writing each byte outside printable ASCII, and the backslash, as \xNN.
 * Return the length of the escaped string (which may have been cut short
 * to fit: a whole escape sequence is never split).
 */
size_t
log_escape(char *dst, size_t dstsz, const char *src)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 len = 0;
	unsigned char		 c;

	if (dstsz == 0)
		return 0;
	for (; *src != '\0'; src++) {
		c = (unsigned char)*src;
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (len + 1 >= dstsz)
				break;
			dst[len++] = (char)c;
		} else {
			if (len + 4 >= dstsz)
				break;
			dst[len++] = '\\';
			dst[len++] = 'x';
			dst[len++] = hex[c >> 4];
			dst[len++] = hex[c & 0xf];
		}
	}
	dst[len] = '\0';
	return len;
}

/*
 * Write one log line at the given level for event, followed by the
 * key=value text made from fmt (which may be NULL for none).  The whole
 * line is escaped and written with one write(2), so lines from several
 * processes sharing one error log do not interleave.
 */
void
log_vmsg(enum log_level level, const char *event, const char *fmt,
    va_list ap)
{
	static const int prio[LOG_LEVEL__MAX] = {
		LOG_INFO, /* LOG_LEVEL_INFO */
		LOG_WARNING, /* LOG_LEVEL_WARN */
		LOG_ERR, /* LOG_LEVEL_ERR */
	};
	char	 text[LOG_LINE_MAX], esc[LOG_LINE_MAX];
	char	 line[LOG_LINE_MAX + 128];
	int	 n;

	text[0] = '\0';
	if (fmt != NULL && *fmt != '\0')
		(void)vsnprintf(text, sizeof(text), fmt, ap);
	(void)log_escape(esc, sizeof(esc), text);
	if ((unsigned int)level >= LOG_LEVEL__MAX)
		level = LOG_LEVEL_ERR;
	if (log_fd == -1) {
		/* syslog adds the name and pid itself. */
		syslog(prio[level], "%s: %s%s%s", log_level_names[level], event,
		    esc[0] != '\0' ? " " : "", esc);
		return;
	}
	n = snprintf(line, sizeof(line), "%s[%ld]: %s: %s%s%s\n", log_prog,
	    (long)getpid(), log_level_names[level], event,
	    esc[0] != '\0' ? " " : "", esc);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* Nowhere to report a failure to write the log. */
	if (write(log_fd, line, (size_t)n) == -1)
		return;
}

/*
 * Like log_vmsg(), with variable arguments.
 */
void
log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(level, event, fmt, ap);
	va_end(ap);
}
