/* SPDX-License-Identifier: ISC */
/*
 * Cross-origin requests from a browser front end served elsewhere, as
 * Starlette's CORSMiddleware answered them for the FastAPI backend:
 * preflights answered by the program, and the allowed origin named in
 * every answer to it.  Off unless CORS_ALLOW_ORIGINS is set.
 */
#ifndef AUTH_CORS_H
#define AUTH_CORS_H

#include <stddef.h>

#include "status.h"

#define CORS_ORIGIN_MAX		256	/* bytes of one allowed origin */
#define CORS_HEADERS_MAX	256	/* bytes of CORS_ALLOW_HEADERS */

struct cfg;
struct req;

/* cors.c */
enum auth_status cors_check_origins(char *, long, char *, size_t);
enum auth_status cors_check_headers(const char *, char *, size_t);
int		 cors_begin(const struct cfg *, struct req *);
void		 cors_preflight(const struct cfg *, struct req *,
		    const char *);

#endif /* !AUTH_CORS_H */
