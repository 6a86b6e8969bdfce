# shellcheck shell=bash
# SPDX-License-Identifier: ISC
#
# tests/sanitizers/pass.sh: the sanitizer pass of scripts/test, which
# sources this file.  The tree is built once more, in var/build/asan with
# clang and --enable-sanitizers (AddressSanitizer, LeakSanitizer,
# UndefinedBehaviorSanitizer); its unit tests run, and the endpoint suite
# runs through lighttpd against its programs: the server "lighttpd-asan".
#
# Reports.  Every program, under lighttpd or run directly by a test (plain
# CGI, auth-cleanup), writes each report to a file of its own in
# LOG/sanitizers/ (log_path in ASAN_OPTIONS and UBSAN_OPTIONS: report.NAME.PID,
# with the program's name and pid; clang's runtime honours
# log_path for UBSan too, gcc's writes UBSan reports to stderr, hence
# clang).  A report ends the program (halt_on_error, and the build's
# -fno-sanitize-recover).  After each test file, scripts/test calls
# san_file_end, which turns every new report into a problem naming the
# program and the test file, and also looks for reports in what the
# programs wrote to stderr during that file (lighttpd's breakagelog).
#
# Leaks.  lighttpd stops its FastCGI programs with SIGTERM, which would
# end them before LeakSanitizer's check at exit; exit-on-term.so,
# preloaded into lighttpd and so into the programs it starts, runs that
# check on SIGTERM instead.  So leaks of the FastCGI programs are found
# when lighttpd stops after the last test file (and are reported as found
# then: which test file leaked is not known), and leaks of the programs the
# tests run directly, at their exit, during the test file that ran them.
#
# Functions are prefixed san_; variables SAN_.  They use scripts/test's
# problem(), passed and the CA_* paths.

SAN_BUILD=$CA_TOP/var/build/asan
SAN_PRELOAD=$SAN_BUILD/tests/sanitizers/exit-on-term.so

# san_build: build the programs and the preload library; 1 on failure
# (the output is in LOG/sanitizers-build.log).
san_build() {
	local log=$CA_LOG/sanitizers-build.log
	{
		ca_build_copy "$SAN_BUILD" CC=clang --enable-sanitizers &&
		    mkdir -p "${SAN_PRELOAD%/*}" &&
		    clang -O1 -Wall -Wextra -Werror -shared -fPIC \
		    -o "$SAN_PRELOAD" "$CA_TOP/tests/sanitizers/exit-on-term.c"
	} >"$log" 2>&1 && return 0
	tail -n 20 "$log"
	return 1
}

# san_unit: the unit tests, built with the sanitizers ("make check" in
# the sanitizer build, reports on their stderr): one check, or a problem
# for each test that failed.
san_unit() {
	local log=$CA_LOG/sanitizers-unit.log trs found=0
	if (cd "$SAN_BUILD" && make -s -j"$(nproc 2>/dev/null || echo 2)" \
	    check) >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "ok - sanitizers: the unit tests"
		return 0
	fi
	for trs in $(grep -l -E '^:test-result: (FAIL|XPASS|ERROR)' \
	    $(find "$SAN_BUILD/tests" -name '*.trs')); do
		problem "sanitizers: unit test ${trs%.trs} failed (see ${trs%.trs}.log)"
		found=1
	done
	[ "$found" = 1 ] ||
	    problem "sanitizers: make check failed (see $log)"
}

# san_start: point the tests and lighttpd at the sanitizer build, with
# the sanitizers' options, for the pass; san_stop puts things back.
san_start() {
	SAN_REPORTS=$CA_LOG/sanitizers
	rm -rf "$SAN_REPORTS"
	mkdir -p "$SAN_REPORTS" || return 1
	SAN_SAVED_BINDIR=$AUTH_TEST_BINDIR
	SAN_SAVED_CLEANUP=$AUTH_TEST_CLEANUP
	export CA_BINDIR=$SAN_BUILD/cgi-bin
	export AUTH_TEST_BINDIR=$SAN_BUILD/cgi-bin
	export AUTH_TEST_CLEANUP=$SAN_BUILD/cron/auth-cleanup
	# strict_string_checks: a string function reading past a NUL.
	# allocator_may_return_null: a huge malloc() fails with NULL, as in
	# production, instead of ending the program (the one-line warning
	# it writes is not counted as a report, see san_check):
	# test_fcgi_abort.py makes libfcgi ask for 2^64 - 2 bytes on purpose
	# (its known abort), and our code handles NULL everywhere.
	export ASAN_OPTIONS="log_path=$SAN_REPORTS/report:log_exe_name=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:strict_init_order=1:allocator_may_return_null=1"
	export UBSAN_OPTIONS="log_path=$SAN_REPORTS/report:log_exe_name=1:print_stacktrace=1:halt_on_error=1"
}

san_stop() {
	unset CA_BINDIR ASAN_OPTIONS UBSAN_OPTIONS
	AUTH_TEST_BINDIR=$SAN_SAVED_BINDIR
	AUTH_TEST_CLEANUP=$SAN_SAVED_CLEANUP
}

# san_file_start: before a test file, note where the programs' stderr
# ends now.
san_file_start() {
	SAN_LOG_OFFSET=$(stat -c %s "$AUTH_TEST_PROGRAM_LOG" 2>/dev/null) ||
	    SAN_LOG_OFFSET=0
}

# san_check WHEN: a problem for each program and kind of report not seen
# before (counting the reports and naming one), naming WHEN (the test
# file, or "at lighttpd stop"), and for a report in the programs' stderr
# since san_file_start; else one passed check.
san_check() {
	local when=$1 f prog what key found=0
	local -A count=() first=()
	touch "$SAN_REPORTS/.seen"
	for f in "$SAN_REPORTS"/report.*; do
		[ -f "$f" ] || continue
		grep -qxF "$f" "$SAN_REPORTS/.seen" && continue
		# With allocator_may_return_null, a refused huge malloc() is
		# only a warning in the file (test_fcgi_abort.py provokes one
		# in libfcgi on purpose): not a report, but the process may
		# still add one to the same file, so look at it again later.
		grep -q -v -E '^==[^=]+==[0-9]+==WARNING: AddressSanitizer failed to allocate 0x[0-9a-f]+ bytes$' \
		    "$f" || continue
		echo "$f" >>"$SAN_REPORTS/.seen"
		# report.auth-register.1234: the program and its pid.
		prog=${f##*/report.}
		prog=${prog%.*}
		what=$(sed -n -E \
		    -e 's/.*(AddressSanitizer: [A-Za-z-]+).*/\1/p' \
		    -e 's/.*(LeakSanitizer: detected memory leaks).*/\1/p' \
		    -e 's/^(.*\/)?([^/]*: runtime error: [^:]{0,80}).*/\2/p' \
		    "$f" | head -n 1)
		key="$prog: ${what:-sanitizer report}"
		count[$key]=$((${count[$key]:-0} + 1))
		if [ -z "${first[$key]:-}" ]; then
			first[$key]=$f
			sed -n '1,40p' "$f"
		fi
		found=1
	done
	for key in "${!count[@]}"; do
		problem "lighttpd-asan: $when: $key (${count[$key]} report(s), e.g. ${first[$key]})"
	done
	if tail -c +"$((SAN_LOG_OFFSET + 1))" "$AUTH_TEST_PROGRAM_LOG" \
	    2>/dev/null | grep -E -m 5 \
	    'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer'; then
		problem "lighttpd-asan: $when: a sanitizer report in the programs' stderr (see $AUTH_TEST_PROGRAM_LOG)"
		found=1
	fi
	SAN_LOG_OFFSET=$(stat -c %s "$AUTH_TEST_PROGRAM_LOG" 2>/dev/null) ||
	    SAN_LOG_OFFSET=0
	if [ "$found" = 0 ]; then
		passed=$((passed + 1))
		echo "ok - lighttpd-asan: no sanitizer report $when"
	fi
}

# san_lighttpd_stop: stop lighttpd, wait (bounded) for its programs to
# finish their leak check, and look for reports.
san_lighttpd_stop() {
	local pids p i
	pids=$(pgrep -P "${CA_LIGHTTPD_RUNNING_PID:-0}" 2>/dev/null)
	ca_lighttpd_stop
	for ((i = 0; i < 300; i++)); do
		for p in $pids; do
			ca_pid_alive "$p" && break
			p=
		done
		[ -z "$p" ] && break
		sleep 0.1
	done
	san_check "at lighttpd stop (leaks of the FastCGI programs)"
}
