/* SPDX-License-Identifier: ISC */
/*
 * The benchmark's bcrypt limit: how many bcrypt hashes of a given cost
 * this machine computes per second on all its cores, with the library
 * and call the programs use (libxcrypt's crypt_rn, $2b$).  No program
 * that hashes a password per request can answer faster than this.
 *
 * usage: bcrypt-rate cost seconds processes
 * prints one line: "hashes_per_second=R hashes=N seconds=S processes=P"
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long
rate_arg(const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	return v;
}

static double
rate_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Hash until seconds have passed; return the count (or -1). */
static long
rate_child(long cost, long seconds)
{
	static struct crypt_data	 data;
	char				 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char			*h;
	double				 end;
	long				 n = 0;

	if (crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, setting,
	    sizeof(setting)) == NULL)
		return -1;
	end = rate_now() + (double)seconds;
	do {
		h = crypt_rn("correct horse battery staple", setting, &data,
		    sizeof(data));
		if (h == NULL || *h == '*')
			return -1;
		n++;
	} while (rate_now() < end);
	return n;
}

int
main(int argc, char *argv[])
{
	int	 fds[2], status;
	long	 cost, seconds, procs, i, n, total = 0;
	double	 start, took;
	pid_t	 pid;

	if (argc != 4 || (cost = rate_arg(argv[1], 4, 31)) == -1 ||
	    (seconds = rate_arg(argv[2], 1, 3600)) == -1 ||
	    (procs = rate_arg(argv[3], 1, 1024)) == -1) {
		(void)fprintf(stderr, "usage: bcrypt-rate cost seconds "
		    "processes\n");
		return 2;
	}
	if (pipe(fds) == -1)
		return 1;
	start = rate_now();
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) == -1)
			return 1;
		if (pid == 0) {
			n = rate_child(cost, seconds);
			if (write(fds[1], &n, sizeof(n)) != (ssize_t)sizeof(n))
				_exit(1);
			_exit(n == -1);
		}
	}
	(void)close(fds[1]);
	for (i = 0; i < procs; i++) {
		if (read(fds[0], &n, sizeof(n)) != (ssize_t)sizeof(n) ||
		    n == -1) {
			(void)fprintf(stderr, "bcrypt-rate: a child failed\n");
			return 1;
		}
		total += n;
	}
	while (wait(&status) > 0)
		continue;
	took = rate_now() - start;
	(void)printf("hashes_per_second=%.2f hashes=%ld seconds=%.2f "
	    "processes=%ld\n", (double)total / took, total, took, procs);
	return 0;
}
