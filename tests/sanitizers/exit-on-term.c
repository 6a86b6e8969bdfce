/* SPDX-License-Identifier: ISC */
/*
 * Preloaded (LD_PRELOAD) into lighttpd and the FastCGI programs it starts
 * in the sanitizer pass of scripts/test.  lighttpd stops its FastCGI
 * programs with SIGTERM, which kills them before LeakSanitizer's check at
 * exit can run: in a process built with LeakSanitizer, this library makes
 * SIGTERM run that check (the report goes to ASAN_OPTIONS' log_path) and
 * then end the process.  Anywhere else (lighttpd itself, which handles
 * SIGTERM its own way) it does nothing.  A test tool: never installed.
 */
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

/* LeakSanitizer's interface (sanitizer/lsan_interface.h); weak: absent
 * unless the program was built with it. */
void	__lsan_do_leak_check(void) __attribute__((weak));

static void	exit_on_term_init(void) __attribute__((constructor));

/*
 * The program was idle in accept() when the web server stopped it: what
 * it still holds is reachable from main()'s frame and the globals, and
 * what LeakSanitizer finds unreachable leaked in an earlier request.  A
 * leak ends the process with LeakSanitizer's exit code instead of 0.
 */
static void
exit_on_term(int sig)
{

	(void)sig;
	__lsan_do_leak_check();
	_exit(0);
}

static void
exit_on_term_init(void)
{
	struct sigaction	 sa;

	if (__lsan_do_leak_check == NULL)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = exit_on_term;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
}
