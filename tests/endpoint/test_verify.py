# SPDX-License-Identifier: ISC
"""auth-verify, the access-token check in front of other programs.

As plain CGI (every pass): what it answers for every token an attacker
may bring, in both roles (responder: X-Auth-User-Id and a JSON body;
FastCGI authorizer: Variable-AUTH_USER_ID and nothing else), for any
method and path, without the database unless VERIFY_CHECK_ACCOUNT is set.

Behind the web server (lighttpd: mod_fastcgi "mode" => "authorizer";
Apache: mod_authnz_fcgi with auth-verify on loopback TCP), through the
shipped example configs guarding /api/profiles/ for tests/whoami/whoami:
a valid token reaches whoami with the right AUTH_USER_ID; a missing,
garbage, expired, refresh or alg-none token gets a 401 JSON answer with
WWW-Authenticate and never reaches it.  Under plain CGI (.htaccess), what
the shipped htaccess says: a provider cannot be defined there."""

import json
import os
import re
import shutil
import time

from harness import (TAP, cgi, check_logs_clean, db_query, env, error_log,
                     header_problems, program_log, request, server)
from test_refresh import (TOKENS, forgeries, login, payload, session_user,
                          sign)

GUARDED = "/api/profiles/me"
NOT_AUTH = {"detail": "Not authenticated"}
INVALID = {"detail": "Could not validate credentials"}
CHALLENGE = "Bearer"
CHALLENGE_INVALID = 'Bearer error="invalid_token"'
# Forgeries of test_refresh.py that are no forgery of an access token (the
# token itself, with white space a header value loses or may carry; an
# access token has no jti), and those that a header cannot carry to a web
# server.
NOT_FORGED = {"the login's access token", "type access with sid and jti",
              "leading space", "trailing space", "jti in upper case",
              "empty string"}
NOT_A_HEADER = {"trailing newline", "15 KB of junk"}


def access_forgeries(pair, other):
    """(name, Authorization value) of every token that must be refused."""
    tok = pair["access_token"]
    c = payload(tok)
    now = int(time.time())
    out = [(name, "Bearer " + make(tok, c, other["access_token"],
                                   pair["refresh_token"], now))
           for name, make in forgeries() if name not in NOT_FORGED]
    out += [
        ("the refresh token", "Bearer " + pair["refresh_token"]),
        ("type refresh, signed", "Bearer " + sign(dict(c, type="refresh"))),
        ("expired 61 s ago", "Bearer " + sign(dict(c, iat=now - 900,
                                                   exp=now - 61))),
        ("garbage", "Bearer garbage"),
        ("two tokens", "Bearer %s %s" % (tok, tok)),
        ("a token parameter", 'Bearer token="%s"' % tok),
    ]
    return out


def no_token():
    """(name, Authorization value or None) without a bearer token."""
    return [("no Authorization", None), ("an empty one", ""),
            ("Basic credentials", "Basic dXNlcjpwYXNzd29yZA=="),
            ("the scheme alone", "Bearer"), ("no scheme", "abc.def.ghi")]


def verify_cgi(authz, method="GET", extra=None, **kw):
    e = {"HTTP_AUTHORIZATION": authz, "PATH_INFO": "/me",
         "SCRIPT_NAME": "/api/profiles", "REQUEST_URI": GUARDED}
    e.update(extra or {})
    return cgi(b"", method=method, content_type=None, content_length=None,
               prog="auth-verify", extra_env=e, **kw)


def refused(r, body, challenge):
    """What is wrong with r as a refusal."""
    bad = []
    if r.status != 401:
        bad.append("status %s, want 401" % r.status)
    if r.json != body:
        bad.append("body %r, want %r" % (r.json, body))
    if r.header("WWW-Authenticate") != challenge:
        bad.append("WWW-Authenticate %r, want %r"
                   % (r.header("WWW-Authenticate"), challenge))
    if (r.header("Content-Type") or "").split(";")[0] != "application/json":
        bad.append("Content-Type %r" % r.header("Content-Type"))
    return bad


# -- as plain CGI -------------------------------------------------------------

def test_cgi_tokens(t):
    user, uid, pair = session_user(t, "vc")
    other, ouid, opair = session_user(t, "vc")
    r = verify_cgi("Bearer " + pair["access_token"])
    t.ok(r.status == 200 and r.json == {"user_id": uid} and
         r.header("X-Auth-User-Id") == str(uid) and r.returncode == 0 and
         not header_problems_cgi(r),
         "CGI, a valid access token: 200 {\"user_id\": %d}, "
         "X-Auth-User-Id: %d" % (uid, uid), repr(r))
    t.ok("request status" not in r.stderr and "denied" not in r.stderr,
         "CGI: a yes writes no log line", r.stderr[-300:])
    bad = []
    for name, authz in no_token():
        r = verify_cgi(authz)
        if refused(r, NOT_AUTH, CHALLENGE):
            bad.append("%s: %r" % (name, r))
    t.ok(not bad, "CGI: %d requests without a bearer token: 401 "
         "\"Not authenticated\", WWW-Authenticate: Bearer" % len(no_token()),
         *bad)
    forged = access_forgeries(pair, opair)
    bad = []
    for name, authz in forged:
        r = verify_cgi(authz)
        if refused(r, INVALID, CHALLENGE_INVALID):
            bad.append("%s: %r" % (name, r))
    t.ok(not bad, "CGI: %d forged, expired, refresh, alg-none and "
         "malformed tokens: 401, WWW-Authenticate: Bearer "
         "error=\"invalid_token\"" % len(forged), *bad)
    r = verify_cgi("Bearer nope")
    t.ok(re.search(r"^auth-verify\[\d+\]: info: verify denied reason=token "
                   r"client=127\.0\.0\.1$", r.stderr, re.M) and
         "request status=401" in r.stderr,
         "CGI: a refusal is logged with its reason", r.stderr[-300:])
    # Whatever the method and path: the request it guards is not its own.
    for method in ("POST", "DELETE", "PUT", "PATCH", "OPTIONS"):
        r = verify_cgi("Bearer " + pair["access_token"], method=method)
        t.ok(r.status == 200 and r.json == {"user_id": uid},
             "CGI, %s with a valid token: 200" % method, repr(r))
    r = verify_cgi("Bearer " + pair["access_token"], method="HEAD")
    t.ok(r.status == 200 and r.body == b"" and
         r.header("X-Auth-User-Id") == str(uid), "CGI, HEAD: 200, the "
         "header, no body", repr(r))
    r = cgi(b"x" * 100, method="POST", content_type="text/plain",
            prog="auth-verify",
            extra_env={"HTTP_AUTHORIZATION": "Bearer " + pair["access_token"]})
    t.ok(r.status == 200, "CGI: a request body, of any type, is not its "
         "business: 200", repr(r))


def header_problems_cgi(r):
    return [n for n, want in (("content-type", "application/json"),
                              ("cache-control", "no-store"))
            if (r.header(n) or "").lower() != want]


def test_cgi_authorizer_role(t):
    user, uid, pair = session_user(t, "va")
    r = verify_cgi("Bearer " + pair["access_token"],
                   extra={"FCGI_ROLE": "AUTHORIZER"})
    t.ok(r.status == 200 and r.body == b"" and
         set(r.headers) == {"status", "variable-auth_user_id"} and
         r.header("Variable-AUTH_USER_ID") == str(uid),
         "role AUTHORIZER: 200 with Variable-AUTH_USER_ID: %d and nothing "
         "else (no body, no header a server could pass on)" % uid, repr(r))
    r = verify_cgi("Bearer x", extra={"FCGI_ROLE": "AUTHORIZER"})
    t.ok(not refused(r, INVALID, CHALLENGE_INVALID) and
         r.header("Variable-AUTH_USER_ID") is None,
         "role AUTHORIZER, a bad token: the full 401 answer, no Variable-",
         repr(r))


def test_cgi_database(t):
    user, uid, pair = session_user(t, "vd")
    gone = {"MYSQL_DB_URL": "mysql://u:p@localhost/x?unix_socket="
            "/nonexistent/mysqld.sock"}
    # The default: no database round trip, so no database needed at all.
    r = verify_cgi("Bearer " + pair["access_token"], extra=gone)
    t.ok(r.status == 200 and r.json == {"user_id": uid} and
         "database" not in r.stderr,
         "without VERIFY_CHECK_ACCOUNT, no database is needed (an "
         "unreachable MYSQL_DB_URL): 200, and no word of it", repr(r))
    check = {"VERIFY_CHECK_ACCOUNT": "true"}
    r = verify_cgi("Bearer " + pair["access_token"], extra=check)
    t.ok(r.status == 200 and r.json == {"user_id": uid},
         "VERIFY_CHECK_ACCOUNT, an active account: 200", repr(r))
    db_query("UPDATE `user` SET is_active = 0 WHERE id = %d" % uid)
    try:
        r = verify_cgi("Bearer " + pair["access_token"], extra=check)
        t.ok(not refused(r, INVALID, CHALLENGE_INVALID) and
             "reason=account" in r.stderr,
             "VERIFY_CHECK_ACCOUNT, a disabled account: 401 invalid_token "
             "(reason=account in the log)", repr(r))
        r = verify_cgi("Bearer " + pair["access_token"])
        t.ok(r.status == 200, "without it, the disabled account's token "
             "still passes until it expires", repr(r))
    finally:
        db_query("UPDATE `user` SET is_active = 1 WHERE id = %d" % uid)
    nobody = sign(dict(payload(pair["access_token"]), sub="2000000000",
                       iat=int(time.time())))
    r = verify_cgi("Bearer " + nobody, extra=check)
    t.ok(not refused(r, INVALID, CHALLENGE_INVALID),
         "VERIFY_CHECK_ACCOUNT, a deleted (never existing) account: 401",
         repr(r))
    r = verify_cgi("Bearer " + pair["access_token"],
                   extra=dict(check, **gone))
    t.ok(r.status == 503 and
         r.json == {"detail": "Service temporarily unavailable"},
         "VERIFY_CHECK_ACCOUNT, the database away: 503 (fails closed)",
         repr(r))


# -- behind the web server ----------------------------------------------------

def whoami_lines():
    try:
        with open(env("AUTH_TEST_WHOAMI_LOG")) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def guarded(authz=None, method="GET", body=None, headers=None):
    h = dict(headers or {})
    if authz is not None:
        h["Authorization"] = authz
    return request(method, GUARDED, body, headers=h)


def test_server(t):
    user, uid, pair = session_user(t, "vs")
    other, ouid, opair = session_user(t, "vs")
    seen = len(whoami_lines())
    r = guarded("Bearer " + pair["access_token"])
    ok = r.status == 200 and isinstance(r.json, dict) and \
        r.json.get("auth_user_id") == str(uid)
    t.ok(ok, "%s: a valid access token reaches the guarded program, which "
         "sees AUTH_USER_ID=%d" % (server(), uid), repr(r))
    if server() == "apache-fcgid":
        t.eq((r.json or {}).get("remote_user"), str(uid),
             "Apache: and REMOTE_USER=%d (UserExpr)" % uid)
    t.eq(whoami_lines()[seen:], ["AUTH_USER_ID=%d" % uid],
         "the guarded program ran once, for user %d" % uid)
    body = json.dumps({"bio": "x" * 3000})
    r = guarded("Bearer " + opair["access_token"], "POST", body,
                {"Content-Type": "application/json"})
    t.ok(r.status == 200 and (r.json or {}).get("auth_user_id") ==
         str(ouid) and (r.json or {}).get("body_length") == len(body),
         "POST with a body: the guarded program gets all %d bytes, for "
         "user %d" % (len(body), ouid), repr(r))

    seen = len(whoami_lines())
    cases = [(n, a, NOT_AUTH, CHALLENGE) for n, a in no_token()
             if a != ""] + \
        [(n, a, INVALID, CHALLENGE_INVALID)
         for n, a in access_forgeries(pair, opair) if n not in NOT_A_HEADER]
    bad = []
    for name, authz, want, challenge in cases:
        r = guarded(authz)
        problems = refused(r, want, challenge)
        if problems:
            bad.append("%s: %s %r" % (name, problems, r))
    t.ok(not bad, "%s: %d requests without a valid token (missing, Basic, "
         "garbage, expired, refresh, alg none, forged): 401 JSON with "
         "WWW-Authenticate" % (server(), len(cases)), *bad)
    t.eq(whoami_lines()[seen:], [], "none of them reached the guarded "
         "program")

    # No request header can set the id the guarded program trusts.
    seen = len(whoami_lines())
    spoof = {"X-Auth-User-Id": "1", "Variable-AUTH_USER_ID": "1",
             "Auth-User-Id": "1", "Remote-User": "1"}
    r = guarded(None, headers=spoof)
    t.ok(r.status == 401 and r.json == NOT_AUTH, "spoofed id headers "
         "without a token: 401", repr(r))
    r = guarded("Bearer " + pair["access_token"], headers=spoof)
    t.ok(r.status == 200 and (r.json or {}).get("auth_user_id") == str(uid),
         "spoofed id headers with user %d's token: the program sees %d"
         % (uid, uid), repr(r))
    t.eq(whoami_lines()[seen:], ["AUTH_USER_ID=%d" % uid],
         "only the request with a token reached it")

    # Access tokens are checked without the database: a logout does not
    # recall one (clients drop theirs; it lives ACCESS_TOKEN_EXPIRE_MINUTES).
    r = request("POST", "/api/auth/logout",
                {"refresh_token": pair["refresh_token"], "all": True})
    t.eq(r.status, 200, "logout all", repr(r))
    r = guarded("Bearer " + pair["access_token"])
    t.eq(r.status, 200, "the access token still passes after the logout, "
         "until it expires (documented)")


def test_htaccess(t):
    # Plain CGI through .htaccess: the authorizer cannot be set up there.
    root = env("AUTH_TEST_WEBROOT")
    probe = os.path.join(root, "verify-probe")
    os.makedirs(probe, exist_ok=True)
    try:
        with open(os.path.join(probe, ".htaccess"), "w") as f:
            f.write("AuthnzFcgiDefineProvider authnz probe "
                    "fcgi://127.0.0.1:9/\n")
        with open(os.path.join(probe, "index.html"), "w") as f:
            f.write("probe\n")
        os.chmod(probe, 0o755)
        for name in (".htaccess", "index.html"):
            os.chmod(os.path.join(probe, name), 0o644)
        before = len(error_log())
        r = request("GET", "/verify-probe/index.html")
        time.sleep(0.3)
        t.ok(r.status == 500 and "AuthnzFcgiDefineProvider not allowed "
             "here" in error_log()[before:],
             "apache-cgi: AuthnzFcgiDefineProvider in .htaccess is refused "
             "(500, \"not allowed here\"), as httpd-conf/htaccess says",
             repr(r), error_log()[before:][-500:])
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    r = guarded("Bearer x")
    t.ok(r.status != 200 and (r.json or {}).get("auth_user_id") is None,
         "apache-cgi: /api/profiles/ is not served (no authorizer here)",
         repr(r))


def main():
    t = TAP()
    for fn in (test_cgi_tokens, test_cgi_authorizer_role, test_cgi_database):
        t.run(fn)
    if server() == "apache-cgi":
        t.run(test_htaccess)
    else:
        t.run(test_server)
    check_logs_clean(t, "verify")
    log = program_log()
    found = [tk[:12] for tk in TOKENS if len(tk) > 40 and tk in log]
    t.ok(not found, "no token in the program log", *found)
    t.done()


if __name__ == "__main__":
    main()
