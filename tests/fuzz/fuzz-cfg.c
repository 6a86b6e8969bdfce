/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the configuration parser (cfg.c): the input is a
 * python-dotenv ".env" file, written to a private temporary file and
 * loaded by cfg_load() with an empty environment, so that every key's
 * check (MYSQL_DB_URL, TRUSTED_PROXIES, numbers, booleans) runs too.
 *
 * Properties (any broken one aborts):
 *  - the answer is AUTH_OK or AUTH_ERR_CONFIG, nothing else;
 *  - a refused file leaves the configuration all zero and says why;
 *  - a loaded file has the required keys, a 32-byte JWT key whose
 *    length is recorded, ALGORITHM HS256 and numbers in range;
 *  - the values of the keys below, written back as a .env file (quoted
 *    the python-dotenv way), load back to exactly the same values;
 *  - secrets never reach the message: changing the letters and digits
 *    of the JWT_SECRET_KEY, MAIL_PASSWORD and OTP_SECRET_KEY lines leaves
 *    a refusal's message unchanged.
 */
#include "config.h"

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "oracle.h"

#define FUZZ_MAX	65536		/* longer inputs are ignored */
#define FUZZ_LINE_MAX	4000		/* cfg.c reads lines of 4096 */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Keys whose values are written back and read again. */
static const struct fuzz_key {
	const char	*name;
	size_t		 off;
	int		 string;	/* char * field, else long */
} fuzz_keys[] = {
	{ "MYSQL_DB_URL", offsetof(struct cfg, mysql_db_url), 1 },
	{ "JWT_SECRET_KEY", offsetof(struct cfg, jwt_secret_key), 1 },
	{ "MAIL_PASSWORD", offsetof(struct cfg, mail_password), 1 },
	{ "MAIL_FROM", offsetof(struct cfg, mail_from), 1 },
	{ "MAIL_FROM_NAME", offsetof(struct cfg, mail_from_name), 1 },
	{ "OTP_SECRET_KEY", offsetof(struct cfg, otp_secret_key), 1 },
	{ "TRUSTED_PROXIES", offsetof(struct cfg, trusted_proxies), 1 },
	{ "LOG_FILE", offsetof(struct cfg, log_file), 1 },
	{ "BCRYPT_ROUNDS", offsetof(struct cfg, bcrypt_rounds), 0 },
	{ "MAIL_PORT", offsetof(struct cfg, mail_port), 0 },
	{ "MAIL_STARTTLS", offsetof(struct cfg, mail_starttls), 0 },
};

/* Keys whose values must never show in a message. */
static const char *const fuzz_secrets[] = {
	"JWT_SECRET_KEY", "MAIL_PASSWORD", "OTP_SECRET_KEY",
};

/* tmpfs: on ext4, truncating a file with data waits for the journal. */
static char	 fuzz_path[] = "/dev/shm/fuzz-cfg.XXXXXX";
static char	 fuzz_path_tmp[] = "/tmp/fuzz-cfg.XXXXXX";
static char	*fuzz_file = fuzz_path;
static int	 fuzz_fd = -1;

static void
fuzz_cleanup(void)
{

	(void)unlink(fuzz_file);
}

/*
 * Make the file at fuzz_file hold exactly the len bytes at s.
 */
static void
fuzz_write(const char *s, size_t len)
{

	if (ftruncate(fuzz_fd, 0) == -1 ||
	    pwrite(fuzz_fd, s, len, 0) != (ssize_t)len)
		abort();
}

static enum auth_status
fuzz_load(const char *s, size_t len, struct cfg *c, char *err, size_t errsz)
{

	fuzz_write(s, len);
	return cfg_load(c, fuzz_file, 1, err, errsz);
}

/*
 * Append "NAME=value" and a newline to out (at *len, outsz bytes), the
 * value quoted so that python-dotenv reads it back as it is: in single
 * quotes, with \\ and \' escaped, unless it holds a line end; then in
 * double quotes with \\, \", \n and \r escaped.  Returns -1 when it
 * cannot be written: too long, or holding "${", which python-dotenv
 * expands whatever the quotes.
 */
static int
fuzz_put(char *out, size_t *len, size_t outsz, const char *name,
    const char *v)
{
	char		 line[2 * FUZZ_LINE_MAX + 64];
	const char	*esc;
	char		 q;
	size_t		 n;
	int		 m;

	if (strlen(v) > FUZZ_LINE_MAX / 2 || strstr(v, "${") != NULL)
		return -1;
	q = strpbrk(v, "\r\n") == NULL ? '\'' : '"';
	m = snprintf(line, sizeof(line), "%s=%c", name, q);
	if (m < 0 || (size_t)m >= sizeof(line))
		return -1;
	for (n = (size_t)m; *v != '\0'; v++) {
		if (*v == '\n')
			esc = "\\n";
		else if (*v == '\r')
			esc = "\\r";
		else if (*v == '\\' || *v == q) {
			line[n++] = '\\';
			esc = NULL;
		} else
			esc = NULL;
		if (esc != NULL) {
			memcpy(line + n, esc, 2);
			n += 2;
		} else
			line[n++] = *v;
	}
	line[n++] = q;
	line[n++] = '\n';
	if (n > FUZZ_LINE_MAX || n >= outsz - *len)
		return -1;
	memcpy(out + *len, line, n);
	*len += n;
	return 0;
}

/*
 * Write the keys of fuzz_keys[] that c holds as a new file and load it:
 * every value must come back the same.
 */
static void
fuzz_roundtrip(const struct cfg *c)
{
	static char		 out[FUZZ_MAX];
	struct cfg		 c2;
	const struct fuzz_key	*k;
	char			 num[32], err[512];
	const char		*v, *v2;
	size_t			 len = 0, i;

	for (i = 0; i < sizeof(fuzz_keys) / sizeof(fuzz_keys[0]); i++) {
		k = &fuzz_keys[i];
		if (k->string) {
			v = *(char *const *)(const void *)
			    ((const char *)c + k->off);
			if (v == NULL)
				continue;
		} else {
			(void)snprintf(num, sizeof(num), "%ld",
			    *(const long *)(const void *)
			    ((const char *)c + k->off));
			v = num;
		}
		if (fuzz_put(out, &len, sizeof(out), k->name, v) == -1)
			return;
	}
	if (fuzz_load(out, len, &c2, err, sizeof(err)) != AUTH_OK)
		oracle_fail("written back, refused: %s", err);
	for (i = 0; i < sizeof(fuzz_keys) / sizeof(fuzz_keys[0]); i++) {
		k = &fuzz_keys[i];
		if (!k->string) {
			if (*(const long *)(const void *)((const char *)c +
			    k->off) != *(const long *)(const void *)
			    ((const char *)&c2 + k->off))
				oracle_fail("%s changed", k->name);
			continue;
		}
		v = *(char *const *)(const void *)((const char *)c + k->off);
		v2 = *(char *const *)(const void *)((const char *)&c2 +
		    k->off);
		if ((v == NULL) != (v2 == NULL) ||
		    (v != NULL && strcmp(v, v2) != 0))
			oracle_fail("%s changed", k->name);
	}
	cfg_free(&c2);
}

/*
 * Change, in the n bytes at s, each letter and digit of the values of
 * the secret keys' lines to another of its kind, escapes left alone;
 * nothing in a file that uses "${".  Returns 1 if anything changed.
 */
static int
fuzz_perturb(char *s, size_t n)
{
	char	*line, *end, *p;
	size_t	 i, k;
	int	 changed = 0;

	/* ${VAR} copies a value elsewhere, where it may be quoted. */
	if (memmem(s, n, "${", 2) != NULL)
		return 0;
	for (line = s; line < s + n; line = end + 1) {
		if ((end = memchr(line, '\n', (size_t)(s + n - line))) == NULL)
			end = s + n;
		p = line + strspn(line, " \t");
		if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' ||
		    p[6] == '\t'))
			p += 6 + strspn(p + 6, " \t");
		for (k = 0; k < sizeof(fuzz_secrets) / sizeof(fuzz_secrets[0]);
		    k++)
			if (strncmp(p, fuzz_secrets[k],
			    strlen(fuzz_secrets[k])) == 0)
				break;
		if (k == sizeof(fuzz_secrets) / sizeof(fuzz_secrets[0]) ||
		    (p = memchr(p, '=', (size_t)(end - p))) == NULL)
			continue;
		for (i = 1; p + i < end; i++) {
			if (p[i - 1] == '\\')
				continue;
			if ((p[i] >= 'a' && p[i] < 'z') ||
			    (p[i] >= 'A' && p[i] < 'Z') ||
			    (p[i] >= '0' && p[i] < '9')) {
				p[i]++;
				changed = 1;
			}
		}
	}
	return changed;
}

/*
 * Before the first input: no environment (it would win over the file),
 * and the private file the inputs are written to.
 */
void
oracle_setup(void)
{

	if (clearenv() != 0)
		abort();
	if ((fuzz_fd = mkstemp(fuzz_path)) == -1) {
		fuzz_file = fuzz_path_tmp;
		if ((fuzz_fd = mkstemp(fuzz_path_tmp)) == -1)
			abort();
	}
	(void)atexit(fuzz_cleanup);
}

/*
 * The libFuzzer entry point.  Always returns 0.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cfg	 zero;
	static char		 copy[FUZZ_MAX + 1];
	struct cfg		 c, c2;
	char			 err[512], err2[512];
	enum auth_status	 rc, rc2;

	if (size > FUZZ_MAX)
		return 0;
	rc = fuzz_load((const char *)data, size, &c, err, sizeof(err));
	if (rc != AUTH_OK && rc != AUTH_ERR_CONFIG)
		oracle_fail("status %d", (int)rc);
	if (rc != AUTH_OK) {
		if (memcmp(&c, &zero, sizeof(c)) != 0)
			oracle_fail("refused, but the configuration is set");
		/* A bad TRUSTED_PROXIES entry is quoted: log.c escapes it. */
		if (err[0] == '\0')
			oracle_fail("refused without a message");
		memcpy(copy, data, size);
		copy[size] = '\0';	/* for fuzz_perturb()'s string calls */
		if (!fuzz_perturb(copy, size))
			return 0;
		rc2 = fuzz_load(copy, size, &c2, err2, sizeof(err2));
		if (rc2 != rc || strcmp(err, err2) != 0)
			oracle_fail("a secret changed the message: \"%s\" / "
			    "\"%s\"", err, err2);
		cfg_free(&c2);
		return 0;
	}
	if (c.mysql_db_url == NULL || c.db.user == NULL ||
	    c.db.database == NULL || c.jwt_secret_key == NULL ||
	    c.jwt_secret_len != strlen(c.jwt_secret_key) ||
	    c.jwt_secret_len < 32 || strcmp(c.algorithm, "HS256") != 0 ||
	    c.bcrypt_rounds < 10 || c.bcrypt_rounds > 31 ||
	    c.mail_port < 1 || c.mail_port > 65535 ||
	    (c.mail_starttls != 0 && c.mail_starttls != 1) ||
	    (c.otp_secret_key != NULL && strlen(c.otp_secret_key) < 32))
		oracle_fail("loaded, but a value is out of its range");
	fuzz_roundtrip(&c);
	cfg_free(&c);
	return 0;
}
