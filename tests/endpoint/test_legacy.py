# SPDX-License-Identifier: ISC
# passes: lighttpd nginx -- what the programs read of the FastAPI backend's rows
"""What accounts, clients and operators of the FastAPI backend rely on: a
password longer than 72 bytes logs in by its first 72 bytes, as passlib's
bcrypt read it (and a cheap hash of such an account is rehashed from those
bytes); registration and reset keep refusing such passwords; 401 answers
carry WWW-Authenticate: Bearer, as FastAPI's OAuth2 helpers send it, and
no other answer does; the FastAPI backend's .env works as it is, every
value quoted or not, with its 7-day access tokens and a warning about
them (the program run as plain CGI with such a file); its refresh tokens,
which name no session, are each traded once for a new session: within the
grace window a second presentation gets that session's current pair,
later it is reuse and revokes it; never for a disabled or deleted account
or one whose sessions were all revoked since (a password reset); never
with LEGACY_TOKENS=false."""

import base64
import hashlib
import hmac
import json
import os
import re
import time
import warnings

from harness import (TAP, cgi, config_values, db_query, db_scalar, env, err,
                     expect, expect_422, new_user, password, post, race,
                     request, sql_quote, write_file)
from test_recovery import code_in, wait_mails

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt                            # libxcrypt, as the programs'

LOGIN = "/api/auth/login"
LOGOUT = "/api/auth/logout"
REFRESH = "/api/auth/refresh-token"
RESET = "/api/auth/reset-password"
INVALID = "Invalid email or password"
BCRYPT10 = re.compile(r"^\$2b\$10\$")


def login(email, pw):
    return request("POST", LOGIN, {"email": email, "password": pw})


def long_password():
    """80 bytes: 72 ASCII (a fresh password, padded), then 8 bytes of
    UTF-8 that bcrypt never reads."""
    p = password()
    return (p + "x" * 72)[:72] + "\u00e9" * 4


def registered(t, user):
    r = post(user)
    t.ok(r.status == 201, "register %s: 201" % user["username"], repr(r))
    return r.json["id"] if r.status == 201 else -1


def test_long_password(t):
    user = new_user("lg")
    pw = long_password()
    user["password"] = pw[:72]
    uid = registered(t, user)
    r = login(user["email"], pw)
    t.ok(r.status == 200, "an 80-byte password whose first 72 bytes are the "
         "account's logs in, as bcrypt read it for the FastAPI backend",
         repr(r))
    r = login(user["email"], pw[:72])
    t.eq(r.status, 200, "its first 72 bytes log in")
    r = login(user["email"], pw[:71])
    expect(t, r, 401, INVALID, "its first 71 bytes do not")
    r = login(user["email"], "y" + pw[1:])
    expect(t, r, 401, INVALID, "80 bytes that differ in the first byte: 401")
    r = login(user["email"], pw[:71] + "z" + pw[72:])
    expect(t, r, 401, INVALID, "80 bytes that differ in the 72nd byte: 401")
    t.eq(sessions_of(uid), 2, "the two logins started two sessions")


def test_long_password_rehash(t):
    """An account of the FastAPI backend with a cheap hash of a long
    password: the login succeeds and the hash is replaced by one at
    BCRYPT_ROUNDS of the same 72 bytes."""
    pw = long_password()
    cheap = crypt.crypt(pw, "$2b$04$" + "abcdefghijklmnopqrstuu")
    t.ok(cheap.startswith("$2b$04$") and
         crypt.crypt(pw[:72], cheap) == cheap,
         "fixture: libxcrypt's $2b$04$ hash of 80 bytes is that of 72", cheap)
    name = new_user("lr")["username"]
    email = name + "@example.com"
    db_query("INSERT INTO `user` (email, username, hashed_password, "
             "is_active, created_at) VALUES (%s, %s, %s, 1, UTC_TIMESTAMP())"
             % (sql_quote(email), sql_quote(name), sql_quote(cheap)))
    r = login(email, pw)
    t.ok(r.status == 200, "the FastAPI backend's account with a long "
         "password logs in", repr(r))
    h = db_scalar("SELECT hashed_password FROM `user` WHERE email = %s"
                  % sql_quote(email))
    t.ok(BCRYPT10.match(h or ""), "its $2b$04$ hash is replaced at "
         "BCRYPT_ROUNDS", h)
    t.eq(login(email, pw).status, 200, "the rehashed account logs in with "
         "the long password")
    t.eq(login(email, pw[:72]).status, 200, "... and with its first 72 "
         "bytes")


def test_long_password_refused(t):
    user = new_user("lf")
    user["password"] = long_password()
    r = post(user)
    expect_422(t, r, [err("password", "Password must be at most 72 bytes",
                          "value_error")],
               "register: a password over 72 bytes is still refused")
    r = request("POST", RESET, {"email": user["email"], "otp": "123456",
                                "new_password": user["password"]})
    expect_422(t, r, [err("new_password", "Password must be at most 72 "
                          "bytes", "value_error")],
               "reset-password: a new password over 72 bytes is still "
               "refused")


def test_www_authenticate(t):
    user = new_user("wa")
    registered(t, user)
    cases = [
        ("login, wrong password",
         lambda: login(user["email"], user["password"] + "x"), 401),
        ("login, unknown email",
         lambda: login("nobody-" + user["email"], "whatever-pass"), 401),
        ("refresh-token, not a token",
         lambda: request("POST", REFRESH, {"refresh_token": "x.y.z"}), 401),
        ("login, right password",
         lambda: login(user["email"], user["password"]), 200),
        ("login, 422", lambda: request("POST", LOGIN, {}), 422),
        ("refresh-token, 422", lambda: request("POST", REFRESH, {}), 422),
        ("login, 405", lambda: request("GET", LOGIN), 405),
        ("register, 409", lambda: post(user), 409),
    ]
    for name, fn, status in cases:
        r = fn()
        want = "Bearer" if status == 401 else None
        t.ok(r.status == status and r.header("www-authenticate") == want,
             "%s: %d, WWW-Authenticate %s" % (name, status, want), repr(r))
    db_query("UPDATE `user` SET is_active = 0 WHERE email = %s"
             % sql_quote(user["email"]))
    r = login(user["email"], user["password"])
    t.ok(r.status == 403 and r.header("www-authenticate") is None,
         "login, disabled account: 403 without WWW-Authenticate", repr(r))


# The FastAPI backend's .env, as collab-auth.env.example lists its keys.
SEED_KEYS = ("MYSQL_DB_URL", "JWT_SECRET_KEY", "ALGORITHM",
             "ACCESS_TOKEN_EXPIRE_MINUTES", "REFRESH_TOKEN_EXPIRE_DAYS",
             "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_FROM", "MAIL_PORT",
             "MAIL_SERVER")


def seed_env(quote, **over):
    """The FastAPI backend's .env for the test database, every value in
    quote ('"', "'" or ''), with over's values."""
    base = config_values()
    vals = {"MYSQL_DB_URL": base["MYSQL_DB_URL"],
            "JWT_SECRET_KEY": base["JWT_SECRET_KEY"], "ALGORITHM": "HS256",
            "ACCESS_TOKEN_EXPIRE_MINUTES": "10080",
            "REFRESH_TOKEN_EXPIRE_DAYS": "21", "MAIL_USERNAME": "",
            "MAIL_PASSWORD": "", "MAIL_FROM": "noreply@example.com",
            "MAIL_PORT": "587", "MAIL_SERVER": ""}
    vals.update(over)
    return "".join("%s=%s%s%s\n" % (k, quote, vals[k], quote)
                   for k in SEED_KEYS)


def warnings_of(r):
    return [ln for ln in r.stderr.splitlines() if ": warn: " in ln]


def test_seed_env(t):
    tmp = os.path.join(env("AUTH_TEST_TMPDIR"), "seed-env")
    os.makedirs(tmp, exist_ok=True)
    user = new_user("se")
    registered(t, user)
    for name, quote in (("unquoted", ""), ("double-quoted", '"'),
                        ("single-quoted", "'")):
        path = write_file(tmp, "seed-%s.env" % name, seed_env(quote))
        r = cgi({"email": user["email"], "password": user["password"]},
                config=path, prog="auth-login",
                extra_env={"BCRYPT_ROUNDS": None})
        ok = r.status == 200 and isinstance(r.json, dict)
        t.ok(ok, "the FastAPI backend's .env, every value %s: login 200"
             % name, repr(r))
        if not ok:
            continue
        seg = r.json["access_token"].split(".")[1]
        c = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
        t.ok(r.json.get("expires_in") == 604800 and
             c["exp"] - c["iat"] == 604800,
             "%s: access tokens live ACCESS_TOKEN_EXPIRE_MINUTES=10080 "
             "minutes (7 days)" % name, repr(r.json), repr(c))
        w = warnings_of(r)
        t.ok(len(w) == 1 and "ACCESS_TOKEN_EXPIRE_MINUTES=10080" in w[0] and
             "7 days" in w[0] and "cannot revoke" in w[0] and
             "we recommend 15" in w[0],
             "%s: one warning at start: 7-day access tokens cannot be "
             "revoked, 15 minutes recommended" % name, *w)
    for minutes, warned in (("60", False), ("61", True), ("525600", True)):
        path = write_file(tmp, "seed-%s.env" % minutes,
                          seed_env("", ACCESS_TOKEN_EXPIRE_MINUTES=minutes))
        r = cgi(b"", method="GET", content_type=None, content_length=None,
                config=path, prog="auth-login")
        t.ok(r.status == 405 and bool(warnings_of(r)) == warned,
             "ACCESS_TOKEN_EXPIRE_MINUTES=%s: starts, %s" % (
                 minutes, "warns" if warned else "without a warning"),
             repr(r))
    path = write_file(tmp, "seed-525601.env",
                      seed_env("", ACCESS_TOKEN_EXPIRE_MINUTES="525601"))
    r = cgi(b"", method="GET", content_type=None, content_length=None,
            config=path, prog="auth-login")
    t.ok(r.returncode == 2 and "ACCESS_TOKEN_EXPIRE_MINUTES" in r.stderr,
         "ACCESS_TOKEN_EXPIRE_MINUTES over a year is refused", repr(r))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def claims_of(tok):
    seg = tok.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def jose(claims, key=None):
    """A token as python-jose wrote them for the FastAPI backend: the same
    header, the claims in the order given, HS256 with the test key."""
    hp = b64e(b'{"alg":"HS256","typ":"JWT"}') + "." + b64e(
        json.dumps(claims, separators=(",", ":")).encode())
    key = key or config_values()["JWT_SECRET_KEY"].encode()
    return hp + "." + b64e(hmac.new(key, hp.encode(),
                                    hashlib.sha256).digest())


def legacy(uid, **over):
    c = {"sub": str(uid), "type": "refresh",
         "exp": int(time.time()) + 21 * 86400}
    c.update(over)
    return jose(c)


def refresh(tok):
    return request("POST", REFRESH, {"refresh_token": tok})


def grace():
    return int(config_values().get("REFRESH_REUSE_GRACE_SECONDS", "10"))


def sessions_of(uid):
    return int(db_scalar("SELECT COUNT(*) FROM auth_refresh_session WHERE "
                         "user_id = %d" % uid))


def test_legacy_refresh(t):
    user = new_user("lt")
    uid = registered(t, user)
    tok = legacy(uid)
    r = refresh(tok)
    ok = r.status == 200 and isinstance(r.json, dict)
    t.ok(ok, "a refresh token of the FastAPI backend is traded for a new "
         "pair", repr(r))
    if not ok:
        return
    first = claims_of(r.json["refresh_token"])
    t.ok(first.get("sub") == str(uid) and len(first.get("sid", "")) == 32,
         "... naming a new session of the account", repr(first))
    rows = db_query("SELECT HEX(token_hash), user_id, session_id FROM "
                    "auth_legacy_refresh WHERE user_id = %d" % uid)
    t.ok(len(rows) == 1 and rows[0][2] == first["sid"] and
         rows[0][0].lower() == hashlib.sha256(tok.encode()).hexdigest(),
         "its first use is recorded, by a SHA-256 of the token", rows)
    again = refresh(tok)
    t.ok(again.status == 200 and claims_of(
        again.json["refresh_token"])["sid"] == first["sid"],
         "presented again within REFRESH_REUSE_GRACE_SECONDS: the current "
         "pair of the session it started", repr(again))
    r2 = refresh(r.json["refresh_token"])
    t.eq(r2.status, 200, "the new session rotates")
    time.sleep(grace() + 1.5)
    r3 = refresh(tok)
    t.ok(r3.status == 401 and r3.header("www-authenticate") == "Bearer",
         "presented again after the grace window: 401 (reuse)", repr(r3))
    t.eq(db_scalar("SELECT revoked_at IS NOT NULL FROM auth_refresh_session "
                   "WHERE id = '%s'" % first["sid"]), "1",
         "... and the session it started is revoked")
    t.eq(refresh(r2.json["refresh_token"]).status, 401,
         "... so the session's current token is refused")
    t.eq(sessions_of(uid), 1, "one legacy token started one session")


def test_legacy_race(t):
    user = new_user("lr")
    uid = registered(t, user)
    tok = legacy(uid)
    answers = race(6, lambda i: refresh(tok))
    sids = set()
    for a in answers:
        if getattr(a, "status", None) == 200:
            sids.add(claims_of(a.json["refresh_token"])["sid"])
    t.ok(all(getattr(a, "status", None) == 200 for a in answers) and
         len(sids) == 1, "six presentations at once: all 200, one session "
         "(the database decided which was first)",
         *[repr(a) for a in answers])
    t.eq(sessions_of(uid), 1, "... and one session row")


def test_legacy_refused(t):
    user = new_user("lx")
    uid = registered(t, user)
    now = int(time.time())
    cases = [
        ("an access token of the FastAPI backend",
         legacy(uid, type="access")),
        ("expired", legacy(uid, exp=now - 3600)),
        ("for an account that does not exist", legacy(999999999)),
        ("naming a session it does not have",
         legacy(uid, sid="0123456789abcdef0123456789abcdef")),
        ("signed with another key",
         jose({"sub": str(uid), "type": "refresh", "exp": now + 3600},
              key=b"another-key-0123456789abcdef0123456789")),
    ]
    for name, tok in cases:
        r = refresh(tok)
        t.ok(r.status == 401 and r.json == {"detail":
                                            "Invalid refresh token"},
             "legacy token %s: 401" % name, repr(r))
    # Every session revoked (a password reset) after the token was issued:
    # the FastAPI backend's token starts none either.
    db_query("INSERT INTO auth_legacy_cutoff (user_id, revoked_at) VALUES "
             "(%d, UTC_TIMESTAMP())" % uid)
    r = refresh(legacy(uid))
    t.eq(r.status, 401, "a legacy token issued before every session of the "
         "account was revoked: 401")
    r = refresh(legacy(uid, iat=now + 5))
    t.eq(r.status, 200, "one whose iat is after it: 200")
    db_query("UPDATE `user` SET is_active = 0 WHERE id = %d" % uid)
    r = refresh(legacy(uid, iat=now + 6))
    t.eq(r.status, 401, "a legacy token of a disabled account: 401")
    t.eq(int(db_scalar("SELECT COUNT(*) FROM auth_legacy_refresh WHERE "
                       "user_id = %d" % uid)), 1,
         "only the traded token was recorded")
    user2 = new_user("lc")
    uid2 = registered(t, user2)
    tmp = os.path.join(env("AUTH_TEST_TMPDIR"), "legacy-off")
    os.makedirs(tmp, exist_ok=True)
    off = write_file(tmp, "off.env", "".join(
        "%s=%s\n" % kv for kv in config_values().items()) +
        "LEGACY_TOKENS=false\n")
    r = cgi({"refresh_token": legacy(uid2)}, config=off,
            prog="auth-refresh-token")
    t.ok(r.status == 401 and "reason=token" in r.stderr,
         "LEGACY_TOKENS=false: the FastAPI backend's tokens get "
         "401", repr(r))


def test_legacy_logout(t):
    user = new_user("lo")
    uid = registered(t, user)
    tok = legacy(uid)
    r = request("POST", LOGOUT, {"refresh_token": tok})
    t.ok(r.status == 200 and r.json == {"message": "Logged out"},
         "logout with a refresh token of the FastAPI backend: 200", repr(r))
    t.eq(refresh(tok).status, 401, "... and it can never be traded after")
    t.eq(sessions_of(uid), 0, "... no session started")
    t.eq(request("POST", LOGOUT, {"refresh_token": tok}).status, 200,
         "a second logout with it: 200 (harmless)")
    traded = legacy(uid, iat=int(time.time()) - 1)
    r = refresh(traded)
    sid = claims_of(r.json["refresh_token"])["sid"] if r.status == 200 \
        else None
    r = request("POST", LOGOUT, {"refresh_token": traded})
    t.ok(r.status == 200 and sid is not None and db_scalar(
        "SELECT revoked_at IS NOT NULL FROM auth_refresh_session WHERE id = "
        "'%s'" % sid) == "1", "logout with a legacy token that was traded: "
         "200, and the session it started ends", repr(r))
    other = legacy(uid, iat=int(time.time()) - 2)
    login = request("POST", LOGIN, {"email": user["email"],
                                    "password": user["password"]})
    r = request("POST", LOGOUT, {"refresh_token": legacy(
        uid, iat=int(time.time()) - 3), "all": True})
    t.eq(r.status, 200, "logout \"all\" with a legacy token: 200")
    t.eq(refresh(login.json["refresh_token"]).status, 401,
         "... the session of a login ends")
    t.eq(refresh(other).status, 401, "... and another legacy token of the "
         "account starts none")
    r = request("POST", LOGOUT, {"refresh_token": legacy(999999998)})
    t.eq(r.status, 200, "logout with a legacy token of an account that is "
         "gone: 200")


def verify(tok, config=None):
    """auth-verify, as plain CGI (the responder), on a guarded path."""
    return cgi(b"", method="GET", content_type=None, content_length=None,
               prog="auth-verify", config=config, extra_env={
                   "HTTP_AUTHORIZATION": "Bearer " + tok,
                   "PATH_INFO": "/me", "SCRIPT_NAME": "/api/profiles",
                   "REQUEST_URI": "/api/profiles/me"})


def test_legacy_access(t):
    user = new_user("la")
    uid = registered(t, user)
    now = int(time.time())
    tok = jose({"sub": str(uid), "type": "access", "exp": now + 7 * 86400})
    r = verify(tok)
    t.ok(r.status == 200 and r.json == {"user_id": uid},
         "auth-verify lets an access token of the FastAPI backend (no iat) "
         "through, with its user", repr(r))
    for name, bad in (
            ("expired", {"sub": str(uid), "type": "access",
                         "exp": now - 3600}),
            ("a refresh token", {"sub": str(uid), "type": "refresh",
                                 "exp": now + 3600}),
            ("with a sid", {"sub": str(uid), "type": "access",
                            "sid": "0123456789abcdef0123456789abcdef",
                            "exp": now + 3600})):
        r = verify(jose(bad))
        t.eq(r.status, 401, "auth-verify: the FastAPI backend's access "
             "token %s: 401" % name)
    tmp = os.path.join(env("AUTH_TEST_TMPDIR"), "legacy-off")
    os.makedirs(tmp, exist_ok=True)
    off = write_file(tmp, "off-verify.env", "".join(
        "%s=%s\n" % kv for kv in config_values().items()) +
        "LEGACY_TOKENS=false\n")
    r = verify(tok, config=off)
    t.eq(r.status, 401, "LEGACY_TOKENS=false: auth-verify refuses it")


def test_legacy_codes(t):
    """Codes the FastAPI backend issued (in clear) are not honoured, and
    a try at one is no issued code: three of them tried (the hourly cap
    of the test config is 3, the cooldown 2 s) leave the account free to
    ask for a new code at once."""
    user = new_user("lk")
    uid = registered(t, user)
    legacy_codes = ["%06d" % (111111 * i) for i in (1, 2, 3)]
    for code in legacy_codes:
        db_query("INSERT INTO passwordresettoken (user_id, otp, expires_at, "
                 "is_used) VALUES (%d, '%s', UTC_TIMESTAMP() + INTERVAL 15 "
                 "MINUTE, 0)" % (uid, code))
    for code in reversed(legacy_codes):
        r = request("POST", RESET, {"email": user["email"], "otp": code,
                                    "new_password": password()})
        expect(t, r, 400, "Invalid or expired code",
               "a code the FastAPI backend issued is not honoured")
        # The FastAPI backend's own use of it, or its expiry.
        db_query("UPDATE passwordresettoken SET is_used = 1 WHERE user_id "
                 "= %d AND otp = '%s'" % (uid, code))
    t.eq(int(db_scalar("SELECT COUNT(*) FROM auth_reset_code WHERE "
                       "user_id = %d" % uid)), 0,
         "the tries made no record of an issued code")
    r = request("POST", "/api/auth/forgot-password",
                {"email": user["email"]})
    t.eq(r.status, 200, "forgot-password right after: 200")
    mails = wait_mails({user["email"]: 1})[user["email"]]
    code = code_in(mails[0]) if mails else None
    t.ok(code is not None, "... and the code is sent: neither the cooldown "
         "nor the hourly cap counted the FastAPI backend's codes",
         "%d mails" % len(mails))
    if code is not None:
        pw = password()
        r = request("POST", RESET, {"email": user["email"], "otp": code,
                                    "new_password": pw})
        t.eq(r.status, 200, "the new code resets")
        t.eq(login(user["email"], pw).status, 200,
             "the new password logs in")


def main():
    t = TAP()
    for fn in (test_long_password, test_long_password_rehash,
               test_long_password_refused, test_www_authenticate,
               test_seed_env, test_legacy_refresh, test_legacy_race,
               test_legacy_refused, test_legacy_logout,
               test_legacy_access, test_legacy_codes):
        t.run(fn)
    t.done()


if __name__ == "__main__":
    main()
