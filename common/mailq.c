/* SPDX-License-Identifier: ISC */
/*
 * The mail queue, in the database so that no message depends on one
 * process staying alive, and no sender on one host.
 *
 * forgot-password does the same for every address: one INSERT of the
 * request (mailq_request()), the answer, then mailq_wake().  A sender
 * (auth-cleanup --deliver, see courier.c) claims due rows one at a time
 * (mailq_claim(): a random claim and a lease, so two senders never work
 * on one row, and a row whose sender died is free again once the lease
 * runs out), turns a request into a message with its code in one
 * transaction (reset.c), sends it, and deletes it or schedules the next
 * try (mailq_retry(), mailq_backoff()).
 *
 * At most MAIL_DELIVERY_SLOTS senders run at once over every host: each
 * holds a row of auth_mail_slot under a lease it renews.  A request starts
 * a sender only when no slot is held at all (mailq_wake(), reserving a
 * slot for it); otherwise a sender is at work, sees the new row (it
 * looks at the queue while it waits, and lingers a little once the queue
 * is empty; one that loses the database waits for it while its lease
 * lasts, rather than leave a held slot nobody works in: courier.c), and
 * when the queue grows behind it, it starts a helper into
 * a free slot (MAILQ_WAKE_HELPER).  Every sender looks at the queue once
 * more after giving its slot back, so no request is left behind.  A flood
 * of requests therefore starts at most MAIL_DELIVERY_SLOTS processes and
 * connections; past that bound the rows wait in the queue, in order, until
 * a sender reaches them or their code would have expired.  And whether
 * a request starts a sender depends on whether one is already at work,
 * not on what the requests before it asked for: a registered address
 * keeps its sender busy longer, but the sender lingers either way.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "mailq.h"
#include "rng.h"

extern char	**environ;

/*
 * Insert the request for a code for email (normalised), made at now: due
 * at once, dropped if no sender reaches it before a code issued now would
 * expire.  Returns AUTH_OK or a database status.
 */
enum auth_status
mailq_request(struct db *db, const struct cfg *cfg, const char *email,
    long long now)
{
	MYSQL_BIND	 p[4];
	MYSQL_TIME	 created, expires;
	unsigned long	 elen = strlen(email);

	db_bind_str(&p[0], email, &elen);
	db_time_from_epoch(&created, now);
	db_bind_time(&p[1], &created);
	db_time_from_epoch(&expires, now + cfg->otp_expire_minutes * 60);
	db_bind_time(&p[2], &expires);
	db_bind_time(&p[3], &created);
	return db_exec(db, DB_Q_MAILQ_REQUEST, p, NULL);
}

/*
 * Lease a free slot (one of the first MAIL_DELIVERY_SLOTS) to holder
 * until the epoch second until.  Returns AUTH_OK with s filled in,
 * AUTH_ERR_NOT_FOUND when every slot is taken, or a database status.
 */
static enum auth_status
mailq_slot_lease(struct db *db, const struct cfg *cfg, const char *holder,
    long long until, long long now, struct mailq_slot *s)
{
	MYSQL_BIND		 p[4], r[1];
	MYSQL_TIME		 tuntil, tnow;
	MYSQL_STMT		*st;
	unsigned long		 hlen = strlen(holder);
	long long		 slots = cfg->mail_delivery_slots;
	int			 slot;
	enum auth_status	 rc;

	memset(s, 0, sizeof(*s));
	db_bind_str(&p[0], holder, &hlen);
	db_time_from_epoch(&tuntil, until);
	db_bind_time(&p[1], &tuntil);
	db_bind_llong(&p[2], &slots);
	db_time_from_epoch(&tnow, now);
	db_bind_time(&p[3], &tnow);
	if ((rc = db_exec(db, DB_Q_MAILQ_SLOT_TAKE, p, NULL)) != AUTH_OK)
		return rc;
	if (db_affected(db, DB_Q_MAILQ_SLOT_TAKE) != 1)
		return AUTH_ERR_NOT_FOUND;
	db_bind_str(&p[0], holder, &hlen);
	if ((rc = db_exec(db, DB_Q_MAILQ_SLOT_WHICH, p, &st)) != AUTH_OK)
		return rc;
	db_bind_int(&r[0], &slot);
	if ((rc = db_fetch_one(db, st, r)) != AUTH_OK)
		return rc == AUTH_ERR_NOT_FOUND ? AUTH_ERR_DB : rc;
	s->slot = slot;
	(void)snprintf(s->holder, sizeof(s->holder), "%s", holder);
	s->renewed = now;
	return AUTH_OK;
}

/*
 * Take a free slot for this sender at now, under a MAILQ_LEASE lease.
 * Returns AUTH_OK with s filled in, AUTH_ERR_NOT_FOUND when every slot is
 * taken, or a database or crypto status.
 */
enum auth_status
mailq_slot_take(struct db *db, const struct cfg *cfg, long long now,
    struct mailq_slot *s)
{
	char			 holder[MAILQ_TOKEN_HEX + 1];
	enum auth_status	 rc;

	memset(s, 0, sizeof(*s));
	if ((rc = rng_hex(holder, sizeof(holder), MAILQ_TOKEN_HEX / 2)) !=
	    AUTH_OK)
		return rc;
	return mailq_slot_lease(db, cfg, holder, now + MAILQ_LEASE, now, s);
}

/*
 * Take over slot number slot, reserved for this sender by mailq_wake()
 * under the holder name reservation, with a holder name of its own.
 * Returns AUTH_OK, AUTH_ERR_NOT_FOUND when the reservation is gone (it ran
 * out and another sender has the slot), or a database or crypto status.
 */
enum auth_status
mailq_slot_handover(struct db *db, int slot, const char *reservation,
    long long now, struct mailq_slot *s)
{
	MYSQL_BIND		 p[4];
	MYSQL_TIME		 until;
	char			 holder[MAILQ_TOKEN_HEX + 1];
	unsigned long		 hlen, rlen = strlen(reservation);
	long long		 n = slot;
	enum auth_status	 rc;

	memset(s, 0, sizeof(*s));
	if ((rc = rng_hex(holder, sizeof(holder), MAILQ_TOKEN_HEX / 2)) !=
	    AUTH_OK)
		return rc;
	hlen = strlen(holder);
	db_bind_str(&p[0], holder, &hlen);
	db_time_from_epoch(&until, now + MAILQ_LEASE);
	db_bind_time(&p[1], &until);
	db_bind_llong(&p[2], &n);
	db_bind_str(&p[3], reservation, &rlen);
	if ((rc = db_exec(db, DB_Q_MAILQ_SLOT_RENEW, p, NULL)) != AUTH_OK)
		return rc;
	if (db_affected(db, DB_Q_MAILQ_SLOT_RENEW) != 1)
		return AUTH_ERR_NOT_FOUND;
	s->slot = slot;
	(void)snprintf(s->holder, sizeof(s->holder), "%s", holder);
	s->renewed = now;
	return AUTH_OK;
}

/*
 * Extend the lease of slot s to MAILQ_LEASE from now, once a third of it
 * has passed.  Returns AUTH_OK,
 * AUTH_ERR_NOT_FOUND when the slot is no longer ours (the lease ran out
 * and another sender took it: stop), or a database status.
 */
enum auth_status
mailq_slot_renew(struct db *db, struct mailq_slot *s, long long now)
{
	MYSQL_BIND		 p[4];
	MYSQL_TIME		 until;
	unsigned long		 hlen = strlen(s->holder);
	long long		 n = s->slot;
	enum auth_status	 rc;

	if (now - s->renewed < MAILQ_LEASE / 3)
		return AUTH_OK;
	db_bind_str(&p[0], s->holder, &hlen);
	db_time_from_epoch(&until, now + MAILQ_LEASE);
	db_bind_time(&p[1], &until);
	db_bind_llong(&p[2], &n);
	db_bind_str(&p[3], s->holder, &hlen);
	if ((rc = db_exec(db, DB_Q_MAILQ_SLOT_RENEW, p, NULL)) != AUTH_OK)
		return rc;
	if (db_affected(db, DB_Q_MAILQ_SLOT_RENEW) != 1)
		return AUTH_ERR_NOT_FOUND;
	s->renewed = now;
	return AUTH_OK;
}

/*
 * Give slot s back (s->slot becomes 0).  Returns AUTH_OK (also when it
 * was no longer ours), or a database status: then s is left as it was,
 * still ours until its lease runs out, and a sender that can wait for the
 * database keeps it (courier.c); the others leave it to run out.
 */
enum auth_status
mailq_slot_release(struct db *db, struct mailq_slot *s)
{
	MYSQL_BIND		 p[2];
	unsigned long		 hlen = strlen(s->holder);
	long long		 n = s->slot;
	enum auth_status	 rc;

	if (s->slot == 0)
		return AUTH_OK;
	db_bind_llong(&p[0], &n);
	db_bind_str(&p[1], s->holder, &hlen);
	if ((rc = db_exec(db, DB_Q_MAILQ_SLOT_RELEASE, p, NULL)) != AUTH_OK)
		return rc;
	s->slot = 0;
	return AUTH_OK;
}

/*
 * The environment of a sender: ours, less what a client could have put in
 * it as plain CGI (HTTP_* request headers).  Returns a new array of
 * borrowed strings (free the array only), or NULL when out of memory.
 */
static char **
mailq_sender_env(void)
{
	char	**env;
	size_t	  i, n = 0;

	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		continue;
	if ((env = calloc(i + 1, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		if (strncmp(environ[i], "HTTP_", 5) != 0)
			env[n++] = environ[i];
	env[n] = NULL;
	return env;
}

/*
 * Start MAIL_DELIVERY_PROGRAM --deliver for slot slot, reserved under
 * holder, detached: a session of its own, stdin and stdout on /dev/null,
 * no file descriptor of ours but stderr (the web server's error log, or
 * /dev/null for plain CGI's work after the answer): never the FastCGI
 * socket nor our database connection.  posix_spawn(3) copies nothing of
 * this process, so its cost does not grow with it.  Returns AUTH_OK or
 * AUTH_ERR_SYSTEM (logged).
 */
static enum auth_status
mailq_spawn(const struct cfg *cfg, int slot, const char *holder)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 all, none;
	char				 slotarg[16];
	char				*argv[7], **env = NULL;
	const char			*prog = cfg->mail_delivery_program;
	enum auth_status		 rc = AUTH_ERR_SYSTEM;
	pid_t				 pid;
	int				 e, fa_ok = 0, attr_ok = 0;

	(void)snprintf(slotarg, sizeof(slotarg), "%d", slot);
	argv[0] = (char *)(uintptr_t)prog;
	argv[1] = (char *)(uintptr_t)"--deliver";
	argv[2] = (char *)(uintptr_t)"--slot";
	argv[3] = slotarg;
	argv[4] = (char *)(uintptr_t)"--holder";
	argv[5] = (char *)(uintptr_t)holder;
	argv[6] = NULL;
	(void)sigfillset(&all);
	(void)sigemptyset(&none);
	if ((env = mailq_sender_env()) == NULL) {
		e = ENOMEM;
		goto out;
	}
	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		goto out;
	fa_ok = 1;
	if ((e = posix_spawnattr_init(&attr)) != 0)
		goto out;
	attr_ok = 1;
	if ((e = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO,
	    "/dev/null", O_RDONLY, 0)) != 0 ||
	    (e = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO,
	    "/dev/null", O_WRONLY, 0)) != 0 ||
	    (e = posix_spawn_file_actions_addclosefrom_np(&fa,
	    STDERR_FILENO + 1)) != 0 ||
	    (e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (e = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(&attr, &all)) != 0)
		goto out;
	if ((e = posix_spawn(&pid, prog, &fa, &attr, argv, env)) != 0)
		goto out;
	rc = AUTH_OK;
out:
	if (rc != AUTH_OK)
		log_err("courier", "cannot start the mail sender program=%s "
		    "error=%s", prog, strerror(e));
	if (attr_ok)
		(void)posix_spawnattr_destroy(&attr);
	if (fa_ok)
		(void)posix_spawn_file_actions_destroy(&fa);
	free(env);
	return rc;
}

/*
 * At now: start a sender, reserving a slot for it, when how says one is
 * needed: MAILQ_WAKE_IDLE (after a request was queued) when no slot is
 * held at all, MAILQ_WAKE_HELPER (a sender with rows waiting behind the
 * one it works on) when a slot is free.  Otherwise the senders at work see
 * the rows (see above).  Also reaps senders this process started earlier.
 * The cost is one SELECT, and when a sender is started an UPDATE, a
 * SELECT and a posix_spawn(3).  Returns AUTH_OK or a status (logged; the
 * rows wait for the next sender, or for auth-cleanup from cron).
 */
enum auth_status
mailq_wake(struct db *db, const struct cfg *cfg, long long now,
    enum mailq_wake_how how)
{
	MYSQL_BIND		 p[2], r[1];
	MYSQL_TIME		 tnow;
	MYSQL_STMT		*st;
	struct mailq_slot	 s;
	char			 holder[MAILQ_TOKEN_HEX + 1];
	long long		 slots = cfg->mail_delivery_slots, nfree = 0;
	enum auth_status	 rc;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		continue;
	db_bind_llong(&p[0], &slots);
	db_time_from_epoch(&tnow, now);
	db_bind_time(&p[1], &tnow);
	if ((rc = db_exec(db, DB_Q_MAILQ_SLOTS_FREE, p, &st)) != AUTH_OK)
		goto out;
	db_bind_llong(&r[0], &nfree);
	if ((rc = db_fetch_one(db, st, r)) != AUTH_OK)
		goto out;
	if (nfree == 0 || (how == MAILQ_WAKE_IDLE && nfree < slots))
		goto out;
	if ((rc = rng_hex(holder, sizeof(holder), MAILQ_TOKEN_HEX / 2)) !=
	    AUTH_OK)
		goto out;
	rc = mailq_slot_lease(db, cfg, holder, now + MAILQ_RESERVE, now, &s);
	if (rc == AUTH_ERR_NOT_FOUND) {
		/* Taken since: by a sender that will see the rows. */
		rc = AUTH_OK;
		goto out;
	}
	if (rc != AUTH_OK)
		goto out;
	if ((rc = mailq_spawn(cfg, s.slot, s.holder)) != AUTH_OK &&
	    mailq_slot_release(db, &s) != AUTH_OK)
		log_warn("courier", "cannot release slot=%d; its reservation "
		    "will run out", s.slot);
out:
	if (rc != AUTH_OK && rc != AUTH_ERR_SYSTEM)
		log_err("courier", "cannot wake a mail sender status=%s",
		    auth_strerror(rc));
	return rc;
}

/*
 * Claim the next due row (in the order the rows came) at now, for
 * MAILQ_LEASE seconds, for the sender holding slot s, and fill *row.
 * Returns AUTH_OK, AUTH_ERR_NOT_FOUND when no unclaimed row is due or the
 * slot is no longer ours, or a database or crypto status.
 */
enum auth_status
mailq_claim(struct db *db, const struct mailq_slot *s, long long now,
    struct mailq_row *row)
{
	MYSQL_BIND		 p[6], r[7];
	MYSQL_TIME		 until, tnow, expires;
	MYSQL_STMT		*st;
	unsigned long		 clen, elen, nlen, hlen = strlen(s->holder);
	long long		 slot = s->slot;
	my_bool			 enull, unull, tnull, nnull;
	enum auth_status	 rc;

	memset(row, 0, sizeof(*row));
	if ((rc = rng_hex(row->claim, sizeof(row->claim),
	    MAILQ_TOKEN_HEX / 2)) != AUTH_OK)
		return rc;
	clen = strlen(row->claim);
	/* A row another sender is writing is skipped, not waited for. */
	if ((rc = db_exec(db, DB_Q_TXN_READ_COMMITTED, NULL, NULL)) !=
	    AUTH_OK)
		return rc;
	db_bind_str(&p[0], row->claim, &clen);
	db_time_from_epoch(&until, now + MAILQ_LEASE);
	db_bind_time(&p[1], &until);
	db_time_from_epoch(&tnow, now);
	db_bind_time(&p[2], &tnow);
	db_bind_time(&p[3], &tnow);
	db_bind_llong(&p[4], &slot);
	db_bind_str(&p[5], s->holder, &hlen);
	if ((rc = db_exec(db, DB_Q_MAILQ_CLAIM, p, NULL)) != AUTH_OK)
		return rc;
	if (db_affected(db, DB_Q_MAILQ_CLAIM) != 1)
		return AUTH_ERR_NOT_FOUND;

	db_bind_str(&p[0], row->claim, &clen);
	if ((rc = db_exec(db, DB_Q_MAILQ_CLAIMED, p, &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&r[0], &row->id);
	db_bind_out_str(&r[1], row->email, sizeof(row->email), &elen, &enull);
	db_bind_llong(&r[2], &row->user_id);
	r[2].is_null = &unull;
	db_bind_llong(&r[3], &row->token_id);
	r[3].is_null = &tnull;
	db_bind_out_str(&r[4], row->nonce, sizeof(row->nonce), &nlen, &nnull);
	db_bind_time(&r[5], &expires);
	db_bind_int(&r[6], &row->attempts);
	if ((rc = db_fetch_one(db, st, r)) != AUTH_OK)
		return rc == AUTH_ERR_NOT_FOUND ? AUTH_ERR_DB : rc;
	row->expires_at = db_time_to_epoch(&expires);
	row->is_request = !enull;
	if (!row->is_request && (unull || tnull || nnull)) {
		log_err("courier", "malformed queue row=%lld", row->id);
		return AUTH_ERR_DB;
	}
	return AUTH_OK;
}

/*
 * Turn the claimed request row into the message of the code of account
 * user_id (passwordresettoken row token_id, derived from nonce), due at
 * now, dropped after expires.  Call it in the transaction that writes the
 * code, and mailq_became_message() once that is committed.  Returns
 * AUTH_OK, AUTH_ERR_NOT_FOUND when the claim was lost, or a database
 * status.
 */
enum auth_status
mailq_to_message(struct db *db, const struct mailq_row *row,
    long long user_id, long long token_id, const char *nonce,
    long long expires, long long now)
{
	MYSQL_BIND		 p[7];
	MYSQL_TIME		 texp, tnow;
	unsigned long		 nlen = strlen(nonce), clen = strlen(row->claim);
	long long		 id = row->id;
	enum auth_status	 rc;

	db_bind_llong(&p[0], &user_id);
	db_bind_llong(&p[1], &token_id);
	db_bind_str(&p[2], nonce, &nlen);
	db_time_from_epoch(&texp, expires);
	db_bind_time(&p[3], &texp);
	db_time_from_epoch(&tnow, now);
	db_bind_time(&p[4], &tnow);
	db_bind_llong(&p[5], &id);
	db_bind_str(&p[6], row->claim, &clen);
	if ((rc = db_exec(db, DB_Q_MAILQ_TO_MESSAGE, p, NULL)) != AUTH_OK)
		return rc;
	return db_affected(db, DB_Q_MAILQ_TO_MESSAGE) == 1 ? AUTH_OK :
	    AUTH_ERR_NOT_FOUND;
}

/*
 * Make row, whose mailq_to_message() was committed, what the database
 * now holds.
 */
void
mailq_became_message(struct mailq_row *row, long long user_id,
    long long token_id, const char *nonce, long long expires)
{

	row->is_request = 0;
	OPENSSL_cleanse(row->email, sizeof(row->email));
	row->user_id = user_id;
	row->token_id = token_id;
	(void)snprintf(row->nonce, sizeof(row->nonce), "%s", nonce);
	row->expires_at = expires;
	row->attempts = 0;
}

/*
 * Delete the claimed row: sent, or dropped.  Returns AUTH_OK,
 * AUTH_ERR_NOT_FOUND when the claim was lost, or a database status.
 */
enum auth_status
mailq_done(struct db *db, const struct mailq_row *row)
{
	MYSQL_BIND		 p[2];
	unsigned long		 clen = strlen(row->claim);
	long long		 id = row->id;
	enum auth_status	 rc;

	db_bind_llong(&p[0], &id);
	db_bind_str(&p[1], row->claim, &clen);
	if ((rc = db_exec(db, DB_Q_MAILQ_DELETE, p, NULL)) != AUTH_OK)
		return rc;
	return db_affected(db, DB_Q_MAILQ_DELETE) == 1 ? AUTH_OK :
	    AUTH_ERR_NOT_FOUND;
}

/*
 * Give the claimed row back, with its row->attempts, due again at the
 * epoch second next.  Returns AUTH_OK, AUTH_ERR_NOT_FOUND when the claim
 * was lost, or a database status.
 */
enum auth_status
mailq_retry(struct db *db, struct mailq_row *row, long long next)
{
	MYSQL_BIND		 p[4];
	MYSQL_TIME		 tnext;
	unsigned long		 clen = strlen(row->claim);
	enum auth_status	 rc;

	db_bind_int(&p[0], &row->attempts);
	db_time_from_epoch(&tnext, next);
	db_bind_time(&p[1], &tnext);
	db_bind_llong(&p[2], &row->id);
	db_bind_str(&p[3], row->claim, &clen);
	if ((rc = db_exec(db, DB_Q_MAILQ_RETRY, p, NULL)) != AUTH_OK)
		return rc;
	return db_affected(db, DB_Q_MAILQ_RETRY) == 1 ? AUTH_OK :
	    AUTH_ERR_NOT_FOUND;
}

/*
 * Count the rows of the queue, claimed or not, into *count, and set *next
 * to the earliest epoch second at which one of them can be claimed (0
 * when the queue is empty); with a slot s (may be NULL), set *held to
 * whether we still hold it, in the same round trip.  Returns AUTH_OK or
 * a database status.
 */
enum auth_status
mailq_pending(struct db *db, const struct mailq_slot *s, long long *count,
    long long *next, int *held)
{
	MYSQL_BIND		 p[2], r[3];
	MYSQL_TIME		 t;
	MYSQL_STMT		*st;
	my_bool			 tnull = 1;
	unsigned long		 hlen = s != NULL ? strlen(s->holder) : 0;
	long long		 slot = s != NULL ? s->slot : 0, mine = 0;
	enum auth_status	 rc;

	*count = 0;
	*next = 0;
	if (held != NULL)
		*held = 0;
	db_bind_llong(&p[0], &slot);
	db_bind_str(&p[1], s != NULL ? s->holder : "", &hlen);
	if ((rc = db_exec(db, DB_Q_MAILQ_PENDING, p, &st)) != AUTH_OK)
		return rc;
	db_bind_llong(&r[0], count);
	db_bind_time(&r[1], &t);
	r[1].is_null = &tnull;
	db_bind_llong(&r[2], &mine);
	if ((rc = db_fetch_one(db, st, r)) != AUTH_OK)
		return rc == AUTH_ERR_NOT_FOUND ? AUTH_ERR_DB : rc;
	if (!tnull)
		*next = db_time_to_epoch(&t);
	if (held != NULL)
		*held = mine == 1;
	return AUTH_OK;
}

/*
 * Read what the claimed message row is sent with: the account's address
 * and username as stored, whether the account is active, and whether its
 * code is still the one to send (unused, not retired by a newer code or a
 * reset) and until when.  Returns AUTH_OK, AUTH_ERR_NOT_FOUND when the
 * code or the account is gone, or a database status.
 */
enum auth_status
mailq_message(struct db *db, const struct mailq_row *row,
    struct mailq_message *m)
{
	MYSQL_BIND		 p[2], r[5];
	MYSQL_TIME		 expires;
	MYSQL_STMT		*st;
	unsigned long		 elen, ulen;
	long long		 token = row->token_id, uid = row->user_id;
	enum auth_status	 rc;

	memset(m, 0, sizeof(*m));
	db_bind_llong(&p[0], &token);
	db_bind_llong(&p[1], &uid);
	if ((rc = db_exec(db, DB_Q_MAILQ_MESSAGE, p, &st)) != AUTH_OK)
		return rc;
	db_bind_out_str(&r[0], m->email, sizeof(m->email), &elen, NULL);
	db_bind_out_str(&r[1], m->username, sizeof(m->username), &ulen,
	    NULL);
	db_bind_int(&r[2], &m->active);
	db_bind_int(&r[3], &m->used);
	db_bind_time(&r[4], &expires);
	if ((rc = db_fetch_one(db, st, r)) != AUTH_OK)
		return rc;
	m->expires_at = db_time_to_epoch(&expires);
	return AUTH_OK;
}

/*
 * Return the seconds to wait before the next try of a message that has
 * failed attempts times: 2, 4, 8, 16, 32, then MAILQ_BACKOFF_MAX (0
 * before any failure).
 */
long
mailq_backoff(int attempts)
{

	if (attempts <= 0)
		return 0;
	if (attempts >= 6)
		return MAILQ_BACKOFF_MAX;
	return 1L << attempts;
}
