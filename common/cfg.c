/* SPDX-License-Identifier: ISC */
/*
 * The configuration: a python-dotenv ".env" file (so the FastAPI
 * backend's file works unchanged) holding the keys in cfg_defs[], each of
 * which an environment variable of the same name overrides.  Adding a
 * key is a row in cfg_defs[], a CFG_ enum value and a struct cfg field.
 * Messages name files, line numbers and keys, never a value: values hold
 * secrets.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cfg.h"
#include "client.h"
#include "dburl.h"
#include "log.h"
#include "status.h"

#ifndef AUTH_CONFIG_FILE
#error "AUTH_CONFIG_FILE must be defined (Makefile.am passes it)"
#endif
#ifndef AUTH_DELIVERY_PROGRAM
#error "AUTH_DELIVERY_PROGRAM must be defined (Makefile.am passes it)"
#endif

#define CFG_LINE_MAX	4096		/* longest line, without its end */
#define CFG_VALUE_MAX	16384		/* longest value once expanded */
#define CFG_FILE_MAX	(1024 * 1024)	/* largest file read */

#define CFG_REQUIRED	0x01		/* no default: must be set */
#define CFG_SECRET	0x02		/* wiped before it is freed */

enum cfg_type {
	CFG_TYPE_STRING,	/* char *; min is the least length */
	CFG_TYPE_INT,		/* long, from min to max */
	CFG_TYPE_BOOL,		/* long, 0 or 1, from true/false etc. */
	CFG_TYPE__MAX
};

enum cfg_key {
	CFG_MYSQL_DB_URL,
	CFG_JWT_SECRET_KEY,
	CFG_ALGORITHM,
	CFG_ACCESS_TOKEN_EXPIRE_MINUTES,
	CFG_REFRESH_TOKEN_EXPIRE_DAYS,
	CFG_MAIL_USERNAME,
	CFG_MAIL_PASSWORD,
	CFG_MAIL_FROM,
	CFG_MAIL_PORT,
	CFG_MAIL_SERVER,
	CFG_BCRYPT_ROUNDS,
	CFG_BCRYPT_NICE,
	CFG_REFRESH_REUSE_GRACE_SECONDS,
	CFG_REFRESH_TOKEN_EXPIRE_SECONDS,
	CFG_MAIL_FROM_NAME,
	CFG_MAIL_STARTTLS,
	CFG_MAIL_SSL_TLS,
	CFG_USE_CREDENTIALS,
	CFG_VALIDATE_CERTS,
	CFG_MAIL_OUTBOX_DIR,
	CFG_OTP_SECRET_KEY,
	CFG_OTP_EXPIRE_MINUTES,
	CFG_OTP_MAX_ATTEMPTS,
	CFG_OTP_COOLDOWN_SECONDS,
	CFG_OTP_MAX_PER_HOUR,
	CFG_TRUSTED_PROXIES,
	CFG_LOG_FILE,
	CFG_THROTTLE_LOGIN_ACCOUNT,
	CFG_THROTTLE_LOGIN_ACCOUNT_WINDOW,
	CFG_THROTTLE_LOGIN_ADDRESS_FAILURES,
	CFG_THROTTLE_LOGIN_ADDRESS_FAILURES_WINDOW,
	CFG_THROTTLE_LOGIN_ADDRESS,
	CFG_THROTTLE_LOGIN_ADDRESS_WINDOW,
	CFG_THROTTLE_REGISTER_ADDRESS,
	CFG_THROTTLE_REGISTER_ADDRESS_WINDOW,
	CFG_THROTTLE_FORGOT_ADDRESS,
	CFG_THROTTLE_FORGOT_ADDRESS_WINDOW,
	CFG_THROTTLE_RESET_ADDRESS,
	CFG_THROTTLE_RESET_ADDRESS_WINDOW,
	CFG_THROTTLE_REFRESH_ADDRESS,
	CFG_THROTTLE_REFRESH_ADDRESS_WINDOW,
	CFG_DB_CONNECT_TIMEOUT,
	CFG_DB_TIMEOUT,
	CFG_DB_LOCK_WAIT_TIMEOUT,
	CFG_VERIFY_CHECK_ACCOUNT,
	CFG_OTP_MAX_FAILURES_PER_DAY,
	CFG_MAIL_DELIVERY_PROGRAM,
	CFG_MAIL_DELIVERY_SLOTS,
	CFG__MAX
};

/* Why a line of the file could not be read. */
enum cfg_syntax {
	CFG_SYNTAX_OK,		/* KEY=value */
	CFG_SYNTAX_BLANK,	/* blank or comment */
	CFG_SYNTAX_KEY,		/* key not [A-Za-z_][A-Za-z0-9_]* */
	CFG_SYNTAX_EQUALS,	/* no "=" after the key */
	CFG_SYNTAX_QUOTE,	/* no closing quote */
	CFG_SYNTAX_JUNK,	/* more than a comment after the quote */
	CFG_SYNTAX__MAX
};

struct cfg_def {
	const char	*name;		/* in the file and the environment */
	enum cfg_type	 type;
	size_t		 off;		/* of the field in struct cfg */
	const char	*def;		/* default, or NULL for unset */
	long		 min;
	long		 max;
	unsigned int	 flags;		/* CFG_REQUIRED, CFG_SECRET */
	enum auth_status (*check)(struct cfg *, char *, size_t);
};

static enum auth_status	 cfg_check_algorithm(struct cfg *, char *, size_t);
static enum auth_status	 cfg_check_dburl(struct cfg *, char *, size_t);
static enum auth_status	 cfg_check_jwt(struct cfg *, char *, size_t);
static enum auth_status	 cfg_check_proxies(struct cfg *, char *, size_t);

static const struct cfg_def cfg_defs[CFG__MAX] = {
	{ "MYSQL_DB_URL", CFG_TYPE_STRING,
	  offsetof(struct cfg, mysql_db_url), NULL, 0, 0,
	  CFG_REQUIRED | CFG_SECRET, cfg_check_dburl }, /* CFG_MYSQL_DB_URL */
	{ "JWT_SECRET_KEY", CFG_TYPE_STRING,
	  offsetof(struct cfg, jwt_secret_key), NULL, 32, 0,
	  CFG_REQUIRED | CFG_SECRET, cfg_check_jwt }, /* CFG_JWT_SECRET_KEY */
	{ "ALGORITHM", CFG_TYPE_STRING,
	  offsetof(struct cfg, algorithm), "HS256", 0, 0,
	  0, cfg_check_algorithm }, /* CFG_ALGORITHM */
	{ "ACCESS_TOKEN_EXPIRE_MINUTES", CFG_TYPE_INT,
	  offsetof(struct cfg, access_token_expire_minutes), "15", 1, 1440,
	  0, NULL }, /* CFG_ACCESS_TOKEN_EXPIRE_MINUTES */
	{ "REFRESH_TOKEN_EXPIRE_DAYS", CFG_TYPE_INT,
	  offsetof(struct cfg, refresh_token_expire_days), "21", 1, 365,
	  0, NULL }, /* CFG_REFRESH_TOKEN_EXPIRE_DAYS */
	{ "MAIL_USERNAME", CFG_TYPE_STRING,
	  offsetof(struct cfg, mail_username), NULL, 0, 0,
	  0, NULL }, /* CFG_MAIL_USERNAME */
	{ "MAIL_PASSWORD", CFG_TYPE_STRING,
	  offsetof(struct cfg, mail_password), NULL, 0, 0,
	  CFG_SECRET, NULL }, /* CFG_MAIL_PASSWORD */
	{ "MAIL_FROM", CFG_TYPE_STRING,
	  offsetof(struct cfg, mail_from), NULL, 0, 0,
	  0, NULL }, /* CFG_MAIL_FROM */
	{ "MAIL_PORT", CFG_TYPE_INT,
	  offsetof(struct cfg, mail_port), "587", 1, 65535,
	  0, NULL }, /* CFG_MAIL_PORT */
	{ "MAIL_SERVER", CFG_TYPE_STRING,
	  offsetof(struct cfg, mail_server), NULL, 0, 0,
	  0, NULL }, /* CFG_MAIL_SERVER */
	{ "BCRYPT_ROUNDS", CFG_TYPE_INT,
	  offsetof(struct cfg, bcrypt_rounds), "12", 10, 31,
	  0, NULL }, /* CFG_BCRYPT_ROUNDS */
	{ "BCRYPT_NICE", CFG_TYPE_INT,
	  offsetof(struct cfg, bcrypt_nice), "10", 0, 19,
	  0, NULL }, /* CFG_BCRYPT_NICE */
	{ "REFRESH_REUSE_GRACE_SECONDS", CFG_TYPE_INT,
	  offsetof(struct cfg, refresh_reuse_grace_seconds), "10", 0, 300,
	  0, NULL }, /* CFG_REFRESH_REUSE_GRACE_SECONDS */
	{ "REFRESH_TOKEN_EXPIRE_SECONDS", CFG_TYPE_INT,
	  offsetof(struct cfg, refresh_token_expire_seconds), NULL, 1,
	  31536000, 0, NULL }, /* CFG_REFRESH_TOKEN_EXPIRE_SECONDS */
	{ "MAIL_FROM_NAME", CFG_TYPE_STRING,
	  offsetof(struct cfg, mail_from_name), NULL, 0, 0,
	  0, NULL }, /* CFG_MAIL_FROM_NAME */
	{ "MAIL_STARTTLS", CFG_TYPE_BOOL,
	  offsetof(struct cfg, mail_starttls), "true", 0, 1,
	  0, NULL }, /* CFG_MAIL_STARTTLS */
	{ "MAIL_SSL_TLS", CFG_TYPE_BOOL,
	  offsetof(struct cfg, mail_ssl_tls), "false", 0, 1,
	  0, NULL }, /* CFG_MAIL_SSL_TLS */
	{ "USE_CREDENTIALS", CFG_TYPE_BOOL,
	  offsetof(struct cfg, use_credentials), "true", 0, 1,
	  0, NULL }, /* CFG_USE_CREDENTIALS */
	{ "VALIDATE_CERTS", CFG_TYPE_BOOL,
	  offsetof(struct cfg, validate_certs), "true", 0, 1,
	  0, NULL }, /* CFG_VALIDATE_CERTS */
	{ "MAIL_OUTBOX_DIR", CFG_TYPE_STRING,
	  offsetof(struct cfg, mail_outbox_dir), NULL, 0, 0,
	  0, NULL }, /* CFG_MAIL_OUTBOX_DIR */
	{ "OTP_SECRET_KEY", CFG_TYPE_STRING,
	  offsetof(struct cfg, otp_secret_key), NULL, 32, 0,
	  CFG_SECRET, NULL }, /* CFG_OTP_SECRET_KEY */
	{ "OTP_EXPIRE_MINUTES", CFG_TYPE_INT,
	  offsetof(struct cfg, otp_expire_minutes), "30", 1, 1440,
	  0, NULL }, /* CFG_OTP_EXPIRE_MINUTES */
	{ "OTP_MAX_ATTEMPTS", CFG_TYPE_INT,
	  offsetof(struct cfg, otp_max_attempts), "5", 1, 100,
	  0, NULL }, /* CFG_OTP_MAX_ATTEMPTS */
	{ "OTP_COOLDOWN_SECONDS", CFG_TYPE_INT,
	  offsetof(struct cfg, otp_cooldown_seconds), "60", 0, 86400,
	  0, NULL }, /* CFG_OTP_COOLDOWN_SECONDS */
	{ "OTP_MAX_PER_HOUR", CFG_TYPE_INT,
	  offsetof(struct cfg, otp_max_per_hour), "5", 0, 1000,
	  0, NULL }, /* CFG_OTP_MAX_PER_HOUR */
	{ "TRUSTED_PROXIES", CFG_TYPE_STRING,
	  offsetof(struct cfg, trusted_proxies), NULL, 0, 0,
	  0, cfg_check_proxies }, /* CFG_TRUSTED_PROXIES */
	{ "LOG_FILE", CFG_TYPE_STRING,
	  offsetof(struct cfg, log_file), NULL, 0, 0,
	  0, NULL }, /* CFG_LOG_FILE */
	{ "THROTTLE_LOGIN_ACCOUNT", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_limit[THROTTLE_LOGIN_ACCOUNT]), "5", 0,
	  1000000, 0, NULL }, /* CFG_THROTTLE_LOGIN_ACCOUNT */
	{ "THROTTLE_LOGIN_ACCOUNT_WINDOW", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_window[THROTTLE_LOGIN_ACCOUNT]), "900", 1,
	  86400, 0, NULL }, /* CFG_THROTTLE_LOGIN_ACCOUNT_WINDOW */
	{ "THROTTLE_LOGIN_ADDRESS_FAILURES", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_limit[THROTTLE_LOGIN_ADDRESS_FAILURES]), "20", 0,
	  1000000, 0, NULL }, /* CFG_THROTTLE_LOGIN_ADDRESS_FAILURES */
	{ "THROTTLE_LOGIN_ADDRESS_FAILURES_WINDOW", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_window[THROTTLE_LOGIN_ADDRESS_FAILURES]), "300", 1,
	  86400, 0, NULL }, /* CFG_THROTTLE_LOGIN_ADDRESS_FAILURES_WINDOW */
	{ "THROTTLE_LOGIN_ADDRESS", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_limit[THROTTLE_LOGIN_ADDRESS]), "60", 0,
	  1000000, 0, NULL }, /* CFG_THROTTLE_LOGIN_ADDRESS */
	{ "THROTTLE_LOGIN_ADDRESS_WINDOW", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_window[THROTTLE_LOGIN_ADDRESS]), "300", 1,
	  86400, 0, NULL }, /* CFG_THROTTLE_LOGIN_ADDRESS_WINDOW */
	{ "THROTTLE_REGISTER_ADDRESS", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_limit[THROTTLE_REGISTER_ADDRESS]), "20", 0,
	  1000000, 0, NULL }, /* CFG_THROTTLE_REGISTER_ADDRESS */
	{ "THROTTLE_REGISTER_ADDRESS_WINDOW", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_window[THROTTLE_REGISTER_ADDRESS]), "3600", 1,
	  86400, 0, NULL }, /* CFG_THROTTLE_REGISTER_ADDRESS_WINDOW */
	{ "THROTTLE_FORGOT_ADDRESS", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_limit[THROTTLE_FORGOT_ADDRESS]), "10", 0,
	  1000000, 0, NULL }, /* CFG_THROTTLE_FORGOT_ADDRESS */
	{ "THROTTLE_FORGOT_ADDRESS_WINDOW", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_window[THROTTLE_FORGOT_ADDRESS]), "300", 1,
	  86400, 0, NULL }, /* CFG_THROTTLE_FORGOT_ADDRESS_WINDOW */
	{ "THROTTLE_RESET_ADDRESS", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_limit[THROTTLE_RESET_ADDRESS]), "20", 0,
	  1000000, 0, NULL }, /* CFG_THROTTLE_RESET_ADDRESS */
	{ "THROTTLE_RESET_ADDRESS_WINDOW", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_window[THROTTLE_RESET_ADDRESS]), "300", 1,
	  86400, 0, NULL }, /* CFG_THROTTLE_RESET_ADDRESS_WINDOW */
	{ "THROTTLE_REFRESH_ADDRESS", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_limit[THROTTLE_REFRESH_ADDRESS]), "300", 0,
	  1000000, 0, NULL }, /* CFG_THROTTLE_REFRESH_ADDRESS */
	{ "THROTTLE_REFRESH_ADDRESS_WINDOW", CFG_TYPE_INT,
	  offsetof(struct cfg, throttle_window[THROTTLE_REFRESH_ADDRESS]), "300", 1,
	  86400, 0, NULL }, /* CFG_THROTTLE_REFRESH_ADDRESS_WINDOW */
	/* After MYSQL_DB_URL, whose parse fills the rest of db. */
	{ "DB_CONNECT_TIMEOUT", CFG_TYPE_INT,
	  offsetof(struct cfg, db.connect_timeout), "5", 1, 300,
	  0, NULL }, /* CFG_DB_CONNECT_TIMEOUT */
	{ "DB_TIMEOUT", CFG_TYPE_INT,
	  offsetof(struct cfg, db.io_timeout), "10", 1, 3600,
	  0, NULL }, /* CFG_DB_TIMEOUT */
	{ "DB_LOCK_WAIT_TIMEOUT", CFG_TYPE_INT,
	  offsetof(struct cfg, db.lock_wait_timeout), "5", 1, 3600,
	  0, NULL }, /* CFG_DB_LOCK_WAIT_TIMEOUT */
	{ "VERIFY_CHECK_ACCOUNT", CFG_TYPE_BOOL,
	  offsetof(struct cfg, verify_check_account), "false", 0, 1,
	  0, NULL }, /* CFG_VERIFY_CHECK_ACCOUNT */
	{ "OTP_MAX_FAILURES_PER_DAY", CFG_TYPE_INT,
	  offsetof(struct cfg, otp_max_failures_per_day), "10", 0, 1000,
	  0, NULL }, /* CFG_OTP_MAX_FAILURES_PER_DAY */
	{ "MAIL_DELIVERY_PROGRAM", CFG_TYPE_STRING,
	  offsetof(struct cfg, mail_delivery_program), AUTH_DELIVERY_PROGRAM,
	  1, 0, 0, NULL }, /* CFG_MAIL_DELIVERY_PROGRAM */
	{ "MAIL_DELIVERY_SLOTS", CFG_TYPE_INT,
	  offsetof(struct cfg, mail_delivery_slots), "4", 1, 32,
	  0, NULL }, /* CFG_MAIL_DELIVERY_SLOTS */
};

static const char *const cfg_syntax_msgs[CFG_SYNTAX__MAX] = {
	"ok", /* CFG_SYNTAX_OK */
	"blank", /* CFG_SYNTAX_BLANK */
	"malformed line (bad key)", /* CFG_SYNTAX_KEY */
	"malformed line (expected KEY=value)", /* CFG_SYNTAX_EQUALS */
	"unterminated quote", /* CFG_SYNTAX_QUOTE */
	"malformed line (text after the closing quote)", /* CFG_SYNTAX_JUNK */
};

static void	 cfg_errf(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/*
 * Write the formatted message into err, always NUL-terminated, cut short
 * to errsz bytes.
 */
static void
cfg_errf(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/*
 * Wipe and free s, which may be NULL.
 */
static void
cfg_wipe(char *s)
{

	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/*
 * Return the address of d's char * field in c.
 */
static char **
cfg_str(struct cfg *c, const struct cfg_def *d)
{

	return (char **)(void *)((char *)c + d->off);
}

/*
 * Return the address of d's long field in c.
 */
static long *
cfg_long(struct cfg *c, const struct cfg_def *d)
{

	return (long *)(void *)((char *)c + d->off);
}

/*
 * The signing code only implements HMAC-SHA256 (RFC 7518, 3.2).
 */
static enum auth_status
cfg_check_algorithm(struct cfg *c, char *err, size_t errsz)
{

	if (strcmp(c->algorithm, "HS256") != 0) {
		cfg_errf(err, errsz, "ALGORITHM: must be HS256");
		return AUTH_ERR_CONFIG;
	}
	return AUTH_OK;
}

/*
 * The dburl message already starts with "MYSQL_DB_URL: " and never holds
 * the password.
 */
static enum auth_status
cfg_check_dburl(struct cfg *c, char *err, size_t errsz)
{
	enum auth_status	 rc;

	rc = dburl_parse(c->mysql_db_url, &c->db, err, errsz);
	if (rc == AUTH_OK || rc == AUTH_ERR_NOMEM)
		return rc;
	return AUTH_ERR_CONFIG;
}

/*
 * The length is kept so that the signing code never runs strlen() over
 * the key (the generic minimum of 32 bytes was already checked).
 */
static enum auth_status
cfg_check_jwt(struct cfg *c, char *err, size_t errsz)
{

	(void)err;
	(void)errsz;
	c->jwt_secret_len = strlen(c->jwt_secret_key);
	return AUTH_OK;
}

/*
 * TRUSTED_PROXIES: addresses and CIDR ranges, parsed once here.
 */
static enum auth_status
cfg_check_proxies(struct cfg *c, char *err, size_t errsz)
{

	return client_proxies_parse(c->trusted_proxies, &c->proxies, err,
	    errsz);
}

/*
 * Parse s as a decimal integer: digits only, no sign, no space, no
 * overflow.  Return 1 and set *v, or return 0.
 */
static int
cfg_int(const char *s, long *v)
{
	const char	*p;
	char		*end;
	long		 n;

	if (*s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return 0;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	*v = n;
	return 1;
}

/*
 * Parse s as a boolean the way pydantic reads the FastAPI backend's
 * settings: true/false, 1/0, yes/no, on/off, in any case.  Return 1 and
 * set *v to 1 or 0, or return 0.
 */
static int
cfg_bool(const char *s, long *v)
{
	static const char *const yes[] = { "true", "1", "yes", "on" };
	static const char *const no[] = { "false", "0", "no", "off" };
	size_t		 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = 1;
			return 1;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = 0;
			return 1;
		}
	}
	return 0;
}

/*
 * Return the index of the key called name, or CFG__MAX.
 */
static enum cfg_key
cfg_lookup(const char *name)
{
	enum cfg_key	 k;

	for (k = 0; k < CFG__MAX; k++)
		if (strcmp(cfg_defs[k].name, name) == 0)
			break;
	return k;
}

/*
 * Replace *dst by a copy of v, wiping the old value.
 */
static enum auth_status
cfg_set(char **dst, const char *v, char *err, size_t errsz)
{
	char	*p;

	if ((p = strdup(v)) == NULL) {
		cfg_errf(err, errsz, "out of memory");
		return AUTH_ERR_NOMEM;
	}
	cfg_wipe(*dst);
	*dst = p;
	return AUTH_OK;
}

/*
 * Return 1 if c is a space or tab: python-dotenv's blanks within a line.
 */
static int
cfg_blank(char c)
{

	return c == ' ' || c == '\t';
}

/*
 * Return 1 if c may appear in a key ([A-Za-z_][A-Za-z0-9_]*) at the
 * start (first nonzero) or later.
 */
static int
cfg_keychar(char c, int first)
{

	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    c == '_' || (!first && c >= '0' && c <= '9');
}

/*
 * Split the start of a python-dotenv line, in place: skip blanks and an
 * "export " directive, end the key ([A-Za-z_][A-Za-z0-9_]*) with a NUL
 * and set *key to it, and *sp to just after the "=".
 */
static enum cfg_syntax
cfg_parse_key(char **sp, char **key)
{
	char	*s = *sp, *keyend, *t;

	while (cfg_blank(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return CFG_SYNTAX_BLANK;
	if (strncmp(s, "export", 6) == 0 && cfg_blank(s[6])) {
		for (t = s + 6; cfg_blank(*t); t++)
			continue;
		/* "export = 1" sets a key called export. */
		if (*t != '=')
			s = t;
	}
	if (!cfg_keychar(*s, 1))
		return CFG_SYNTAX_KEY;
	*key = s;
	while (cfg_keychar(*s, 0))
		s++;
	if (*s != '=' && *s != '\0' && !cfg_blank(*s))
		return CFG_SYNTAX_KEY;
	keyend = s;
	while (cfg_blank(*s))
		s++;
	if (*s != '=')
		return CFG_SYNTAX_EQUALS;
	*keyend = '\0';
	*sp = s + 1;
	return CFG_SYNTAX_OK;
}

/*
 * Return the byte backslash pair "\c" stands for inside quote, or -1 if
 * the pair stays as written.  python-dotenv's documented escapes: in
 * single quotes \\ and \'; in double quotes those, \" and the C escapes
 * \a \b \f \n \r \t \v.  "\$" is no escape: python-dotenv keeps it.
 */
static int
cfg_escape(char quote, char c)
{
	static const char cesc[] = "abfnrtv";
	static const char cval[] = "\a\b\f\n\r\t\v";
	const char	*p;

	if (c == '\\' || c == '\'')
		return c;
	if (quote == '\'')
		return -1;
	if (c == '"')
		return c;
	if (c != '\0' && (p = strchr(cesc, c)) != NULL)
		return cval[p - cesc];
	return -1;
}

/*
 * Unquote, in place, the value that starts just after the opening quote
 * at s, decoding cfg_escape()'s pairs.  Return the value and set *endp to
 * just after the closing quote, or return NULL if there is none on the
 * line.
 */
static char *
cfg_unquote(char *s, char quote, char **endp)
{
	char	*v = s, *d = s;
	int	 c;

	for (;;) {
		if (*s == '\0')
			return NULL;
		if (*s == quote)
			break;
		if (*s == '\\' && s[1] != '\0' &&
		    (c = cfg_escape(quote, s[1])) != -1) {
			*d++ = (char)c;
			s += 2;
		} else
			*d++ = *s++;
	}
	*d = '\0';
	*endp = s + 1;
	return v;
}

/*
 * Split one line of a python-dotenv file, in place, into *key and *val:
 *
 *   [export] KEY = value [# comment]
 *   [export] KEY = "value with \\ \" \' \n \t \r \a \b \f \v" [# comment]
 *   [export] KEY = 'value with \\ \'' [# comment]
 *
 * An unquoted value is trimmed, and a "#" after a space or tab starts a
 * comment.  Inside quotes, other backslash pairs stay as written.  ${}
 * references are left for cfg_expand().
 */
static enum cfg_syntax
cfg_parse_line(char *s, char **key, char **val)
{
	enum cfg_syntax	 syn;
	char		*t, *v;

	*key = *val = NULL;
	if ((syn = cfg_parse_key(&s, key)) != CFG_SYNTAX_OK)
		return syn;
	t = s;
	while (cfg_blank(*s))
		s++;
	if (*s != '"' && *s != '\'') {
		/* From just after "=", so that "KEY= # x" is empty. */
		for (v = t; *t != '\0'; t++)
			if (cfg_blank(t[0]) && t[1] == '#') {
				*t = '\0';
				break;
			}
		while (cfg_blank(*v))
			v++;
		t = v + strlen(v);
		while (t > v && cfg_blank(t[-1]))
			*--t = '\0';
		*val = v;
		return CFG_SYNTAX_OK;
	}
	if ((v = cfg_unquote(s + 1, *s, &s)) == NULL)
		return CFG_SYNTAX_QUOTE;
	while (cfg_blank(*s))
		s++;
	if (*s != '\0' && *s != '#')
		return CFG_SYNTAX_JUNK;
	*val = v;
	return CFG_SYNTAX_OK;
}

/*
 * The bindings of the file read so far, for ${NAME} in later values: every
 * key, known to us or not, with its expanded value (the last one wins).
 */
struct cfg_binds {
	char	**names;
	char	**values;		/* wiped before they are freed */
	size_t	  n;
	size_t	  size;
};

static void
cfg_binds_free(struct cfg_binds *b)
{
	size_t	 i;

	for (i = 0; i < b->n; i++) {
		free(b->names[i]);
		cfg_wipe(b->values[i]);
	}
	free(b->names);
	free(b->values);
	memset(b, 0, sizeof(*b));
}

/*
 * Remember that the file set name to value (both copied).  Returns 0, or
 * -1 when out of memory.
 */
static int
cfg_binds_add(struct cfg_binds *b, const char *name, const char *value)
{
	char	**n, **v;
	size_t	  size;

	if (b->n == b->size) {
		size = b->size == 0 ? 16 : b->size * 2;
		if ((n = reallocarray(b->names, size, sizeof(*n))) == NULL)
			return -1;
		b->names = n;
		if ((v = reallocarray(b->values, size, sizeof(*v))) == NULL)
			return -1;
		b->values = v;
		b->size = size;
	}
	if ((b->names[b->n] = strdup(name)) == NULL)
		return -1;
	if ((b->values[b->n] = strdup(value)) == NULL) {
		free(b->names[b->n]);
		return -1;
	}
	b->n++;
	return 0;
}

/*
 * Return the value ${name} (len bytes) stands for, as python-dotenv's
 * load_dotenv() resolves it: the environment first (as a key of ours is
 * read from the environment first), then the last earlier binding of the
 * file; NULL if neither has it.
 */
static const char *
cfg_lookup_var(const struct cfg_binds *b, const char *name, size_t len)
{
	char	 buf[CFG_LINE_MAX + 1];
	size_t	 i;
	const char	*v;

	/* An environment name holds no "=" (os.environ splits at it). */
	if (len == 0 || len > CFG_LINE_MAX || memchr(name, '=', len) != NULL)
		v = NULL;
	else {
		memcpy(buf, name, len);
		buf[len] = '\0';
		v = getenv(buf);
	}
	for (i = b->n; v == NULL && i > 0; i--)
		if (strlen(b->names[i - 1]) == len &&
		    memcmp(b->names[i - 1], name, len) == 0)
			v = b->values[i - 1];
	return v;
}

/*
 * If s starts a ${NAME} or ${NAME:-default} reference (python-dotenv's
 * pattern: NAME holds no "}" or ":", default no "}"), set *name, *nlen,
 * *def (NULL if none), *dlen and return its length; else return 0.
 */
static size_t
cfg_reference(const char *s, const char **name, size_t *nlen,
    const char **def, size_t *dlen)
{
	const char	*p;

	if (s[0] != '$' || s[1] != '{')
		return 0;
	*name = s + 2;
	*nlen = strcspn(*name, "}:");
	p = *name + *nlen;
	*def = NULL;
	*dlen = 0;
	if (p[0] == ':' && p[1] == '-') {
		*def = p + 2;
		*dlen = strcspn(*def, "}");
		p = *def + *dlen;
	}
	if (*p != '}')
		return 0;
	return (size_t)(p + 1 - s);
}

/*
 * Expand the ${NAME} and ${NAME:-default} references in v, as
 * python-dotenv does in every value (quoted or not; "$NAME" without
 * braces stays as written): the value of NAME (cfg_lookup_var(), even
 * if empty), else the default as written, else "".  The result is not
 * expanded again.  Returns a new string in *out, or NULL with err set
 * when out of memory or longer than CFG_VALUE_MAX.
 */
static enum auth_status
cfg_expand(const char *v, const struct cfg_binds *b, char **out,
    const char *path, size_t lineno, char *err, size_t errsz)
{
	char		*buf;
	const char	*name, *def, *sub;
	size_t		 n = 0, len, nlen, dlen, slen;

	*out = NULL;
	if ((buf = malloc(CFG_VALUE_MAX + 1)) == NULL) {
		cfg_errf(err, errsz, "out of memory");
		return AUTH_ERR_NOMEM;
	}
	while (*v != '\0') {
		if ((len = cfg_reference(v, &name, &nlen, &def, &dlen)) > 0) {
			if ((sub = cfg_lookup_var(b, name, nlen)) != NULL)
				slen = strlen(sub);
			else {
				sub = def != NULL ? def : "";
				slen = dlen;
			}
			v += len;
		} else {
			sub = v++;
			slen = 1;
		}
		if (slen > CFG_VALUE_MAX - n) {
			OPENSSL_cleanse(buf, n);
			free(buf);
			cfg_errf(err, errsz, "%s:%zu: value longer than %d "
			    "bytes once ${} is expanded", path, lineno,
			    CFG_VALUE_MAX);
			return AUTH_ERR_CONFIG;
		}
		memcpy(buf + n, sub, slen);
		n += slen;
	}
	buf[n] = '\0';
	*out = buf;
	return AUTH_OK;
}

/*
 * Take one line of the file (at lineno, NUL-terminated in line): split
 * it, expand its value, remember the binding in b, and keep the value of
 * a key of ours in vals[]; warn about unknown keys.
 */
static enum auth_status
cfg_parse_one(const char *path, size_t lineno, char *line,
    struct cfg_binds *b, char *vals[CFG__MAX], char *err, size_t errsz)
{
	char			*key, *val, *exp = NULL;
	enum cfg_key		 k;
	enum cfg_syntax		 syn;
	enum auth_status	 rc;

	syn = cfg_parse_line(line, &key, &val);
	if (syn == CFG_SYNTAX_BLANK)
		return AUTH_OK;
	if (syn != CFG_SYNTAX_OK) {
		cfg_errf(err, errsz, "%s:%zu: %s", path, lineno,
		    cfg_syntax_msgs[syn]);
		return AUTH_ERR_CONFIG;
	}
	if ((rc = cfg_expand(val, b, &exp, path, lineno, err, errsz)) !=
	    AUTH_OK)
		return rc;
	if (cfg_binds_add(b, key, exp) == -1) {
		cfg_errf(err, errsz, "out of memory");
		rc = AUTH_ERR_NOMEM;
		goto out;
	}
	if ((k = cfg_lookup(key)) == CFG__MAX)
		log_warn("config", "unknown key file=%s line=%zu key=%s",
		    path, lineno, key);
	else
		rc = cfg_set(&vals[k], exp, err, errsz);
out:
	cfg_wipe(exp);
	return rc;
}

/*
 * Read the len bytes of the file at path (in buf) into vals[], the last
 * occurrence of a key winning.
 */
static enum auth_status
cfg_parse(const char *path, const char *buf, size_t len,
    char *vals[CFG__MAX], char *err, size_t errsz)
{
	struct cfg_binds	 b;
	char			 line[CFG_LINE_MAX + 1];
	const char		*s, *nl;
	size_t			 n, lineno = 0;
	enum auth_status	 rc = AUTH_ERR_CONFIG;

	memset(&b, 0, sizeof(b));
	/* A byte-order mark some editors write. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	for (s = buf; s < buf + len; s = nl + 1) {
		lineno++;
		if ((nl = memchr(s, '\n', (size_t)(buf + len - s))) == NULL)
			nl = buf + len;
		n = (size_t)(nl - s);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n > CFG_LINE_MAX) {
			cfg_errf(err, errsz, "%s:%zu: line longer than %d "
			    "bytes", path, lineno, CFG_LINE_MAX);
			goto out;
		}
		if (memchr(s, '\0', n) != NULL) {
			cfg_errf(err, errsz, "%s:%zu: NUL byte", path,
			    lineno);
			goto out;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		if ((rc = cfg_parse_one(path, lineno, line, &b, vals, err,
		    errsz)) != AUTH_OK)
			goto out;
		rc = AUTH_ERR_CONFIG;
	}
	rc = AUTH_OK;
out:
	OPENSSL_cleanse(line, sizeof(line));
	cfg_binds_free(&b);
	return rc;
}

/*
 * Check what was opened as path, described by *st: a regular file of at
 * most CFG_FILE_MAX bytes, owned by root or by the user we run as (any
 * other user could change it: OpenSSH's StrictModes), that others can
 * neither read nor write and its group cannot write (it holds secrets;
 * OpenSSH's sshkey_perm_ok()).
 */
static enum auth_status
cfg_check_file(const char *path, const struct stat *st, char *err,
    size_t errsz)
{
	const char	*why;
	mode_t		 mode;

	if (!S_ISREG(st->st_mode)) {
		cfg_errf(err, errsz, "%s: not a regular file", path);
		return AUTH_ERR_CONFIG;
	}
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		cfg_errf(err, errsz, "%s: owned by uid %lu, not by root or "
		    "this program's user (uid %lu); chown it", path,
		    (unsigned long)st->st_uid, (unsigned long)geteuid());
		return AUTH_ERR_CONFIG;
	}
	mode = st->st_mode & 07777;
	if ((mode & (S_IROTH | S_IWOTH | S_IWGRP)) != 0) {
		if (mode & S_IWOTH)
			why = "writable by others";
		else if (mode & S_IROTH)
			why = "readable by others";
		else
			why = "writable by its group";
		cfg_errf(err, errsz, "%s: mode %04o is %s; chmod 600 (or 640 "
		    "for a web-server group) it", path, (unsigned int)mode,
		    why);
		return AUTH_ERR_CONFIG;
	}
	if (st->st_size > CFG_FILE_MAX) {
		cfg_errf(err, errsz, "%s: larger than %d bytes", path,
		    CFG_FILE_MAX);
		return AUTH_ERR_CONFIG;
	}
	return AUTH_OK;
}

/*
 * Read the size bytes of fd (path) into a new NUL-terminated buffer:
 * *bufp and *lenp (fewer bytes if it shrank meanwhile).
 */
static enum auth_status
cfg_read_fd(const char *path, int fd, size_t size, char **bufp,
    size_t *lenp, char *err, size_t errsz)
{
	char	*buf;
	size_t	 len = 0;
	ssize_t	 r;

	if ((buf = malloc(size + 1)) == NULL) {
		cfg_errf(err, errsz, "out of memory");
		return AUTH_ERR_NOMEM;
	}
	while (len < size) {
		if ((r = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR)
				continue;
			cfg_errf(err, errsz, "%s: %s", path, strerror(errno));
			OPENSSL_cleanse(buf, size + 1);
			free(buf);
			return AUTH_ERR_SYSTEM;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return AUTH_OK;
}

/*
 * Open path and read it into *bufp (*lenp bytes, NUL-terminated), after
 * cfg_check_file() has accepted it.  A missing file leaves *bufp NULL and
 * is an error only if explicit is nonzero.
 */
static enum auth_status
cfg_read(const char *path, int explicit, char **bufp, size_t *lenp,
    char *err, size_t errsz)
{
	struct stat		 st;
	int			 fd = -1;
	enum auth_status	 rc;

	*bufp = NULL;
	*lenp = 0;

	/*
	 * Symbolic links are allowed: the checks are on what was opened.
	 * O_NONBLOCK keeps a FIFO from hanging us before fstat() refuses
	 * it; it means nothing to a regular file.
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		if (errno == ENOENT && !explicit)
			return AUTH_OK;
		cfg_errf(err, errsz, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? AUTH_ERR_CONFIG : AUTH_ERR_SYSTEM;
	}
	if (fstat(fd, &st) == -1) {
		cfg_errf(err, errsz, "%s: %s", path, strerror(errno));
		rc = AUTH_ERR_SYSTEM;
	} else if ((rc = cfg_check_file(path, &st, err, errsz)) == AUTH_OK)
		rc = cfg_read_fd(path, fd, (size_t)st.st_size, bufp, lenp,
		    err, errsz);
	(void)close(fd);
	return rc;
}

/*
 * Refuse settings that would send the SMTP password in clear: neither
 * kind of TLS, credentials in use (mail.c logs in only with a user name)
 * and a mail server that is not this machine, where nobody else can read
 * the wire.
 */
static enum auth_status
cfg_check_mail(const struct cfg *c, char *err, size_t errsz)
{

	if (c->mail_server == NULL || c->mail_starttls || c->mail_ssl_tls ||
	    !c->use_credentials || c->mail_username == NULL ||
	    client_host_loopback(c->mail_server))
		return AUTH_OK;
	cfg_errf(err, errsz, "MAIL_STARTTLS and MAIL_SSL_TLS are both false "
	    "while USE_CREDENTIALS and MAIL_USERNAME are set: the SMTP "
	    "password would cross the network to MAIL_SERVER in clear; turn "
	    "one of them on, or use a loopback MAIL_SERVER");
	return AUTH_ERR_CONFIG;
}

/*
 * A lock wait must end before the read time-out: otherwise a statement
 * waiting for a lock looks like a lost server (CR_SERVER_LOST after
 * DB_TIMEOUT), a write's outcome becomes unknown, and the connection is
 * dropped, where a lock-wait time-out would simply run it again.
 */
static enum auth_status
cfg_check_db_times(const struct cfg *c, char *err, size_t errsz)
{

	if (c->db.lock_wait_timeout < c->db.io_timeout)
		return AUTH_OK;
	cfg_errf(err, errsz, "DB_LOCK_WAIT_TIMEOUT (%ld s) must be shorter "
	    "than DB_TIMEOUT (%ld s)", c->db.lock_wait_timeout,
	    c->db.io_timeout);
	return AUTH_ERR_CONFIG;
}

/*
 * Copy each value in vals[] (or the default) into c, check it, and run
 * the key's own check; then the checks that span keys.
 */
static enum auth_status
cfg_apply(struct cfg *c, char *vals[CFG__MAX], char *err, size_t errsz)
{
	const struct cfg_def	*d;
	const char		*v;
	long			 n;
	enum cfg_key		 k;
	enum auth_status	 rc;

	for (k = 0; k < CFG__MAX; k++) {
		d = &cfg_defs[k];
		v = vals[k] != NULL ? vals[k] : d->def;
		if (v == NULL) {
			if (d->flags & CFG_REQUIRED) {
				cfg_errf(err, errsz, "%s: missing", d->name);
				return AUTH_ERR_CONFIG;
			}
			continue;
		}
		switch (d->type) {
		case CFG_TYPE_STRING:
			/* An empty optional setting is unset. */
			if (*v == '\0' && d->def == NULL &&
			    !(d->flags & CFG_REQUIRED))
				continue;
			if (strlen(v) < (size_t)d->min) {
				cfg_errf(err, errsz, "%s: must be at least %ld "
				    "bytes (got %zu)", d->name, d->min,
				    strlen(v));
				return AUTH_ERR_CONFIG;
			}
			if ((rc = cfg_set(cfg_str(c, d), v, err, errsz)) !=
			    AUTH_OK)
				return rc;
			break;
		case CFG_TYPE_INT:
			if (!cfg_int(v, &n) || n < d->min || n > d->max) {
				cfg_errf(err, errsz, "%s: must be an integer "
				    "from %ld to %ld", d->name, d->min,
				    d->max);
				return AUTH_ERR_CONFIG;
			}
			*cfg_long(c, d) = n;
			break;
		case CFG_TYPE_BOOL:
			if (!cfg_bool(v, &n)) {
				cfg_errf(err, errsz, "%s: must be true or "
				    "false", d->name);
				return AUTH_ERR_CONFIG;
			}
			*cfg_long(c, d) = n;
			break;
		default:
			abort();
		}
		if (d->check != NULL && (rc = d->check(c, err, errsz)) !=
		    AUTH_OK)
			return rc;
	}
	if ((rc = cfg_check_mail(c, err, errsz)) != AUTH_OK)
		return rc;
	return cfg_check_db_times(c, err, errsz);
}

/*
 * Return the absolute lifetime of a refresh session in seconds:
 * REFRESH_TOKEN_EXPIRE_SECONDS when set, else REFRESH_TOKEN_EXPIRE_DAYS.
 */
long
cfg_refresh_lifetime(const struct cfg *c)
{

	if (c->refresh_token_expire_seconds > 0)
		return c->refresh_token_expire_seconds;
	return c->refresh_token_expire_days * 86400;
}

/*
 * Return the configuration file to read: $AUTH_CONFIG when set and not
 * empty, else the compiled-in AUTH_CONFIG_FILE.  The string is static or
 * the environment's; do not free it.
 */
const char *
cfg_default_path(void)
{
	const char	*p;

	if ((p = getenv("AUTH_CONFIG")) != NULL && *p != '\0')
		return p;
	return AUTH_CONFIG_FILE;
}

/*
 * Load the configuration the programs use: the file cfg_default_path()
 * names, which must exist when AUTH_CONFIG named it, and the
 * environment.  As cfg_load().
 */
enum auth_status
cfg_load_default(struct cfg *cfg, char *err, size_t errsz)
{
	const char	*p = getenv("AUTH_CONFIG");

	return cfg_load(cfg, cfg_default_path(), p != NULL && *p != '\0',
	    err, errsz);
}

/*
 * Load the configuration into *cfg, which the caller releases with
 * cfg_free(): read the file at path (none when path is NULL; a missing
 * file is an error only when explicit_path is nonzero), override each key
 * from the environment, apply defaults and check every key.  Returns
 * AUTH_OK, or AUTH_ERR_CONFIG, AUTH_ERR_SYSTEM or AUTH_ERR_NOMEM with one
 * line in err (errsz bytes, may be NULL) naming the file and line or the
 * key, never a value; then *cfg is left zeroed.
 */
enum auth_status
cfg_load(struct cfg *cfg, const char *path, int explicit_path, char *err,
    size_t errsz)
{
	struct cfg		 c;
	char			*vals[CFG__MAX];
	char			*buf = NULL;
	const char		*v;
	size_t			 len = 0;
	enum cfg_key		 k;
	enum auth_status	 rc;

	memset(cfg, 0, sizeof(*cfg));
	memset(&c, 0, sizeof(c));
	memset(vals, 0, sizeof(vals));
	if (err != NULL && errsz > 0)
		err[0] = '\0';

	if (path != NULL) {
		if ((rc = cfg_read(path, explicit_path, &buf, &len, err,
		    errsz)) != AUTH_OK)
			goto out;
		if (buf != NULL && (rc = cfg_parse(path, buf, len, vals, err,
		    errsz)) != AUTH_OK)
			goto out;
	}

	/* Set, even to "", the environment wins. */
	for (k = 0; k < CFG__MAX; k++)
		if ((v = getenv(cfg_defs[k].name)) != NULL &&
		    (rc = cfg_set(&vals[k], v, err, errsz)) != AUTH_OK)
			goto out;

	if ((rc = cfg_apply(&c, vals, err, errsz)) != AUTH_OK)
		goto out;
	*cfg = c;
	memset(&c, 0, sizeof(c));
	rc = AUTH_OK;
out:
	cfg_free(&c);
	for (k = 0; k < CFG__MAX; k++)
		cfg_wipe(vals[k]);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	return rc;
}

/*
 * Free everything cfg holds, wiping the secrets first, and zero it.  cfg
 * may be NULL or zeroed.
 */
void
cfg_free(struct cfg *cfg)
{
	const struct cfg_def	*d;
	char			**p;
	enum cfg_key		 k;

	if (cfg == NULL)
		return;
	for (k = 0; k < CFG__MAX; k++) {
		d = &cfg_defs[k];
		if (d->type != CFG_TYPE_STRING)
			continue;
		p = cfg_str(cfg, d);
		if (d->flags & CFG_SECRET)
			cfg_wipe(*p);
		else
			free(*p);
		*p = NULL;
	}
	dburl_free(&cfg->db);
	OPENSSL_cleanse(cfg, sizeof(*cfg));
}
