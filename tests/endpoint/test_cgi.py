# SPDX-License-Identifier: ISC
# passes: lighttpd -- it runs auth-register as plain CGI itself
"""auth-register run as plain CGI (fd 0 a pipe, not a socket): one request
from the CGI environment and stdin, answered on stdout.  This reaches the
checks a web server does not let through (no or a malformed
CONTENT_LENGTH), and is how it runs under mod_cgi."""

import json
import os
import resource
import statistics

from harness import (TAP, JSON_HEADERS, cgi, db_query, new_user,
                     secrets_in, sql_quote)


def expect_cgi(t, r, status, detail, desc):
    bad = []
    if r.status != status:
        bad.append("Status %r, want %s" % (r.header("Status"), status))
    for name, want in JSON_HEADERS.items():
        got = r.header(name)
        if got is None or got.lower() != want:
            bad.append("%s: %r, want %r" % (name, got, want))
    if r.json != {"detail": detail}:
        bad.append("body %r, want %r" % (r.json, {"detail": detail}))
    if r.returncode != 0:
        bad.append("exit status %s" % r.returncode)
    return t.ok(not bad, desc, *(bad + [repr(r)] if bad else []))


def cpu_of(fn):
    """CPU seconds (user and system) of the children fn() ran, and its
    result."""
    a = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = fn()
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (b.ru_utime - a.ru_utime + b.ru_stime - a.ru_stime), res


def test_start_cost(t):
    """Plain CGI pays only for what the request uses (issue 13): a login
    refused before any password check (422) spends no bcrypt at start,
    where a wrong password spends one check.  CPU time of the process,
    not wall time; medians of interleaved runs."""
    bad = json.dumps({"email": "not-an-email", "password": "x" * 12})
    wrong = json.dumps({"email": "nobody-cgi@example.com",
                        "password": "Wrong-pass-123"})
    cheap, full, statuses = [], [], set()
    for _ in range(7):
        c, r = cpu_of(lambda: cgi(bad, prog="auth-login"))
        cheap.append(c)
        statuses.add(r.status)
        c, r = cpu_of(lambda: cgi(wrong, prog="auth-login"))
        full.append(c)
        statuses.add(r.status)
    ratio = statistics.median(cheap) / max(statistics.median(full), 1e-6)
    t.diag("CGI login CPU: 422 %.1f ms, 401 %.1f ms (medians)"
           % (statistics.median(cheap) * 1000,
              statistics.median(full) * 1000))
    t.eq(statuses, {401, 422}, "CGI: the 422s and the 401s answered")
    t.ok(ratio < 0.4, "CGI: a login answered 422 costs under 0.4 of one "
         "that checks a password (%.2f): no bcrypt at start" % ratio)


def main():
    t = TAP()
    t.ok(os.access(os.path.join(os.environ["AUTH_TEST_BINDIR"],
                                "auth-register"), os.X_OK),
         "cgi-bin/auth-register is built")

    user = new_user("cgi")
    body = json.dumps(user)
    r = cgi(body)
    ok = (r.status == 201 and isinstance(r.json, dict)
          and r.json.get("username") == user["username"]
          and r.returncode == 0)
    t.ok(ok, "CGI: a valid register answers Status: 201 and exits 0", repr(r))
    t.eq(db_query("SELECT email FROM `user` WHERE username = %s"
                  % sql_quote(user["username"])), [[user["email"]]],
         "CGI: the row is written")
    t.ok("request status=201" in r.stderr and not secrets_in(r.stderr),
         "CGI: stderr has the request line and no password or secret",
         r.stderr[-500:])

    r = cgi(body, content_length=None)
    expect_cgi(t, r, 411, "Content-Length required", "CGI: no CONTENT_LENGTH")
    for bad in ("abc", "12abc", "-1", "0x10", "1e3", " 12", "+12"):
        r = cgi(body, content_length=bad)
        expect_cgi(t, r, 400, "Invalid Content-Length",
                   "CGI: CONTENT_LENGTH %r" % bad)
    r = cgi(b"", content_length="20000")
    expect_cgi(t, r, 413, "Request body too large",
               "CGI: CONTENT_LENGTH 20000 answered 413 before reading a body")
    r = cgi(b"", content_length="99999999999999999999999999")
    t.ok(r.status in (400, 413) and r.returncode == 0,
         "CGI: a CONTENT_LENGTH beyond any integer is 400 or 413", repr(r))
    r = cgi(body, method="GET")
    expect_cgi(t, r, 405, "Method Not Allowed", "CGI: GET")
    t.eq(r.header("Allow"), "POST", "CGI: GET has Allow: POST")
    r = cgi(body, content_type="text/plain")
    expect_cgi(t, r, 415, "Content-Type must be application/json",
               "CGI: text/plain")
    r = cgi(body, content_type=None)
    expect_cgi(t, r, 415, "Content-Type must be application/json",
               "CGI: no CONTENT_TYPE")
    r = cgi(body, content_type="text/plain", content_length=None,
            method="PUT")
    expect_cgi(t, r, 405, "Method Not Allowed",
               "CGI: the method is checked first")
    r = cgi(body, content_type="text/plain", content_length=None)
    expect_cgi(t, r, 415, "Content-Type must be application/json",
               "CGI: Content-Type is checked before Content-Length")
    r = cgi(b"{", content_length="1")
    t.ok(r.status == 422 and r.returncode == 0,
         "CGI: malformed JSON is 422", repr(r))
    t.ok(all(not ln.strip() or ln.startswith("auth-register[")
             for ln in r.stderr.splitlines()),
         "CGI: stderr lines are auth-register[pid]: ...", r.stderr[-500:])
    test_start_cost(t)
    t.done()


if __name__ == "__main__":
    main()
