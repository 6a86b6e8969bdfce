/* SPDX-License-Identifier: ISC */
/*
 * The mail queue in the database (auth_mail_queue, auth_mail_slot):
 * forgot-password's requests, the messages they become, the claims and
 * retries of the senders, the slots that bound how many senders run at
 * once over every host, and waking a sender.  Nothing here links libcurl:
 * the answering programs use this file, the sender (courier.c) the rest.
 */
#ifndef AUTH_MAILQ_H
#define AUTH_MAILQ_H

#include "otp.h"
#include "status.h"
#include "valid.h"

struct cfg;
struct db;

#define MAILQ_LEASE		60	/* s: a claim, or a sender's slot */
#define MAILQ_RESERVE		15	/* s: a slot kept for a sender starting */
#define MAILQ_BACKOFF_MAX	60	/* s: the longest wait between tries */
#define MAILQ_TOKEN_HEX		32	/* claims and slot holders: 16 bytes */

/* One claimed row of the queue: a request, or a message. */
struct mailq_row {
	long long	 id;
	char		 claim[MAILQ_TOKEN_HEX + 1];
	int		 is_request;	/* email set, no code yet */
	char		 email[VALID_EMAIL_LOOKUP_MAX + 1]; /* request only */
	long long	 user_id;			/* message only */
	long long	 token_id;			/* message only */
	char		 nonce[OTP_NONCE_HEX + 1];	/* message only */
	long long	 expires_at;	/* epoch s: drop it after this */
	int		 attempts;	/* tries to send so far */
};

/* user.email and user.username: VARCHAR(255) in utf8mb4. */
#define MAILQ_TEXT_MAX		1020

/* What a message is sent with, read when it is sent. */
struct mailq_message {
	char		 email[MAILQ_TEXT_MAX + 1];	/* as stored */
	char		 username[MAILQ_TEXT_MAX + 1];
	int		 active;	/* the account */
	int		 used;		/* the code: used or retired */
	long long	 expires_at;	/* the code, epoch s */
};

/* When mailq_wake() starts a sender. */
enum mailq_wake_how {
	MAILQ_WAKE_IDLE,	/* a request: only if no sender is at work */
	MAILQ_WAKE_HELPER,	/* a sender with a backlog: if a slot is free */
	MAILQ_WAKE__MAX
};

/* A slot a sender holds. */
struct mailq_slot {
	int		 slot;		/* 1 to MAIL_DELIVERY_SLOTS; 0: none */
	char		 holder[MAILQ_TOKEN_HEX + 1];
	long long	 renewed;	/* epoch s of the last renewal */
};

/* mailq.c */
enum auth_status mailq_request(struct db *, const struct cfg *, const char *,
		    long long);
enum auth_status mailq_wake(struct db *, const struct cfg *, long long,
		    enum mailq_wake_how);
enum auth_status mailq_slot_take(struct db *, const struct cfg *, long long,
		    struct mailq_slot *);
enum auth_status mailq_slot_handover(struct db *, int, const char *,
		    long long, struct mailq_slot *);
enum auth_status mailq_slot_renew(struct db *, struct mailq_slot *,
		    long long);
enum auth_status mailq_slot_release(struct db *, struct mailq_slot *);
enum auth_status mailq_claim(struct db *, const struct mailq_slot *,
		    long long, struct mailq_row *);
enum auth_status mailq_to_message(struct db *, const struct mailq_row *,
		    long long, long long, const char *, long long, long long);
void		 mailq_became_message(struct mailq_row *, long long, long long,
		    const char *, long long);
enum auth_status mailq_done(struct db *, const struct mailq_row *);
enum auth_status mailq_retry(struct db *, struct mailq_row *, long long);
enum auth_status mailq_pending(struct db *, const struct mailq_slot *,
		    long long *, long long *, int *);
enum auth_status mailq_message(struct db *, const struct mailq_row *,
		    struct mailq_message *);
long		 mailq_backoff(int);

#endif /* !AUTH_MAILQ_H */
