/* SPDX-License-Identifier: ISC */
/*
 * What the fuzz targets share: a fake web server that feeds a request to
 * the front end and keeps what the program writes, and checks written
 * apart from the code under test (an "oracle"), so that a target can say
 * what must hold of any input, not only that nothing crashed.  A broken
 * property prints one line and aborts, which libFuzzer reports as a
 * crash and keeps as a reproducer.
 */
#ifndef AUTH_FUZZ_ORACLE_H
#define AUTH_FUZZ_ORACLE_H

#include <stddef.h>

#define ORACLE_PARAMS_MAX	16
#define ORACLE_OUT_MAX		65536

struct json_object;
struct req_io;

/*
 * A fake web server: CGI parameters (the first of a name wins, as
 * FCGX_GetParam), a body handed out at most chunk bytes per read (0: as
 * much as asked) that fails after fail_at bytes (0: never), and what the
 * program writes, with counts to check what the front end read.
 */
struct oracle_io {
	const char	*names[ORACLE_PARAMS_MAX];
	const char	*values[ORACLE_PARAMS_MAX];
	size_t		 nparams;
	const char	*body;
	size_t		 bodylen;
	size_t		 chunk;
	size_t		 fail_at;
	size_t		 pos;		/* body bytes handed out */
	size_t		 writes;	/* write calls */
	int		 overflow;	/* more written than out holds */
	char		 out[ORACLE_OUT_MAX];
	size_t		 outlen;
};

/* One response, as oracle_response() found it. */
struct oracle_resp {
	int			 status;
	int			 allow_post;	/* had "Allow: POST" */
	struct json_object	*json;		/* the body; owned */
};

/* oracle.c */
void		 oracle_fail(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
void		 oracle_io_init(struct oracle_io *, struct req_io *);
int		 oracle_io_add(struct oracle_io *, const char *, const char *);
const char	*oracle_io_get(const struct oracle_io *, const char *);
void		 oracle_response(const struct oracle_io *,
		    struct oracle_resp *);
void		 oracle_resp_free(struct oracle_resp *);
int		 oracle_json_refused(const char *, size_t);
size_t		 oracle_json_depth(const char *, size_t);
int		 oracle_address(const char *);
int		 oracle_control(const char *);
int		 LLVMFuzzerInitialize(int *, char ***);

/* A target's own set-up, run once before the first input; optional. */
void		 oracle_setup(void) __attribute__((weak));

#endif /* !AUTH_FUZZ_ORACLE_H */
