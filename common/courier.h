/* SPDX-License-Identifier: ISC */
/*
 * The mail sender: settles queued password-recovery requests and sends
 * their messages, run by auth-cleanup (--deliver, or from cron).
 */
#ifndef AUTH_COURIER_H
#define AUTH_COURIER_H

#include <signal.h>
#include <stddef.h>

#include "status.h"

struct cfg;
struct db;

/* How one run goes. */
struct courier_opts {
	int			 slot;	/* reserved for us; 0: take a free one */
	const char		*holder; /* the reservation's holder name */
	int			 wait;	/* stay while a message waits a retry,
					   and linger once the queue is empty */
	int			 recruit; /* start helpers for a backlog */
	long			 limit;	/* seconds the run may take; -1: none */
	volatile sig_atomic_t	*stop;	/* set by a signal: finish up */
};

/* What one run did. */
struct courier_stats {
	unsigned long long	 requests;	/* requests settled */
	unsigned long long	 sent;		/* messages sent */
	unsigned long long	 failed;	/* tries that failed */
	unsigned long long	 dropped;	/* messages given up */
};

#define COURIER_NAME_CHARS	64	/* of a username in the greeting */

/* courier.c */
enum auth_status courier_run(struct db *, const struct cfg *,
		    const struct courier_opts *, struct courier_stats *);
enum auth_status courier_body(const struct cfg *, const char *,
		    const char *, char *, size_t);

#endif /* !AUTH_COURIER_H */
