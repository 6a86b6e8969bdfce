/* SPDX-License-Identifier: ISC */
/*
 * The request front end: everything a program learns from the client
 * passes through here first, is bounded before it is read and checked in
 * one place, in the order the API documents.
 */
#ifndef AUTH_REQ_H
#define AUTH_REQ_H

#include <stddef.h>
#include <time.h>

#define REQ_BODY_MAX	16384	/* bytes; larger bodies get 413 */
#define REQ_JSON_DEPTH	8

struct client_proxies;
struct json_object;

/*
 * How a request reaches the program: FastCGI, plain CGI, or a unit test.
 * param returns a borrowed string or NULL; read returns the bytes read,
 * 0 at end of input, -1 on error; write returns 0 or -1.
 */
struct req_io {
	const char	*(*param)(void *, const char *);
	long		 (*read)(void *, char *, size_t);
	int		 (*write)(void *, const char *, size_t);
	void		*arg;
};

/*
 * One request.  Everything here is owned by the request and released by
 * req_free(); strings from io.param are borrowed and die with the
 * request.
 */
struct req {
	struct req_io		 io;
	struct timespec		 start;
	const char		*method;	/* REQUEST_METHOD or "" */
	char			 client[64];	/* see client_address() */
	char			*body;		/* NUL-terminated copy */
	size_t			 bodylen;
	size_t			 bodysize;	/* allocated, wiped whole */
	struct json_object	*json;		/* parsed body: an object */
	struct json_object	*errors;	/* 422 details, or NULL */
	size_t			 ninvalid;	/* details recorded or lost */
	int			 status;	/* answered status, 0 if none */
	void			(*after)(void *); /* run once answered */
	void			*after_arg;	/* not owned by the request */
};

/* req.c */
void		 req_init(struct req *, const struct req_io *,
		    const struct client_proxies *);
int		 req_route(struct req *, const char *);
int		 req_read_json(struct req *);
int		 req_check_method(struct req *, const char *);
const char	*req_param(struct req *, const char *);
const char	*req_string(struct req *, const char *, size_t *);
int		 req_bool(struct req *, const char *, int, int *);
void		 req_invalid(struct req *, const char *, const char *,
		    const char *);
int		 req_has_errors(const struct req *);
void		 req_after(struct req *, void (*)(void *), void *);
long		 req_elapsed_ms(const struct req *);
void		 req_free(struct req *);

#endif /* !AUTH_REQ_H */
