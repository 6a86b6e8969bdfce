/* SPDX-License-Identifier: ISC */
/*
 * What every program shares: start-up (configuration, database), the
 * FastCGI accept loop or a single plain-CGI request, and the per-request
 * log line.  An endpoint's main() only names its handler.
 */
#ifndef AUTH_APP_H
#define AUTH_APP_H

#include <stddef.h>

#include "cfg.h"
#include "db.h"

struct req;

struct app {
	const char	*prog;
	struct cfg	 cfg;
	struct db	*db;
	void		*data;		/* the endpoint's own state */
};

/* struct app_endpoint flags */
#define APP_BCRYPT	0x01	/* spends bcrypt: runs at BCRYPT_NICE */
#define APP_ANY_PATH	0x02	/* answers for any path: no req_route() */
#define APP_QUIET	0x04	/* no request line for an answer below 400 */
#define APP_LAZY_DB	0x08	/* connect at the first statement, not start */

/*
 * An endpoint: its program's name (auth-NAME answers the URL path that
 * ends in NAME, see req_route()), an optional once-per-process init
 * returning 0 or -1, the handler, which must answer the request exactly
 * once, the methods of a program that takes no body (NULL: POST with a
 * JSON body, read by req_read_json()), and flags.  (Statements are
 * prepared when a request first uses them: db.c.)  Programs fill it with
 * designated initializers, so that a new field needs no edit where it is
 * not used.
 */
struct app_endpoint {
	const char		*prog;
	int			(*init)(struct app *);
	void			(*handle)(struct app *, struct req *);
	const char		*allow;		/* no body: "GET, HEAD", "*" */
	unsigned int		 flags;		/* APP_* */
};

struct req_io;
struct throttle_hit;

/* app.c */
int	 app_main(const struct app_endpoint *);
void	 app_openssl_init(const struct cfg *);
void	 app_serve(struct app *, const struct app_endpoint *,
	    const struct req_io *, void (**)(void *), void **);
void	 app_fail(struct req *, enum auth_status);
int	 app_throttle(struct app *, struct req *, const struct throttle_hit *,
	    size_t);

#endif /* !AUTH_APP_H */
