/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/cfg.c: the python-dotenv file syntax, file
 * modes, environment overrides, defaults and each key's rule.  Every file
 * is made with mkstemp() in a private temporary directory; messages are
 * checked for the file, the line number and the key, and for never
 * holding a secret.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "dburl.h"
#include "status.h"
#include "tap.h"

/* The secrets: none of them may ever appear in a message. */
#define DBPW		"dbPW5ecret"
#define JWT32		"SeCrEt-JWT-0123456789abcdefghijk"
#define JWT31		"SeCrEt-JWT-0123456789abcdefghij"
#define MAILPW		"MaIlPw-5ecret"
#define MARK		"xyzzy"		/* on malformed lines */

#define URL		"mysql+pymysql://collab:" DBPW "@localhost:3307/auth"
#define URL_LINE	"MYSQL_DB_URL=" URL "\n"
#define JWT_LINE	"JWT_SECRET_KEY=" JWT32 "\n"
#define BASE		URL_LINE "JWT_SECRET_KEY=" JWT32	/* no EOL */

struct value {
	const char	*text;		/* before BASE in the file */
	const char	*want;		/* MAIL_FROM, or NULL for unset */
};

struct malformed {
	const char	*text;		/* before BASE in the file */
	size_t		 line;
	const char	*want;		/* in the message */
};

struct check {
	const char	*text;		/* the whole file */
	int		 ok;
	const char	*want;		/* in the message when !ok */
};

struct perm {
	mode_t		 mode;
	int		 ok;
	const char	*want;		/* in the message when !ok */
};

static const char *const known_keys[] = {
	"MYSQL_DB_URL",
	"JWT_SECRET_KEY",
	"ALGORITHM",
	"ACCESS_TOKEN_EXPIRE_MINUTES",
	"REFRESH_TOKEN_EXPIRE_DAYS",
	"MAIL_USERNAME",
	"MAIL_PASSWORD",
	"MAIL_FROM",
	"MAIL_PORT",
	"MAIL_SERVER",
	"BCRYPT_ROUNDS",
	"REFRESH_REUSE_GRACE_SECONDS",
	"REFRESH_TOKEN_EXPIRE_SECONDS",
	"MAIL_FROM_NAME",
	"MAIL_STARTTLS",
	"MAIL_SSL_TLS",
	"USE_CREDENTIALS",
	"VALIDATE_CERTS",
	"MAIL_OUTBOX_DIR",
	"OTP_SECRET_KEY",
	"OTP_EXPIRE_MINUTES",
	"OTP_MAX_ATTEMPTS",
	"OTP_COOLDOWN_SECONDS",
	"OTP_MAX_PER_HOUR",
	"TRUSTED_PROXIES",
	"LOG_FILE",
	"THROTTLE_LOGIN_ACCOUNT",
	"THROTTLE_LOGIN_ACCOUNT_WINDOW",
	"THROTTLE_LOGIN_ADDRESS_FAILURES",
	"THROTTLE_LOGIN_ADDRESS_FAILURES_WINDOW",
	"THROTTLE_LOGIN_ADDRESS",
	"THROTTLE_LOGIN_ADDRESS_WINDOW",
	"THROTTLE_REGISTER_ADDRESS",
	"THROTTLE_REGISTER_ADDRESS_WINDOW",
	"THROTTLE_FORGOT_ADDRESS",
	"THROTTLE_FORGOT_ADDRESS_WINDOW",
	"THROTTLE_RESET_ADDRESS",
	"THROTTLE_RESET_ADDRESS_WINDOW",
	"THROTTLE_REFRESH_ADDRESS",
	"THROTTLE_REFRESH_ADDRESS_WINDOW",
	"DB_CONNECT_TIMEOUT",
	"DB_TIMEOUT",
	"DB_LOCK_WAIT_TIMEOUT",
	"AUTH_CONFIG",
};

static const char *const secrets[] = {
	DBPW,
	"SeCrEt",
	MAILPW,
	MARK,
};

static const struct value values[] = {
	{ "MAIL_FROM=plain", "plain" },
	{ "MAIL_FROM=noreply@example.com", "noreply@example.com" },
	{ "MAIL_FROM = spaced  ", "spaced" },
	{ "MAIL_FROM\t=\ttabbed\t", "tabbed" },
	{ "  MAIL_FROM=indented", "indented" },
	{ "export MAIL_FROM=exported", "exported" },
	{ "export\t MAIL_FROM = exported2", "exported2" },
	{ "MAIL_FROM=x=y=z", "x=y=z" },
	{ "MAIL_FROM=two words  here ", "two words  here" },
	{ "MAIL_FROM=val # a comment", "val" },
	{ "MAIL_FROM=val\t#comment", "val" },
	{ "MAIL_FROM=a#b", "a#b" },
	{ "MAIL_FROM=a# b", "a# b" },
	{ "MAIL_FROM=", NULL },
	{ "MAIL_FROM=   ", NULL },
	{ "MAIL_FROM= # only a comment", NULL },
	{ "MAIL_FROM=\"\"", NULL },
	{ "MAIL_FROM=''", NULL },
	{ "MAIL_FROM=\"double quoted\"", "double quoted" },
	{ "MAIL_FROM=\"  kept spaces  \"", "  kept spaces  " },
	{ "MAIL_FROM=\"a\\\\b\\\"c\\nd\\te\\rf\"", "a\\b\"c\nd\te\rf" },
	/* python-dotenv's escapes; \q and \$ are none and stay. */
	{ "MAIL_FROM=\"other \\q \\$ \\' kept\"", "other \\q \\$ ' kept" },
	{ "MAIL_FROM=\"c \\a\\b\\f\\v\"", "c \a\b\f\v" },
	{ "MAIL_FROM=\"has # inside\"", "has # inside" },
	{ "MAIL_FROM=\"has 'single' inside\"", "has 'single' inside" },
	{ "MAIL_FROM=\"q\" # comment", "q" },
	{ "MAIL_FROM=\"q\"# comment", "q" },
	{ "MAIL_FROM=\"q\"  ", "q" },
	{ "MAIL_FROM='single \\n \\\\ $X # kept'",
	    "single \\n \\ $X # kept" },
	{ "MAIL_FROM='it\\'s \\\" in single'", "it's \\\" in single" },
	{ "MAIL_FROM='say \"hi\"'", "say \"hi\"" },
	{ "MAIL_FROM='q' # comment", "q" },
	{ "MAIL_FROM = 'q'", "q" },
	{ "# comment\n\n   \n\t# indented comment\nMAIL_FROM=after",
	    "after" },
	{ "MAIL_FROM=first\nMAIL_FROM=second", "second" },
	{ "MAIL_FROM=crlf\r", "crlf" },
	{ "MAIL_FROM=\"crlf quoted\"\r", "crlf quoted" },
	{ "\xef\xbb\xbfMAIL_FROM=bom", "bom" },
	{ "export=1\nMAIL_FROM=after-export-key", "after-export-key" },
};

static const struct malformed malformeds[] = {
	{ "MAIL_FROM " MARK, 1, "malformed line" },
	{ "MAIL_FROM", 1, "malformed line" },
	{ "# comment\n\n" MARK, 3, "malformed line" },
	{ "MAIL_FROM=ok\nexport MAIL_FROM " MARK, 2, "malformed line" },
	{ "1KEY=" MARK, 1, "malformed line" },
	{ "MAIL-FROM=" MARK, 1, "malformed line" },
	{ "MAIL.FROM=" MARK, 1, "malformed line" },
	{ "=" MARK, 1, "malformed line" },
	{ "\"MAIL_FROM\"=" MARK, 1, "malformed line" },
	{ "MAIL_FROM=\"" MARK, 1, "unterminated quote" },
	{ "\n\n\nMAIL_FROM='" MARK, 4, "unterminated quote" },
	{ "MAIL_FROM=\"" MARK "\\\"", 1, "unterminated quote" },
	{ "MAIL_FROM=\"" MARK "\\", 1, "unterminated quote" },
	{ "MAIL_FROM=\"multi\nline\"", 1, "unterminated quote" },
	{ "MAIL_FROM=\"" MARK "\" junk", 1, "malformed line" },
	{ "MAIL_FROM=\"" MARK "\"junk", 1, "malformed line" },
	{ "MAIL_FROM='" MARK "' junk", 1, "malformed line" },
	{ "MAIL_FROM=ok\r\nMAIL_FROM='" MARK "'x\r\n", 2, "malformed line" },
	{ "MAIL_PASSWORD=\"" MAILPW, 1, "unterminated quote" },
};

static const struct check checks[] = {
	/* The JWT secret: 32 bytes at least. */
	{ URL_LINE "JWT_SECRET_KEY=" JWT31, 0,
	    "JWT_SECRET_KEY: must be at least 32 bytes (got 31)" },
	{ URL_LINE "JWT_SECRET_KEY=" JWT32, 1, NULL },
	{ URL_LINE "JWT_SECRET_KEY=", 0,
	    "JWT_SECRET_KEY: must be at least 32 bytes (got 0)" },
	{ URL_LINE, 0, "JWT_SECRET_KEY: missing" },
	{ JWT_LINE, 0, "MYSQL_DB_URL: missing" },
	{ "", 0, "MYSQL_DB_URL: missing" },
	{ JWT_LINE "MYSQL_DB_URL=", 0, "MYSQL_DB_URL: missing" },

	/* MYSQL_DB_URL must parse; the message names it, not the password. */
	{ JWT_LINE "MYSQL_DB_URL=postgres://u:" DBPW "@localhost/d", 0,
	    "MYSQL_DB_URL: unknown scheme \"postgres\"" },
	{ JWT_LINE "MYSQL_DB_URL=mysql://u:" DBPW "@localhost:0/d", 0,
	    "MYSQL_DB_URL: port" },
	{ JWT_LINE "MYSQL_DB_URL=mysql://u:" DBPW "@localhost", 0,
	    "MYSQL_DB_URL: missing database" },
	{ JWT_LINE "MYSQL_DB_URL=\"mysql://u:" DBPW "@h/d?x=1\"", 0,
	    "MYSQL_DB_URL: unknown query parameter \"x\"" },

	/* ALGORITHM. */
	{ BASE "\nALGORITHM=HS256", 1, NULL },
	{ BASE "\nALGORITHM=HS512", 0, "ALGORITHM: must be HS256" },
	{ BASE "\nALGORITHM=hs256", 0, "ALGORITHM: must be HS256" },
	{ BASE "\nALGORITHM=RS256", 0, "ALGORITHM: must be HS256" },
	{ BASE "\nALGORITHM=", 0, "ALGORITHM: must be HS256" },

	/* Integers: strict decimal, in range. */
	{ BASE "\nBCRYPT_ROUNDS=9", 0,
	    "BCRYPT_ROUNDS: must be an integer from 10 to 31" },
	{ BASE "\nBCRYPT_ROUNDS=10", 1, NULL },
	{ BASE "\nBCRYPT_ROUNDS=31", 1, NULL },
	{ BASE "\nBCRYPT_ROUNDS=32", 0,
	    "BCRYPT_ROUNDS: must be an integer from 10 to 31" },
	{ BASE "\nBCRYPT_ROUNDS=12abc", 0, "BCRYPT_ROUNDS: must be" },
	{ BASE "\nBCRYPT_ROUNDS=+12", 0, "BCRYPT_ROUNDS: must be" },
	{ BASE "\nBCRYPT_ROUNDS=-12", 0, "BCRYPT_ROUNDS: must be" },
	{ BASE "\nBCRYPT_ROUNDS=0x0c", 0, "BCRYPT_ROUNDS: must be" },
	{ BASE "\nBCRYPT_ROUNDS=1 2", 0, "BCRYPT_ROUNDS: must be" },
	{ BASE "\nBCRYPT_ROUNDS=\" 12\"", 0, "BCRYPT_ROUNDS: must be" },
	{ BASE "\nBCRYPT_ROUNDS=", 0, "BCRYPT_ROUNDS: must be" },
	{ BASE "\nBCRYPT_ROUNDS=99999999999999999999999", 0,
	    "BCRYPT_ROUNDS: must be" },
	{ BASE "\nBCRYPT_ROUNDS=18446744073709551628", 0,
	    "BCRYPT_ROUNDS: must be" },
	{ BASE "\nBCRYPT_ROUNDS=12 # comment", 1, NULL },
	{ BASE "\nBCRYPT_ROUNDS=\"12\"", 1, NULL },
	{ BASE "\nBCRYPT_ROUNDS=012", 1, NULL },
	{ BASE "\nACCESS_TOKEN_EXPIRE_MINUTES=0", 0,
	    "ACCESS_TOKEN_EXPIRE_MINUTES: must be an integer from 1 to 1440" },
	{ BASE "\nACCESS_TOKEN_EXPIRE_MINUTES=1", 1, NULL },
	{ BASE "\nACCESS_TOKEN_EXPIRE_MINUTES=1440", 1, NULL },
	{ BASE "\nACCESS_TOKEN_EXPIRE_MINUTES=1441", 0,
	    "ACCESS_TOKEN_EXPIRE_MINUTES: must be" },
	{ BASE "\nREFRESH_TOKEN_EXPIRE_DAYS=0", 0,
	    "REFRESH_TOKEN_EXPIRE_DAYS: must be an integer from 1 to 365" },
	{ BASE "\nREFRESH_TOKEN_EXPIRE_DAYS=365", 1, NULL },
	{ BASE "\nREFRESH_TOKEN_EXPIRE_DAYS=366", 0,
	    "REFRESH_TOKEN_EXPIRE_DAYS: must be" },
	{ BASE "\nREFRESH_REUSE_GRACE_SECONDS=0", 1, NULL },
	{ BASE "\nREFRESH_REUSE_GRACE_SECONDS=301", 0,
	    "REFRESH_REUSE_GRACE_SECONDS: must be an integer from 0 to 300" },
	{ BASE "\nREFRESH_TOKEN_EXPIRE_SECONDS=0", 0,
	    "REFRESH_TOKEN_EXPIRE_SECONDS: must be an integer from 1 to" },
	{ BASE "\nREFRESH_TOKEN_EXPIRE_SECONDS=5", 1, NULL },
	{ BASE "\nMAIL_STARTTLS=False\nMAIL_SSL_TLS=YES", 1, NULL },
	{ BASE "\nUSE_CREDENTIALS=off\nVALIDATE_CERTS=0", 1, NULL },
	{ BASE "\nMAIL_STARTTLS=maybe", 0,
	    "MAIL_STARTTLS: must be true or false" },
	{ BASE "\nVALIDATE_CERTS=", 0,
	    "VALIDATE_CERTS: must be true or false" },
	{ BASE "\nOTP_SECRET_KEY=short", 0,
	    "OTP_SECRET_KEY: must be at least 32 bytes" },
	{ BASE "\nOTP_SECRET_KEY=0123456789abcdef0123456789abcdef", 1, NULL },
	{ BASE "\nOTP_EXPIRE_MINUTES=0", 0,
	    "OTP_EXPIRE_MINUTES: must be an integer from 1 to 1440" },
	{ BASE "\nOTP_MAX_ATTEMPTS=0", 0,
	    "OTP_MAX_ATTEMPTS: must be an integer from 1 to 100" },
	{ BASE "\nOTP_COOLDOWN_SECONDS=0\nOTP_MAX_PER_HOUR=0", 1, NULL },
	{ BASE "\nTRUSTED_PROXIES=10.0.0.0/8, ::1", 1, NULL },
	{ BASE "\nTHROTTLE_LOGIN_ACCOUNT=0", 1, NULL },
	{ BASE "\nTHROTTLE_LOGIN_ACCOUNT=-1", 0,
	    "THROTTLE_LOGIN_ACCOUNT: must be an integer from 0 to 1000000" },
	{ BASE "\nTHROTTLE_REFRESH_ADDRESS_WINDOW=0", 0,
	    "THROTTLE_REFRESH_ADDRESS_WINDOW: must be an integer from 1 to" },
	{ BASE "\nTRUSTED_PROXIES=proxy.example.com", 0,
	    "TRUSTED_PROXIES: \"proxy.example.com\" is not an address" },
	/* A range so wide it trusts the internet. */
	{ BASE "\nTRUSTED_PROXIES=0.0.0.0/0", 0,
	    "TRUSTED_PROXIES: \"0.0.0.0/0\" is wider than /8" },
	{ BASE "\nTRUSTED_PROXIES=10.0.0.1 ::/0", 0,
	    "TRUSTED_PROXIES: \"::/0\" is wider than" },
	{ BASE "\nTRUSTED_PROXIES=::ffff:0:0/96", 0,
	    "TRUSTED_PROXIES: \"::ffff:0:0/96\" is wider than" },
	{ BASE "\nTRUSTED_PROXIES=10.0.0.0/7", 0, "TRUSTED_PROXIES: " },
	{ BASE "\nTRUSTED_PROXIES=2001::/15", 0, "TRUSTED_PROXIES: " },
	{ BASE "\nTRUSTED_PROXIES=10.0.0.0/8 2001:db8::/16 fc00::/7", 1,
	    NULL },

	/* The SMTP password never in clear across the network. */
	{ BASE "\nMAIL_SERVER=smtp.example.com\nMAIL_USERNAME=u\n"
	    "MAIL_PASSWORD=" MAILPW "\nMAIL_STARTTLS=false", 0,
	    "MAIL_STARTTLS and MAIL_SSL_TLS are both false while "
	    "USE_CREDENTIALS and MAIL_USERNAME are set" },
	{ BASE "\nMAIL_SERVER=192.0.2.25\nMAIL_USERNAME=u\n"
	    "MAIL_STARTTLS=0\nMAIL_SSL_TLS=no", 0, "MAIL_SERVER" },
	{ BASE "\nMAIL_SERVER=smtp.example.com\nMAIL_USERNAME=u\n"
	    "MAIL_STARTTLS=false\nMAIL_SSL_TLS=true", 1, NULL },
	{ BASE "\nMAIL_SERVER=smtp.example.com\nMAIL_USERNAME=u\n"
	    "MAIL_STARTTLS=false\nUSE_CREDENTIALS=false", 1, NULL },
	{ BASE "\nMAIL_SERVER=smtp.example.com\nMAIL_STARTTLS=false", 1,
	    NULL },
	{ BASE "\nMAIL_SERVER=localhost\nMAIL_USERNAME=u\n"
	    "MAIL_STARTTLS=false", 1, NULL },
	{ BASE "\nMAIL_SERVER=127.0.0.53\nMAIL_USERNAME=u\n"
	    "MAIL_STARTTLS=false", 1, NULL },
	{ BASE "\nMAIL_SERVER=::1\nMAIL_USERNAME=u\nMAIL_STARTTLS=false",
	    1, NULL },
	{ BASE "\nMAIL_SERVER=128.0.0.1\nMAIL_USERNAME=u\n"
	    "MAIL_STARTTLS=false", 0, "MAIL_STARTTLS" },
	{ BASE "\nMAIL_SERVER=localhost.example.com\nMAIL_USERNAME=u\n"
	    "MAIL_STARTTLS=false", 0, "MAIL_STARTTLS" },

	/* The database client's time-outs. */
	{ BASE "\nDB_CONNECT_TIMEOUT=0", 0,
	    "DB_CONNECT_TIMEOUT: must be an integer from 1 to 300" },
	{ BASE "\nDB_TIMEOUT=3601", 0,
	    "DB_TIMEOUT: must be an integer from 1 to 3600" },
	{ BASE "\nDB_LOCK_WAIT_TIMEOUT=x", 0,
	    "DB_LOCK_WAIT_TIMEOUT: must be an integer from 1 to 3600" },
	{ BASE "\nDB_CONNECT_TIMEOUT=1\nDB_TIMEOUT=2\n"
	    "DB_LOCK_WAIT_TIMEOUT=1", 1, NULL },
	{ BASE "\nDB_TIMEOUT=5", 0,
	    "DB_LOCK_WAIT_TIMEOUT (5 s) must be shorter than DB_TIMEOUT (5 s)" },
	{ BASE "\nDB_TIMEOUT=30\nDB_LOCK_WAIT_TIMEOUT=31", 0,
	    "DB_LOCK_WAIT_TIMEOUT (31 s) must be shorter than DB_TIMEOUT" },
	{ BASE "\nMAIL_PORT=0", 0,
	    "MAIL_PORT: must be an integer from 1 to 65535" },
	{ BASE "\nMAIL_PORT=465", 1, NULL },
	{ BASE "\nMAIL_PORT=65535", 1, NULL },
	{ BASE "\nMAIL_PORT=65536", 0, "MAIL_PORT: must be" },

	/* Unknown keys warn only; key names are case-sensitive. */
	{ BASE "\nSOME_OTHER_KEY=whatever", 1, NULL },
	{ BASE "\nbcrypt_rounds=1", 1, NULL },
};

static const struct perm perms[] = {
	{ 0600, 1, NULL },
	{ 0640, 1, NULL },
	{ 0400, 1, NULL },
	{ 0440, 1, NULL },
	{ 0700, 1, NULL },
	{ 0644, 0, "mode 0644 is readable by others; chmod 600" },
	{ 0604, 0, "mode 0604 is readable by others" },
	{ 0620, 0, "mode 0620 is writable by its group" },
	{ 0602, 0, "mode 0602 is writable by others" },
	{ 0660, 0, "mode 0660 is writable by its group" },
	{ 0666, 0, "mode 0666 is writable by others" },
};

#define CFG_TEST_BIG	4096

static char	 tmpdir[] = "/tmp/test-cfg.XXXXXX";

/*
 * Write len bytes of data to a new file in tmpdir with the given mode;
 * put its name in path.  Return 1 on success.
 */
static int
write_file(const void *data, size_t len, mode_t mode, char *path,
    size_t pathsz)
{
	ssize_t	 w;
	int	 fd;

	if ((size_t)snprintf(path, pathsz, "%s/env.XXXXXX", tmpdir) >=
	    pathsz)
		return 0;
	if ((fd = mkstemp(path)) == -1) {
		tap_diag("mkstemp: %s", strerror(errno));
		return 0;
	}
	if (fchmod(fd, mode) == -1 ||
	    (len > 0 && ((w = write(fd, data, len)) == -1 ||
	    (size_t)w != len))) {
		tap_diag("%s: %s", path, strerror(errno));
		(void)close(fd);
		(void)unlink(path);
		return 0;
	}
	(void)close(fd);
	return 1;
}

static int
no_secret(const char *err)
{
	size_t	 i;

	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (strstr(err, secrets[i]) != NULL)
			return 0;
	return 1;
}

static int
is_zero(const struct cfg *c)
{
	static const struct cfg	 zero;

	return memcmp(c, &zero, sizeof(zero)) == 0;
}

/*
 * Write text to a 0600 file and load it with cfg_load(); the file is
 * removed again.
 */
static enum auth_status
load_text(const char *text, size_t len, struct cfg *c, char *err,
    size_t errsz, char *path, size_t pathsz)
{
	enum auth_status	 rc;

	if (!write_file(text, len, 0600, path, pathsz)) {
		snprintf(err, errsz, "cannot write test file");
		memset(c, 0, sizeof(*c));
		return AUTH_ERR_SYSTEM;
	}
	memset(c, 0xa5, sizeof(*c));
	rc = cfg_load(c, path, 1, err, errsz);
	(void)unlink(path);
	return rc;
}

static void
test_values(void)
{
	struct cfg		 c;
	char			 text[1024], err[512], path[256];
	size_t			 i;
	enum auth_status	 rc;
	int			 same;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		(void)snprintf(text, sizeof(text), "%s\n%s", values[i].text,
		    BASE);
		rc = load_text(text, strlen(text), &c, err, sizeof(err), path,
		    sizeof(path));
		tap_ok(rc == AUTH_OK, "load value case %zu", i);
		if (rc != AUTH_OK) {
			tap_diag("error: %s", err);
			continue;
		}
		if (values[i].want == NULL)
			same = c.mail_from == NULL;
		else
			same = c.mail_from != NULL &&
			    strcmp(c.mail_from, values[i].want) == 0;
		tap_ok(same, "value case %zu gives the expected MAIL_FROM", i);
		if (!same)
			tap_diag("got [%s]", c.mail_from == NULL ? "(null)" :
			    c.mail_from);
		tap_ok(c.db.port == 3307 && c.jwt_secret_len == 32,
		    "value case %zu keeps the other keys", i);
		cfg_free(&c);
	}
}

static void
test_malformed(void)
{
	struct cfg		 c;
	char			 text[1024], err[512], path[256], want[300];
	size_t			 i;
	enum auth_status	 rc;

	for (i = 0; i < sizeof(malformeds) / sizeof(malformeds[0]); i++) {
		(void)snprintf(text, sizeof(text), "%s\n%s",
		    malformeds[i].text, BASE);
		rc = load_text(text, strlen(text), &c, err, sizeof(err), path,
		    sizeof(path));
		tap_ok(rc == AUTH_ERR_CONFIG, "malformed case %zu refused", i);
		(void)snprintf(want, sizeof(want), "%s:%zu: %s", path,
		    malformeds[i].line, malformeds[i].want);
		tap_ok(strncmp(err, want, strlen(want)) == 0,
		    "malformed case %zu: \"%s\"", i, want);
		if (strncmp(err, want, strlen(want)) != 0)
			tap_diag("got: %s", err);
		tap_ok(no_secret(err), "malformed case %zu: no value in the "
		    "message", i);
		tap_ok(is_zero(&c), "malformed case %zu: cfg zeroed", i);
	}
}

static void
test_checks(void)
{
	struct cfg		 c;
	char			 err[512], path[256];
	size_t			 i;
	enum auth_status	 rc;

	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		rc = load_text(checks[i].text, strlen(checks[i].text), &c,
		    err, sizeof(err), path, sizeof(path));
		if (checks[i].ok) {
			tap_ok(rc == AUTH_OK && err[0] == '\0',
			    "check case %zu accepted", i);
			if (rc != AUTH_OK)
				tap_diag("error: %s", err);
			cfg_free(&c);
			continue;
		}
		tap_ok(rc == AUTH_ERR_CONFIG, "check case %zu refused", i);
		tap_ok(strstr(err, checks[i].want) != NULL,
		    "check case %zu: \"%s\"", i, checks[i].want);
		if (strstr(err, checks[i].want) == NULL)
			tap_diag("got: %s", err);
		tap_ok(strchr(err, '\n') == NULL && no_secret(err),
		    "check case %zu: one line, no secret", i);
		tap_ok(is_zero(&c), "check case %zu: cfg zeroed", i);
	}
}

static void
test_perms(void)
{
	struct cfg		 c;
	char			 err[512], path[256];
	size_t			 i;
	enum auth_status	 rc;

	for (i = 0; i < sizeof(perms) / sizeof(perms[0]); i++) {
		if (!write_file(BASE, strlen(BASE), perms[i].mode, path,
		    sizeof(path))) {
			tap_ok(0, "write mode %04o file", perms[i].mode);
			continue;
		}
		rc = cfg_load(&c, path, 1, err, sizeof(err));
		if (perms[i].ok) {
			tap_ok(rc == AUTH_OK, "mode %04o accepted",
			    perms[i].mode);
			if (rc != AUTH_OK)
				tap_diag("error: %s", err);
		} else {
			tap_ok(rc == AUTH_ERR_CONFIG &&
			    strncmp(err, path, strlen(path)) == 0 &&
			    strstr(err, perms[i].want) != NULL &&
			    no_secret(err) && is_zero(&c),
			    "mode %04o refused: \"%s\"", perms[i].mode,
			    perms[i].want);
			if (strstr(err, perms[i].want) == NULL)
				tap_diag("got: %s", err);
		}
		cfg_free(&c);
		(void)unlink(path);
	}
}

static void
test_defaults(void)
{
	struct cfg		 c;
	char			 err[512], path[256];
	enum auth_status	 rc;

	rc = load_text(BASE, strlen(BASE), &c, err, sizeof(err), path,
	    sizeof(path));
	tap_ok(rc == AUTH_OK, "minimal file loads");
	tap_ok(c.access_token_expire_minutes == 15 &&
	    c.refresh_token_expire_days == 21 && c.mail_port == 587 &&
	    c.bcrypt_rounds == 12, "integer defaults 15, 21, 587, 12");
	tap_ok(c.refresh_reuse_grace_seconds == 10 &&
	    c.refresh_token_expire_seconds == 0 &&
	    cfg_refresh_lifetime(&c) == 21 * 86400,
	    "refresh grace defaults to 10 s, lifetime to 21 days");
	tap_ok(c.mail_starttls == 1 && c.mail_ssl_tls == 0 &&
	    c.use_credentials == 1 && c.validate_certs == 1 &&
	    c.mail_from_name == NULL && c.mail_outbox_dir == NULL,
	    "mail switches default as fastapi-mail's: STARTTLS, credentials, "
	    "verified certificates");
	tap_ok(c.otp_secret_key == NULL && c.otp_expire_minutes == 30 &&
	    c.otp_max_attempts == 5 && c.otp_cooldown_seconds == 60 &&
	    c.otp_max_per_hour == 5,
	    "one-time code defaults: 30 minutes, 5 attempts, 60 s, 5 an hour");
	tap_ok(c.throttle_limit[THROTTLE_LOGIN_ACCOUNT] == 5 &&
	    c.throttle_window[THROTTLE_LOGIN_ACCOUNT] == 900 &&
	    c.throttle_limit[THROTTLE_LOGIN_ADDRESS_FAILURES] == 20 &&
	    c.throttle_window[THROTTLE_LOGIN_ADDRESS_FAILURES] == 300 &&
	    c.throttle_limit[THROTTLE_LOGIN_ADDRESS] == 60 &&
	    c.throttle_window[THROTTLE_LOGIN_ADDRESS] == 300 &&
	    c.throttle_limit[THROTTLE_REGISTER_ADDRESS] == 20 &&
	    c.throttle_window[THROTTLE_REGISTER_ADDRESS] == 3600 &&
	    c.throttle_limit[THROTTLE_FORGOT_ADDRESS] == 10 &&
	    c.throttle_window[THROTTLE_FORGOT_ADDRESS] == 300 &&
	    c.throttle_limit[THROTTLE_RESET_ADDRESS] == 20 &&
	    c.throttle_window[THROTTLE_RESET_ADDRESS] == 300 &&
	    c.throttle_limit[THROTTLE_REFRESH_ADDRESS] == 300 &&
	    c.throttle_window[THROTTLE_REFRESH_ADDRESS] == 300,
	    "throttle defaults as documented");
	tap_ok(c.algorithm != NULL && strcmp(c.algorithm, "HS256") == 0,
	    "ALGORITHM defaults to HS256");
	tap_ok(c.mail_username == NULL && c.mail_password == NULL &&
	    c.mail_from == NULL && c.mail_server == NULL,
	    "mail settings default to unset");
	tap_ok(c.mysql_db_url != NULL && strcmp(c.mysql_db_url, URL) == 0,
	    "MYSQL_DB_URL kept as written");
	tap_ok(c.db.user != NULL && strcmp(c.db.user, "collab") == 0 &&
	    c.db.password != NULL && strcmp(c.db.password, DBPW) == 0 &&
	    c.db.host != NULL && strcmp(c.db.host, "localhost") == 0 &&
	    c.db.port == 3307 && c.db.database != NULL &&
	    strcmp(c.db.database, "auth") == 0 &&
	    c.db.tls == DBURL_TLS_DISABLED, "MYSQL_DB_URL parsed into db");
	tap_ok(c.jwt_secret_key != NULL &&
	    strcmp(c.jwt_secret_key, JWT32) == 0 && c.jwt_secret_len == 32,
	    "JWT_SECRET_KEY and its length");
	tap_ok(c.db.connect_timeout == 5 && c.db.io_timeout == 10 &&
	    c.db.lock_wait_timeout == 5, "DB_CONNECT_TIMEOUT, DB_TIMEOUT and "
	    "DB_LOCK_WAIT_TIMEOUT default to 5, 10, 5 s, with the URL");
	cfg_free(&c);
	tap_ok(is_zero(&c), "cfg_free zeroes");
	cfg_free(&c);
	cfg_free(NULL);
	tap_ok(is_zero(&c), "cfg_free on a zeroed struct");
}

/*
 * A FastAPI .env as it might have been written on Windows: CRLF line
 * ends, comments, quotes, every key set.
 */
static void
test_full_crlf(void)
{
	static const char	 text[] =
	    "# FastAPI backend settings\r\n"
	    "\r\n"
	    "MYSQL_DB_URL=\"" URL "\"\r\n"
	    "JWT_SECRET_KEY = '" JWT32 "'\r\n"
	    "ALGORITHM=HS256\r\n"
	    "ACCESS_TOKEN_EXPIRE_MINUTES=30 # half an hour\r\n"
	    "export REFRESH_TOKEN_EXPIRE_DAYS=7\r\n"
	    "MAIL_USERNAME=mailer@example.com\r\n"
	    "MAIL_PASSWORD=\"" MAILPW "\"\r\n"
	    "MAIL_FROM=Collab <noreply@example.com>\r\n"
	    "MAIL_PORT=465\r\n"
	    "MAIL_SERVER=smtp.example.com\r\n"
	    "BCRYPT_ROUNDS=13\r\n";
	struct cfg		 c;
	char			 err[512], path[256];
	enum auth_status	 rc;

	rc = load_text(text, strlen(text), &c, err, sizeof(err), path,
	    sizeof(path));
	tap_ok(rc == AUTH_OK, "full CRLF file loads");
	if (rc != AUTH_OK) {
		tap_diag("error: %s", err);
		return;
	}
	tap_ok(c.access_token_expire_minutes == 30 &&
	    c.refresh_token_expire_days == 7 && c.mail_port == 465 &&
	    c.bcrypt_rounds == 13, "full CRLF file: integers");
	tap_ok(strcmp(c.db.database, "auth") == 0 &&
	    strcmp(c.jwt_secret_key, JWT32) == 0 &&
	    strcmp(c.mail_username, "mailer@example.com") == 0 &&
	    strcmp(c.mail_password, MAILPW) == 0 &&
	    strcmp(c.mail_from, "Collab <noreply@example.com>") == 0 &&
	    strcmp(c.mail_server, "smtp.example.com") == 0,
	    "full CRLF file: strings, no CR kept");
	cfg_free(&c);
}

/*
 * Lines longer than 4096 bytes and NUL bytes, which a literal cannot
 * hold.
 */
static void
test_limits(void)
{
	struct cfg		 c;
	char			*text;
	char			 err[512], path[256], want[300];
	size_t			 n, len;
	enum auth_status	 rc;

	len = strlen(BASE) + 4096 + 16;
	if ((text = malloc(len)) == NULL) {
		tap_ok(0, "malloc");
		return;
	}
	/* MAIL_FROM=xxx...: exactly 4096 bytes, then 4097. */
	n = 4096;
	memcpy(text, "MAIL_FROM=", 10);
	memset(text + 10, 'x', n - 10);
	text[n] = '\n';
	memcpy(text + n + 1, BASE, strlen(BASE) + 1);
	rc = load_text(text, strlen(text), &c, err, sizeof(err), path,
	    sizeof(path));
	tap_ok(rc == AUTH_OK && c.mail_from != NULL &&
	    strlen(c.mail_from) == 4086, "4096-byte line accepted");
	cfg_free(&c);

	/* With CRLF the CR does not count. */
	text[n] = '\r';
	text[n + 1] = '\n';
	memcpy(text + n + 2, BASE, strlen(BASE) + 1);
	rc = load_text(text, strlen(text), &c, err, sizeof(err), path,
	    sizeof(path));
	tap_ok(rc == AUTH_OK, "4096-byte line plus CRLF accepted");
	cfg_free(&c);

	n = 4097;
	memset(text + 10, 'x', n - 10);
	text[n] = '\n';
	memcpy(text + n + 1, BASE, strlen(BASE) + 1);
	rc = load_text(text, strlen(text), &c, err, sizeof(err), path,
	    sizeof(path));
	(void)snprintf(want, sizeof(want), "%s:1: line longer than 4096",
	    path);
	tap_ok(rc == AUTH_ERR_CONFIG && strncmp(err, want, strlen(want)) ==
	    0 && strstr(err, "xxxxxxxx") == NULL && is_zero(&c),
	    "4097-byte line refused");
	if (rc != AUTH_ERR_CONFIG)
		cfg_free(&c);

	/* A NUL byte in the second line. */
	len = 0;
	memcpy(text, BASE "\nMAIL_FROM=a", strlen(BASE) + 12);
	len = strlen(BASE) + 12;
	text[len++] = '\0';
	memcpy(text + len, "b\n", 2);
	len += 2;
	rc = load_text(text, len, &c, err, sizeof(err), path, sizeof(path));
	(void)snprintf(want, sizeof(want), "%s:3: NUL byte", path);
	tap_ok(rc == AUTH_ERR_CONFIG && strcmp(err, want) == 0 &&
	    is_zero(&c), "NUL byte refused with its line");
	if (rc != AUTH_ERR_CONFIG) {
		tap_diag("got: %s", err);
		cfg_free(&c);
	}
	free(text);
}

/*
 * Run cfg_load() with stderr sent to a file; return what it wrote.
 */
static enum auth_status
load_capture(const char *path, struct cfg *c, char *err, size_t errsz,
    char *out, size_t outsz)
{
	char			 logpath[256];
	enum auth_status	 rc;
	ssize_t			 r;
	int			 fd, saved;

	out[0] = '\0';
	(void)snprintf(logpath, sizeof(logpath), "%s/stderr", tmpdir);
	if ((fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		return AUTH_ERR_SYSTEM;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	rc = cfg_load(c, path, 1, err, errsz);
	fflush(stderr);
	(void)dup2(saved, STDERR_FILENO);
	(void)close(saved);
	if ((r = pread(fd, out, outsz - 1, 0)) > 0)
		out[r] = '\0';
	(void)close(fd);
	(void)unlink(logpath);
	return rc;
}

static void
test_unknown(void)
{
	static const char	 text[] = BASE "\n"
	    "UNKNOWN_SETTING=" MARK "\n"
	    "export Other_Thing = '" MAILPW "'\n";
	struct cfg		 c;
	char			 err[512], path[256], out[2048];
	enum auth_status	 rc;

	if (!write_file(text, strlen(text), 0600, path, sizeof(path))) {
		tap_ok(0, "write file");
		return;
	}
	rc = load_capture(path, &c, err, sizeof(err), out, sizeof(out));
	tap_ok(rc == AUTH_OK, "unknown keys do not fail the load");
	tap_ok(strstr(out, "warn: config unknown key") != NULL &&
	    strstr(out, "line=3 key=UNKNOWN_SETTING") != NULL &&
	    strstr(out, "line=4 key=Other_Thing") != NULL &&
	    strstr(out, path) != NULL, "unknown keys warned with file, line "
	    "and key");
	tap_ok(no_secret(out), "the warning holds no value");
	if (rc != AUTH_OK || strstr(out, "UNKNOWN_SETTING") == NULL)
		tap_diag("stderr: %s / err: %s", out, err);
	cfg_free(&c);
	(void)unlink(path);
}

static void
test_environ(void)
{
	static const char	 text[] = BASE "\n"
	    "ACCESS_TOKEN_EXPIRE_MINUTES=20\n"
	    "MAIL_SERVER=smtp.example.com\n"
	    "BCRYPT_ROUNDS=nonsense\n";
	struct cfg		 c;
	char			 err[512], path[256], missing[256];
	enum auth_status	 rc;

	if (!write_file(text, strlen(text), 0600, path, sizeof(path))) {
		tap_ok(0, "write file");
		return;
	}

	/* The environment wins, even over a bad value, even when empty. */
	setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "30", 1);
	setenv("MAIL_SERVER", "", 1);
	setenv("BCRYPT_ROUNDS", "14", 1);
	rc = cfg_load(&c, path, 1, err, sizeof(err));
	tap_ok(rc == AUTH_OK, "environment overrides load");
	if (rc != AUTH_OK)
		tap_diag("error: %s", err);
	tap_ok(c.access_token_expire_minutes == 30, "environment value "
	    "wins over the file");
	tap_ok(c.mail_server == NULL, "empty environment value counts as "
	    "set");
	tap_ok(c.bcrypt_rounds == 14, "environment replaces a bad file "
	    "value before it is checked");
	cfg_free(&c);

	/* An environment value is checked like a file value. */
	setenv("JWT_SECRET_KEY", JWT31, 1);
	rc = cfg_load(&c, path, 1, err, sizeof(err));
	tap_ok(rc == AUTH_ERR_CONFIG && strstr(err, "JWT_SECRET_KEY: must "
	    "be at least 32 bytes (got 31)") != NULL && no_secret(err) &&
	    is_zero(&c), "short JWT_SECRET_KEY from the environment "
	    "refused");
	setenv("BCRYPT_ROUNDS", "", 1);
	unsetenv("JWT_SECRET_KEY");
	rc = cfg_load(&c, path, 1, err, sizeof(err));
	tap_ok(rc == AUTH_ERR_CONFIG && strstr(err, "BCRYPT_ROUNDS: must "
	    "be") != NULL, "empty integer from the environment refused");
	unsetenv("ACCESS_TOKEN_EXPIRE_MINUTES");
	unsetenv("MAIL_SERVER");
	unsetenv("BCRYPT_ROUNDS");
	(void)unlink(path);

	/* No file at the default path: the environment alone. */
	(void)snprintf(missing, sizeof(missing), "%s/no-such.env", tmpdir);
	rc = cfg_load(&c, missing, 0, err, sizeof(err));
	tap_ok(rc == AUTH_ERR_CONFIG && strcmp(err, "MYSQL_DB_URL: missing")
	    == 0, "no file and no environment: MYSQL_DB_URL missing");
	setenv("MYSQL_DB_URL", "mysql://u:" DBPW "@db.example.com/app", 1);
	setenv("JWT_SECRET_KEY", JWT32, 1);
	setenv("MAIL_PASSWORD", MAILPW, 1);
	rc = cfg_load(&c, missing, 0, err, sizeof(err));
	tap_ok(rc == AUTH_OK && c.db.host != NULL &&
	    strcmp(c.db.host, "db.example.com") == 0 &&
	    c.db.tls == DBURL_TLS_VERIFY_IDENTITY &&
	    strcmp(c.mail_password, MAILPW) == 0 && c.bcrypt_rounds == 12,
	    "missing default file: configuration from the environment");
	if (rc != AUTH_OK)
		tap_diag("error: %s", err);
	cfg_free(&c);
	rc = cfg_load(&c, NULL, 0, err, sizeof(err));
	tap_ok(rc == AUTH_OK, "NULL path: configuration from the "
	    "environment");
	cfg_free(&c);

	/* A file that was asked for must exist. */
	rc = cfg_load(&c, missing, 1, err, sizeof(err));
	tap_ok(rc == AUTH_ERR_CONFIG && strncmp(err, missing,
	    strlen(missing)) == 0 && strstr(err, ": No such file or "
	    "directory") != NULL && is_zero(&c),
	    "explicit missing file refused");
	if (rc != AUTH_ERR_CONFIG)
		cfg_free(&c);
	unsetenv("MYSQL_DB_URL");
	unsetenv("JWT_SECRET_KEY");
	unsetenv("MAIL_PASSWORD");
}

static void
test_file_kinds(void)
{
	struct cfg		 c;
	char			 err[512], path[256], lnk[256], fifo[256];
	enum auth_status	 rc;

	rc = cfg_load(&c, tmpdir, 1, err, sizeof(err));
	tap_ok(rc == AUTH_ERR_CONFIG && strstr(err, "not a regular file") !=
	    NULL, "directory refused");

	(void)snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	if (mkfifo(fifo, 0600) == 0) {
		rc = cfg_load(&c, fifo, 1, err, sizeof(err));
		tap_ok(rc == AUTH_ERR_CONFIG && strstr(err, "not a regular "
		    "file") != NULL, "FIFO refused without blocking");
		(void)unlink(fifo);
	} else
		tap_ok(0, "mkfifo: %s", strerror(errno));

	if (!write_file(BASE, strlen(BASE), 0600, path, sizeof(path))) {
		tap_ok(0, "write file");
		return;
	}
	(void)snprintf(lnk, sizeof(lnk), "%s/link.env", tmpdir);
	if (symlink(path, lnk) == 0) {
		rc = cfg_load(&c, lnk, 1, err, sizeof(err));
		tap_ok(rc == AUTH_OK, "symbolic link to a 0600 file followed");
		cfg_free(&c);
		(void)unlink(lnk);
	} else
		tap_ok(0, "symlink: %s", strerror(errno));
	(void)unlink(path);
}

static void
test_errbuf(void)
{
	struct cfg		 c;
	char			 small[8];

	memset(small, 'x', sizeof(small));
	tap_ok(cfg_load(&c, NULL, 0, small, sizeof(small)) ==
	    AUTH_ERR_CONFIG && strcmp(small, "MYSQL_D") == 0,
	    "message truncated to errsz");
	tap_ok(cfg_load(&c, NULL, 0, NULL, 0) == AUTH_ERR_CONFIG,
	    "NULL err buffer allowed");
}

/*
 * The owner: root or the user we run as; a file another user owns could
 * be changed by that user.  Runs as root (or any user able to chown).
 */
static void
test_owner(void)
{
	struct cfg		 c;
	char			 err[512], path[256], want[400];
	enum auth_status	 rc;
	uid_t			 other = geteuid() == 12345 ? 12346 : 12345;

	if (!write_file(BASE, strlen(BASE), 0600, path, sizeof(path))) {
		tap_ok(0, "write file");
		return;
	}
	if (chown(path, other, (gid_t)-1) == -1) {
		tap_skip(2, "chown to uid %lu: %s (not root?)",
		    (unsigned long)other, strerror(errno));
		(void)unlink(path);
		return;
	}
	rc = cfg_load(&c, path, 1, err, sizeof(err));
	(void)snprintf(want, sizeof(want), "%s: owned by uid %lu, not by "
	    "root or this program's user (uid %lu)", path,
	    (unsigned long)other, (unsigned long)geteuid());
	tap_ok(rc == AUTH_ERR_CONFIG && strncmp(err, want, strlen(want)) ==
	    0 && is_zero(&c), "a file owned by another user is refused, "
	    "naming it and the owner");
	if (rc != AUTH_ERR_CONFIG)
		tap_diag("got: %s", err);
	if (chown(path, 0, (gid_t)-1) == 0) {
		rc = cfg_load(&c, path, 1, err, sizeof(err));
		tap_ok(rc == AUTH_OK, "a file owned by root is accepted");
		cfg_free(&c);
	} else
		tap_ok(geteuid() != 0, "chown back to root");
	(void)unlink(path);
}

/*
 * ${NAME} and ${NAME:-default}, as python-dotenv's load_dotenv() expands
 * them (its documented rules, checked against the real library below):
 * earlier keys of the file and the environment (which wins), in
 * unquoted, double- and single-quoted values alike; "$NAME" and "\$"
 * stay as written.  CFGT_ENV is set to "from-env" and CFGT_SHADOW to
 * "env-wins" in the environment; want NULL means MAIL_FROM unset (empty).
 */
static const struct value expands[] = {
	{ "A=alpha\nMAIL_FROM=${A}", "alpha" },
	{ "A=alpha\nMAIL_FROM=\"${A}-dq\"", "alpha-dq" },
	{ "A=alpha\nMAIL_FROM='${A}-sq'", "alpha-sq" },
	{ "A=alpha\nMAIL_FROM=$A", "$A" },
	{ "A=alpha\nMAIL_FROM=\"a\\$b\"", "a\\$b" },
	{ "A=alpha\nMAIL_FROM=\"\\${A}\"", "\\alpha" },
	{ "MAIL_FROM=${NOPE:-def}", "def" },
	{ "MAIL_FROM=pre${NOPE}post", "prepost" },
	{ "MAIL_FROM=${NOPE}", NULL },
	{ "A=alpha\nMAIL_FROM=${A:-zz}", "alpha" },
	{ "E=\nMAIL_FROM=${E:-default}", NULL },
	{ "MAIL_FROM=${CFGT_ENV}", "from-env" },
	{ "CFGT_SHADOW=file\nMAIL_FROM=${CFGT_SHADOW}", "env-wins" },
	{ "MAIL_FROM=${LATER}\nLATER=x", NULL },
	{ "MAIL_FROM=one\nMAIL_FROM=${MAIL_FROM}-two", "one-two" },
	{ "A=alpha\nMAIL_FROM=${A}${A}", "alphaalpha" },
	{ "A=alpha\nMAIL_FROM=${A", "${A" },
	{ "A=alpha\nMAIL_FROM=${A:x}", "${A:x}" },
	{ "A=alpha\nB=beta\nMAIL_FROM=${A:-${B}}", "alpha}" },
	{ "MAIL_FROM=${NOPE:-a:b c # d}", "${NOPE:-a:b c" },
	{ "MAIL_FROM=\"${NOPE:-a:b c # d}\"", "a:b c # d" },
	{ "MAIL_FROM=${:-w}", "w" },
	{ "A=alpha\nD=${NOPE:-${A}\nMAIL_FROM=${D}}", "${A}" },
	{ "A=  spaced  \nMAIL_FROM=[${A}]", "[spaced]" },
	{ "A='a # b'\nMAIL_FROM=${A}", "a # b" },
	{ "export A=ex\nMAIL_FROM=${A}", "ex" },
};

/*
 * What python-dotenv's load_dotenv() makes of MAIL_FROM in the file at
 * path, or 0 if python3 with dotenv cannot be run.  An empty value is
 * reported as "" in out.
 */
static int
python_dotenv(const char *path, char *out, size_t outsz)
{
	static const char	 prog[] = "/usr/bin/python3 -c '"
	    "import os, sys\n"
	    "from dotenv.main import DotEnv\n"
	    "v = DotEnv(sys.argv[1], override=False).dict().get(\"MAIL_FROM\")\n"
	    "sys.stdout.write(\"=\" + (v or \"\"))' ";
	char			 cmd[512];
	FILE			*f;
	size_t			 n;

	if (access("/usr/bin/python3", X_OK) == -1 ||
	    system("/usr/bin/python3 -c 'import dotenv' 2>/dev/null") != 0)
		return 0;
	(void)snprintf(cmd, sizeof(cmd), "%s'%s'", prog, path);
	if ((f = popen(cmd, "r")) == NULL)
		return 0;
	n = fread(out, 1, outsz - 1, f);
	out[n] = '\0';
	if (pclose(f) != 0 || n == 0 || out[0] != '=')
		return 0;
	memmove(out, out + 1, n);
	return 1;
}

static void
test_expand_one(const struct value *v, const char *what, size_t i,
    int compare)
{
	struct cfg		 c;
	char			 text[1024], err[512], path[256], py[1024];
	enum auth_status	 rc;
	int			 same;

	(void)snprintf(text, sizeof(text), "%s\n%s\n", v->text, BASE);
	if (!write_file(text, strlen(text), 0600, path, sizeof(path))) {
		tap_ok(0, "write file");
		return;
	}
	memset(&c, 0, sizeof(c));
	rc = cfg_load(&c, path, 1, err, sizeof(err));
	if (v->want == NULL)
		same = rc == AUTH_OK && c.mail_from == NULL;
	else
		same = rc == AUTH_OK && c.mail_from != NULL &&
		    strcmp(c.mail_from, v->want) == 0;
	if (!compare) {
		tap_ok(same, "%s case %zu: MAIL_FROM as python-dotenv "
		    "documents", what, i);
		if (!same)
			tap_diag("got [%s] (%s)", c.mail_from == NULL ?
			    "(null)" : c.mail_from, rc == AUTH_OK ? "loaded" :
			    err);
	} else if (!python_dotenv(path, py, sizeof(py)))
		tap_skip(1, "python3 with dotenv not available");
	else {
		same = rc == AUTH_OK && strcmp(py, c.mail_from == NULL ? "" :
		    c.mail_from) == 0;
		tap_ok(same, "%s case %zu: the same MAIL_FROM as the real "
		    "python-dotenv", what, i);
		if (!same)
			tap_diag("python-dotenv [%s], ours [%s]", py,
			    c.mail_from == NULL ? "" : c.mail_from);
	}
	cfg_free(&c);
	(void)unlink(path);
}

static void
test_expand(void)
{
	struct cfg		 c;
	char			 text[CFG_TEST_BIG], err[512], path[256];
	enum auth_status	 rc;
	size_t			 i, n;

	setenv("CFGT_ENV", "from-env", 1);
	setenv("CFGT_SHADOW", "env-wins", 1);
	for (i = 0; i < sizeof(expands) / sizeof(expands[0]); i++)
		test_expand_one(&expands[i], "expansion", i, 0);
	for (i = 0; i < sizeof(expands) / sizeof(expands[0]); i++)
		test_expand_one(&expands[i], "expansion", i, 1);
	/*
	 * The quoting and escapes too, but for two bugs of python-dotenv
	 * before 1.2.3 (Debian 12 has 0.21), which we do not copy: "KEY= #
	 * comment" gave the comment (fixed in 1.2.4), and a byte-order mark
	 * lost the first key (fixed in 1.2.3).
	 */
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		if (strstr(values[i].text, "= #") == NULL &&
		    strncmp(values[i].text, "\xef\xbb\xbf", 3) != 0)
			test_expand_one(&values[i], "value", i, 1);
	unsetenv("CFGT_ENV");
	unsetenv("CFGT_SHADOW");

	/* A secret built from parts: the URL's password from a key. */
	n = (size_t)snprintf(text, sizeof(text), "PW=" DBPW "\n"
	    "MYSQL_DB_URL=mysql://collab:${PW}@localhost:3307/auth\n"
	    JWT_LINE);
	rc = load_text(text, n, &c, err, sizeof(err), path, sizeof(path));
	tap_ok(rc == AUTH_OK && c.db.password != NULL &&
	    strcmp(c.db.password, DBPW) == 0, "MYSQL_DB_URL's password from "
	    "${PW}");
	cfg_free(&c);

	/* Doubling at every line stops at CFG_VALUE_MAX, naming the line. */
	n = (size_t)snprintf(text, sizeof(text), BASE "\nX0=%0512d\n", 0);
	for (i = 1; i < 10; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		    "X%zu=${X%zu}${X%zu}\n", i, i - 1, i - 1);
	rc = load_text(text, n, &c, err, sizeof(err), path, sizeof(path));
	/* X0 is line 3, X5 just fits (16384 bytes), X6 on line 9 not. */
	tap_ok(rc == AUTH_ERR_CONFIG && strstr(err, ":9: value longer "
	    "than 16384 bytes once ${} is expanded") != NULL && is_zero(&c),
	    "an expansion past 16384 bytes is refused, naming the line");
	if (rc != AUTH_ERR_CONFIG)
		cfg_free(&c);
}

static void
test_default_path(void)
{

	unsetenv("AUTH_CONFIG");
	tap_ok(strcmp(cfg_default_path(), AUTH_CONFIG_FILE) == 0,
	    "cfg_default_path without AUTH_CONFIG");
	setenv("AUTH_CONFIG", "/srv/auth/test.env", 1);
	tap_ok(strcmp(cfg_default_path(), "/srv/auth/test.env") == 0,
	    "cfg_default_path honours AUTH_CONFIG");
	setenv("AUTH_CONFIG", "", 1);
	tap_ok(strcmp(cfg_default_path(), AUTH_CONFIG_FILE) == 0,
	    "cfg_default_path ignores an empty AUTH_CONFIG");
	unsetenv("AUTH_CONFIG");
}

int
main(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
		unsetenv(known_keys[i]);
	if (mkdtemp(tmpdir) == NULL) {
		tap_ok(0, "mkdtemp: %s", strerror(errno));
		return tap_done();
	}
	tap_ok(strlen(JWT32) == 32 && strlen(JWT31) == 31,
	    "test secrets have the intended lengths");

	test_values();
	test_malformed();
	test_checks();
	test_perms();
	test_owner();
	test_defaults();
	test_full_crlf();
	test_limits();
	test_unknown();
	test_environ();
	test_file_kinds();
	test_errbuf();
	test_expand();
	test_default_path();

	if (rmdir(tmpdir) == -1)
		tap_diag("rmdir %s: %s", tmpdir, strerror(errno));
	return tap_done();
}
