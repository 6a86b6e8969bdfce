/* SPDX-License-Identifier: ISC */
/*
 * Watch the heap of a unit test: this program's own malloc(), realloc()
 * and free() replace the C library's for every library it uses (json-c,
 * OpenSSL ...), and hand the work on to glibc's __libc_malloc() and
 * __libc_free().  Two things can then be tested that cannot be seen
 * otherwise:
 *	- whether a secret is left behind in freed memory: every block is
 *	  searched for memwatch_needle when it is freed (and realloc() always
 *	  moves, so that the block it leaves is searched too), and
 *	  memwatch_found counts the blocks that still held it;
 *	- what code does when memory runs out: memwatch_fail_in = N makes
 *	  the Nth malloc() from now fail, once.
 * memwatch_ok is 0 where the replacement cannot work: under
 * AddressSanitizer, which brings its own allocator; checks that need it
 * are then skipped.  Include this from one test program only (it defines
 * malloc, realloc and free).
 */
#ifndef AUTH_MEMWATCH_H
#define AUTH_MEMWATCH_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMWATCH_OFF	1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MEMWATCH_OFF	1
#endif

static const char	*memwatch_needle;	/* NULL: search nothing */
static unsigned long	 memwatch_found;
static long		 memwatch_fail_in;	/* 0: never fail */

#ifdef MEMWATCH_OFF
static const int	 memwatch_ok = 0;
#else
static const int	 memwatch_ok = 1;

/* glibc's allocator under its own names (exported since 2.2.5). */
extern void	*__libc_malloc(size_t);
extern void	 __libc_free(void *);
extern size_t	 malloc_usable_size(void *);

void	*malloc(size_t);
void	*realloc(void *, size_t);
void	 free(void *);

void *
malloc(size_t n)
{

	if (memwatch_fail_in > 0 && --memwatch_fail_in == 0) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(n);
}

void
free(void *p)
{

	if (p == NULL)
		return;
	if (memwatch_needle != NULL && memmem(p, malloc_usable_size(p),
	    memwatch_needle, strlen(memwatch_needle)) != NULL)
		memwatch_found++;
	__libc_free(p);
}

void *
realloc(void *p, size_t n)
{
	void	*q;
	size_t	 old;

	if (p == NULL)
		return malloc(n);
	if ((q = malloc(n == 0 ? 1 : n)) == NULL)
		return NULL;
	old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	free(p);
	return q;
}
#endif /* !MEMWATCH_OFF */

/*
 * Start searching freed blocks for needle (NULL: stop), with the count
 * at zero.
 */
static void __attribute__((unused))
memwatch_start(const char *needle)
{

	memwatch_needle = needle;
	memwatch_found = 0;
}

#endif /* !AUTH_MEMWATCH_H */
