/* SPDX-License-Identifier: ISC */
/*
 * Mail: one plain-text message to one recipient, over SMTP with libcurl
 * or, for development and tests, into an outbox directory as .eml files.
 */
#ifndef AUTH_MAIL_H
#define AUTH_MAIL_H

#include <stddef.h>

#include "status.h"

struct cfg;

/*
 * Only the sender (courier.c, in auth-cleanup) links this file and with
 * it libcurl: the answering programs never load it.
 */

#define MAIL_MAX	8192	/* bytes of a formatted message */

/* mail.c */
enum auth_status mail_init(void);
void		 mail_close(void);
int		 mail_header_ok(const char *);
enum auth_status mail_format(const struct cfg *, const char *, const char *,
		    const char *, long long, char *, size_t);
enum auth_status mail_send(const struct cfg *, const char *, const char *,
		    const char *, const char *);
void		 mail_line_text(char *, size_t, const char *, size_t);

#endif /* !AUTH_MAIL_H */
