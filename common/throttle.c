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
 * of the client's address for address limits, IPv6 addresses taken by
 * their /64 (one host usually owns a whole /64).
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

/*
 * Return 1 if kind counts per account (email), 0 if per address.
 */
static int
throttle_per_account(enum throttle_kind kind)
{

	return kind == THROTTLE_LOGIN_ACCOUNT;
}

/*
 * Write the 32-byte key of key for limit kind into out: the SHA-256 of
 * "e:" and the email for account limits, of "4:" or "6:" and the address
 * bytes for address limits (an IPv6 address cut to its /64; an
 * unparsable one, such as "-", as text).  Returns 0, or -1 on failure.
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
		n = net.family == AF_INET ? 4 : 8;	/* /64 */
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
 * Count this request against the n limits in hits at time now.  Limits
 * switched off (0) are skipped; if none is left, no statement runs.  On
 * AUTH_OK *retry is 0 if the request may go on, else the seconds until
 * the window of a limit it is over ends (the caller answers 429).  A
 * database failure is returned as is: the caller answers 503 (a
 * throttle that cannot count fails closed).
 */
enum auth_status
throttle_check(struct db *db, const struct cfg *cfg,
    const struct throttle_hit *hits, size_t n, long long now, long *retry)
{
	unsigned char		 keys[THROTTLE_HITS_MAX][THROTTLE_KEY_LEN];
	MYSQL_BIND		 p[THROTTLE_HITS_MAX * 4], r[3];
	MYSQL_TIME		 start[THROTTLE_HITS_MAX];
	MYSQL_TIME		 end[THROTTLE_HITS_MAX], rend;
	MYSQL_STMT		*st;
	unsigned long		 klen = THROTTLE_KEY_LEN;
	int			 kinds[THROTTLE_HITS_MAX], rkind, rhits, fr;
	long			 limit, window, left;
	long long		 ws;
	size_t			 i, m = 0;
	enum auth_status	 rc;

	*retry = 0;
	for (i = 0; i < n && m < THROTTLE_HITS_MAX; i++) {
		limit = cfg->throttle_limit[hits[i].kind];
		window = cfg->throttle_window[hits[i].kind];
		if (limit == 0)		/* off; windows are >= 1 (cfg.c) */
			continue;
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

	db_bind_int(&r[0], &rkind);
	db_bind_int(&r[1], &rhits);
	db_bind_time(&r[2], &rend);
	if (mysql_stmt_bind_result(st, r) != 0) {
		(void)mysql_stmt_free_result(st);
		return AUTH_ERR_DB;
	}
	while ((fr = mysql_stmt_fetch(st)) == 0) {
		if (rkind <= THROTTLE_NONE || rkind >= THROTTLE__MAX)
			continue;
		if (rhits <= cfg->throttle_limit[rkind])
			continue;
		left = (long)(db_time_to_epoch(&rend) - now);
		if (left < 1)
			left = 1;
		if (left > *retry)
			*retry = left;
	}
	(void)mysql_stmt_free_result(st);
	if (fr != MYSQL_NO_DATA) {
		log_err("throttle", "fetch failed errno=%u",
		    mysql_stmt_errno(st));
		*retry = 0;
		return AUTH_ERR_DB;
	}
	return AUTH_OK;
}

/*
 * After a successful login by email from address at time now: clear the
 * account's failed-login count and take back the failure counted for the
 * address when the attempt started.
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
