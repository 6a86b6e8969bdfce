/* SPDX-License-Identifier: ISC */
/*
 * The mail sender.  It runs as auth-cleanup --deliver, started detached
 * by forgot-password (mailq_wake()), and inside every auth-cleanup run
 * from cron, so that no message depends on one process staying alive.
 *
 * A run holds one slot of auth_mail_slot (at most MAIL_DELIVERY_SLOTS
 * runs at once over every host; a run with rows waiting behind the one it
 * works on starts a helper into a free slot) and, until the queue has
 * nothing it can claim, claims one row at a time: a request is settled with reset.c
 * (the code and its message written in one transaction, or the request
 * dropped: unknown address, cooldown, hourly cap); a message is sent to
 * the address as stored, then deleted, or tried again after a backoff of
 * 2, 4, 8, 16, 32 and then 60 seconds while its code is valid, or
 * dropped when the code has expired, was retired by a newer one or used.
 * While rows wait for a retry, and for two seconds once the queue is
 * empty, the run stays, looking at the queue four times a second (new
 * requests find a sender at work and count on that); then it gives its
 * slot back and looks once more, so that no request is left behind.
 *
 * New requests count on a held slot even when its holder has lost the
 * database (killed, restarted, frozen): so a waiting sender (--deliver)
 * that loses it with its slot held, or cannot reach it to take over the
 * slot reserved for it, does not leave while the lease lasts.  It tries
 * again once a second, quietly (a line when the database goes, one when
 * it is back), and once the database answers and the slot is still ours
 * it goes on with the queue, sending what came in meanwhile; when the
 * lease runs out first, it stops (the next request starts a sender).
 * Any other database failure ends the run.  Either way the row it held
 * is claimed again once its claim runs out.  Each try, and each
 * message's end, is one log line naming the account, never the code.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cfg.h"
#include "courier.h"
#include "db.h"
#include "log.h"
#include "mail.h"
#include "mailq.h"
#include "otp.h"
#include "reset.h"

#define COURIER_SUBJECT		"Your password reset code"
#define COURIER_BODY_MAX	2048
#define COURIER_POLL_MS		250	/* looking at the queue, waiting */
#define COURIER_LINGER_MS	2000	/* staying on, the queue empty */
#define COURIER_AWAY_MS		1000	/* trying the database again */

/* One run, as it goes. */
struct courier {
	struct db			*db;
	const struct cfg		*cfg;
	const struct courier_opts	*opts;
	struct courier_stats		*stats;
	struct mailq_slot		 slot;
	struct timespec			 start;
	long long			 started;	/* epoch s */
	long long			 recruited;	/* epoch s */
	int				 lost;	/* our slot was taken */
};

/*
 * Write the text of the mail for an account named username (as stored:
 * anything, of any length) with code into out (outsz bytes): what the
 * code is for, how long it lasts, what to do if the reset was not asked
 * for.  The greeting holds at most COURIER_NAME_CHARS characters of the
 * name, control characters and broken UTF-8 replaced: no name can stop
 * the mail.  Returns AUTH_OK or AUTH_ERR_INVALID (out too small).
 */
enum auth_status
courier_body(const struct cfg *cfg, const char *username, const char *code,
    char *out, size_t outsz)
{
	char	 name[COURIER_NAME_CHARS * 4 + 4];
	int	 n;

	mail_line_text(name, sizeof(name), username != NULL ? username : "",
	    COURIER_NAME_CHARS);
	n = snprintf(out, outsz,
	    "Hello%s%s,\n"
	    "\n"
	    "Someone asked to reset the password of your account.  Your\n"
	    "password reset code is:\n"
	    "\n"
	    "    %s\n"
	    "\n"
	    "It expires in %ld minutes and works once.\n"
	    "\n"
	    "If you did not ask for a password reset, ignore this mail:\n"
	    "your password stays as it is.\n",
	    name[0] != '\0' ? " " : "", name, code, cfg->otp_expire_minutes);
	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			OPENSSL_cleanse(out, outsz);
		return AUTH_ERR_INVALID;
	}
	return AUTH_OK;
}

/*
 * Return 1 when the run must not start anything new: asked to stop, or
 * past its time limit.
 */
static int
courier_over(const struct courier *c)
{
	struct timespec	 now;

	if (c->opts->stop != NULL && *c->opts->stop)
		return 1;
	if (c->opts->limit < 0 ||
	    clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		return 0;
	return now.tv_sec - c->start.tv_sec >= c->opts->limit;
}

/*
 * Delete the claimed row, given up on, and say why in one line.
 */
static enum auth_status
courier_drop(struct courier *c, const struct mailq_row *row,
    const char *why)
{
	enum auth_status	 rc;

	if (row->is_request)
		log_info("courier", "request dropped reason=%s request=%lld",
		    why, row->id);
	else {
		log_info("mail", "dropped reason=%s user=%lld attempts=%d",
		    why, row->user_id, row->attempts);
		c->stats->dropped++;
	}
	rc = mailq_done(c->db, row);
	/* AUTH_ERR_NOT_FOUND: the claim ran out, another sender has it. */
	return rc == AUTH_ERR_NOT_FOUND ? AUTH_OK : rc;
}

/*
 * Return why message m of row must not be sent at now (its code used or
 * retired by a newer one, the account disabled, the code expired), or
 * NULL when it may.
 */
static const char *
courier_stale(const struct mailq_message *m, const struct mailq_row *row,
    long long now)
{

	if (m->used)
		return "superseded";
	if (!m->active)
		return "disabled";
	if (m->expires_at <= now || row->expires_at <= now)
		return "expired";
	return NULL;
}

/*
 * Sleep ms milliseconds, or until a signal comes.
 */
static void
courier_sleep(long ms)
{
	struct timespec	 ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	(void)nanosleep(&ts, NULL);
}

/*
 * Return 1 if status rc says the database is away or too busy to answer
 * now (the connection was lost or cannot be made, a COMMIT's outcome was
 * lost with it, the server is read-only or not ready): it may come back.
 */
static int
courier_away(enum auth_status rc)
{

	return rc == AUTH_ERR_DB_UNAVAIL || rc == AUTH_ERR_DB_COMMIT_UNKNOWN;
}

/*
 * One try at holding our slot at now: take over the slot reserved for
 * us when we hold none yet, else renew ours at once (however recent the
 * last renewal: the answer says whether it is still ours).  Returns as
 * mailq_slot_handover() or mailq_slot_renew() do.
 */
static enum auth_status
courier_hold(struct courier *c, long long now)
{
	long long		 renewed = c->slot.renewed;
	enum auth_status	 rc;

	if (c->slot.slot == 0)
		return mailq_slot_handover(c->db, c->opts->slot,
		    c->opts->holder, now, &c->slot);
	c->slot.renewed = 0;
	if ((rc = mailq_slot_renew(c->db, &c->slot, now)) != AUTH_OK)
		c->slot.renewed = renewed;	/* the lease ends as it did */
	return rc;
}

/*
 * The database failed with status rc (courier_away()) while we hold our
 * slot, or its reservation: while that lease lasts, a request starts no
 * sender (mailq_wake()), counting on us, so we do not leave.  Try once
 * every COURIER_AWAY_MS to hold the slot again (courier_hold(): the next
 * statement reconnects), quietly: one line when the database goes, one
 * when it is back.  Give up when the lease has run out (the next request
 * then starts a sender: we are not needed) or the run is over.  Returns
 * AUTH_OK once the slot is ours again, renewed; AUTH_ERR_NOT_FOUND when
 * another sender has it; or the status that ended the wait.
 */
static enum auth_status
courier_outlast(struct courier *c, enum auth_status rc)
{
	long long	 now, until, since = (long long)time(NULL);

	until = c->slot.slot != 0 ? c->slot.renewed + MAILQ_LEASE :
	    c->started + MAILQ_RESERVE;
	if (until <= since)
		return rc;	/* over already: the slot is free to take */
	log_warn("courier", "database away status=%s slot=%d; trying again "
	    "for up to %lld s", auth_strerror(rc), c->slot.slot != 0 ?
	    c->slot.slot : c->opts->slot, until - since);
	db_quiet(c->db, 1);
	while (courier_away(rc) && !courier_over(c) &&
	    (long long)time(NULL) < until) {
		courier_sleep(COURIER_AWAY_MS);
		now = (long long)time(NULL);
		rc = courier_hold(c, now);
	}
	db_quiet(c->db, 0);
	if (rc == AUTH_OK)
		log_info("courier", "database back after %lld s slot=%d; going "
		    "on", (long long)time(NULL) - since, c->slot.slot);
	return rc;
}

/*
 * Send the claimed message row, once.  Returns AUTH_OK whatever the mail
 * server said (the row is deleted or given back for a retry), or a
 * database status.
 */
static enum auth_status
courier_send(struct courier *c, struct mailq_row *row, long long now)
{
	struct mailq_message	 m;
	char			 code[OTP_DIGITS + 1], body[COURIER_BODY_MAX];
	char			 ctx[96];
	const char		*stale;
	enum auth_status	 rc, sent;
	long long		 next;

	if ((rc = mailq_message(c->db, row, &m)) == AUTH_ERR_NOT_FOUND)
		return courier_drop(c, row, "gone");
	if (rc != AUTH_OK)
		return rc;
	if ((stale = courier_stale(&m, row, now)) != NULL) {
		rc = courier_drop(c, row, stale);
		goto out;
	}

	row->attempts++;
	(void)snprintf(ctx, sizeof(ctx), "user=%lld attempt=%d",
	    row->user_id, row->attempts);
	if ((rc = otp_code_from_nonce(row->user_id, row->id, row->nonce, code,
	    sizeof(code))) != AUTH_OK ||
	    (rc = courier_body(c->cfg, m.username, code, body,
	    sizeof(body))) != AUTH_OK)
		sent = rc;
	else
		sent = mail_send(c->cfg, m.email, COURIER_SUBJECT, body, ctx);
	OPENSSL_cleanse(code, sizeof(code));
	OPENSSL_cleanse(body, sizeof(body));
	if (sent == AUTH_OK) {
		c->stats->sent++;
		rc = mailq_done(c->db, row);
		/*
		 * Sent, but the database went away before the row was gone:
		 * delete it once it is back (the claim is still ours), or it
		 * would be sent again once the claim runs out.
		 */
		if (courier_away(rc) && c->opts->wait) {
			sent = courier_outlast(c, rc);
			rc = sent == AUTH_OK || sent == AUTH_ERR_NOT_FOUND ?
			    mailq_done(c->db, row) : sent;
		}
		if (rc == AUTH_ERR_NOT_FOUND) {
			log_warn("courier", "claim lost after sending user=%lld",
			    row->user_id);
			rc = AUTH_OK;
		}
		goto out;
	}
	c->stats->failed++;
	if (sent == AUTH_ERR_INVALID || sent == AUTH_ERR_CRYPTO) {
		/* No later try can build it either (logged). */
		rc = courier_drop(c, row, "unusable");
		goto out;
	}
	next = now + mailq_backoff(row->attempts);
	if (next >= row->expires_at || next >= m.expires_at)
		rc = courier_drop(c, row, "expired");
	else if ((rc = mailq_retry(c->db, row, next)) == AUTH_ERR_NOT_FOUND)
		rc = AUTH_OK;
out:
	OPENSSL_cleanse(&m, sizeof(m));
	return rc;
}

/*
 * Settle the claimed request row: a code and its message, sent at once,
 * or no code (logged).  Returns AUTH_OK or a database status.
 */
static enum auth_status
courier_request(struct courier *c, struct mailq_row *row, long long now)
{
	static const char *const why[RESET_ISSUE__MAX] = {
		"issued", /* RESET_ISSUED */
		"no-account", /* RESET_NO_ACCOUNT */
		"cooldown", /* RESET_COOLDOWN */
		"hourly-cap", /* RESET_HOURLY_CAP */
		"superseded", /* RESET_SUPERSEDED */
	};
	struct reset_issue	 out;
	enum auth_status	 rc;

	if ((rc = reset_issue(c->db, c->cfg, row, now, &out)) != AUTH_OK)
		return rc;
	c->stats->requests++;
	if (out.result == RESET_ISSUED) {
		log_info("courier", "code issued user=%lld request=%lld",
		    out.user_id, row->id);
		return courier_send(c, row, now);
	}
	if (out.result == RESET_NO_ACCOUNT && out.user_id != 0)
		log_info("courier", "no code reason=disabled user=%lld "
		    "request=%lld", out.user_id, row->id);
	else if (out.user_id != 0)
		log_info("courier", "no code reason=%s user=%lld request=%lld",
		    why[out.result], out.user_id, row->id);
	else
		log_info("courier", "no code reason=%s request=%lld",
		    why[out.result], row->id);
	return AUTH_OK;
}

/*
 * Return the milliseconds since the run started.
 */
static long long
courier_ms(const struct courier *c)
{
	struct timespec	 now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - c->start.tv_sec) * 1000 +
	    (now.tv_nsec - c->start.tv_nsec) / 1000000;
}

/*
 * With a row claimed at now: if another row can be claimed already (a
 * backlog), start a helper into a free slot, at most once a second.  A
 * failure is only logged: we go on alone.
 */
static void
courier_recruit(struct courier *c, long long now)
{
	long long	 count, next;

	if (!c->opts->recruit || now <= c->recruited)
		return;
	c->recruited = now;
	if (mailq_pending(c->db, NULL, &count, &next, NULL) == AUTH_OK &&
	    count > 1 &&
	    next <= now)
		(void)mailq_wake(c->db, c->cfg, now, MAILQ_WAKE_HELPER);
}

/*
 * The slot is no longer ours (its lease ran out, or it was taken back):
 * stop at once, claiming nothing more.
 */
static enum auth_status
courier_lost(struct courier *c)
{

	log_warn("courier", "slot=%d lost; stopping", c->slot.slot);
	c->slot.slot = 0;
	c->lost = 1;
	return AUTH_OK;
}

/*
 * Work through the queue with the slot held: claim and settle each due
 * row; while rows only wait for a retry, and for COURIER_LINGER_MS once
 * the queue is empty (when the run may wait), look again every
 * COURIER_POLL_MS: new requests count on that when a sender is at work.
 * Returns AUTH_OK when the queue holds nothing left to do, the run is
 * over, or the slot was lost (then c->slot.slot is 0); a database status
 * otherwise.
 */
static enum auth_status
courier_drain(struct courier *c)
{
	struct mailq_row	 row;
	enum auth_status	 rc;
	long long		 now, count, next, idle = -1;
	int			 held;

	while (!courier_over(c)) {
		now = (long long)time(NULL);
		if ((rc = mailq_slot_renew(c->db, &c->slot, now)) ==
		    AUTH_ERR_NOT_FOUND)
			return courier_lost(c);
		if (rc != AUTH_OK)
			return rc;
		if ((rc = mailq_claim(c->db, &c->slot, now, &row)) ==
		    AUTH_OK) {
			idle = -1;
			courier_recruit(c, now);
			if (row.expires_at <= now)
				rc = courier_drop(c, &row, "expired");
			else if (row.is_request)
				rc = courier_request(c, &row, now);
			else
				rc = courier_send(c, &row, now);
			OPENSSL_cleanse(&row, sizeof(row));
			if (rc != AUTH_OK)
				return rc;
			continue;
		}
		if (rc != AUTH_ERR_NOT_FOUND)
			return rc;
		if (!c->opts->wait)
			return AUTH_OK;
		if ((rc = mailq_pending(c->db, &c->slot, &count, &next,
		    &held)) != AUTH_OK)
			return rc;
		if (!held)
			return courier_lost(c);
		if (count > 0)
			idle = -1;
		else if (idle == -1)
			idle = courier_ms(c);
		else if (courier_ms(c) - idle >= COURIER_LINGER_MS)
			return AUTH_OK;
		courier_sleep(COURIER_POLL_MS);
	}
	return AUTH_OK;
}

/*
 * Run the sender with db and cfg as opts says, adding what it did to
 * *stats.  A run that may wait outlasts a database gone away while it
 * holds its slot or reservation (courier_outlast()).  Returns AUTH_OK
 * (also when every slot was taken, or the reservation was gone: others
 * are at work) or the database status that ended the run (the rows are
 * left for the next sender).
 */
enum auth_status
courier_run(struct db *db, const struct cfg *cfg,
    const struct courier_opts *opts, struct courier_stats *stats)
{
	struct courier		 c;
	enum auth_status	 rc;
	long long		 now, count, next;

	memset(&c, 0, sizeof(c));
	c.db = db;
	c.cfg = cfg;
	c.opts = opts;
	c.stats = stats;
	(void)clock_gettime(CLOCK_MONOTONIC, &c.start);
	c.started = (long long)time(NULL);
	if (courier_over(&c))
		return AUTH_OK;
	now = c.started;
	if (opts->slot != 0) {
		rc = courier_hold(&c, now);
		if (courier_away(rc) && opts->wait)
			rc = courier_outlast(&c, rc);
	} else
		rc = mailq_slot_take(db, cfg, now, &c.slot);
	for (;;) {
		if (rc == AUTH_ERR_NOT_FOUND) {
			/* Every slot is taken: their holders see the rows. */
			rc = AUTH_OK;
			break;
		}
		if (rc != AUTH_OK)
			break;
		rc = courier_drain(&c);
		if (rc == AUTH_OK)
			rc = mailq_slot_release(db, &c.slot);
		if (courier_away(rc) && c.slot.slot != 0 && opts->wait) {
			/* Back with the slot: on with the queue. */
			if ((rc = courier_outlast(&c, rc)) == AUTH_OK)
				continue;
			if (rc == AUTH_ERR_NOT_FOUND) {
				rc = courier_lost(&c);
				break;
			}
		}
		if (rc != AUTH_OK) {
			if (mailq_slot_release(db, &c.slot) != AUTH_OK)
				log_warn("courier", "cannot release slot=%d; "
				    "its lease will run out", c.slot.slot);
			break;
		}
		/*
		 * A slot taken from us has a holder who sees the rows (or
		 * was taken back on purpose): we do not come back.
		 */
		if (c.lost || courier_over(&c))
			break;
		/* Whatever came in while we were giving the slot back. */
		now = (long long)time(NULL);
		if ((rc = mailq_pending(db, NULL, &count, &next, NULL)) !=
		    AUTH_OK ||
		    count == 0 || (!opts->wait && next > now))
			break;
		rc = mailq_slot_take(db, cfg, now, &c.slot);
	}
	/* The mail server's connection, kept between messages. */
	mail_close();
	if (rc != AUTH_OK)
		log_err("courier", "stopped status=%s", auth_strerror(rc));
	return rc;
}
