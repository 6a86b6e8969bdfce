/* SPDX-License-Identifier: ISC */
/*
 * A minimal Test Anything Protocol emitter for the unit tests: each check
 * prints "ok N - what" or "not ok N - what"; tap_done() prints the plan
 * and returns the exit status (0 only when every check passed).
 */
#ifndef AUTH_TAP_H
#define AUTH_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count;
static int tap_failed;

static void tap_ok(int, const char *, ...)
    __attribute__((format(printf, 2, 3), unused));
static int tap_done(void) __attribute__((unused));
static void tap_diag(const char *, ...)
    __attribute__((format(printf, 1, 2), unused));
static void tap_skip(int, const char *, ...)
    __attribute__((format(printf, 2, 3), unused));

static void
tap_ok(int cond, const char *fmt, ...)
{
	va_list	 ap;

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void
tap_diag(const char *fmt, ...)
{
	va_list	 ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/*
 * Count n checks that cannot run here as skipped, saying why.
 */
static void
tap_skip(int n, const char *fmt, ...)
{
	va_list	 ap;

	while (n-- > 0) {
		printf("ok %d # SKIP ", ++tap_count);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
	fflush(stdout);
}

static int
tap_done(void)
{

	printf("1..%d\n", tap_count);
	return tap_failed == 0 ? 0 : 1;
}

#endif /* !AUTH_TAP_H */
