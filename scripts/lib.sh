# shellcheck shell=bash
# SPDX-License-Identifier: ISC
#
# scripts/lib.sh: what scripts/serve and scripts/test share, sourced by
# both (and, through "bash -c", by the endpoint tests that stop and start
# MariaDB).  Every function is prefixed ca_; every variable it sets is CA_*.
# Nothing here runs on its own: sourcing only defines functions and finds
# the top of the source tree.
#
# The layout a run keeps under a "var" directory (./var for serve,
# ./var/test for test), set by ca_paths:
#   mysql/          MariaDB datadir (mariadb-install-db; kept across runs)
#   run/            sockets and pid files (or a short directory under /tmp:
#                   when this path is too long for a unix socket, and
#                   always as root, see ca_paths)
#   log/            mariadb.log, lighttpd-error.log, collab-auth.log (the
#                   programs' stderr under lighttpd), lighttpd-access.log,
#                   apache-MODE-error.log (Apache's, with the programs'
#                   stderr), apache-MODE-access.log, collab-auth-pool.log
#                   (the programs' and multiwatch's stderr in the pool),
#                   nginx-error.log, nginx-access.log
#   lighttpd/       the generated lighttpd.conf and the substituted snippet
#   apache/         the generated apache-MODE.conf files and the
#                   substituted snippet
#   nginx/          the generated nginx.conf, the substituted snippet and
#                   nginx's fastcgi_params
#   db-password     the app user's MariaDB password (mode 0600)
#   collab-auth.env the programs' configuration (mode 0600)
# and under the run directory, apache/: what Apache's user reads (the
# programs, a copy of the config, the web root) and its runtime files.

CA_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CA_PROG=${CA_PROG:-${0##*/}}

# The database and its least-privilege user (SELECT, INSERT, UPDATE, DELETE
# only); migrations go through the admin account instead.
CA_DB_NAME=collab_auth
CA_APP_USER=collab_auth

# Keys the programs read from the environment before their config file
# (common/cfg.c).  scripts/test clears them so a developer's shell cannot
# change what the tests see.
CA_CONFIG_KEYS="AUTH_CONFIG MYSQL_DB_URL JWT_SECRET_KEY ALGORITHM
ACCESS_TOKEN_EXPIRE_MINUTES REFRESH_TOKEN_EXPIRE_DAYS BCRYPT_ROUNDS BCRYPT_NICE
MAIL_USERNAME MAIL_PASSWORD MAIL_FROM MAIL_PORT MAIL_SERVER TRUSTED_PROXIES
REFRESH_REUSE_GRACE_SECONDS REFRESH_TOKEN_EXPIRE_SECONDS MAIL_FROM_NAME
MAIL_STARTTLS MAIL_SSL_TLS USE_CREDENTIALS VALIDATE_CERTS MAIL_OUTBOX_DIR
OTP_SECRET_KEY OTP_EXPIRE_MINUTES OTP_MAX_ATTEMPTS OTP_COOLDOWN_SECONDS
OTP_MAX_PER_HOUR THROTTLE_LOGIN_ACCOUNT THROTTLE_LOGIN_ACCOUNT_WINDOW
THROTTLE_LOGIN_ADDRESS_FAILURES THROTTLE_LOGIN_ADDRESS_FAILURES_WINDOW
THROTTLE_LOGIN_ADDRESS THROTTLE_LOGIN_ADDRESS_WINDOW THROTTLE_REGISTER_ADDRESS
THROTTLE_REGISTER_ADDRESS_WINDOW THROTTLE_FORGOT_ADDRESS
THROTTLE_FORGOT_ADDRESS_WINDOW THROTTLE_RESET_ADDRESS
THROTTLE_RESET_ADDRESS_WINDOW THROTTLE_REFRESH_ADDRESS
THROTTLE_REFRESH_ADDRESS_WINDOW LOG_FILE DB_CONNECT_TIMEOUT DB_TIMEOUT
DB_LOCK_WAIT_TIMEOUT VERIFY_CHECK_ACCOUNT OTP_MAX_FAILURES_PER_DAY
MAIL_DELIVERY_PROGRAM MAIL_DELIVERY_SLOTS CORS_ALLOW_ORIGINS
CORS_ALLOW_CREDENTIALS CORS_ALLOW_HEADERS CORS_MAX_AGE LEGACY_TOKENS"

# Debian 12 packages: to build, and to run the private servers and tests.
CA_BUILD_PACKAGES="autoconf automake gcc libc6-dev make pkgconf
libcrypt-dev libcurl4-openssl-dev libfcgi-dev libjson-c-dev
libmariadb-dev libssl-dev zlib1g-dev"
# ca-certificates: the system's CAs, which verify a database's or mail
# server's certificate when the config names no CA of its own.
CA_RUN_PACKAGES="ca-certificates lighttpd apache2 libapache2-mod-fcgid
mariadb-client mariadb-server multiwatch nginx spawn-fcgi"

# The endpoints: cgi-bin/auth-NAME serves /api/auth/NAME (POST, but
# health: GET and HEAD).
CA_ENDPOINTS="register login refresh-token forgot-password reset-password
logout health"
# The authorizers: cgi-bin/auth-NAME guards other programs' URLs; no URL
# of the API maps to it (httpd-conf/*-collab-auth-verify.conf).
CA_AUTHORIZERS="verify"
# The programs the pool runs for nginx (and Apache's mod_proxy_fcgi):
# cgi-bin/auth-NAME on the socket auth-NAME.sock, one pool each.
CA_POOL_PROGRAMS="$CA_ENDPOINTS $CA_AUTHORIZERS"
# The API document, served as a file at /api/auth/openapi.json.
CA_OPENAPI=httpd-conf/openapi.json
# The Galera pass needs galera-4 and rsync (its state transfer); the
# switch test's stand-in for the FastAPI backend (tests/switch/) needs the
# FastAPI stack; the fuzz targets and the sanitizer pass need clang and
# its runtime, and llvm for llvm-symbolizer (reports with function names
# and lines); ca_build_copy needs rsync.
CA_TEST_PACKAGES="openssl python3 python3-aiosmtpd python3-jsonschema
python3-dotenv systemd galera-4 rsync python3-bcrypt python3-email-validator
python3-fastapi python3-jose python3-passlib python3-pymysql
python3-sqlmodel python3-uvicorn clang libclang-rt-14-dev llvm"

ca_say() {
	printf '%s: %s\n' "$CA_PROG" "$*" >&2
}

ca_die() {
	ca_say "$*"
	exit 1
}

# ca_install_packages PKG...: install the packages that dpkg does not have.
# As root that is apt-get; otherwise print the exact command and fail.
ca_install_packages() {
	local p status missing=
	for p in "$@"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || status=
		case $status in
		*" ok installed") ;;
		*) missing="$missing $p" ;;
		esac
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		ca_say "missing Debian packages; as root, run:"
		printf 'apt-get install -y --no-install-recommends%s\n' \
		    "$missing" >&2
		return 1
	fi
	ca_say "installing:$missing"
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get update -q &&
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $missing
}

# ca_random_hex BYTES: that many random bytes as lower-case hex.
ca_random_hex() {
	od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# ca_urlencode STRING: percent-encode all but RFC 3986 unreserved bytes.
ca_urlencode() {
	local LC_ALL=C s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~-]) out=$out$c ;;
		*) out=$out$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s\n' "$out"
}

# ca_configured_with OPTION: true if ./configure last ran with OPTION.
ca_configured_with() {
	case " $(./config.status --config 2>/dev/null | tr -d "'") " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# ca_build [CONFIGURE-OPTION]: autoreconf when configure is missing or
# older than its sources, configure when never configured or configured
# without CONFIGURE-OPTION, then make.  In the tree, like a developer.
ca_build() {
	local want=${1:-} jobs
	jobs=$(nproc 2>/dev/null || echo 2)
	(
		cd "$CA_TOP" || exit 1
		if [ ! -x configure ] || [ configure.ac -nt configure ] ||
		    [ Makefile.am -nt configure ] ||
		    [ ! -f Makefile.in ] || [ Makefile.am -nt Makefile.in ]; then
			# git keeps no empty directory: a fresh clone may
			# lack the ones configure.ac names.
			mkdir -p m4 build-aux
			ca_say "autoreconf -fi"
			autoreconf -fi || exit 1
		fi
		if [ ! -f config.status ] || [ ! -f Makefile ] ||
		    [ configure -nt config.status ] ||
		    { [ -n "$want" ] && ! ca_configured_with "$want"; }; then
			ca_say "./configure $want"
			./configure ${want:+"$want"} || exit 1
		fi
		ca_say "make -j$jobs"
		make -j"$jobs"
	)
}

# ca_build_copy DIR [CONFIGURE-ARG...]: build the tree once more in DIR,
# apart from the in-tree build (after ca_build, whose Makefile this
# uses).  Automake refuses a second, VPATH build of a source tree that is
# configured in-tree, so the distributed sources ("make distdir": what a
# release holds) are mirrored into var/build/src, unchanged files keeping
# their times so that the build stays incremental, and DIR is configured
# from there with the arguments given (from scratch when they change).
# Build in DIR only through this function: it brings the copy up to date.
ca_build_copy() {
	local dir=$1 jobs
	shift
	jobs=$(nproc 2>/dev/null || echo 2)
	(
		set -o pipefail
		src=$CA_TOP/var/build/src
		stage=$CA_TOP/var/build/dist.tmp
		cd "$CA_TOP" || exit 1
		rm -rf "$stage"
		mkdir -p "$CA_TOP/var/build" || exit 1
		make -s distdir distdir="$stage" >/dev/null || exit 1
		mkdir -p "$src" "$dir" || exit 1
		changed=$(rsync -a -c -i --delete "$stage/" "$src/" |
		    sed -n 's/^>f[^ ]* //p') || exit 1
		rm -rf "$stage"
		# What changed gets the time of this copy, not its time in
		# the tree: a file edited while an earlier copy was being
		# built is older than the objects built from its old text.
		# Then autotools' outputs after their inputs, as in the tree.
		printf '%s\n' "$changed" | while IFS= read -r f; do
			[ -z "$f" ] || touch "$src/$f" || exit 1
		done || exit 1
		case " $(printf '%s' "$changed" | tr '\n' ' ') " in
		*" configure"* | *" Makefile."* | *" aclocal.m4 "* | \
		    *" config.h.in "* | *" m4/"*)
			touch "$src/aclocal.m4" && touch "$src/configure" \
			    "$src/config.h.in" "$src/Makefile.in" || exit 1
			;;
		esac
		cd "$dir" || exit 1
		# Other options: objects built with other flags must go.
		if [ "$(cat configure.args 2>/dev/null)" != "$*" ]; then
			find . -mindepth 1 -delete || exit 1
		fi
		if [ ! -f config.status ] || [ ! -f Makefile ] ||
		    [ "$src/configure" -nt config.status ]; then
			ca_say "$dir: configure $*"
			rm -f configure.args
			"$src/configure" "$@" >configure.out 2>&1 || {
				tail -n 20 configure.out >&2
				exit 1
			}
			printf '%s\n' "$*" >configure.args
		fi
		ca_say "$dir: make -j$jobs"
		make -s -j"$jobs"
	)
}

# ca_paths VARDIR: set the CA_* paths of one run's state under VARDIR.
# A unix socket path holds at most 107 bytes, and lighttpd appends
# "-N" to each FastCGI socket, so when VARDIR/run is long (or holds bytes
# a URL or lighttpd string would need quoted) the sockets go to a short
# directory under /tmp named after VARDIR, the same on every run, so that
# a config written by an earlier run stays right.  As root they always
# do, in a directory of mode 0711: Apache's children then run as
# www-data, which must reach MariaDB's socket and the staged programs, and
# cannot enter /root, where the tree may be.
ca_paths() {
	mkdir -p "$1" || return 1
	CA_VAR=$(cd "$1" && pwd -P) || return 1
	case $CA_VAR in
	*[\"\\\'\$\`]* | *"
"*)
		ca_die "$CA_VAR: a path with quotes, \\, \$ or newlines is not supported"
		;;
	esac
	CA_DATADIR=$CA_VAR/mysql
	CA_LOG=$CA_VAR/log
	CA_LIGHTTPD_DIR=$CA_VAR/lighttpd
	CA_RUN=$CA_VAR/run
	CA_RUN_IS_SHORT=0
	if [ "$(id -u)" -eq 0 ] || [ ${#CA_RUN} -gt 70 ] ||
	    printf '%s' "$CA_RUN" | LC_ALL=C grep -q '[^A-Za-z0-9/._-]'; then
		CA_RUN=/tmp/collab-auth-$(id -u)-$(printf '%s' "$CA_VAR" |
		    cksum | cut -d' ' -f1)
		CA_RUN_IS_SHORT=1
	fi
	CA_DB_SOCK=$CA_RUN/mysqld.sock
	CA_DB_PID=$CA_RUN/mysqld.pid
	CA_DB_LOG=$CA_LOG/mariadb.log
	CA_DB_ADMIN=$(id -un)
	CA_LIGHTTPD_PID=$CA_RUN/lighttpd.pid
	CA_LIGHTTPD_LOG=$CA_LOG/lighttpd-error.log
	CA_PROGRAM_LOG=$CA_LOG/collab-auth.log
	CA_ACCESS_LOG=$CA_LOG/lighttpd-access.log
	CA_APACHE_DIR=$CA_VAR/apache
	CA_APACHE_STAGE=$CA_RUN/apache
	CA_APACHE_PID=$CA_APACHE_STAGE/run/apache2.pid
	CA_POOL_LOG=$CA_LOG/collab-auth-pool.log
	CA_NGINX_DIR=$CA_VAR/nginx
	CA_NGINX_PID=$CA_RUN/nginx.pid
	CA_NGINX_LOG=$CA_LOG/nginx-error.log
	CA_NGINX_ACCESS_LOG=$CA_LOG/nginx-access.log
	mkdir -p "$CA_LOG" "$CA_LIGHTTPD_DIR" "$CA_APACHE_DIR" \
	    "$CA_NGINX_DIR" || return 1
	if [ ! -d "$CA_RUN" ]; then
		mkdir -m 0700 "$CA_RUN" || return 1
	fi
	# A predictable name under /tmp: make sure it is ours.
	if [ -L "$CA_RUN" ] || [ ! -O "$CA_RUN" ]; then
		ca_die "$CA_RUN is not a directory owned by $(id -un)"
	fi
	if [ "$(id -u)" -eq 0 ]; then
		chmod 0711 "$CA_RUN" || return 1
	fi
	return 0
}

# The admin connection: the account mariadb-install-db made for the user
# running it, authenticated by the unix socket (no password).
ca_admin_cmd() {
	printf 'mariadb --no-defaults --socket=%s -u %s\n' \
	    "$CA_DB_SOCK" "$CA_DB_ADMIN"
}

ca_admin() {
	mariadb --no-defaults --socket="$CA_DB_SOCK" -u "$CA_DB_ADMIN" "$@"
}

ca_db_ping() {
	mariadb-admin --no-defaults --socket="$CA_DB_SOCK" \
	    -u "$CA_DB_ADMIN" --connect-timeout=2 ping >/dev/null 2>&1
}

# ca_pid_alive PID: true while PID runs (a zombie counts as gone).
ca_pid_alive() {
	local state
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
	state=$(sed -e 's/^.*) //' -e 's/ .*//' "/proc/$1/stat" 2>/dev/null)
	[ "$state" != Z ]
}

# ca_db_pid: the pid of the MariaDB of this datadir, if one runs (a stale
# pid file naming another program does not count).
ca_db_pid() {
	local pid
	pid=$(cat "$CA_DB_PID" 2>/dev/null) || return 1
	ca_pid_alive "$pid" || return 1
	case $(cat "/proc/$pid/comm" 2>/dev/null) in
	mariadbd | mysqld) ;;
	*) return 1 ;;
	esac
	printf '%s\n' "$pid"
}

ca_mariadbd() {
	if command -v mariadbd >/dev/null 2>&1; then
		command -v mariadbd
	else
		echo /usr/sbin/mariadbd
	fi
}

# ca_db_tls_certs DIR: a test CA and a server certificate it signed, for
# the DNS name "localhost" only (no IP address: a client that connects to
# 127.0.0.1 and checks the name must refuse it), under DIR: ca.pem,
# ca-key.pem, server.pem, server-key.pem (keys mode 0600).  Made on first
# use and again when the server certificate ends within a day.
ca_db_tls_certs() {
	local dir=$1 days=30
	if [ -s "$dir/server.pem" ] && [ -s "$dir/ca.pem" ] &&
	    openssl x509 -checkend 86400 -noout -in "$dir/server.pem" \
	    >/dev/null 2>&1; then
		return 0
	fi
	mkdir -p "$dir" || return 1
	(
		umask 077
		cd "$dir" || exit 1
		printf '%s\n' "subjectAltName=DNS:localhost" \
		    "basicConstraints=critical,CA:FALSE" \
		    "keyUsage=critical,digitalSignature" \
		    "extendedKeyUsage=serverAuth" >server.ext &&
		openssl req -x509 -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -keyout ca-key.pem -out ca.pem -days "$days" \
		    -subj "/CN=collab-auth test CA" &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -keyout server-key.pem -out server.csr \
		    -subj "/CN=collab-auth test MariaDB" &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem \
		    -set_serial "0x$(ca_random_hex 8)" -days "$days" \
		    -extfile server.ext -out server.pem &&
		chmod 0644 ca.pem server.pem
	) >"$dir/openssl.log" 2>&1 || {
		cat "$dir/openssl.log" >&2
		ca_say "could not make the test certificates in $dir"
		return 1
	}
}

# ca_db_start: initialise the datadir on first use, start MariaDB on the
# unix socket, and wait (bounded) until it answers.  A server this
# datadir already runs is reused.  CA_SERVICE_TZ, if set, is its TZ.
# Only when CA_DB_PORT is set (scripts/test; scripts/serve stays on the
# socket) does it also listen on 127.0.0.1:CA_DB_PORT, with TLS from the
# certificates ca_db_tls_certs made in CA_DB_TLS_DIR, or without TLS at
# all when CA_DB_TLS_DIR is empty.
ca_db_start() {
	local user_opt="" pid end=$((SECONDS + 60)) tls=${CA_DB_TLS_DIR:-}
	local net_opts=(--skip-networking)
	if [ -n "${CA_DB_PORT:-}" ]; then
		net_opts=(--port="$CA_DB_PORT" --bind-address=127.0.0.1)
		if [ -n "$tls" ]; then
			net_opts+=(--ssl-ca="$tls/ca.pem"
			    --ssl-cert="$tls/server.pem"
			    --ssl-key="$tls/server-key.pem")
		else
			net_opts+=(--skip-ssl)
		fi
	fi
	if pid=$(ca_db_pid); then
		# Already running (an earlier run's): wait until it answers.
		while [ "$SECONDS" -lt "$end" ]; do
			ca_db_ping && return 0
			ca_pid_alive "$pid" || break
			sleep 0.1
		done
		ca_say "MariaDB pid $pid does not answer on $CA_DB_SOCK"
		return 1
	fi
	if [ "$(id -u)" -eq 0 ]; then
		user_opt=--user=root
	fi
	if [ ! -d "$CA_DATADIR/mysql" ]; then
		ca_say "initialising MariaDB in $CA_DATADIR"
		rm -rf "$CA_DATADIR"
		# --force: a fresh minimal system may not resolve its own
		# host name, which the server, on a unix socket, never needs.
		if ! mariadb-install-db --no-defaults --datadir="$CA_DATADIR" \
		    --user="$CA_DB_ADMIN" --auth-root-authentication-method=socket \
		    --skip-test-db --force \
		    >"$CA_LOG/mariadb-install-db.log" 2>&1; then
			tail -n 20 "$CA_LOG/mariadb-install-db.log" >&2
			ca_say "mariadb-install-db failed; see $CA_LOG/mariadb-install-db.log"
			rm -rf "$CA_DATADIR"
			return 1
		fi
	fi
	rm -f "$CA_DB_SOCK" "$CA_DB_PID"
	# setsid: a Ctrl-C at the terminal reaches the script, whose trap
	# stops the server in order, not the server directly.
	# shellcheck disable=SC2086
	env ${CA_SERVICE_TZ:+TZ=$CA_SERVICE_TZ} setsid "$(ca_mariadbd)" \
	    --no-defaults $user_opt \
	    --datadir="$CA_DATADIR" --socket="$CA_DB_SOCK" \
	    --pid-file="$CA_DB_PID" --log-error="$CA_DB_LOG" \
	    "${net_opts[@]}" --innodb-buffer-pool-size=64M \
	    </dev/null >>"$CA_DB_LOG" 2>&1 &
	pid=$!
	# Not a job of this shell: a test that kills it (SIGKILL) must not
	# make the shell report "Killed" in the middle of the test output.
	disown "$pid" 2>/dev/null
	end=$((SECONDS + 60))
	while [ "$SECONDS" -lt "$end" ]; do
		if ca_db_ping; then
			return 0
		fi
		if ! ca_pid_alive "$pid"; then
			break
		fi
		sleep 0.1
	done
	tail -n 20 "$CA_DB_LOG" >&2
	ca_say "MariaDB did not start within 60 s; see $CA_DB_LOG"
	kill "$pid" 2>/dev/null
	return 1
}

# ca_stop_pid PID SECONDS: SIGTERM, wait, then SIGKILL.
ca_stop_pid() {
	local pid=$1 i
	ca_pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < $2 * 10; i++)); do
		ca_pid_alive "$pid" || return 0
		sleep 0.1
	done
	ca_say "pid $pid still running after ${2} s: SIGKILL"
	kill -KILL "$pid" 2>/dev/null
	sleep 0.2
	return 0
}

ca_db_stop() {
	local pid
	pid=$(ca_db_pid) || return 0
	ca_stop_pid "$pid" 60
	rm -f "$CA_DB_SOCK"
}

# ca_db_setup [fresh]: create the database (dropping it first if "fresh")
# and the least-privilege app user with the password kept in
# CA_VAR/db-password, made on first use.  Sets CA_APP_PASSWORD.
ca_db_setup() {
	local pwfile=$CA_VAR/db-password drop=
	if [ ! -s "$pwfile" ]; then
		(umask 077 && ca_random_hex 16 >"$pwfile") || return 1
	fi
	CA_APP_PASSWORD=$(cat "$pwfile")
	case $CA_APP_PASSWORD in
	*[\'\\]*)
		ca_say "$pwfile: ' and \\ are not supported in the password"
		return 1
		;;
	esac
	if [ "${1:-}" = fresh ]; then
		drop="DROP DATABASE IF EXISTS \`$CA_DB_NAME\`;"
	fi
	ca_admin <<EOF
$drop
CREATE DATABASE IF NOT EXISTS \`$CA_DB_NAME\`
    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$CA_APP_USER'@'localhost'
    IDENTIFIED BY '$CA_APP_PASSWORD';
ALTER USER '$CA_APP_USER'@'localhost' IDENTIFIED BY '$CA_APP_PASSWORD';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$CA_DB_NAME\`.*
    TO '$CA_APP_USER'@'localhost';
EOF
}

ca_migrate() {
	"$CA_TOP/scripts/migrate" --no-defaults --socket="$CA_DB_SOCK" \
	    -u "$CA_DB_ADMIN" "$CA_DB_NAME"
}

# ca_db_url: the app user's MYSQL_DB_URL, in the FastAPI backend's form.
ca_db_url() {
	printf 'mysql+pymysql://%s:%s@localhost/%s?unix_socket=%s\n' \
	    "$(ca_urlencode "$CA_APP_USER")" \
	    "$(ca_urlencode "$CA_APP_PASSWORD")" "$CA_DB_NAME" "$CA_DB_SOCK"
}

# ca_write_config FILE [KEY=VALUE...]: a config for the private database
# with a new random JWT secret and the extra lines given, mode 0600.
ca_write_config() {
	local file=$1 line
	shift
	(
		umask 077
		{
			echo "# Written by scripts/$CA_PROG for the private MariaDB under"
			echo "# $CA_VAR; the keys are documented in README.md."
			echo "MYSQL_DB_URL=$(ca_db_url)"
			echo "JWT_SECRET_KEY=$(ca_random_hex 32)"
			for line in "$@"; do
				echo "$line"
			done
		} >"$file.tmp" && mv "$file.tmp" "$file"
	) && chmod 0600 "$file"
}

# ca_sed_repl STRING: STRING quoted for the right side of s|...|...|.
ca_sed_repl() {
	printf '%s\n' "$1" | sed -e 's/[\\|&]/\\&/g'
}

# ca_lighttpd_conf PORT CONFIG: generate CA_LIGHTTPD_DIR/lighttpd.conf for
# 127.0.0.1:PORT, which includes the shipped snippet with its install paths
# replaced by this tree's (sed, paths only: what runs is the shipped file),
# and the shipped auth-verify example guarding tests/whoami/whoami, which
# logs each request it gets to CA_WHOAMI_LOG.
ca_lighttpd_conf() {
	local port=$1 config=$2 snippet=$CA_TOP/httpd-conf/lighttpd-collab-auth.conf
	local verify=$CA_TOP/httpd-conf/lighttpd-collab-auth-verify.conf
	local out=$CA_LIGHTTPD_DIR/collab-auth.conf left whoami
	local vout=$CA_LIGHTTPD_DIR/collab-auth-verify.conf
	[ -f "$snippet" ] || { ca_say "$snippet: missing"; return 1; }
	[ -f "$verify" ] || { ca_say "$verify: missing"; return 1; }
	mkdir -p "$CA_LIGHTTPD_DIR/htdocs" || return 1
	case $config in
	*[\"\\]* | *"
"*) ca_say "$config: a path with \" or \\ is not supported"; return 1 ;;
	esac
	CA_WHOAMI_LOG=$CA_RUN/whoami.log
	whoami="\"bin-path\" => \"$(ca_sed_repl "$CA_TOP")/tests/whoami/whoami\",\\
			\"bin-environment\" => ( \"WHOAMI_LOG\" => \"$(ca_sed_repl "$CA_WHOAMI_LOG")\" ),"
	ca_lighttpd_sed "$config" "$snippet" >"$out" || return 1
	ca_lighttpd_sed "$config" "$verify" | sed \
	    -e "s|\"bin-path\" => \"/usr/local/libexec/profiles/profiles\\.fcgi\",|$whoami|" \
	    -e "s|/run/profiles/|$(ca_sed_repl "$CA_RUN")/|g" >"$vout" || return 1
	# Every absolute path left must be one of ours: the snippets hold no
	# install path that this function does not know how to replace.
	left=$(cat "$out" "$vout" | grep -v '^[[:space:]]*#' |
	    grep -o '"/[^"]*"' |
	    tr -d '"' | while IFS= read -r path; do
		case $path in
		"$CA_TOP"/* | "$CA_VAR"/* | "$CA_RUN"/* | "$config") ;;
		/usr/* | /etc/* | /run/* | /var/* | /opt/* | /srv/* | /home/* | \
		    /tmp/* | /root/* | /lib*/*)
			printf '%s\n' "$path" ;;
		esac	# (the others are URL paths)
	done)
	if [ -n "$left" ]; then
		ca_say "$snippet: a path that $CA_PROG does not substitute:"
		printf '%s\n' "$left" >&2
		return 1
	fi
	cat >"$CA_LIGHTTPD_DIR/lighttpd.conf" <<EOF
# Generated by scripts/$CA_PROG: a private lighttpd on loopback that runs
# the shipped httpd-conf/lighttpd-collab-auth.conf and
# lighttpd-collab-auth-verify.conf (paths substituted).
server.modules = ( "mod_accesslog" )
server.bind = "127.0.0.1"
server.port = $port
server.document-root = "$CA_LIGHTTPD_DIR/htdocs"
server.pid-file = "$CA_LIGHTTPD_PID"
server.errorlog = "$CA_LIGHTTPD_LOG"
accesslog.filename = "$CA_ACCESS_LOG"
include "$out"
include "$vout"
EOF
}

# ca_lighttpd_sed CONFIG FILE: FILE with the install paths of the shipped
# lighttpd snippets replaced by this tree's and this run's.  The programs
# are those in CA_BINDIR when set (another build of the tree, under its
# top: the sanitizer pass of scripts/test), else in cgi-bin/.
ca_lighttpd_sed() {
	sed -e "s|/usr/local/libexec/collab-auth/|$(ca_sed_repl "${CA_BINDIR:-$CA_TOP/cgi-bin}")/|g" \
	    -e "s|/usr/local/share/collab-auth/|$(ca_sed_repl "$CA_TOP")/httpd-conf/|g" \
	    -e "s|/usr/local/etc/collab-auth\\.env|$(ca_sed_repl "$1")|g" \
	    -e "s|/run/collab-auth/|$(ca_sed_repl "$CA_RUN")/|g" \
	    -e "s|/var/log/lighttpd/collab-auth\\.log|$(ca_sed_repl "$CA_PROGRAM_LOG")|g" \
	    "$2"
}

# ca_free_port: a TCP port on 127.0.0.1 that nothing listens on now.
ca_free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ca_port_open PORT: true when 127.0.0.1:PORT accepts a connection.
ca_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ca_lighttpd: the lighttpd binary (in /usr/sbin, which a user's PATH on
# Debian does not hold).
ca_lighttpd() {
	if command -v lighttpd >/dev/null 2>&1; then
		command -v lighttpd
	else
		echo /usr/sbin/lighttpd
	fi
}

# ca_lighttpd_start PORT [NAME=VALUE...]: check and start lighttpd with the
# generated config and the extra environment given (which mod_fastcgi
# hands to the programs: bin-environment adds to lighttpd's own
# environment), then wait (bounded) until the port answers.  Sets
# CA_LIGHTTPD_RUNNING_PID.
ca_lighttpd_start() {
	local port=$1 conf=$CA_LIGHTTPD_DIR/lighttpd.conf i pid
	shift
	ca_lighttpd_stop
	if ! "$(ca_lighttpd)" -tt -f "$conf" >"$CA_LIGHTTPD_LOG.check" 2>&1; then
		cat "$CA_LIGHTTPD_LOG.check" >&2
		ca_say "lighttpd rejected $conf"
		return 1
	fi
	rm -f "$CA_LIGHTTPD_LOG.check"
	# lighttpd's own stderr (what it says before it opens its error log)
	# goes to the error log too; the programs' goes to server.breakagelog.
	env "$@" setsid "$(ca_lighttpd)" -D -f "$conf" \
	    </dev/null >>"$CA_LIGHTTPD_LOG" 2>&1 &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		if ! ca_pid_alive "$pid"; then
			break
		fi
		if ca_port_open "$port"; then
			CA_LIGHTTPD_RUNNING_PID=$pid
			return 0
		fi
		sleep 0.1
	done
	tail -n 20 "$CA_LIGHTTPD_LOG" >&2
	ca_say "lighttpd did not start on 127.0.0.1:$port within 30 s"
	ca_stop_pid "$pid" 5
	return 1
}

# ca_lighttpd_stop: stop the lighttpd of this var directory (this run's, or
# one an interrupted run left behind), which stops the programs it spawned.
ca_lighttpd_stop() {
	local pid
	pid=${CA_LIGHTTPD_RUNNING_PID:-}
	if [ -z "$pid" ]; then
		pid=$(cat "$CA_LIGHTTPD_PID" 2>/dev/null) || pid=
		case $(cat "/proc/$pid/comm" 2>/dev/null) in
		lighttpd) ;;
		*) pid= ;;
		esac
	fi
	if [ -n "$pid" ]; then
		ca_stop_pid "$pid" 15
	fi
	CA_LIGHTTPD_RUNNING_PID=
	rm -f "$CA_LIGHTTPD_PID"
}

# -- Apache ------------------------------------------------------------------
#
# Three ways, each from a shipped file with its install paths replaced by
# this run's (sed, paths only: what runs is the shipped file):
#   fcgid  httpd-conf/apache-collab-auth.conf (mod_fcgid, mpm_event),
#          Included by a small generated main config;
#   cgi    httpd-conf/htaccess as the .htaccess of a web root whose
#          cgi-bin/ holds the programs, under mpm_prefork and mod_cgi
#          without mod_fcgid: plain CGI, as on shared hosting;
#   proxy  httpd-conf/apache-collab-auth-proxy-fcgi.conf (mod_proxy_fcgi,
#          mpm_event), Included likewise, in front of the process pool
#          (ca_pool_start), which must run.
# Apache's children run as the user running this, or as www-data for
# root; what they read (the programs, a copy of the config owned by that
# user, the web root) and write (mod_fcgid's sockets) is staged under
# CA_APACHE_STAGE, in the run directory (see ca_paths).

# ca_apache2: the apache2 binary (in /usr/sbin, like lighttpd's).
ca_apache2() {
	if command -v apache2 >/dev/null 2>&1; then
		command -v apache2
	else
		echo /usr/sbin/apache2
	fi
}

# ca_apache_user: the user Apache's children run as when started by root
# (empty otherwise: they run as the user who starts Apache).
ca_apache_user() {
	if [ "$(id -u)" -eq 0 ]; then
		echo www-data
	fi
}

# ca_apache_unsubstituted FILE CONFIG: print the absolute paths of FILE
# (outside comments) that are not this run's: install paths that the
# substitution missed.
ca_apache_unsubstituted() {
	grep -v '^[[:space:]]*#' "$1" |
	    grep -oE '(^|[[:space:]":])/[^";[:space:]|]*' |
	    sed -E 's/^[[:space:]":]//' | while IFS= read -r path; do
		case $path in
		"$CA_TOP"/* | "$CA_VAR"/* | "$CA_RUN"/* | "$2") ;;
		/usr/* | /etc/* | /run/* | /var/* | /opt/* | /srv/* | /home/* | \
		    /tmp/* | /root/* | /lib*/*)
			printf '%s\n' "$path" ;;
		esac	# (the others are URL paths)
	done
}

# ca_apache_stage MODE CONFIG: make CA_APACHE_STAGE anew: the programs
# (those of CA_BINDIR when set: scripts/test's plain CGI pass runs the
# --enable-static-libs build; libexec/ for fcgid, htdocs/cgi-bin/ for
# cgi, mode 0755; for fcgid also
# auth-verify and tests/whoami/whoami, which the auth-verify example
# guards; sbin/auth-cleanup, the mail sender the programs start), the
# API document (share/ for fcgid, htdocs/api/auth/ for cgi),
# CONFIG copied to collab-auth.env (mode 0600, owned by Apache's user),
# run/ for Apache's runtime files, fcgid/ for mod_fcgid's sockets, and
# whoami.log (CA_WHOAMI_LOG), where whoami logs each request it gets.
ca_apache_stage() {
	local mode=$1 config=$2 stage=$CA_APACHE_STAGE user e dir
	user=$(ca_apache_user)
	ca_apache_stop
	# Apache's user must be able to walk from / to the staged files.  A
	# real system's / always lets it; a throwaway root made with
	# mktemp -d (a chroot for tests) is mode 0700.
	if [ -n "$user" ] &&
	    ! su -s /bin/sh -c 'test -x /' "$user" 2>/dev/null; then
		ca_say "/ is not searchable by $user (mode $(stat -c %a /)):" \
		    "making it searchable, as on any installed system"
		chmod o+x / || return 1
	fi
	rm -rf "$stage"
	mkdir -m 0755 "$stage" "$stage/run" "$stage/empty" || return 1
	mkdir -m 0700 "$stage/fcgid" || return 1
	case $mode in
	fcgid)
		dir=$stage/libexec
		mkdir -m 0755 "$dir" "$stage/share" || return 1
		install -m 0644 "$CA_TOP/$CA_OPENAPI" "$stage/share/" ||
		    return 1
		for e in $CA_AUTHORIZERS; do
			install -m 0755 \
			    "${CA_BINDIR:-$CA_TOP/cgi-bin}/auth-$e" "$dir/" ||
			    return 1
		done
		install -m 0755 "$CA_TOP/tests/whoami/whoami" "$dir/" ||
		    return 1
		;;
	cgi)
		mkdir -m 0755 "$stage/htdocs" || return 1
		dir=$stage/htdocs/cgi-bin
		mkdir -m 0755 "$dir" || return 1
		install -D -m 0644 "$CA_TOP/$CA_OPENAPI" \
		    "$stage/htdocs/api/auth/openapi.json" || return 1
		;;
	proxy)
		# The pool runs the programs; only the API document here.
		mkdir -m 0755 "$stage/share" || return 1
		install -m 0644 "$CA_TOP/$CA_OPENAPI" "$stage/share/"
		return
		;;
	esac
	for e in $CA_ENDPOINTS; do
		install -m 0755 "${CA_BINDIR:-$CA_TOP/cgi-bin}/auth-$e" "$dir/" ||
		    return 1
	done
	# The mail sender forgot-password starts (MAIL_DELIVERY_PROGRAM).
	install -d -m 0755 "$stage/sbin" &&
	    install -m 0755 "$CA_TOP/cron/auth-cleanup" "$stage/sbin/" ||
	    return 1
	install -m 0600 "$config" "$stage/collab-auth.env" || return 1
	CA_WHOAMI_LOG=$stage/whoami.log
	: >"$CA_WHOAMI_LOG" || return 1
	if [ -n "$user" ]; then
		chown "$user:" "$stage/collab-auth.env" "$stage/fcgid" \
		    "$CA_WHOAMI_LOG" || return 1
	fi
}

# ca_apache_conf MODE PORT CONFIG [NAME=VALUE...]: stage (above) and
# generate CA_APACHE_DIR/apache-MODE.conf for 127.0.0.1:PORT, with the
# programs reading CONFIG (its staged copy) and having NAME=VALUE in their
# environment: Apache, unlike lighttpd, hands a program none of its own,
# so these are FcgidInitialEnv (fcgid) or SetEnv (cgi) lines of the
# generated main config.  With fcgid the shipped auth-verify example
# (httpd-conf/apache-collab-auth-verify.conf) is included too, guarding
# the staged whoami, its auth-verify on CA_VERIFY_PORT (started by
# ca_apache_start).  Sets CA_APACHE_MODE, CA_APACHE_CONF, CA_APACHE_LOG
# (the error log, which holds the programs' stderr),
# CA_APACHE_ACCESS_LOG, CA_APACHE_ENV (the NAME=VALUE pairs) and
# CA_VERIFY_PORT.
ca_apache_conf() {
	local mode=$1 port=$2 config=$3 stage=$CA_APACHE_STAGE user pair
	local name value envdir mods="" m left src out vsrc vout=
	local moddir=/usr/lib/apache2/modules
	shift 3
	CA_APACHE_ENV=("$@")
	case $mode in
	fcgid)
		src=$CA_TOP/httpd-conf/apache-collab-auth.conf
		vsrc=$CA_TOP/httpd-conf/apache-collab-auth-verify.conf
		envdir=FcgidInitialEnv
		mods="mpm_event authz_core alias rewrite fcgid authn_core
		    authnz_fcgi headers"
		;;
	cgi)
		src=$CA_TOP/httpd-conf/htaccess
		envdir=SetEnv
		# authnz_fcgi: so that its directives are known, and refused
		# in .htaccess as on any host (tests/endpoint/test_verify.py).
		mods="mpm_prefork authz_core rewrite cgi env authnz_fcgi"
		;;
	proxy)
		src=$CA_TOP/httpd-conf/apache-collab-auth-proxy-fcgi.conf
		envdir=
		mods="mpm_event authz_core alias headers rewrite proxy proxy_fcgi"
		;;
	*) ca_say "ca_apache_conf: no such mode: $mode"; return 1 ;;
	esac
	[ -f "$src" ] || { ca_say "$src: missing"; return 1; }
	case $CA_TOP$CA_VAR$CA_RUN$config in
	*[\"\\\$]* | *[[:space:]]*)
		ca_say "$CA_TOP, $CA_VAR or $config: a path with spaces, \", \\ or \$ is not supported under Apache"
		return 1
		;;
	esac
	CA_APACHE_MODE=$mode
	CA_APACHE_CONF=$CA_APACHE_DIR/apache-$mode.conf
	CA_APACHE_LOG=$CA_LOG/apache-$mode-error.log
	CA_APACHE_ACCESS_LOG=$CA_LOG/apache-$mode-access.log
	ca_apache_stage "$mode" "$config" || return 1
	user=$(ca_apache_user)

	if [ "$mode" = fcgid ]; then
		out=$CA_APACHE_DIR/collab-auth.conf
		ca_apache_sed "$src" >"$out" || return 1
		CA_VERIFY_PORT=$(ca_free_port) || return 1
		vout=$CA_APACHE_DIR/collab-auth-verify.conf
		ca_apache_sed "$vsrc" | sed \
		    -e "s|fcgi://127\\.0\\.0\\.1:9101/|fcgi://127.0.0.1:$CA_VERIFY_PORT/|" \
		    >"$vout" || return 1
	elif [ "$mode" = proxy ]; then
		out=$CA_APACHE_DIR/collab-auth-proxy-fcgi.conf
		ca_apache_sed "$src" |
		    sed -e "s|/run/collab-auth/|$(ca_sed_repl "$CA_RUN")/|g" \
		    >"$out" || return 1
	else
		# Nothing to substitute: the .htaccess names no path.
		out=$stage/htdocs/.htaccess
		cp "$src" "$out" && chmod 0644 "$out" || return 1
	fi
	left=$(ca_apache_unsubstituted "$out" "$stage/collab-auth.env"
	    [ -z "$vout" ] || ca_apache_unsubstituted "$vout" \
	    "$stage/collab-auth.env")
	if [ -n "$left" ]; then
		ca_say "$src: a path that $CA_PROG does not substitute:"
		printf '%s\n' "$left" >&2
		return 1
	fi

	{
		echo "# Generated by scripts/$CA_PROG: a private Apache on loopback that runs"
		if [ "$mode" = fcgid ]; then
			echo "# the shipped httpd-conf/apache-collab-auth.conf (paths substituted)."
		elif [ "$mode" = proxy ]; then
			echo "# the shipped httpd-conf/apache-collab-auth-proxy-fcgi.conf (paths"
			echo "# substituted) in front of the process pool."
		else
			echo "# the shipped httpd-conf/htaccess as the .htaccess of a web root, with"
			echo "# mod_cgi and without mod_fcgid: plain CGI, as on shared hosting."
		fi
		echo "ServerRoot \"$CA_APACHE_DIR\""
		echo "ServerName 127.0.0.1"
		echo "Listen 127.0.0.1:$port"
		echo "PidFile \"$CA_APACHE_PID\""
		echo "DefaultRuntimeDir \"$stage/run\""
		echo "ErrorLog \"$CA_APACHE_LOG\""
		if [ "$mode" = fcgid ]; then
			# A line whenever mod_fcgid starts or stops a program.
			echo "LogLevel warn fcgid:info"
		else
			echo "LogLevel warn"
		fi
		echo "LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b %D\" timed"
		echo "CustomLog \"$CA_APACHE_ACCESS_LOG\" timed"
		if [ -n "$user" ]; then
			echo "User $user"
			echo "Group $(id -gn "$user")"
		fi
		for m in $mods; do
			echo "LoadModule ${m}_module $moddir/mod_$m.so"
		done
		echo "<Directory />"
		echo "	Options None"
		echo "	AllowOverride None"
		echo "	Require all denied"
		echo "</Directory>"
		if [ "$mode" = fcgid ]; then
			echo "DocumentRoot \"$stage/empty\""
			echo "FcgidIPCDir \"$stage/fcgid\""
			echo "FcgidProcessTableFile \"$stage/run/fcgid-shm\""
		elif [ "$mode" = proxy ]; then
			echo "DocumentRoot \"$stage/empty\""
		else
			echo "DocumentRoot \"$stage/htdocs\""
			echo "# What a shared host allows in .htaccess (see httpd-conf/htaccess)."
			echo "<Directory \"$stage/htdocs\">"
			echo "	Options SymLinksIfOwnerMatch"
			echo "	AllowOverride FileInfo AuthConfig Options"
			echo "	Require all granted"
			echo "</Directory>"
			echo "# Where a host would have the config at the path compiled in."
			echo "SetEnv AUTH_CONFIG \"$stage/collab-auth.env\""
		fi
		if [ "$mode" = proxy ] && [ $# -gt 0 ]; then
			ca_say "proxy: the pool gives the programs their environment"
			return 1
		fi
		echo "# The programs' environment."
		for pair in "$@"; do
			name=${pair%%=*}
			value=${pair#*=}
			case $name in
			'' | [0-9]* | *[!A-Za-z0-9_]*)
				ca_say "not an environment variable name: $name"
				return 1 ;;
			esac
			case $value in
			*[\"\\\$]* | *"
"*)
				ca_say "$name: a value with \", \\, \$ or a newline is not supported under Apache"
				return 1 ;;
			esac
			echo "$envdir $name \"$value\""
		done
		if [ "$mode" = proxy ]; then
			echo "Include \"$out\""
		elif [ "$mode" = fcgid ]; then
			echo "Include \"$out\""
			echo "# whoami, which the auth-verify example guards, logs"
			echo "# each request it gets."
			echo "FcgidCmdOptions \"$stage/libexec/whoami\" \\"
			echo "    InitialEnv WHOAMI_LOG=$CA_WHOAMI_LOG"
			echo "Include \"$vout\""
		fi
	} >"$CA_APACHE_CONF.tmp" && mv "$CA_APACHE_CONF.tmp" "$CA_APACHE_CONF"
}

# ca_apache_sed FILE: FILE with the install paths of the shipped Apache
# configs replaced by the staged ones (see ca_apache_stage).
ca_apache_sed() {
	local stage=$CA_APACHE_STAGE
	sed -e "s|/usr/local/libexec/profiles/profiles\\.fcgi|$(ca_sed_repl "$stage/libexec/whoami")|g" \
	    -e "s|/usr/local/libexec/profiles|$(ca_sed_repl "$stage/libexec")|g" \
	    -e "s|/usr/local/libexec/collab-auth|$(ca_sed_repl "$stage/libexec")|g" \
	    -e "s|/usr/local/share/collab-auth|$(ca_sed_repl "$stage/share")|g" \
	    -e "s|/usr/local/etc/collab-auth\\.env|$(ca_sed_repl "$stage/collab-auth.env")|g" \
	    "$1"
}

# ca_apache_start PORT [NAME=VALUE...]: check and start Apache with the
# config ca_apache_conf generated, with NAME=VALUE in its own environment
# (not the programs', see above), and wait (bounded) until the port
# answers.  With fcgid, start auth-verify first (ca_verify_start).  Sets
# CA_APACHE_RUNNING_PID.
ca_apache_start() {
	local port=$1 conf=$CA_APACHE_CONF i pid apache2
	shift
	apache2=$(ca_apache2)
	ca_apache_stop
	if [ "$CA_APACHE_MODE" = fcgid ]; then
		ca_verify_start || return 1
	fi
	if ! env "$@" "$apache2" -t -f "$conf" >"$CA_APACHE_LOG.check" 2>&1; then
		cat "$CA_APACHE_LOG.check" >&2
		ca_say "apache2 rejected $conf"
		return 1
	fi
	rm -f "$CA_APACHE_LOG.check"
	# Apache's own stderr (what it says before it opens its error log)
	# goes to the error log too.
	env "$@" setsid "$apache2" -f "$conf" -DFOREGROUND \
	    </dev/null >>"$CA_APACHE_LOG" 2>&1 &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		if ! ca_pid_alive "$pid"; then
			break
		fi
		if ca_port_open "$port"; then
			CA_APACHE_RUNNING_PID=$pid
			return 0
		fi
		sleep 0.1
	done
	tail -n 20 "$CA_APACHE_LOG" >&2
	ca_say "apache2 did not start on 127.0.0.1:$port within 30 s"
	ca_stop_pid "$pid" 5
	return 1
}

# ca_verify_start: start the staged auth-verify as mod_authnz_fcgi wants
# it, a FastCGI server of its own on 127.0.0.1:CA_VERIFY_PORT (spawn-fcgi,
# one process, as Apache's user), with the programs' environment
# (CA_APACHE_ENV) and their config; its stderr goes to Apache's error
# log, with the other programs' lines.  Waits (bounded) until the port
# answers.
ca_verify_start() {
	local stage=$CA_APACHE_STAGE user i pid
	local pidfile=$CA_APACHE_STAGE/run/auth-verify.pid
	user=$(ca_apache_user)
	env ${CA_APACHE_ENV[@]+"${CA_APACHE_ENV[@]}"} \
	    AUTH_CONFIG="$stage/collab-auth.env" setsid spawn-fcgi -n \
	    -a 127.0.0.1 -p "$CA_VERIFY_PORT" ${user:+-u "$user"} \
	    -- "$stage/libexec/auth-verify" \
	    </dev/null >>"$CA_APACHE_LOG" 2>&1 &
	pid=$!
	echo "$pid" >"$pidfile"
	for ((i = 0; i < 100; i++)); do
		ca_port_open "$CA_VERIFY_PORT" && return 0
		ca_pid_alive "$pid" || break
		sleep 0.1
	done
	ca_say "auth-verify did not start on 127.0.0.1:$CA_VERIFY_PORT"
	ca_stop_pid "$pid" 5
	return 1
}

# ca_apache_stop: stop the Apache of this var directory (this run's, or
# one an interrupted run left behind), which stops the programs it runs,
# and the auth-verify of ca_verify_start.
ca_apache_stop() {
	local pid vpid
	vpid=$(cat "$CA_APACHE_STAGE/run/auth-verify.pid" 2>/dev/null) ||
	    vpid=
	case $(cat "/proc/$vpid/comm" 2>/dev/null) in
	auth-verify) ca_stop_pid "$vpid" 5 ;;
	esac
	rm -f "$CA_APACHE_STAGE/run/auth-verify.pid"
	pid=${CA_APACHE_RUNNING_PID:-}
	if [ -z "$pid" ]; then
		pid=$(cat "$CA_APACHE_PID" 2>/dev/null) || pid=
		case $(cat "/proc/$pid/comm" 2>/dev/null) in
		apache2) ;;
		*) pid= ;;
		esac
	fi
	if [ -n "$pid" ]; then
		ca_stop_pid "$pid" 15
	fi
	CA_APACHE_RUNNING_PID=
	rm -f "$CA_APACHE_PID"
}

# ca_wait_port PID PORT LOG NAME: wait (bounded, 30 s) until PID, server
# NAME just started in the background, answers on 127.0.0.1:PORT; if it
# ends or does not answer, show the end of LOG, stop it and fail.
ca_wait_port() {
	local pid=$1 port=$2 i
	for ((i = 0; i < 300; i++)); do
		ca_pid_alive "$pid" || break
		ca_port_open "$port" && return 0
		sleep 0.1
	done
	tail -n 20 "$3" >&2
	ca_say "$4 did not start on 127.0.0.1:$port within 30 s"
	ca_stop_pid "$pid" 5
	return 1
}

# ca_conf_ok MESSAGE COMMAND...: run COMMAND, a server's check of its
# config; if it fails, show what it said and MESSAGE, and fail.
ca_conf_ok() {
	local msg=$1 out
	shift
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		ca_say "$msg"
		return 1
	fi
}

# ca_stop_server PID PIDFILE COMM: stop server PID (this run's), or else
# the one PIDFILE names if it runs COMM (one an interrupted run left
# behind), and remove PIDFILE.
ca_stop_server() {
	local pid=$1
	if [ -z "$pid" ]; then
		pid=$(cat "$2" 2>/dev/null) || pid=
		if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$3" ]; then
			pid=
		fi
	fi
	if [ -n "$pid" ]; then
		ca_stop_pid "$pid" 15
	fi
	rm -f "$2"
}

# -- The process pool (for nginx, and Apache with mod_proxy_fcgi) -------------
#
# Each program of CA_POOL_PROGRAMS runs as a pool of processes sharing one
# listening unix socket, CA_RUN/auth-NAME.sock: as the shipped
# httpd-conf/systemd/collab-auth@.service runs it, multiwatch forking WORKERS copies
# of the program, with spawn-fcgi in systemd's place making the socket
# (mode 0660, owned by the web server's user when run as root) and handing
# it over as standard input.  The command line, WORKERS and the programs'
# environment come from the shipped unit and its drop-ins (paths replaced
# by this tree's: what runs is the shipped ExecStart).  The programs run
# as the user running this; their stderr and multiwatch's go to
# CA_POOL_LOG.  Each pool is a session of its own, whose id is in
# CA_RUN/pool-NAME.pid.

# ca_web_user: the user a web server started by root runs as (empty
# otherwise: it runs as the user who starts it).
ca_web_user() {
	ca_apache_user
}

# ca_pool_command NAME CONFIG: set CA_POOL_ENV and CA_POOL_ARGV (arrays)
# to the environment and command line the shipped unit gives program
# auth-NAME, with CONFIG as its config file.
ca_pool_command() {
	local name=$1 config=$2 dir=$CA_TOP/httpd-conf/systemd f line key value exec=
	local -A vars=()
	local -a order=()
	CA_POOL_ENV=()
	CA_POOL_ARGV=()
	for f in "$dir/collab-auth@.service" \
	    "$dir/collab-auth@$name.service.d"/*.conf; do
		[ -f "$f" ] || continue
		while IFS= read -r line; do
			line=$(printf '%s\n' "$line" |
			    sed -e "s|/usr/local/libexec/collab-auth/|$(ca_sed_repl "$CA_TOP")/cgi-bin/|g" \
			    -e "s|/usr/local/etc/collab-auth\\.env|$(ca_sed_repl "$config")|g")
			case $line in
			Environment=*=*)
				line=${line#Environment=}
				key=${line%%=*}
				value=${line#*=}
				case $line in
				*[\"\'\ \\%\$]*)
					ca_say "$f: an Environment= line that $CA_PROG does not read: $line"
					return 1 ;;
				esac
				[ -n "${vars[$key]+set}" ] || order+=("$key")
				vars[$key]=$value
				;;
			ExecStart=*) exec=${line#ExecStart=} ;;
			esac
		done <"$f"
	done
	[ -n "$exec" ] || { ca_say "$dir/collab-auth@.service: no ExecStart"; return 1; }
	exec=${exec//%i/$name}
	for key in "${order[@]}"; do
		exec=${exec//\$\{$key\}/${vars[$key]}}
		CA_POOL_ENV+=("$key=${vars[$key]}")
	done
	case $exec in
	*[\"\'\\%\$]*)
		ca_say "collab-auth@$name.service: $CA_PROG cannot run: $exec"
		return 1 ;;
	esac
	read -r -a CA_POOL_ARGV <<<"$exec"
}

# ca_pool_pid NAME: the pid of program auth-NAME's pool (multiwatch), if
# it runs.
ca_pool_pid() {
	local pid
	pid=$(cat "$CA_RUN/pool-$1.pid" 2>/dev/null) || return 1
	ca_pid_alive "$pid" || return 1
	case $(cat "/proc/$pid/comm" 2>/dev/null) in
	multiwatch | spawn-fcgi) ;;
	*) return 1 ;;
	esac
	printf '%s\n' "$pid"
}

# ca_pool_start CONFIG [NAME=VALUE...]: (re)start a pool for every program
# of CA_POOL_PROGRAMS, reading CONFIG, with NAME=VALUE added to the
# environment the unit gives (which, as under systemd, is all they get),
# and wait (bounded) until every socket listens.
ca_pool_start() {
	local config=$1 name pid sock user i ready
	local -a own=()
	shift
	# shellcheck disable=SC2086
	ca_pool_stop $CA_POOL_PROGRAMS
	user=$(ca_web_user)
	if [ -n "$user" ]; then
		own=(-U "$user" -G "$(id -gn "$user")")
	fi
	for name in $CA_POOL_PROGRAMS; do
		ca_pool_command "$name" "$config" || return 1
		sock=$CA_RUN/auth-$name.sock
		rm -f "$sock"
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${CA_POOL_ENV[@]}" \
		    "$@" setsid spawn-fcgi -n -s "$sock" -M 0660 \
		    ${own[@]+"${own[@]}"} -- "${CA_POOL_ARGV[@]}" \
		    </dev/null >>"$CA_POOL_LOG" 2>&1 &
		echo "$!" >"$CA_RUN/pool-$name.pid"
	done
	# Ready once every pool is multiwatch (env, setsid and spawn-fcgi
	# exec one another on the way) and its socket is there.
	for ((i = 0; i < 300; i++)); do
		ready=1
		for name in $CA_POOL_PROGRAMS; do
			pid=$(cat "$CA_RUN/pool-$name.pid")
			if ! ca_pid_alive "$pid"; then
				tail -n 20 "$CA_POOL_LOG" >&2
				ca_say "the pool of auth-$name did not start; see $CA_POOL_LOG"
				# shellcheck disable=SC2086
				ca_pool_stop $CA_POOL_PROGRAMS
				return 1
			fi
			if [ ! -S "$CA_RUN/auth-$name.sock" ] ||
			    [ "$(cat "/proc/$pid/comm")" != multiwatch ]; then
				ready=0
			fi
		done
		[ "$ready" = 1 ] && return 0
		sleep 0.1
	done
	ca_say "the pools' sockets did not appear within 30 s"
	# shellcheck disable=SC2086
	ca_pool_stop $CA_POOL_PROGRAMS
	return 1
}

# ca_pool_stop [NAME...]: stop the pools of those programs, or every pool
# of this var directory (this run's, or one an interrupted run left
# behind): SIGTERM to each multiwatch, which passes SIGUSR1 on (each
# process ends after the request in hand), then, after 15 s, SIGKILL to
# whatever is left of a pool's session.
ca_pool_stop() {
	local f pid name i
	local -a names=("$@") pids=()
	if [ ${#names[@]} -eq 0 ]; then
		for f in "$CA_RUN"/pool-*.pid; do
			[ -f "$f" ] || continue
			name=${f##*/pool-}
			names+=("${name%.pid}")
		done
	fi
	for name in ${names[@]+"${names[@]}"}; do
		if pid=$(ca_pool_pid "$name"); then
			kill -TERM "$pid" 2>/dev/null
			pids+=("$pid")
		fi
	done
	for pid in ${pids[@]+"${pids[@]}"}; do
		for ((i = 0; i < 150; i++)); do
			kill -0 -- "-$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 -- "-$pid" 2>/dev/null; then
			ca_say "pool $pid still running after 15 s: SIGKILL"
			kill -KILL -- "-$pid" 2>/dev/null
		fi
	done
	for name in ${names[@]+"${names[@]}"}; do
		rm -f "$CA_RUN/pool-$name.pid" "$CA_RUN/auth-$name.sock"
	done
}

# -- nginx -------------------------------------------------------------------
#
# nginx runs the shipped httpd-conf/nginx-collab-auth.conf inside the server
# block of a small generated main config, with the socket directory
# replaced by this run's (sed, paths only), in front of the pool above.
# Its workers run as the user running this, or as www-data for root.

# ca_sbin NAME: the path of program NAME, /usr/sbin/NAME if PATH has none
# (a user's PATH on Debian holds no /usr/sbin).
ca_sbin() {
	command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"
}

# ca_nginx_conf PORT: generate CA_NGINX_DIR/nginx.conf for 127.0.0.1:PORT,
# with the shipped auth-verify example too (its http {} part and its
# server {} part, split at its "---" lines), guarding tests/whoami/whoami
# on CA_RUN/profiles.sock (started by ca_nginx_start), which logs each
# request it gets to CA_WHOAMI_LOG.  The API document is copied where
# nginx's user can read it.
ca_nginx_conf() {
	local port=$1 snippet=$CA_TOP/httpd-conf/nginx-collab-auth.conf
	local verify=$CA_TOP/httpd-conf/nginx-collab-auth-verify.conf
	local out=$CA_NGINX_DIR/collab-auth.conf user left
	local vhttp=$CA_NGINX_DIR/collab-auth-verify-http.conf
	local vserver=$CA_NGINX_DIR/collab-auth-verify-server.conf
	local share=$CA_RUN/nginx-share
	[ -f "$snippet" ] || { ca_say "$snippet: missing"; return 1; }
	case $CA_VAR$CA_RUN in
	*[\"\'\\\$\;{}]* | *[[:space:]]*)
		ca_say "$CA_VAR: a path with spaces, quotes, \\, \$, ; or braces is not supported under nginx"
		return 1 ;;
	esac
	mkdir -p "$CA_NGINX_DIR/htdocs" || return 1
	mkdir -p -m 0755 "$share" || return 1
	install -m 0644 "$CA_TOP/$CA_OPENAPI" "$share/" || return 1
	CA_WHOAMI_LOG=$CA_RUN/whoami.log
	ca_nginx_sed "$snippet" >"$out" || return 1
	ca_nginx_sed "$verify" | sed -n '/^# --- http {} context/,/^# --- server {} context/p' \
	    >"$vhttp" || return 1
	ca_nginx_sed "$verify" | sed -n '/^# --- server {} context/,$p' \
	    >"$vserver" || return 1
	# Every path left must be one of ours: the snippet holds no install
	# path that this function does not know how to replace.
	left=$(for f in "$out" "$vhttp" "$vserver"; do
		ca_apache_unsubstituted "$f" "$CA_RUN"
	done)
	if [ -n "$left" ]; then
		ca_say "$snippet, $verify: a path that $CA_PROG does not substitute:"
		printf '%s\n' "$left" >&2
		return 1
	fi
	# The snippet includes fastcgi_params, which nginx looks for beside
	# its main config: the one nginx ships.
	cp /etc/nginx/fastcgi_params "$CA_NGINX_DIR/fastcgi_params" || return 1
	user=$(ca_web_user)
	cat >"$CA_NGINX_DIR/nginx.conf" <<EOF
# Generated by scripts/$CA_PROG: a private nginx on loopback that runs the
# shipped httpd-conf/nginx-collab-auth.conf (paths substituted).
${user:+user $user $(id -gn "$user");}
daemon off;
worker_processes auto;
pid $CA_NGINX_PID;
error_log $CA_NGINX_LOG;
events {
	worker_connections 1024;
}
http {
	access_log $CA_NGINX_ACCESS_LOG;
	client_body_temp_path $CA_RUN/nginx-tmp/body;
	fastcgi_temp_path $CA_RUN/nginx-tmp/fastcgi;
	proxy_temp_path $CA_RUN/nginx-tmp/proxy;
	scgi_temp_path $CA_RUN/nginx-tmp/scgi;
	uwsgi_temp_path $CA_RUN/nginx-tmp/uwsgi;
	default_type application/octet-stream;
	include $vhttp;
	server {
		listen 127.0.0.1:$port;
		server_name localhost;
		root $CA_NGINX_DIR/htdocs;
		include $out;
		include $vserver;
	}
}
EOF
}

# ca_nginx_sed FILE: FILE with the install paths of the shipped nginx
# configs replaced by this run's (see ca_nginx_conf).
ca_nginx_sed() {
	sed -e "s|/run/collab-auth/|$(ca_sed_repl "$CA_RUN")/|g" \
	    -e "s|/run/profiles/profiles\\.sock|$(ca_sed_repl "$CA_RUN")/profiles.sock|g" \
	    -e "s|/usr/local/share/collab-auth/|$(ca_sed_repl "$CA_RUN")/nginx-share/|g" \
	    "$1"
}

# ca_nginx_start PORT: check and start nginx with the generated config,
# and wait (bounded) until the port answers; first tests/whoami/whoami,
# which the auth-verify example guards, on CA_RUN/profiles.sock.  Sets
# CA_NGINX_RUNNING_PID.
ca_nginx_start() {
	local port=$1 conf=$CA_NGINX_DIR/nginx.conf pid i
	local -a args own=()
	args=(-p "$CA_NGINX_DIR/" -e "$CA_NGINX_LOG" -c "$conf")
	ca_nginx_stop
	mkdir -p "$CA_RUN/nginx-tmp" || return 1
	if [ -n "$(ca_web_user)" ]; then
		own=(-U "$(ca_web_user)" -G "$(id -gn "$(ca_web_user)")")
	fi
	: >"$CA_WHOAMI_LOG" || return 1
	rm -f "$CA_RUN/profiles.sock"
	env -i PATH=/usr/bin:/bin WHOAMI_LOG="$CA_WHOAMI_LOG" setsid \
	    spawn-fcgi -n -s "$CA_RUN/profiles.sock" -M 0660 \
	    ${own[@]+"${own[@]}"} -- "$CA_TOP/tests/whoami/whoami" \
	    </dev/null >>"$CA_NGINX_LOG" 2>&1 &
	echo "$!" >"$CA_RUN/whoami.pid"
	for ((i = 0; i < 100; i++)); do
		[ -S "$CA_RUN/profiles.sock" ] && break
		sleep 0.1
	done
	ca_conf_ok "nginx rejected $conf" "$(ca_sbin nginx)" -t -q \
	    "${args[@]}" || return 1
	setsid "$(ca_sbin nginx)" "${args[@]}" </dev/null >>"$CA_NGINX_LOG" 2>&1 &
	pid=$!
	ca_wait_port "$pid" "$port" "$CA_NGINX_LOG" nginx || return 1
	CA_NGINX_RUNNING_PID=$pid
}

# ca_nginx_stop: stop the nginx of this var directory (this run's, or one
# an interrupted run left behind).  The pool is stopped on its own.
ca_nginx_stop() {
	ca_stop_server "${CA_NGINX_RUNNING_PID:-}" "$CA_NGINX_PID" nginx
	CA_NGINX_RUNNING_PID=
	ca_stop_server "" "$CA_RUN/whoami.pid" whoami
	rm -f "$CA_RUN/profiles.sock"
}
