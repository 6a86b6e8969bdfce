/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/mailq.c without a database: the retry schedule.
 * The queue itself runs against MariaDB in tests/endpoint (test_recovery,
 * test_mail, test_cleanup).
 */
#include "config.h"

#include "mailq.h"
#include "tap.h"

int
main(void)
{
	static const struct {
		int	 attempts;
		long	 wait;
	} schedule[] = {
		{ -1, 0 }, { 0, 0 }, { 1, 2 }, { 2, 4 }, { 3, 8 }, { 4, 16 },
		{ 5, 32 }, { 6, 60 }, { 7, 60 }, { 100, 60 }, { 1 << 30, 60 },
	};
	long	 total = 0;
	size_t	 i;
	int	 n;

	for (i = 0; i < sizeof(schedule) / sizeof(schedule[0]); i++)
		tap_ok(mailq_backoff(schedule[i].attempts) == schedule[i].wait,
		    "after %d failed tries, wait %ld s", schedule[i].attempts,
		    schedule[i].wait);
	/* A server down for 10 s: the first try after it is back comes
	 * within 8 s of its return. */
	for (n = 1; total < 10; n++)
		total += mailq_backoff(n);
	tap_ok(total - 10 <= 8, "down 10 s: the next try %ld s after the "
	    "server is back", total - 10);
	/* A 30-minute code is tried about 34 times before it expires. */
	for (n = 1, total = 0; total < 30 * 60; n++)
		total += mailq_backoff(n);
	tap_ok(n > 30 && n < 40, "a 30-minute code: %d tries", n - 1);
	tap_ok(MAILQ_LEASE > 30 + 10, "a claim outlives a whole SMTP "
	    "session (30 s) and the database work around it");
	return tap_done();
}
