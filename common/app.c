/* SPDX-License-Identifier: ISC */
/*
 * The life of a program.  Once per process, before the first request:
 * read and check the configuration (a bad one is one line on stderr and
 * exit status 2), connect to the database as a FastCGI process (if it
 * is away the program still starts and answers 503 until it comes back,
 * so a web server that spawns it at boot does not give up; plain CGI and
 * auth-verify, APP_LAZY_DB, connect when a request first needs it;
 * statements are prepared when a request first uses them), and the
 * endpoint's own init.  Then either the FastCGI accept loop with
 * an explicit FCGX_Request (never fcgi_stdio.h, which swaps environ on
 * every request), or, when started as plain CGI, one request.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <openssl/crypto.h>

#include "app.h"
#include "cors.h"
#include "log.h"
#include "req.h"
#include "resp.h"
#include "throttle.h"

/* What an endpoint takes, for a CORS preflight (req_read_json()). */
#define APP_METHODS	"POST"

/* Set by SIGUSR1: leave once the request in hand is answered. */
static volatile sig_atomic_t app_stopping;

/*
 * SIGUSR1 is FastCGI's "finish and leave" (multiwatch sends it to stop a
 * pool, see httpd-conf/systemd/collab-auth@.service).  Installed before FCGX_Init,
 * which then leaves it in place of its own; like libfcgi's, it tells
 * FCGX_Accept_r to give up waiting.  It is only let through while the
 * process waits for a request (app_run_fcgi blocks it meanwhile): arriving in
 * the middle of one it would cut short whatever read or write it
 * interrupted, and the client would get an answer to half a request.
 */
static void
app_stop(int sig)
{

	(void)sig;
	app_stopping = 1;
	FCGX_ShutdownPending();
}

static const char *
app_fcgi_param(void *arg, const char *name)
{
	FCGX_Request	*fr = arg;

	return FCGX_GetParam(name, fr->envp);
}

static long
app_fcgi_read(void *arg, char *buf, size_t n)
{
	FCGX_Request	*fr = arg;
	int		 got;

	if (n > INT_MAX)
		n = INT_MAX;
	got = FCGX_GetStr(buf, (int)n, fr->in);
	if (got == 0 && FCGX_GetError(fr->in) != 0)
		return -1;
	return got;
}

static int
app_fcgi_write(void *arg, const char *buf, size_t n)
{
	FCGX_Request	*fr = arg;

	if (n > INT_MAX)
		return -1;
	return FCGX_PutStr(buf, (int)n, fr->out) == (int)n ? 0 : -1;
}

static const char *
app_cgi_param(void *arg, const char *name)
{

	(void)arg;
	return getenv(name);
}

static long
app_cgi_read(void *arg, char *buf, size_t n)
{
	ssize_t	 got;

	(void)arg;
	do
		got = read(STDIN_FILENO, buf, n);
	while (got == -1 && errno == EINTR);
	return (long)got;
}

static int
app_cgi_write(void *arg, const char *buf, size_t n)
{
	ssize_t	 w;

	(void)arg;
	while (n > 0) {
		w = write(STDOUT_FILENO, buf, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * In the child that works on after a plain-CGI answer: a session of its
 * own, and stderr given back to the web server (log lines go to LOG_FILE
 * or syslog from now on).
 */
static void
app_detach(void)
{
	int	 fd;

	(void)setsid();
	log_syslog();
	if ((fd = open("/dev/null", O_WRONLY)) != -1) {
		(void)dup2(fd, STDERR_FILENO);
		if (fd != STDERR_FILENO)
			(void)close(fd);
	}
}

/*
 * Return the name of endpoint ep's URL: the program's name less its
 * "auth-" (cgi-bin/auth-NAME serves /api/auth/NAME).
 */
static const char *
app_route(const struct app_endpoint *ep)
{

	return strncmp(ep->prog, "auth-", 5) == 0 ? ep->prog + 5 : ep->prog;
}

/*
 * Serve one request on io: the front-end checks, the handler, a 500 if
 * the handler answered nothing, and the request's log line.  Work the
 * handler asked to run after the answer is returned in *afterp and
 * *argp.  Exported for the fuzz target of the whole front end.
 */
void
app_serve(struct app *app, const struct app_endpoint *ep,
    const struct req_io *io, void (**afterp)(void *), void **argp)
{
	struct req	 r;
	int		 authz, preflight;

	req_init(&r, io, &app->cfg.proxies);
	/* Whether the web server passes Authorization on (never its value). */
	authz = req_param(&r, "HTTP_AUTHORIZATION") != NULL;
	/*
	 * CORS first, so that every answer to an allowed origin says so;
	 * never for auth-verify, which answers for whatever it guards.
	 */
	preflight = (ep->flags & APP_ANY_PATH) == 0 &&
	    cors_begin(&app->cfg, &r);
	/* auth-verify answers for whatever path it guards: no route. */
	if ((ep->flags & APP_ANY_PATH) != 0 || req_route(&r, app_route(ep))) {
		if (preflight)
			cors_preflight(&app->cfg, &r, ep->allow != NULL ?
			    ep->allow : APP_METHODS);
		else if (ep->allow != NULL ? req_check_method(&r, ep->allow) :
		    req_read_json(&r))
			ep->handle(app, &r);
	}
	if (r.status == 0) {
		log_err("request", "handler gave no answer");
		resp_error(&r, 500, "Internal server error");
	}
	/* A health probe or an authorizer's yes is no news worth a line. */
	if ((ep->flags & APP_QUIET) == 0 || r.status >= 400)
		log_info("request", "status=%d ms=%ld client=%s%s", r.status,
		    req_elapsed_ms(&r), r.client,
		    authz ? " authorization=yes" : "");
	*afterp = r.after;
	*argp = r.after_arg;
	req_free(&r);
}

/*
 * Answer r for a failure status from common/: 503 when the database is
 * away or a write's outcome is unknown (the client may try again), 500
 * otherwise (the cause is already in the log).
 */
void
app_fail(struct req *r, enum auth_status rc)
{

	if (rc == AUTH_ERR_DB_UNAVAIL || rc == AUTH_ERR_DB_COMMIT_UNKNOWN)
		resp_error(r, 503, "Service temporarily unavailable");
	else {
		log_err("internal", "status=%s", auth_strerror(rc));
		resp_error(r, 500, "Internal server error");
	}
}

/*
 * Count request r against the n limits in hits.  Returns 1 if it may go
 * on, or 0 once it has been answered: 429 {"detail": "Too many
 * requests"} with Retry-After, or, when the counters cannot be counted,
 * what app_fail() answers for the failure: 503 if they cannot be reached,
 * 500 if the database refused (a missing table: the migrations not
 * applied), as the handler would have answered had it met the failure
 * first.  Either way the throttle fails closed.
 */
int
app_throttle(struct app *app, struct req *r, const struct throttle_hit *hits,
    size_t n)
{
	char			 retry[64];
	const char		*headers[2];
	enum auth_status	 rc;
	enum throttle_kind	 limit;
	enum log_level		 level;
	long			 wait;

	rc = throttle_check(app->db, &app->cfg, hits, n,
	    (long long)time(NULL), &wait, &limit);
	if (rc != AUTH_OK) {
		/*
		 * Whatever went wrong, nothing was counted: fail closed.  A
		 * database failure has its error line from db.c already
		 * (one line per event): this one only says what it cost.
		 */
		level = rc == AUTH_ERR_DB_UNAVAIL || rc == AUTH_ERR_DB ||
		    rc == AUTH_ERR_DB_COMMIT_UNKNOWN ? LOG_LEVEL_INFO :
		    LOG_LEVEL_ERR;
		log_msg(level, "throttle", "cannot count status=%s client=%s",
		    auth_strerror(rc), r->client);
		app_fail(r, rc);
		return 0;
	}
	if (wait == 0)
		return 1;
	(void)snprintf(retry, sizeof(retry), "Retry-After: %ld", wait);
	headers[0] = retry;
	headers[1] = NULL;
	log_info("throttle", "refused limit=%s client=%s retry=%ld",
	    throttle_name(limit), r->client, wait);
	resp_error_headers(r, 429, "Too many requests", headers);
	return 0;
}

/*
 * Start OpenSSL with only what the programs use, before anything uses it:
 * the digests and MACs they fetch (SHA-256, HMAC), and, when the
 * database connection is TLS, everything, as the connector asks for it
 * (the system's openssl.cnf, whose TLS policy then applies, and the
 * error strings).  Without TLS nothing else is needed: not openssl.cnf,
 * not the error strings, not the table of every cipher's and digest's
 * legacy name.  Loading those is most of what a plain CGI request would
 * otherwise spend in OpenSSL (1.4 ms of a refresh's 6.9 here), and a
 * FastCGI process saves its memory.  The first call of each kind wins,
 * so the connector's own OPENSSL_init_ssl() later adds nothing.  The
 * programs call it once their config is read; tests/bench's CGI floor
 * does the same.
 */
void
app_openssl_init(const struct cfg *cfg)
{
	if (cfg->db.tls != DBURL_TLS_DISABLED)
		return;
	if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
	    OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
	    OPENSSL_INIT_NO_ADD_ALL_DIGESTS, NULL))
		log_warn("startup", "OPENSSL_init_crypto failed");
}

/*
 * Make a process that spends its requests in bcrypt yield the CPU to
 * the cheap endpoints: raise its niceness by BCRYPT_NICE (0: leave it).
 * Under load the scheduler then gives refresh-token and the others the
 * CPU first; alone, bcrypt still runs at full speed.  A failure is logged
 * and the program goes on.
 */
static void
app_nice(const struct app *app, const struct app_endpoint *ep)
{

	if ((ep->flags & APP_BCRYPT) == 0 || app->cfg.bcrypt_nice == 0)
		return;
	errno = 0;
	if (nice((int)app->cfg.bcrypt_nice) == -1 && errno != 0)
		log_warn("startup", "BCRYPT_NICE=%ld: %s", app->cfg.bcrypt_nice,
		    strerror(errno));
}

/*
 * Everything once per process, before the first request: the config (its
 * LOG_FILE and BCRYPT_NICE), the database (not as plain CGI: see below),
 * the endpoint's own init.
 * Returns 0, or the exit status: 2 for a bad configuration, 1 otherwise.
 * A database that is away is no failure: the program starts and answers
 * 503 until it comes back, so that a web server that spawns it at boot
 * does not give up on it.
 */
static int
app_start(struct app *app, const struct app_endpoint *ep, int cgi)
{
	char	 err[512];

	if (cfg_load_default(&app->cfg, err, sizeof(err)) != AUTH_OK) {
		log_err("config", "%s", err);
		return 2;
	}
	if (app->cfg.log_file != NULL && log_open(app->cfg.log_file) == -1) {
		log_err("config", "LOG_FILE: %s: %s", app->cfg.log_file,
		    strerror(errno));
		return 2;
	}
	cfg_warn(&app->cfg);
	app_openssl_init(&app->cfg);
	app_nice(app, ep);
	if ((app->db = db_new(&app->cfg.db, NULL, 0)) == NULL) {
		log_err("startup", "out of memory");
		return 1;
	}
	/*
	 * A FastCGI process connects now, so that its first request does
	 * not wait.  As plain CGI the one request connects when it needs
	 * the database: connecting here as well would, with the database
	 * away, wait out the connect timeout twice and log it twice.
	 * APP_LAZY_DB: a program that may never need it holds none.
	 */
	switch (cgi || (ep->flags & APP_LAZY_DB) != 0 ? AUTH_OK :
	    db_connect(app->db)) {
	case AUTH_OK:
		break;
	case AUTH_ERR_DB_UNAVAIL:
		log_warn("startup", "database unavailable; answering 503 "
		    "until it is back");
		break;
	default:
		log_err("startup", "cannot use the database; answering 500 "
		    "until it can be");
		break;
	}
	if (ep->init != NULL && ep->init(app) == -1)
		return 1;
	return 0;
}

/*
 * Serve the one request of plain CGI, then the work the handler asked to
 * run after the answer.  The web server sends the answer once we close
 * our output, and may then kill us (Apache's mod_cgi does): that work
 * goes on in a child of its own session, which lets go of stderr too,
 * since mod_cgi holds the answer until stderr closes.  The parent leaves
 * at once, without closing the database connection the child now uses.
 */
static void
app_run_cgi(struct app *app, const struct app_endpoint *ep,
    const struct req_io *io)
{
	void	(*after)(void *);
	void	*arg;
	pid_t	 pid;

	app_serve(app, ep, io, &after, &arg);
	if (after == NULL)
		return;
	(void)close(STDOUT_FILENO);
	if ((pid = fork()) > 0)
		_exit(0);
	if (pid == 0)
		app_detach();
	after(arg);
}

/*
 * The FastCGI accept loop, on the listening socket the web server gave
 * us as standard input, until it stops us.  Returns the exit status.
 */
static int
app_run_fcgi(struct app *app, const struct app_endpoint *ep)
{
	FCGX_Request	 fr;
	struct req_io	 io;
	sigset_t	 usr1;
	void		(*after)(void *);
	void		*arg;

	(void)sigemptyset(&usr1);
	(void)sigaddset(&usr1, SIGUSR1);
	if (FCGX_InitRequest(&fr, 0, 0) != 0) {
		log_err("startup", "FCGX_InitRequest failed");
		return 1;
	}
	io.param = app_fcgi_param;
	io.read = app_fcgi_read;
	io.write = app_fcgi_write;
	io.arg = &fr;
	for (;;) {
		/*
		 * A SIGUSR1 that came during the last request arrives here.
		 * (One that comes between the test and accept() is seen
		 * only after the next request: a window of a few
		 * instructions.)
		 */
		(void)sigprocmask(SIG_UNBLOCK, &usr1, NULL);
		if (app_stopping || FCGX_Accept_r(&fr) < 0)
			break;
		(void)sigprocmask(SIG_BLOCK, &usr1, NULL);
		app_serve(app, ep, &io, &after, &arg);
		FCGX_Finish_r(&fr);
		if (after != NULL)
			after(arg);
	}
	FCGX_Free(&fr, 1);
	return 0;
}

/*
 * Run endpoint ep: start up, then serve requests until the web server
 * stops us (FastCGI) or after one request (plain CGI).  Returns the exit
 * status: 0, or 2 for a bad configuration, 1 for other start-up failures.
 */
int
app_main(const struct app_endpoint *ep)
{
	static const struct req_io cgi_io = {
		app_cgi_param, app_cgi_read, app_cgi_write, NULL
	};
	struct app	 app;
	struct req	 r;
	struct sigaction sa;
	int		 cgi, rc;

	memset(&app, 0, sizeof(app));
	app.prog = ep->prog;
	log_init(ep->prog);
	(void)signal(SIGPIPE, SIG_IGN);
	/* No SA_RESTART: it must interrupt the wait in accept(). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_stop;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGUSR1, &sa, NULL);
	if (FCGX_Init() != 0) {
		log_err("startup", "FCGX_Init failed");
		return 1;
	}
	cgi = FCGX_IsCGI();
	if ((rc = app_start(&app, ep, cgi)) != 0) {
		/*
		 * As plain CGI the client is waiting on our stdout: tell it
		 * something went wrong rather than leave it an empty reply.
		 */
		if (cgi) {
			req_init(&r, &cgi_io, NULL);
			resp_error(&r, 500, "Internal server error");
			req_free(&r);
		}
	} else if (cgi)
		app_run_cgi(&app, ep, &cgi_io);
	else
		rc = app_run_fcgi(&app, ep);
	db_free(app.db);
	cfg_free(&app.cfg);
	/*
	 * A plain CGI process ends here, its answer written with write(2)
	 * and its database connection closed: _exit() skips the
	 * libraries' exit handlers, which only free memory the kernel
	 * takes back anyway (OpenSSL's alone cost a sixth of a CGI
	 * refresh's CPU).
	 */
	if (cgi)
		_exit(rc);
	return rc;
}
