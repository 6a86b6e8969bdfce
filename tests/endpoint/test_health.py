# SPDX-License-Identifier: ISC
"""GET /api/auth/health through the web server: 200 {"status": "ok"} while
MariaDB answers, 503 {"status": "unavailable"} while it is away (in
bounded time, without the program dying), HEAD with the same status and
headers and no body, 405 with Allow for other methods, no request body
read, and no log line for a probe that passes; plain CGI too."""

import re
import time

from harness import (TAP, cgi, env, header_problems, program_log,
                     raw_request, request, server, shell)

HEALTH = "/api/auth/health"
OK = {"status": "ok"}
DOWN = {"status": "unavailable"}


def health_lines(text):
    return [ln for ln in text.splitlines()
            if ln.startswith("auth-health[")]


def expect_json(t, r, status, body, desc):
    bad = header_problems(r)
    if r.status != status:
        bad.insert(0, "status %s, want %s" % (r.status, status))
    if r.json != body:
        bad.append("body %r, want %r" % (r.json, body))
    return t.ok(not bad, desc, *(bad + [repr(r)] if bad else []))


def test_up(t):
    before = len(program_log())
    r = request("GET", HEALTH)
    expect_json(t, r, 200, OK, "%s: GET: 200 {\"status\": \"ok\"}" % server())
    r = request("GET", HEALTH + "?probe=1")
    expect_json(t, r, 200, OK, "GET with a query string: 200")
    r = request("HEAD", HEALTH)
    t.ok(r.status == 200 and r.body == b"" and
         (r.header("Content-Type") or "").startswith("application/json") and
         r.header("Cache-Control") == "no-store",
         "HEAD: 200, the JSON headers, no body", repr(r))
    # A body is never read: the answer comes at once, whatever it says.
    st, raw = raw_request(
        b"GET " + HEALTH.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 5\r\n"
        b"Connection: close\r\n\r\nhello", timeout=10)
    if server() == "lighttpd":
        t.eq(st, 400, "GET with a body: lighttpd's own 400")
    else:
        t.eq(st, 200, "GET with a (text) body: 200, the body ignored")
    for _ in range(5):
        request("GET", HEALTH)
    time.sleep(0.5)
    # (A line of the database layer, such as a reconnection after an
    # earlier test restarted MariaDB, is an event, not a probe's line.)
    lines = [ln for ln in health_lines(program_log()[before:])
             if ": db " not in ln]
    t.eq(lines, [], "passing probes write no log line")


def test_methods(t):
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        r = request(method, HEALTH, b"{}",
                    headers={"Content-Type": "application/json"})
        ok = expect_json(t, r, 405, {"detail": "Method Not Allowed"},
                         "%s: 405" % method)
        if ok:
            t.eq(r.header("Allow"), "GET, HEAD", "%s: Allow: GET, HEAD"
                 % method)
    for below in ("/x", "2", "/"):
        r = request("GET", HEALTH + below)
        expect_json(t, r, 404, {"detail": "Not Found"},
                    "%s%s: the programs' 404" % (HEALTH, below))


def test_down(t):
    before = len(program_log())
    p = shell(env("AUTH_TEST_DB_STOP"))
    t.ok(p.returncode == 0, "MariaDB stopped", p.stderr[-500:])
    try:
        for i in (1, 2):
            t0 = time.monotonic()
            r = request("GET", HEALTH, timeout=20)
            expect_json(t, r, 503, DOWN, "database down, probe %d: 503 "
                        "{\"status\": \"unavailable\"}" % i)
            t.ok(time.monotonic() - t0 < 15, "... within 15 s")
        r = request("HEAD", HEALTH, timeout=20)
        t.ok(r.status == 503 and r.body == b"", "database down: HEAD 503, "
             "no body", repr(r))
    finally:
        p = shell(env("AUTH_TEST_DB_START"))
    t.ok(p.returncode == 0, "MariaDB started again",
         (p.stdout + p.stderr)[-800:])
    seen = []
    for _ in range(20):
        r = request("GET", HEALTH)
        seen.append(r.status)
        if r.status == 200:
            break
        time.sleep(0.5)
    expect_json(t, r, 200, OK, "back up: 200 again (statuses %r)" % seen)
    time.sleep(0.5)
    lines = health_lines(program_log()[before:])
    t.ok(any(re.search(r"warn: health database does not answer", ln)
             for ln in lines) and
         any("request status=503" in ln for ln in lines),
         "a failed probe is logged (the cause and its request line)",
         "lines %r" % lines[-6:])


def test_cgi(t):
    r = cgi(b"", method="GET", content_type=None, content_length=None,
            prog="auth-health")
    t.ok(r.status == 200 and r.json == OK and r.returncode == 0,
         "CGI: GET 200 {\"status\": \"ok\"}", repr(r))
    t.ok("request status" not in r.stderr, "CGI: a passing probe writes no "
         "log line", r.stderr[-300:])
    r = cgi(b"", method="HEAD", content_type=None, content_length=None,
            prog="auth-health")
    t.ok(r.status == 200 and r.body == b"" and r.returncode == 0,
         "CGI: HEAD 200 without a body", repr(r))
    r = cgi(b"{}", method="POST", prog="auth-health")
    t.ok(r.status == 405 and r.header("Allow") == "GET, HEAD",
         "CGI: POST 405, Allow: GET, HEAD", repr(r))
    r = cgi(b"", method="GET", content_type=None, content_length=None,
            prog="auth-health",
            extra_env={"MYSQL_DB_URL": "mysql://u:p@localhost/x?"
                       "unix_socket=/nonexistent/mysqld.sock",
                       "AUTH_CONFIG": None, "JWT_SECRET_KEY": "k" * 32})
    t.ok(r.status == 503 and r.json == DOWN and r.returncode == 0,
         "CGI: no database at all: 503 {\"status\": \"unavailable\"}",
         repr(r))


def main():
    t = TAP()
    for fn in (test_up, test_methods, test_down, test_cgi):
        t.run(fn)
    t.done()


if __name__ == "__main__":
    main()
