# SPDX-License-Identifier: ISC
"""Shared helpers for the endpoint tests: TAP output, HTTP through the
server under test, the programs run as plain CGI, and the database.

Standard library only; run by Debian's /usr/bin/python3.  scripts/test
sets the environment these read:

  AUTH_TEST_SERVER         which web server runs the programs: lighttpd
                           (mod_fastcgi), apache-fcgid (Apache, mod_fcgid),
                           apache-cgi (Apache, mod_cgi: plain CGI), nginx
                           (in front of the process pool: multiwatch) or
                           apache-proxy (Apache, mod_proxy_fcgi, the pool)
  AUTH_TEST_URL            base URL of the web server, http://127.0.0.1:PORT
  AUTH_TEST_TOP            top of the source tree
  AUTH_TEST_BINDIR         directory of the built programs (cgi-bin/)
  AUTH_TEST_CONFIG         the programs' config file (mode 0600)
  AUTH_TEST_BCRYPT_ROUNDS  BCRYPT_ROUNDS the server passes in the environment
  AUTH_TEST_TZ             TZ of the servers (not UTC on purpose)
  AUTH_TEST_DB_NAME        the database
  AUTH_TEST_DB_SOCKET      MariaDB's unix socket
  AUTH_TEST_DB_PORT        its loopback TCP port, with TLS
  AUTH_TEST_DB_TLS_DIR     its certificates: ca.pem is the test CA
                           (scripts/lib.sh, ca_db_tls_certs)
  AUTH_TEST_DB_PID_FILE    its pid file
  AUTH_TEST_VAR            the run's var directory (scripts/lib.sh ca_paths)
  AUTH_TEST_RUN_DIR        its run directory (sockets, Apache's staged files)
  AUTH_TEST_LIGHTTPD_CONF  the shipped lighttpd snippet as this run uses it
  AUTH_TEST_DB_PASSWORD_FILE  the app user's password, which no log may show
  AUTH_TEST_MARIADB        admin client command line (shell words)
  AUTH_TEST_DB_STOP        shell command stopping MariaDB (bounded)
  AUTH_TEST_DB_START       shell command starting MariaDB (bounded)
  AUTH_TEST_ERROR_LOG      the web server's error log
  AUTH_TEST_PROGRAM_LOG    the programs' stderr (lighttpd's server.breakagelog;
                           under Apache its error log, the same file; in
                           the pool the pool's log, with multiwatch's lines)
  AUTH_TEST_TMPDIR         scratch directory
  AUTH_TEST_SMTP_SPOOL     where the test SMTP server (smtp_server.py) that
                           the programs under the web server mail to keeps
                           each message as N.json
  AUTH_TEST_SMTP_PORT      its port on 127.0.0.1
  AUTH_TEST_CLEANUP        the built cron/auth-cleanup
  AUTH_TEST_VAR            scripts/test's var directory (scripts/lib.sh's
                           ca_paths: its sockets, logs, the pool's pid files)
  AUTH_TEST_ENDPOINTS      the endpoints (CA_ENDPOINTS): /api/auth/NAME each
  AUTH_TEST_POOL_PROGRAMS  the programs the pool runs (CA_POOL_PROGRAMS)
  AUTH_TEST_WHOAMI_LOG     where tests/whoami/whoami, the program that the
                           auth-verify examples guard, logs each request
  AUTH_TEST_WEBROOT        apache-cgi: the web root holding the .htaccess
  AUTH_TEST_WHOLE_SUITE    1 when every test file runs (test_openapi.py)

Every answer that request() and raw_request() receive is recorded, one
JSON line each, in AUTH_TEST_TMPDIR/answers.jsonl: test_openapi.py, which
runs last in each server's pass, checks them against openapi.json.
"""

import http.client
import json
import os
import re
import base64
import secrets
import shlex
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

REGISTER = "/api/auth/register"
TIMEOUT = 15

CONFIG_KEYS = (
    "AUTH_CONFIG MYSQL_DB_URL JWT_SECRET_KEY ALGORITHM "
    "ACCESS_TOKEN_EXPIRE_MINUTES REFRESH_TOKEN_EXPIRE_DAYS BCRYPT_ROUNDS "
    "BCRYPT_NICE "
    "MAIL_USERNAME MAIL_PASSWORD MAIL_FROM MAIL_PORT MAIL_SERVER "
    "TRUSTED_PROXIES REFRESH_REUSE_GRACE_SECONDS "
    "REFRESH_TOKEN_EXPIRE_SECONDS MAIL_FROM_NAME MAIL_STARTTLS MAIL_SSL_TLS "
    "USE_CREDENTIALS VALIDATE_CERTS MAIL_OUTBOX_DIR OTP_SECRET_KEY "
    "OTP_EXPIRE_MINUTES OTP_MAX_ATTEMPTS OTP_COOLDOWN_SECONDS "
    "OTP_MAX_PER_HOUR LOG_FILE DB_CONNECT_TIMEOUT DB_TIMEOUT "
    "DB_LOCK_WAIT_TIMEOUT VERIFY_CHECK_ACCOUNT OTP_MAX_FAILURES_PER_DAY "
    "MAIL_DELIVERY_PROGRAM MAIL_DELIVERY_SLOTS "
    "CORS_ALLOW_ORIGINS CORS_ALLOW_CREDENTIALS CORS_ALLOW_HEADERS "
    "CORS_MAX_AGE LEGACY_TOKENS"
).split() + ["THROTTLE_%s%s" % (k, w) for k in (
    "LOGIN_ACCOUNT", "LOGIN_ADDRESS_FAILURES", "LOGIN_ADDRESS",
    "REGISTER_ADDRESS", "FORGOT_ADDRESS", "RESET_ADDRESS",
    "REFRESH_ADDRESS") for w in ("", "_WINDOW")]


SERVERS = ("lighttpd", "apache-fcgid", "apache-cgi", "nginx", "apache-proxy")


def server():
    """The web server under test, one of SERVERS.  Branch on it only where
    a server answers something itself, before any program runs."""
    name = os.environ.get("AUTH_TEST_SERVER") or "lighttpd"
    if name not in SERVERS:
        print("Bail out! AUTH_TEST_SERVER=%s: not one of %s"
              % (name, ", ".join(SERVERS)))
        sys.exit(2)
    return name


def pooled():
    """Whether the programs run in the process pool (nginx, Apache's
    mod_proxy_fcgi) rather than under the web server."""
    return server() in ("nginx", "apache-proxy")


def env(name):
    value = os.environ.get(name)
    if not value:
        print("Bail out! %s is not set: run this through scripts/test" % name)
        sys.exit(2)
    return value


# -- TAP ---------------------------------------------------------------------

class TAP:
    """Numbered ok / not ok lines; the plan is printed at the end."""

    def __init__(self):
        self.count = 0
        self.failures = 0

    def ok(self, cond, desc, *diag):
        self.count += 1
        desc = desc.replace("#", "\\#").replace("\n", " ")
        if cond:
            print("ok %d - %s" % (self.count, desc), flush=True)
        else:
            self.failures += 1
            print("not ok %d - %s" % (self.count, desc), flush=True)
            for d in diag:
                for line in str(d).splitlines() or [""]:
                    print("#   " + line)
            sys.stdout.flush()
        return bool(cond)

    def eq(self, got, want, desc, *diag):
        return self.ok(got == want, desc,
                       "got:  %r" % (got,), "want: %r" % (want,), *diag)

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def run(self, fn, *args):
        """Run one group of checks; an exception is one failed check.  Its
        time is a comment, for whoever keeps the suite within its time
        budget."""
        t0 = time.monotonic()
        try:
            fn(self, *args)
        except Exception:
            self.ok(False, "%s raised" % fn.__name__, traceback.format_exc())
        self.diag("%s: %.1f s" % (fn.__name__, time.monotonic() - t0))

    def done(self):
        print("1..%d" % self.count, flush=True)
        sys.exit(1 if self.failures else 0)


# -- HTTP --------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lower-cased name -> value
        self.body = body                # bytes
        try:
            self.json = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "HTTP %s %r %r" % (self.status, self.headers,
                                  self.body[:600])


def base_url(url=None):
    u = urllib.parse.urlsplit(url or env("AUTH_TEST_URL"))
    return u.hostname, u.port


ANSWERS = "answers.jsonl"
_record_lock = threading.Lock()


def record(method, path, status, headers, body, raw=False):
    """Append one answer to AUTH_TEST_TMPDIR/answers.jsonl (see above).
    headers: (name, value) pairs as received."""
    tmp = os.environ.get("AUTH_TEST_TMPDIR")
    if not tmp:
        return
    line = json.dumps({
        "file": os.path.basename(sys.argv[0]),
        "server": os.environ.get("AUTH_TEST_SERVER", "lighttpd"),
        "method": method, "path": path, "status": status,
        "headers": [[k, v] for k, v in headers],
        "body": base64.b64encode(body).decode(), "raw": raw}) + "\n"
    with _record_lock:
        with open(os.path.join(tmp, ANSWERS), "a") as f:
            f.write(line)


def parse_raw(reply):
    """The status (or None), header pairs and body (de-chunked) of a raw
    HTTP/1.1 reply."""
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", lines[0])
    headers = []
    for ln in lines[1:]:
        k, sep, v = ln.partition(b":")
        if sep:
            headers.append((k.decode("latin-1").strip(),
                            v.decode("latin-1").strip()))
    if any(k.lower() == "transfer-encoding" and "chunked" in v.lower()
           for k, v in headers):
        data = b""
        while True:
            size, _, body = body.partition(b"\r\n")
            try:
                n = int(size.split(b";")[0], 16)
            except ValueError:
                break
            if n == 0:
                break
            data, body = data + body[:n], body[n + 2:]
        body = data
    return (int(m.group(1)) if m else None), headers, body


def request(method, path=REGISTER, body=None, headers=None, timeout=TIMEOUT,
            url=None, keep=True):
    """One HTTP/1.1 request on a new connection.  body: bytes, str or a
    JSON-able object (then Content-Type: application/json is set unless
    headers says otherwise; pass headers={"Content-Type": None} for no
    Content-Type at all).  url: another web server than the suite's
    (http://127.0.0.1:PORT).  keep=False: leave the answer out of
    answers.jsonl (a test that breaks the server behind the API on
    purpose, whose answers are outside the API's document)."""
    host, port = base_url(url)
    hdrs = {}
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs["Content-Type"] = "application/json"
    if isinstance(body, str):
        body = body.encode("utf-8")
    for k, v in (headers or {}).items():
        hdrs = {a: b for a, b in hdrs.items() if a.lower() != k.lower()}
        if v is not None:
            hdrs[k] = v
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        if keep:
            record(method, path, r.status, r.getheaders(), data)
        return Response(r.status,
                        {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def post(obj, **kw):
    return request("POST", REGISTER, obj, **kw)


def _complete(reply):
    """Whether reply is a whole answer by its Content-Length."""
    head, sep, body = reply.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length: *(\d+)\r\n", head.lower() + b"\r\n")
    return bool(sep) and m is not None and len(body) >= int(m.group(1))


def raw_request(data, timeout=TIMEOUT):
    """Send raw bytes, read until the server closes or the answer is
    complete by its Content-Length (nginx, having refused a request whose
    body never came, waits a while for that body before it closes);
    return the status code (or None) and the raw reply."""
    host, port = base_url()
    reply = b""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        try:
            while not _complete(reply):
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except socket.timeout:
            return None, reply + b"[no answer within %d s]" % timeout
    status, headers, body = parse_raw(reply)
    if status is not None:
        first = data.split(b"\r\n", 1)[0].split(b" ")
        if len(first) == 3:
            record(first[0].decode("latin-1"), first[1].decode("latin-1"),
                   status, headers, body, raw=True)
    return status, reply


JSON_HEADERS = {
    "content-type": "application/json",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}


def header_problems(r):
    """What is wrong with the headers every response must carry."""
    bad = []
    for name, want in JSON_HEADERS.items():
        got = r.header(name)
        if got is None or got.strip().lower() != want:
            bad.append("%s: %r, want %r" % (name, got, want))
    if r.json is None:
        bad.append("body is not JSON: %r" % r.body[:300])
    return bad


def expect(t, r, status, detail, desc):
    """One check: status, the JSON headers, and the body {"detail": ...}."""
    bad = header_problems(r)
    if r.status != status:
        bad.insert(0, "status %s, want %s" % (r.status, status))
    if r.json != {"detail": detail}:
        bad.append("body %r, want %r" % (r.json, {"detail": detail}))
    return t.ok(not bad, desc, *(bad + [repr(r)] if bad else []))


def err(field, msg, typ):
    loc = ["body"] if field is None else ["body", field]
    return {"loc": loc, "msg": msg, "type": typ}


def expect_422(t, r, errors, desc):
    return expect(t, r, 422, errors, desc)


# -- Users -------------------------------------------------------------------

RUN = secrets.token_hex(3)
_serial = 0


def unique(prefix="u"):
    """A short name unique to this run: usernames, email local parts."""
    global _serial
    _serial += 1
    return "%s%s%d" % (prefix, RUN, _serial)


SECRETS = []


def password():
    """A fresh strong password, remembered so that the logs can be
    searched for it at the end."""
    p = "Pw-" + secrets.token_hex(10)
    SECRETS.append(p)
    return p


def new_user(prefix="u"):
    name = unique(prefix)
    return {"email": "%s@example.com" % name, "username": name,
            "password": password()}


# -- Database ----------------------------------------------------------------

def sql_quote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def db_query(sql, timeout=30):
    """Rows (lists of strings; NULL is None) of one query run with the admin
    client in the test database."""
    cmd = shlex.split(env("AUTH_TEST_MARIADB")) + [
        "--batch", "--raw", "--skip-column-names", "-e", sql,
        env("AUTH_TEST_DB_NAME")]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("mariadb failed: %s: %s"
                           % (sql, p.stderr.decode(errors="replace")))
    rows = []
    for line in p.stdout.decode("utf-8").split("\n"):
        if line == "":
            continue
        rows.append([None if c == "NULL" else c for c in line.split("\t")])
    return rows


def db_scalar(sql):
    rows = db_query(sql)
    return rows[0][0] if rows else None


def user_count():
    return int(db_scalar("SELECT COUNT(*) FROM `user`"))


def user_row(where_sql):
    rows = db_query("SELECT id, email, username, hashed_password, is_active,"
                    " DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ')"
                    " FROM `user` WHERE " + where_sql)
    return rows


def race(n, fn):
    """Run fn(i) for i in 0..n-1 in n threads released together; return
    their results (an exception's repr in place of a result)."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def one(i):
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except Exception as e:
            results[i] = repr(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return results


class LockHolder:
    """Hold the row locks of select_sql (a SELECT ... FOR UPDATE) in a
    transaction of the admin client for seconds, in the background; wait()
    until it has let go.  For tests of what a program does behind a stuck
    lock."""

    def __init__(self, select_sql, seconds):
        cmd = shlex.split(env("AUTH_TEST_MARIADB")) + [
            "--batch", "--unbuffered", "--skip-column-names", "-e",
            "START TRANSACTION; %s; SELECT 'locked'; SELECT SLEEP(%s); "
            "COMMIT" % (select_sql, seconds), env("AUTH_TEST_DB_NAME")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        # The first line comes once the locks are held.
        self.first = self.proc.stdout.readline()

    def wait(self):
        out, errout = self.proc.communicate(timeout=120)
        return self.proc.returncode


def mail_senders_idle():
    """Leave no mail sender (auth-cleanup --deliver) at work: empty the
    mail queue (a message that fails is tried again as long as its code
    lives) and take every sender's slot back; a sender that has lost its
    slot claims nothing more and leaves.  For a test whose senders run
    with a MAIL_* environment of their own, which must not deliver
    another test's mail, nor be counted on to deliver it."""
    db_query("DELETE FROM auth_mail_queue")
    db_query("UPDATE auth_mail_slot SET holder = NULL, "
             "lease_until = '1970-01-01 00:00:00'")


def shell(cmd, timeout=120):
    return subprocess.run(cmd, shell=True, capture_output=True,
                          timeout=timeout)


# -- Servers of a test's own, through scripts/lib.sh --------------------------

def lib_sh(var, script, timeout=90, **extra):
    """Run bash script after sourcing scripts/lib.sh and ca_paths var
    (a directory of the test's own), with extra in its environment."""
    e = dict(os.environ)
    e.update(CA_TOP=env("AUTH_TEST_TOP"), CA_VAR_DIR=var, **extra)
    return subprocess.run(
        ["bash", "-c", 'CA_PROG=test; . "$CA_TOP/scripts/lib.sh" && '
         'ca_paths "$CA_VAR_DIR" && ' + script],
        env=e, capture_output=True, timeout=timeout)


def free_port():
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lighttpd:
    """A private lighttpd from the shipped snippet, via scripts/lib.sh,
    with the programs reading config."""

    def __init__(self, name, config):
        self.var = os.path.join(env("AUTH_TEST_TMPDIR"), name)
        self.config = config
        self.port = None

    def _bash(self, script, **extra):
        return lib_sh(self.var, script, CA_CONFIG_FILE=self.config, **extra)

    def start(self):
        for _ in range(3):
            port = free_port()
            p = self._bash('ca_lighttpd_conf "$PORT" "$CA_CONFIG_FILE" && '
                           'ca_lighttpd_start "$PORT" TZ="$TZ_SERVICE" '
                           'BCRYPT_ROUNDS=10',
                           PORT=str(port),
                           TZ_SERVICE=os.environ.get("AUTH_TEST_TZ", "UTC"))
            if p.returncode == 0:
                self.port = port
                return True
        raise RuntimeError("lighttpd did not start: %s"
                           % p.stderr.decode(errors="replace")[-2000:])

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        self._bash("ca_lighttpd_stop")

    def log(self):
        try:
            with open(os.path.join(self.var, "log", "collab-auth.log"),
                      "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""


# -- The programs' processes --------------------------------------------------

def program_dirs():
    """Where this run's web servers start the programs from: the build's
    cgi-bin/, and the copies Apache's user runs (scripts/lib.sh,
    ca_apache_stage)."""
    stage = os.path.join(env("AUTH_TEST_RUN_DIR"), "apache")
    return {os.path.realpath(env("AUTH_TEST_BINDIR")),
            os.path.realpath(os.path.join(stage, "libexec")),
            os.path.realpath(os.path.join(stage, "htdocs", "cgi-bin"))}


def program_pids(prog, dirs=None, arg=None):
    """The pids of this run's processes of program prog (such as
    "auth-register") started from one of dirs (program_dirs() by
    default), with arg (bytes) among their arguments when given, sorted;
    other worktrees' are not ours."""
    if dirs is None:
        dirs = program_dirs()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % name)
            if arg is not None:
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    if arg not in f.read().split(b"\0"):
                        continue
        except OSError:
            continue
        if exe.endswith(" (deleted)"):
            exe = exe[:-len(" (deleted)")]
        if (os.path.basename(exe) == prog and
                os.path.dirname(exe) in dirs):
            pids.append(int(name))
    return sorted(pids)


def listen_socket(pid):
    """The path of the unix socket a FastCGI process pid accepts on (its
    descriptor 0, as lighttpd and mod_fcgid hand it over), or None."""
    try:
        link = os.readlink("/proc/%d/fd/0" % pid)
    except OSError:
        return None
    m = re.match(r"socket:\[(\d+)\]$", link)
    if not m:
        return None
    with open("/proc/net/unix") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[6] == m.group(1):
                return fields[7]
    return None


# -- The programs as plain CGI -------------------------------------------------

def program(name="auth-register"):
    return os.path.join(env("AUTH_TEST_BINDIR"), name)


def clean_env(**extra):
    """An environment with none of the config keys, as the server gives."""
    e = {k: v for k, v in os.environ.items()
         if k not in CONFIG_KEYS and not k.startswith("AUTH_TEST_")
         and not k.startswith("HTTP_") and k not in (
             "REQUEST_METHOD", "CONTENT_TYPE", "CONTENT_LENGTH")}
    e["TZ"] = os.environ.get("AUTH_TEST_TZ", "UTC")
    for k, v in extra.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


class CGIResult:
    def __init__(self, p):
        self.returncode = p.returncode
        self.stderr = p.stderr.decode("utf-8", errors="replace")
        out = p.stdout
        self.raw = out
        self.headers = {}
        self.status = None
        self.body = b""
        self.json = None
        sep = re.search(rb"\r?\n\r?\n", out)
        if sep is None:
            return
        head, self.body = out[:sep.start()], out[sep.end():]
        for line in re.split(rb"\r?\n", head):
            if b":" in line:
                k, v = line.split(b":", 1)
                self.headers[k.decode().strip().lower()] = v.decode().strip()
        m = re.match(r"(\d{3})", self.headers.get("status", ""))
        if m:
            self.status = int(m.group(1))
        try:
            self.json = json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            pass

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "CGI exit %s stdout %r stderr %r" % (
            self.returncode, self.raw[:600], self.stderr[-600:])


def cgi(body=b"", method="POST", content_type="application/json",
        content_length="auto", config=None, extra_env=None, timeout=60,
        prog="auth-register"):
    """Run program prog once as plain CGI (stdin a pipe, not a socket).
    body may be a JSON-able object."""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    e = clean_env(AUTH_CONFIG=config or env("AUTH_TEST_CONFIG"),
                  BCRYPT_ROUNDS=os.environ.get("AUTH_TEST_BCRYPT_ROUNDS",
                                               "10"),
                  GATEWAY_INTERFACE="CGI/1.1", SERVER_PROTOCOL="HTTP/1.1",
                  REQUEST_METHOD=method, SCRIPT_NAME=REGISTER,
                  REQUEST_URI=REGISTER, REMOTE_ADDR="127.0.0.1",
                  SERVER_NAME="localhost", SERVER_PORT="80")
    if content_type is not None:
        e["CONTENT_TYPE"] = content_type
    if content_length == "auto":
        content_length = str(len(body))
    if content_length is not None:
        e["CONTENT_LENGTH"] = content_length
    for k, v in (extra_env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    path = "/api/auth/" + prog[len("auth-"):]
    e["SCRIPT_NAME"] = e["REQUEST_URI"] = path
    for k, v in (extra_env or {}).items():
        if k in ("SCRIPT_NAME", "REQUEST_URI"):
            e[k] = v
    p = subprocess.run([program(prog)], input=body, env=e,
                       capture_output=True, timeout=timeout)
    return CGIResult(p)


# -- Logs --------------------------------------------------------------------

def read_log(var):
    try:
        with open(env(var), "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def error_log():
    """The web server's own error log."""
    return read_log("AUTH_TEST_ERROR_LOG")


def manager_log():
    """The log of what starts and replaces the programs' processes: the
    web server's error log, or the pool's (multiwatch's lines are among
    the programs')."""
    if pooled():
        return read_log("AUTH_TEST_PROGRAM_LOG")
    return error_log()


# What each server logs when a program exits or dies under it (mod_fcgid's
# at LogLevel fcgid:info, which scripts/test sets; in the pool, multiwatch,
# in the pool's log: see manager_log()).
_DIED = {
    "lighttpd": r"child (exited|signalled|died)",
    "apache-fcgid": r"mod_fcgid: process \S+\(\d+\) exit",
    "apache-cgi": r"End of script output before headers|"
                  r"Premature end of script headers",
}


_DIED_POOL = r"Child\[\d+\] died|Spawning child\[\d+\] failed"


def died_pattern():
    return _DIED_POOL if pooled() else _DIED[server()]


def died_count():
    """How often the log of what manages the programs (see manager_log())
    says a program exited or died."""
    return len(re.findall(died_pattern(), manager_log()))


# mod_cgi logs each line a program writes to stderr as one error-log line
# of its own: "[time] [cgi:error] [pid N] [client A:P] AH01215: stderr
# from /path/to/auth-x: auth-x[pid]: info: ...".  (lighttpd and mod_fcgid
# copy the lines as they are.)
_APACHE_STDERR = re.compile(
    r"^\[[^\]]*\] \[[a-z_]+:[a-z]+\] \[pid [^\]]*\]"
    r"(?: \[client [^\]]*\])? AH01215: (?:stderr from [^ ]*: )?(.*)$")


# mod_cgi logs each line a program writes to stderr as one error-log line
# of its own: "[time] [cgi:error] [pid N] [client A:P] AH01215: stderr
# from /path/to/auth-x: auth-x[pid]: info: ...".  (lighttpd and mod_fcgid
# copy the lines as they are, and so does the pool, whose log also has
# multiwatch's own lines, "Child[N] died, respawn".)
_APACHE_STDERR = re.compile(
    r"^\[[^\]]*\] \[[a-z_]+:[a-z]+\] \[pid [^\]]*\]"
    r"(?: \[client [^\]]*\])? AH01215: (?:stderr from [^ ]*: )?(.*)$")


def program_lines(text):
    """text of a program log as the lines the programs wrote: Apache's
    own lines are left out, and its prefix cut from the programs' lines
    it logged for them; only complete lines count, so that a slice of
    the result from an earlier length on is what was written since."""
    if server() == "lighttpd" or pooled():
        return text[:text.rfind("\n") + 1]
    out = []
    for line in text.split("\n")[:-1]:
        if line.startswith("["):
            m = _APACHE_STDERR.match(line)
            if not m:
                continue            # Apache's own line
            line = m.group(1)
        out.append(line + "\n")
    return "".join(out)


def program_log():
    """What the programs wrote to stderr under the web server, one line
    each, as they wrote it (see program_lines)."""
    return program_lines(read_log("AUTH_TEST_PROGRAM_LOG"))


def config_values():
    """KEY -> value of the test config (to look for secrets in logs)."""
    values = {}
    with open(env("AUTH_TEST_CONFIG")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                values[k.strip()] = v.strip()
    return values


def secrets_in(text, extra=()):
    """The secrets of this run that appear in text."""
    found = []
    cands = list(SECRETS) + list(extra)
    cfg = config_values()
    if cfg.get("JWT_SECRET_KEY"):
        cands.append(cfg["JWT_SECRET_KEY"])
    try:
        with open(env("AUTH_TEST_DB_PASSWORD_FILE")) as f:
            dbpw = f.read().strip()
        cands.append(dbpw)
        cands.append(urllib.parse.quote(dbpw, safe=""))
    except OSError:
        pass
    for c in cands:
        if len(c) >= 8 and c in text:
            found.append(c)
    return found


def check_logs_clean(t, what):
    found = []
    for var in ("AUTH_TEST_PROGRAM_LOG", "AUTH_TEST_ERROR_LOG"):
        found += ["found in %s: %r" % (env(var), s[:6] + "...")
                  for s in secrets_in(read_log(var))]
    t.ok(not found, "%s: no password or secret in the logs" % what, *found)


# Headers the web server, not the program, decides: the time, its name,
# and how the body is framed on the wire (Apache's mod_cgi sends the same
# body with Content-Length one time and chunked the next).
SERVER_HEADERS = ("date", "server", "expires", "last-modified",
                  "content-length", "transfer-encoding", "connection",
                  "keep-alive")


def program_headers(r, also=()):
    """r's headers without those the web server decides (and also):
    what two answers of the program must share to be the same answer."""
    return {k: v for k, v in r.headers.items()
            if k not in SERVER_HEADERS and k not in also}


def write_file(directory, name, text, mode=0o600):
    """Write text to directory/name with mode (a config, by default
    0600 as the programs require); return the path."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path
