# SPDX-License-Identifier: ISC
"""The process pool behind nginx (issue 13): the shipped systemd units pass
systemd-analyze verify; every program runs as the number of processes its
unit gives, on a unix socket only the web server's user may open; a
process killed by a crafted FastCGI record (libfcgi 2.4.2 aborts on it) is
replaced and the others answer meanwhile; a pool that is down is a JSON
503 from nginx, and stopping a pool needs no SIGKILL and lets the request
in hand finish; nginx's own 413 is the programs' JSON; every endpoint
reaches its own program (the JSON 404 of other paths is test_headers.py's,
on every server); and Apache with mod_proxy_fcgi and the
shipped httpd-conf/apache-collab-auth-proxy-fcgi.conf serves every
endpoint from the same pool.

Runs in the nginx pass only (the pool is there); the others skip it.
The pool runs as scripts/test starts it (scripts/lib.sh, ca_pool_start):
the shipped unit's command line, with spawn-fcgi making the socket in
systemd's place, since no systemd runs here."""

import json
import os
import pwd
import re
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import time

import harness
from harness import (TAP, env, expect, header_problems, program_log, request,
                     server)

UNIT_DIR = os.path.join(env("AUTH_TEST_TOP"), "httpd-conf", "systemd")
NOT_FOUND = "Not Found"
UNAVAILABLE = "Service temporarily unavailable"


def lib(script, timeout=90):
    """Run script in bash with scripts/lib.sh sourced and the paths of
    scripts/test's var directory set."""
    e = dict(os.environ)
    e.update(CA_TOP=env("AUTH_TEST_TOP"), CA_VAR_DIR=env("AUTH_TEST_VAR"))
    return subprocess.run(
        ["bash", "-c", 'CA_PROG=test; . "$CA_TOP/scripts/lib.sh" && '
         'ca_paths "$CA_VAR_DIR" && ' + script],
        env=e, capture_output=True, timeout=timeout)


def run_dir():
    p = lib('printf "%s" "$CA_RUN"')
    return p.stdout.decode()


def programs():
    return env("AUTH_TEST_POOL_PROGRAMS").split()


def shipped_workers(name):
    """WORKERS of collab-auth@NAME.service: the template's, unless one of
    its drop-ins sets another."""
    files = [os.path.join(UNIT_DIR, "collab-auth@.service")]
    dropins = os.path.join(UNIT_DIR, "collab-auth@%s.service.d" % name)
    if os.path.isdir(dropins):
        files += [os.path.join(dropins, f) for f in sorted(os.listdir(dropins))
                  if f.endswith(".conf")]
    workers = None
    for path in files:
        with open(path) as f:
            for line in f:
                m = re.match(r"Environment=WORKERS=(\d+)\s*$", line)
                if m:
                    workers = int(m.group(1))
    return workers


def pool_pid(name):
    with open(os.path.join(run_dir(), "pool-%s.pid" % name)) as f:
        return int(f.read().strip())


def children(pid):
    """(pid, program) of pid's children that run a program of ours."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return []
    out = []
    for k in kids:
        try:
            exe = os.path.basename(os.readlink("/proc/%d/exe" % k))
        except OSError:
            continue
        if exe.startswith("auth-"):
            out.append((k, exe))
    return out


def wait_for(pred, seconds, step=0.1):
    end = time.monotonic() + seconds
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


def test_units(t):
    """systemd-analyze verify, on copies with the paths of this tree (it
    checks that the programs exist), for an instance of every program."""
    tool = shutil.which("systemd-analyze")
    if not t.ok(tool is not None, "systemd-analyze is installed"):
        return
    tmp = tempfile.mkdtemp(dir=env("AUTH_TEST_TMPDIR"))
    for root, _, files in os.walk(UNIT_DIR):
        rel = os.path.relpath(root, UNIT_DIR)
        os.makedirs(os.path.join(tmp, rel), exist_ok=True)
        for f in files:
            with open(os.path.join(root, f)) as src:
                text = src.read()
            text = text.replace("/usr/local/libexec/collab-auth/",
                                env("AUTH_TEST_BINDIR") + "/")
            text = text.replace("/usr/local/etc/collab-auth.env",
                                env("AUTH_TEST_CONFIG"))
            with open(os.path.join(tmp, rel, f), "w") as dst:
                dst.write(text)
    units = []
    for name in programs():
        units += [os.path.join(tmp, "collab-auth@%s.socket" % name),
                  os.path.join(tmp, "collab-auth@%s.service" % name)]
    p = subprocess.run([tool, "verify", "--man=no"] + units,
                       capture_output=True, timeout=120)
    out = (p.stdout + p.stderr).decode(errors="replace")
    t.ok(p.returncode == 0 and out.strip() == "",
         "systemd-analyze verify: the shipped units of every program, "
         "without a word", out[-2000:])


def test_shape(t):
    user = "www-data" if os.getuid() == 0 else pwd.getpwuid(os.getuid())[0]
    for name in programs():
        path = os.path.join(run_dir(), "auth-%s.sock" % name)
        try:
            st = os.stat(path)
        except OSError as e:
            t.ok(False, "auth-%s: its socket exists" % name, e)
            continue
        mode = stat.S_IMODE(st.st_mode)
        t.ok(stat.S_ISSOCK(st.st_mode) and mode & ~0o660 == 0 and
             pwd.getpwuid(st.st_uid)[0] == user,
             "auth-%s: a unix socket of %s's, mode %o (0660 or stricter)"
             % (name, user, mode))
        want = shipped_workers(name)
        got = children(pool_pid(name))
        t.ok(want is not None and len(got) == want and
             all(exe == "auth-" + name for _, exe in got),
             "auth-%s: %s processes, as its unit says" % (name, want),
             "running: %r" % got)


def record(kind, content):
    """A FastCGI record of request 1."""
    return struct.pack(">BBHHBx", 1, kind, 1, len(content), 0) + content


def fcgi_params(pairs):
    """FCGI_BEGIN_REQUEST (responder) and the FCGI_PARAMS stream."""
    out = b""
    for k, v in pairs:
        k, v = k.encode(), v.encode()
        for n in (len(k), len(v)):
            out += bytes([n]) if n < 128 else struct.pack(">I", n | 1 << 31)
        out += k + v
    return (record(1, struct.pack(">HB5x", 1, 0)) + record(4, out) +
            record(4, b""))


def crafted_record(path):
    """Send the FastCGI record that makes libfcgi 2.4.2 abort (two
    parameter lengths of 0x7FFFFFFE); return what came
    back (nothing: the process died)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    try:
        s.connect(path)
        s.sendall(record(1, struct.pack(">HB5x", 1, 0)) +
                  record(4, struct.pack(">II", 0xFFFFFFFE, 0xFFFFFFFE) +
                         b"x" * 16))
        return s.recv(100)
    finally:
        s.close()


def test_crash(t):
    name = "refresh-token"
    pid = pool_pid(name)
    before = {p for p, _ in children(pid)}
    mark = len(harness.read_log("AUTH_TEST_PROGRAM_LOG"))
    reply = crafted_record(os.path.join(run_dir(), "auth-%s.sock" % name))
    log = wait_for(lambda: re.search(
        r"Malloc: Assertion .* failed", harness.read_log(
            "AUTH_TEST_PROGRAM_LOG")[mark:]), 10)
    t.ok(reply == b"" and log, "a crafted FastCGI record kills a process "
         "of auth-%s (the reason the sockets are the web server's only)"
         % name, "reply %r" % reply)
    # The others answer at once, the dead one is replaced.
    res = []

    def one():
        r = request("POST", "/api/auth/refresh-token", {})
        res.append(r.status)
    threads = [threading.Thread(target=one) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    t.eq(res, [422] * 8, "meanwhile 8 requests at once: the program's "
         "answer for each")
    now = wait_for(lambda: (lambda c: c if len(c) == len(before) and
                            {p for p, _ in c} != before else None)(
                                children(pid)), 10)
    t.ok(now, "multiwatch starts a new process in its place (%d again)"
         % len(before), "before %r, now %r" % (before, children(pid)))
    t.ok(re.search(r"Child\[\d+\] died|Spawning child\[\d+\] failed",
                   harness.read_log("AUTH_TEST_PROGRAM_LOG")[mark:]),
         "multiwatch says so in the pool's log")


def restart(t, name):
    """Start the pool of auth-NAME again, as scripts/test started it."""
    p = lib('CA_POOL_PROGRAMS=%s && ca_pool_start "$AUTH_TEST_CONFIG" '
            'TZ="$AUTH_TEST_TZ" BCRYPT_ROUNDS="$AUTH_TEST_BCRYPT_ROUNDS"'
            % name)
    t.ok(p.returncode == 0, "%s started again" % name,
         p.stderr.decode(errors="replace")[-800:])


def test_down(t):
    """A pool that is down: nginx's JSON 503; back once started again."""
    name = "forgot-password"
    path = "/api/auth/" + name
    t0 = time.monotonic()
    p = lib("ca_pool_stop " + name)
    took = time.monotonic() - t0
    err = p.stderr.decode(errors="replace")
    t.ok(p.returncode == 0 and "SIGKILL" not in err and took < 10,
         "stopping a pool: every process leaves on multiwatch's signal, "
         "no SIGKILL (%.1f s)" % took, err[-500:])
    r = request("POST", path, {})
    expect(t, r, 503, UNAVAILABLE, "%s down: nginx answers JSON 503" % name)
    restart(t, name)
    r = request("POST", path, {})
    t.ok(r.status == 422 and not header_problems(r),
         "%s back: the program answers (422 for {})" % name, repr(r))


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return st[st.rindex(")") + 2]
    except (OSError, ValueError):
        return None


def test_graceful(t):
    """Stopping a pool lets the request in hand finish: a login whose
    process is inside bcrypt when the pool is told to stop still gets
    the program's answer."""
    name = "login"
    pid = pool_pid(name)
    box = {}

    def one():
        box["r"] = request("POST", "/api/auth/login", {
            "email": "nobody-%s@example.com" % harness.unique(),
            "password": harness.password()}, timeout=30)
    th = threading.Thread(target=one)
    th.start()
    # A process that runs (state R) rather than waits is in bcrypt.
    busy = wait_for(lambda: [p for p, _ in children(pid)
                             if proc_state(p) == "R"], 5, step=0.002)
    p = lib("ca_pool_stop " + name)
    th.join(30)
    r = box.get("r")
    t.ok(busy and r is not None and r.status == 401 and
         not header_problems(r),
         "%s stopped while a login is in bcrypt: that login still gets "
         "the program's 401" % name, "busy %r" % busy, repr(r),
         p.stderr.decode(errors="replace")[-500:])
    restart(t, name)


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def test_graceful_body(t):
    """Stopping a pool while a process waits for the rest of a request's
    body (the web server still sending it): the request is answered in
    full once the body comes, not cut short.  Spoken FastCGI directly
    on the socket, to hold the body back."""
    name = "login"
    pid = pool_pid(name)
    before = {k: fd_count(k) for k, _ in children(pid)}
    body = json.dumps({"email": "nobody-%s@example.com" % harness.unique(),
                       "password": harness.password()}).encode()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(os.path.join(run_dir(), "auth-%s.sock" % name))
    s.sendall(fcgi_params([
        ("REQUEST_METHOD", "POST"), ("CONTENT_TYPE", "application/json"),
        ("CONTENT_LENGTH", str(len(body))), ("REMOTE_ADDR", "127.0.0.1"),
        ("SCRIPT_NAME", "/api/auth/login")]))
    # The process that accepted the connection holds one more descriptor.
    busy = wait_for(lambda: [k for k, n in before.items()
                             if fd_count(k) > n], 10)
    box = {}
    th = threading.Thread(target=lambda: box.update(
        p=lib("ca_pool_stop " + name)))
    th.start()
    time.sleep(0.5)
    reply = b""
    try:
        s.sendall(record(5, body) + record(5, b""))
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    except OSError as e:
        reply += b"[%r]" % e
    finally:
        s.close()
    th.join(60)
    p = box.get("p")
    t.ok(busy and b"Status: 401 " in reply,
         "%s stopped while a process waits for a request's body: the "
         "request is answered in full (the program's 401)" % name,
         "busy %r" % busy, reply[:300])
    t.ok(p is not None and b"SIGKILL" not in p.stderr,
         "and the pool then ends without SIGKILL",
         p.stderr[-500:] if p else "")
    restart(t, name)


def test_nginx_answers(t):
    _, raw = harness.raw_request(
        b"POST /api/auth/register HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nContent-Length: 200000\r\n"
        b"Connection: close\r\n\r\n", timeout=10)
    head, _, body = raw.partition(b"\r\n\r\n")
    t.ok(raw.startswith(b"HTTP/1.1 413 ") and
         b"\r\ncontent-type: application/json" in head.lower() and
         b"\r\ncache-control: no-store" in head.lower() and
         b"\r\nx-content-type-options: nosniff" in head.lower() and
         body == b'{"detail":"Request body too large"}',
         "Content-Length 200000: nginx's 413 before any body, the "
         "programs' JSON and headers", raw[:600])


class LogMark:
    def __init__(self):
        self.pos = len(program_log())

    def lines(self):
        return program_log()[self.pos:].splitlines()


def check_routes(t, via):
    """Every endpoint reaches its own program, with Authorization."""
    for name in env("AUTH_TEST_ENDPOINTS").split():
        mark = LogMark()
        r = request("POST", "/api/auth/" + name, {},
                    headers={"Authorization": "Bearer pool-test"})
        pat = re.compile(r"^auth-%s\[\d+\]: info: request status=%d .*"
                         r"authorization=yes" % (re.escape(name), r.status))
        line = wait_for(lambda: [ln for ln in mark.lines()
                                 if pat.match(ln)], 5)
        t.ok(r.status < 500 and not header_problems(r) and line,
             "%s: POST /api/auth/%s reaches auth-%s, Authorization too"
             % (via, name, name), repr(r), "log %r" % mark.lines()[-5:])


def test_apache_proxy(t):
    """Apache with mod_proxy_fcgi in front of the same pool."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = lib('ca_apache_conf proxy %d "$AUTH_TEST_CONFIG" && '
            'ca_apache_start %d' % (port, port))
    if not t.ok(p.returncode == 0, "Apache with mod_proxy_fcgi and the "
                "shipped httpd-conf/apache-collab-auth-proxy-fcgi.conf "
                "starts (apache2 -t first)",
                p.stderr.decode(errors="replace")[-1500:]):
        return
    url = os.environ["AUTH_TEST_URL"]
    os.environ["AUTH_TEST_URL"] = "http://127.0.0.1:%d" % port
    try:
        check_routes(t, "Apache, mod_proxy_fcgi")
        r = request("POST", "/api/auth/nope", {})
        expect(t, r, 404, NOT_FOUND, "Apache, mod_proxy_fcgi: "
               "/api/auth/nope: JSON 404 from a program")
        st, raw = harness.raw_request(
            b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 200000\r\n"
            b"Connection: close\r\n\r\n", timeout=10)
        t.eq(st, 413, "Apache, mod_proxy_fcgi: Content-Length 200000: "
             "413 before any body", raw[:300])
    finally:
        os.environ["AUTH_TEST_URL"] = url
        lib("ca_apache_stop")


def main():
    t = TAP()
    if server() != "nginx":
        t.ok(True, "# SKIP the pool is tested in the nginx pass")
        t.done()
    for fn in (test_units, test_shape, test_nginx_answers):
        t.run(fn)
    t.run(check_routes, "nginx")
    for fn in (test_crash, test_down, test_graceful, test_graceful_body,
               test_apache_proxy):
        t.run(fn)
    t.done()


if __name__ == "__main__":
    main()
