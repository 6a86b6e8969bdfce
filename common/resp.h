/* SPDX-License-Identifier: ISC */
/*
 * Responses: every answer, success or error, is written by one function
 * with the same security headers, in FastAPI's JSON shape.
 */
#ifndef AUTH_RESP_H
#define AUTH_RESP_H

struct json_object;
struct req;

/* resp.c */
int	 resp_add(struct json_object *, const char *, struct json_object *);
int	 resp_append(struct json_object *, struct json_object *);
void	 resp_text(struct req *, int, const char *, const char *const *);
void	 resp_json(struct req *, int, struct json_object *,
	    const char *const *);
void	 resp_error(struct req *, int, const char *);
void	 resp_error_headers(struct req *, int, const char *,
	    const char *const *);
void	 resp_invalid(struct req *);
void	 resp_field(struct req *, int, const char *, const char *);
void	 resp_bare(struct req *, int, const char *const *);
const char *resp_reason(int);

#endif /* !AUTH_RESP_H */
