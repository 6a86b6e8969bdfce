/* SPDX-License-Identifier: ISC */
/*
 * A fake web server for unit tests of code that answers requests: no
 * parameters, no body, and everything written kept in capture_out.
 * capture_io is a struct req_io for req_init(); capture_reset() empties
 * the buffer.
 */
#ifndef AUTH_CAPTURE_H
#define AUTH_CAPTURE_H

#include <stdio.h>
#include <string.h>

#include "req.h"

static char	 capture_out[8192];
static size_t	 capture_len;

static const char *
capture_param(void *arg, const char *name)
{

	(void)arg;
	(void)name;
	return NULL;
}

static long
capture_read(void *arg, char *buf, size_t n)
{

	(void)arg;
	(void)buf;
	(void)n;
	return 0;
}

static int
capture_write(void *arg, const char *buf, size_t n)
{

	(void)arg;
	if (n >= sizeof(capture_out) - capture_len)
		return -1;
	memcpy(capture_out + capture_len, buf, n);
	capture_len += n;
	capture_out[capture_len] = '\0';
	return 0;
}

static const struct req_io capture_io = {
	capture_param, capture_read, capture_write, NULL
};

static void __attribute__((unused))
capture_reset(void)
{

	capture_len = 0;
	capture_out[0] = '\0';
}

/*
 * Return 1 if the head of the captured answer has the header line h.
 */
static int __attribute__((unused))
capture_has(const char *h)
{
	char		 want[512];
	const char	*end = strstr(capture_out, "\r\n\r\n");

	(void)snprintf(want, sizeof(want), "\r\n%s\r\n", h);
	return end != NULL && strstr(capture_out, want) != NULL &&
	    strstr(capture_out, want) < end + 2;
}

#endif /* !AUTH_CAPTURE_H */
