/* SPDX-License-Identifier: ISC */
/*
 * Throttles.  Each limit counts hits per key in fixed windows of its
 * configured length, in auth_throttle; all the counters one request
 * touches are incremented and read back by ONE statement,
 *	INSERT ... VALUES (...), (...) ON DUPLICATE KEY UPDATE hits = hits + 1
 *	    RETURNING kind, hits, expires_at
 * which is atomic per row, so processes on any number of web servers
 * sharing the database see one count.  A request over any of its limits
 * is refused with the seconds until that window ends (Retry-After).
 *
 * Failed logins are counted when the attempt starts (the request then
 * needs no second write on failure) and taken back by
 * throttle_login_ok() on success, which also clears the account's count.
 * Keys are SHA-256 digests: of the normalised email for account limits,
 * of the client's address for address limits.  An IPv4 address counts
 * alone (an IPv4-mapped IPv6 address, ::ffff:192.0.2.1, is the IPv4
 * address it maps: client.c unmaps it).  An IPv6 address counts by its
 * /64, since one host usually owns a whole /64, except where unrelated
 * hosts share a /64 (throttle_key_bytes()): those count alone.
 */
#include "config.h"

#include <sys/socket.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "cfg.h"
#include "client.h"
#include "db.h"
#include "log.h"
#include "throttle.h"
#include "valid.h"

/* The statement counting n rows, n = 1 .. THROTTLE_HITS_MAX. */
static const enum db_q throttle_queries[THROTTLE_HITS_MAX + 1] = {
	DB_Q__MAX,
	DB_Q_THROTTLE_HIT1,
	DB_Q_THROTTLE_HIT2,
	DB_Q_THROTTLE_HIT3,
};

/* The configuration key of each limit, for log lines. */
static const char *const throttle_names[THROTTLE__MAX] = {
	"none", /* THROTTLE_NONE */
	"THROTTLE_LOGIN_ACCOUNT", /* THROTTLE_LOGIN_ACCOUNT */
	"THROTTLE_LOGIN_ADDRESS_FAILURES", /* THROTTLE_LOGIN_ADDRESS_FAILURES */
	"THROTTLE_LOGIN_ADDRESS", /* THROTTLE_LOGIN_ADDRESS */
	"THROTTLE_REGISTER_ADDRESS", /* THROTTLE_REGISTER_ADDRESS */
	"THROTTLE_FORGOT_ADDRESS", /* THROTTLE_FORGOT_ADDRESS */
	"THROTTLE_RESET_ADDRESS", /* THROTTLE_RESET_ADDRESS */
	"THROTTLE_REFRESH_ADDRESS", /* THROTTLE_REFRESH_ADDRESS */
};

/* What the rows RETURNING sends back are read into, row by row. */
struct throttle_rows {
	const struct cfg	*cfg;
	long long		 now;
	int			 kind;		/* of the row just fetched */
	int			 hits;
	MYSQL_TIME		 end;
	long			 retry;		/* the longest wait so far */
	enum throttle_kind	 limit;		/* whose it is */
};

/*
 * Return 1 if kind counts per account (email), 0 if per address.
 */
static int
throttle_per_account(enum throttle_kind kind)
{

	return kind == THROTTLE_LOGIN_ACCOUNT;
}

/*
 * Return how many leading bytes of address net key its counter.  IPv4:
 * all 4.  IPv6: the /64, except for the ranges where the /64 does not
 * belong to one site, keyed by the whole address:
 *	::/64 (::1, ::, the deprecated IPv4-compatible ::a.b.c.d),
 *	fe80::/10, link-local: every link uses fe80::/64 (RFC 4291, 2.5.6),
 *	ff00::/8, multicast (never a client; no site behind it),
 *	64:ff9b::/96 and 64:ff9b:1::/48, NAT64 (RFC 6052, RFC 8215): the
 *	    IPv4 client is in the low 32 bits,
 *	2001::/32, Teredo (RFC 4380): a relay's clients share the /64.
 * IPv4 loopback and private addresses are single hosts already.
 */
static size_t
throttle_key_bytes(const struct client_net *net)
{
	static const unsigned char zero[8];
	static const unsigned char nat64[4] = { 0x00, 0x64, 0xff, 0x9b };
	static const unsigned char teredo[4] = { 0x20, 0x01, 0x00, 0x00 };
	const unsigned char	*a = net->addr;

	if (net->family == AF_INET)
		return 4;
	if (memcmp(a, zero, 8) == 0 ||
	    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || a[0] == 0xff ||
	    memcmp(a, nat64, 4) == 0 || memcmp(a, teredo, 4) == 0)
		return 16;
	return 8;
}

/*
 * Write the 32-byte key of key for limit kind into out: the SHA-256 of
 * "e:" and the email for account limits, of "4:" or "6:" and the leading
 * bytes of the address that identify its owner (throttle_key_bytes())
 * for address limits (an unparsable one, such as "-", as text).  Returns
 * 0, or -1 on failure.
 */
int
throttle_key(enum throttle_kind kind, const char *key, unsigned char *out)
{
	struct client_net	 net;
	unsigned char		 buf[2 + VALID_EMAIL_LOOKUP_MAX + 1];
	unsigned int		 len = 0;
	size_t			 n;

	if (throttle_per_account(kind)) {
		n = (size_t)snprintf((char *)buf, sizeof(buf), "e:%s", key);
		if (n >= sizeof(buf))
			return -1;
	} else if (client_parse(key, strlen(key), &net)) {
		buf[0] = net.family == AF_INET ? '4' : '6';
		buf[1] = ':';
		n = throttle_key_bytes(&net);
		memcpy(buf + 2, net.addr, n);
		n += 2;
	} else {
		n = (size_t)snprintf((char *)buf, sizeof(buf), "a:%s", key);
		if (n >= sizeof(buf))
			return -1;
	}
	if (EVP_Digest(buf, n, out, &len, EVP_sha256(), NULL) != 1 ||
	    len != THROTTLE_KEY_LEN)
		return -1;
	return 0;
}

/*
 * Return the configuration key naming limit kind ("THROTTLE_LOGIN_ACCOUNT"),
 * for log lines; never NULL.
 */
const char *
throttle_name(enum throttle_kind kind)
{

	if ((unsigned int)kind >= THROTTLE__MAX)
		return "unknown";
	return throttle_names[kind];
}

/*
 * After each row the counting statement returns: if that counter is over
 * its limit, remember the wait until its window ends, keeping the
 * longest one and its limit.
 */
static void
throttle_row(void *arg)
{
	struct throttle_rows	*t = arg;
	long			 left;

	if (t->kind <= THROTTLE_NONE || t->kind >= THROTTLE__MAX ||
	    t->hits <= t->cfg->throttle_limit[t->kind])
		return;
	left = (long)(db_time_to_epoch(&t->end) - t->now);
	if (left < 1)
		left = 1;
	if (left > t->retry) {
		t->retry = left;
		t->limit = (enum throttle_kind)t->kind;
	}
}

/*
 * Count this request against the n limits in hits at time now.  Limits
 * switched off (0) are skipped; if none is left, no statement runs.  On
 * AUTH_OK *retry is 0 if the request may go on, else the seconds until
 * the window of a limit it is over ends (the caller answers 429), and
 * *limit (may be NULL) is that limit, the one that tripped
 * (THROTTLE_NONE when none did).  A database failure is returned as is:
 * the caller answers 503 (a throttle that cannot count fails closed);
 * so is AUTH_ERR_DB_COMMIT_UNKNOWN, when the connection died before the
 * counts came back: they may have been counted, the request is not
 * served, and nothing is counted twice.
 */
enum auth_status
throttle_check(struct db *db, const struct cfg *cfg,
    const struct throttle_hit *hits, size_t n, long long now, long *retry,
    enum throttle_kind *limit)
{
	unsigned char		 keys[THROTTLE_HITS_MAX][THROTTLE_KEY_LEN];
	MYSQL_BIND		 p[THROTTLE_HITS_MAX * 4], r[3];
	MYSQL_TIME		 start[THROTTLE_HITS_MAX];
	MYSQL_TIME		 end[THROTTLE_HITS_MAX];
	MYSQL_STMT		*st;
	struct throttle_rows	 t;
	unsigned long		 klen = THROTTLE_KEY_LEN;
	int			 kinds[THROTTLE_HITS_MAX];
	long			 window;
	long long		 ws;
	size_t			 i, m = 0;
	enum auth_status	 rc;

	*retry = 0;
	if (limit != NULL)
		*limit = THROTTLE_NONE;
	for (i = 0; i < n && m < THROTTLE_HITS_MAX; i++) {
		window = cfg->throttle_window[hits[i].kind];
		if (cfg->throttle_limit[hits[i].kind] == 0)
			continue;	/* off; windows are >= 1 (cfg.c) */
		if (throttle_key(hits[i].kind, hits[i].key, keys[m]) == -1)
			return AUTH_ERR_CRYPTO;
		kinds[m] = (int)hits[i].kind;
		ws = now - now % window;
		db_time_from_epoch(&start[m], ws);
		db_time_from_epoch(&end[m], ws + window);
		db_bind_int(&p[4 * m], &kinds[m]);
		db_bind_str(&p[4 * m + 1], (const char *)keys[m], &klen);
		p[4 * m + 1].buffer_type = MYSQL_TYPE_BLOB;
		db_bind_time(&p[4 * m + 2], &start[m]);
		db_bind_time(&p[4 * m + 3], &end[m]);
		m++;
	}
	if (m == 0)
		return AUTH_OK;
	if ((rc = db_exec(db, throttle_queries[m], p, &st)) != AUTH_OK)
		return rc;

	memset(&t, 0, sizeof(t));
	t.cfg = cfg;
	t.now = now;
	db_bind_int(&r[0], &t.kind);
	db_bind_int(&r[1], &t.hits);
	db_bind_time(&r[2], &t.end);
	if ((rc = db_fetch_all(db, st, r, throttle_row, &t)) != AUTH_OK)
		return rc;
	*retry = t.retry;
	if (limit != NULL)
		*limit = t.limit;
	return AUTH_OK;
}

/*
 * After a successful login by email from address at time now: clear the
 * account's failed-login count and take back the failure counted for the
 * address when the attempt started.  A failure, including
 * AUTH_ERR_DB_COMMIT_UNKNOWN, is only logged by the caller: at worst a
 * failure stays counted until its window ends.
 */
enum auth_status
throttle_login_ok(struct db *db, const struct cfg *cfg, const char *email,
    const char *address, long long now)
{
	unsigned char	 acct[THROTTLE_KEY_LEN], addr[THROTTLE_KEY_LEN];
	MYSQL_BIND	 p[4];
	MYSQL_TIME	 astart, fstart;
	unsigned long	 klen = THROTTLE_KEY_LEN;
	long		 aw, fw;

	/* Windows are at least 1 s (cfg.c); a limit of 0 counted nothing. */
	aw = cfg->throttle_window[THROTTLE_LOGIN_ACCOUNT];
	fw = cfg->throttle_window[THROTTLE_LOGIN_ADDRESS_FAILURES];
	if (cfg->throttle_limit[THROTTLE_LOGIN_ACCOUNT] == 0 &&
	    cfg->throttle_limit[THROTTLE_LOGIN_ADDRESS_FAILURES] == 0)
		return AUTH_OK;
	if (throttle_key(THROTTLE_LOGIN_ACCOUNT, email, acct) == -1 ||
	    throttle_key(THROTTLE_LOGIN_ADDRESS_FAILURES, address, addr) == -1)
		return AUTH_ERR_CRYPTO;
	db_bind_str(&p[0], (const char *)acct, &klen);
	p[0].buffer_type = MYSQL_TYPE_BLOB;
	db_time_from_epoch(&astart, now - now % aw);
	db_bind_time(&p[1], &astart);
	db_bind_str(&p[2], (const char *)addr, &klen);
	p[2].buffer_type = MYSQL_TYPE_BLOB;
	db_time_from_epoch(&fstart, now - now % fw);
	db_bind_time(&p[3], &fstart);
	return db_exec(db, DB_Q_THROTTLE_LOGIN_OK, p, NULL);
}
