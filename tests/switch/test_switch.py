# SPDX-License-Identifier: ISC
"""The switch from the FastAPI backend, as a team would make it, on a
database of its own in the test MariaDB:

1. the FastAPI backend (fastapi_seed.py, beside this file) makes its
   tables and serves accounts: a mixed-case address, non-ASCII ones, an
   80-byte password; they log in (refresh tokens kept) and one asks for a
   code;
2. collab-auth's migrations are applied (scripts/migrate);
3. collab-auth, behind a lighttpd of its own, reads the FastAPI backend's
   .env as it is: its users log in, their refresh tokens are traded once,
   a CORS preflight from the front end's origin is allowed, a code can be
   asked for and used;
4. the FastAPI backend runs again on the migrated database: it still
   registers, logs in and resets.

The same requests (PROBES) go to both backends; every difference in the
answers is printed as a "# difference:" line and written to
AUTH_TEST_SWITCH_VAR/differences.txt.  Checks are TAP lines, as the
endpoint tests print them.

scripts/test runs this once, after the endpoint suite, and sets:
  AUTH_TEST_TOP, AUTH_TEST_MARIADB, AUTH_TEST_DB_SOCKET, AUTH_TEST_TZ (as
  for the endpoint tests), AUTH_TEST_SWITCH_VAR (a var directory of its
  own: the lighttpd, its logs, the .env, the outbox).
"""

import base64
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "endpoint"))
from harness import TAP, env, free_port, lib_sh  # noqa: E402

DB = "collab_auth_switch"
REF_DB = "collab_auth_switch_ref"
SEED_USER = "fastapi_seed"
FRONT_END = "http://localhost:5173"
HERE = os.path.dirname(os.path.abspath(__file__))
RUN = secrets.token_hex(3)
WAIT = 60               # seconds a server may take to start

# Keys the FastAPI backend's .env holds (collab-auth.env.example), with
# quoted and unquoted values, and its 7-day access tokens.
SEED_ENV = """\
# The FastAPI backend's .env, as its README had it.
MYSQL_DB_URL="mysql+pymysql://{user}:{password}@localhost/{db}?unix_socket={socket}"
JWT_SECRET_KEY='{secret}'
ALGORITHM=HS256
ACCESS_TOKEN_EXPIRE_MINUTES=10080
REFRESH_TOKEN_EXPIRE_DAYS="21"
MAIL_USERNAME=
MAIL_PASSWORD=""
MAIL_FROM=noreply@example.com
MAIL_PORT=587
MAIL_SERVER=
"""


# -- Plumbing ----------------------------------------------------------------

def admin(sql, db=None, timeout=60):
    cmd = shlex.split(env("AUTH_TEST_MARIADB")) + [
        "--batch", "--raw", "--skip-column-names", "-e", sql]
    if db:
        cmd.append(db)
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("mariadb: %s: %s" % (
            sql, p.stderr.decode(errors="replace")))
    return [[None if c == "NULL" else c for c in ln.split("\t")]
            for ln in p.stdout.decode().split("\n") if ln]


def wait_port(port, proc=None, seconds=WAIT):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body.decode())
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "HTTP %s %r %r" % (self.status, self.headers, self.body[:400])


def call(port, method, path, body=None, headers=None):
    hdrs = {}
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs["Content-Type"] = "application/json"
    if isinstance(body, str):
        body = body.encode()
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()},
                      r.read())
    finally:
        conn.close()


def post(port, endpoint, body, headers=None):
    return call(port, "POST", "/api/auth/" + endpoint, body, headers)


def claims(token):
    try:
        seg = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
    except (IndexError, ValueError, AttributeError):
        return None


class Seed:
    """The FastAPI backend under uvicorn, on a port of its own."""

    def __init__(self, var, env_file, name):
        self.port = free_port()
        self.log = os.path.join(var, "log", "fastapi-%s.log" % name)
        e = dict(os.environ, SEED_ENV_FILE=env_file,
                 TZ=os.environ.get("AUTH_TEST_TZ", "UTC"))
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["/usr/bin/python3", "-B", os.path.join(HERE,
                                                        "fastapi_seed.py"),
                 "serve", str(self.port)], env=e, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT)
        self.up = wait_port(self.port, self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self):
        with open(self.log, errors="replace") as f:
            return f.read()[-2000:]


class CollabAuth:
    """collab-auth behind a lighttpd of its own, from the shipped
    httpd-conf/lighttpd-collab-auth.conf, reading config (the FastAPI
    backend's .env), with extra environment given."""

    def __init__(self, var, config, **extra):
        self.var = var
        self.port = free_port()
        self.log = os.path.join(var, "log", "collab-auth.log")
        pairs = ["TZ=%s" % os.environ.get("AUTH_TEST_TZ", "UTC")] + [
            "%s=%s" % kv for kv in extra.items()]
        p = lib_sh(var, 'ca_lighttpd_conf "$PORT" "$CFG" && '
                   'ca_lighttpd_start "$PORT" ' +
                   " ".join(shlex.quote(x) for x in pairs),
                   PORT=str(self.port), CFG=config)
        self.up = p.returncode == 0 and wait_port(self.port)
        self.why = (p.stdout + p.stderr).decode(errors="replace")

    def stop(self):
        lib_sh(self.var, "ca_lighttpd_stop")

    def program_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


# -- What both backends are asked --------------------------------------------

def probes(tag, users):
    """(name, method, endpoint, body, headers, same_status): requests whose
    answers are compared; tag makes the new accounts of each backend
    unique.  same_status: the status must be the same (a check); the
    rest of the answer is only compared."""
    mixed = users["mixed"]
    pre = {"Origin": FRONT_END, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}
    return [
        ("register", "POST", "register",
         {"email": "New.Mixed%s@Example.COM" % tag,
          "username": "new%s" % tag, "password": "Pw-" + secrets.token_hex(8)},
         None, True),
        ("register, email taken", "POST", "register",
         {"email": mixed["email"], "username": "other%s" % tag,
          "password": "Pw-" + secrets.token_hex(8)}, None, True),
        ("register, username taken", "POST", "register",
         {"email": "other%s@example.com" % tag, "username": mixed["username"],
          "password": "Pw-" + secrets.token_hex(8)}, None, True),
        ("register, invalid fields", "POST", "register",
         {"email": "not-an-address", "username": "x", "password": "short"},
         None, True),
        ("register, 80-byte password", "POST", "register",
         {"email": "long%s@example.com" % tag, "username": "long%s" % tag,
          "password": "L" * 70 + secrets.token_hex(5)}, None, False),
        ("register, non-ASCII local part", "POST", "register",
         {"email": "zo\u00eb%s@example.com" % tag, "username": "zoe%s" % tag,
          "password": "Pw-" + secrets.token_hex(8)}, None, False),
        ("register, internationalised domain", "POST", "register",
         {"email": "idn%s@b\u00fccher.de" % tag, "username": "idn%s" % tag,
          "password": "Pw-" + secrets.token_hex(8)}, None, False),
        ("register, repeated member", "POST", "register",
         '{"email": "a%s@example.com", "email": "b%s@example.com", '
         '"username": "rep%s", "password": "Pw-%s"}'
         % (tag, tag, tag, secrets.token_hex(8)),
         {"Content-Type": "application/json"}, False),
        ("login", "POST", "login",
         {"email": users["jose"]["email"],
          "password": users["jose"]["password"]}, None, True),
        ("login, wrong password", "POST", "login",
         {"email": mixed["email"], "password": "wrong-password"}, None, True),
        ("login, unknown email", "POST", "login",
         {"email": "nobody%s@example.com" % tag, "password": "whatever1"},
         None, True),
        ("login, invalid email", "POST", "login",
         {"email": "nobody", "password": "whatever1"}, None, True),
        ("login, no fields", "POST", "login", {}, None, True),
        ("login, malformed JSON", "POST", "login", b'{"email": ',
         {"Content-Type": "application/json"}, True),
        ("login, Content-Type text/plain", "POST", "login",
         json.dumps({"email": mixed["email"], "password": "x"}),
         {"Content-Type": "text/plain"}, False),
        ("login, Origin of the front end, no body", "POST", "login", b"",
         {"Origin": FRONT_END, "Content-Type": "application/json"}, False),
        ("refresh-token, garbage", "POST", "refresh-token",
         {"refresh_token": "not.a.token"}, None, True),
        ("forgot-password, unknown email", "POST", "forgot-password",
         {"email": "nobody%s@example.com" % tag}, None, True),
        ("forgot-password, invalid email", "POST", "forgot-password",
         {"email": "nobody"}, None, True),
        ("reset-password, wrong code", "POST", "reset-password",
         {"email": mixed["email"], "otp": "000000",
          "new_password": "Pw-" + secrets.token_hex(8)}, None, True),
        ("GET login", "GET", "login", None, None, True),
        ("unknown path", "POST", "nope", {}, None, True),
        ("CORS preflight, the front end", "OPTIONS", "login", None, pre,
         True),
        ("CORS preflight, another origin", "OPTIONS", "login", None,
         dict(pre, Origin="https://evil.example"), True),
        ("CORS, login from the front end", "POST", "login",
         {"email": mixed["email"], "password": "wrong-password"},
         {"Origin": FRONT_END}, True),
        ("CORS, login from another origin", "POST", "login",
         {"email": mixed["email"], "password": "wrong-password"},
         {"Origin": "https://evil.example"}, True),
    ]


# Headers the web server decides, not the application.
TRANSPORT = ("date", "server", "content-length", "transfer-encoding",
             "connection", "keep-alive")


def view(answer, body_sent):
    """What of an answer is compared: status, headers and a body whose
    per-run values (tokens, times, ids, the names made here) are replaced
    by what they look like."""
    def norm(v, key=None):
        if isinstance(v, dict):
            return {k: norm(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if key in ("access_token", "refresh_token") and isinstance(v, str):
            c = claims(v)
            return "JWT with claims %s" % ",".join(sorted(c or {}))
        if key == "created_at" and isinstance(v, str):
            return "time " + re.sub(r"\d", "9", v)
        if key == "id" and isinstance(v, int):
            return "an id"
        if key == "expires_in" and isinstance(v, int):
            return "%d seconds" % v
        if key == "email" and isinstance(v, str) and isinstance(
                body_sent, dict):
            sent = body_sent.get("email", "")
            if v == sent:
                return "the email as sent"
            if v == sent.lower():
                return "the email lower-cased"
            local, _, domain = sent.rpartition("@")
            if v == local + "@" + domain.lower():
                return "the email, its domain lower-cased"
            return "another email: %r for %r" % (v, sent)
        if key == "username" and isinstance(v, str):
            return "the username"
        return v
    body = norm(answer.json) if answer.json is not None else \
        answer.body.decode(errors="replace")
    headers = {k: v for k, v in answer.headers.items() if k not in TRANSPORT}
    return answer.status, headers, body


def compare(name, a, b, headers):
    """Lines saying how view b (collab-auth) differs from view a
    (FastAPI) in status and body; header differences go into headers,
    (header, FastAPI's, collab-auth's) -> the probes that showed it."""
    out = []
    if a[0] != b[0]:
        out.append("%s: status %s (FastAPI), %s (collab-auth)"
                   % (name, a[0], b[0]))
    for h in sorted(set(a[1]) | set(b[1])):
        if a[1].get(h) != b[1].get(h):
            headers.setdefault((h, a[1].get(h), b[1].get(h)),
                               []).append(name)
    if a[2] != b[2]:
        out.append("%s: body %s (FastAPI), %s (collab-auth)"
                   % (name, json.dumps(a[2], ensure_ascii=False),
                      json.dumps(b[2], ensure_ascii=False)))
    return out


def header_lines(headers, names):
    """The header differences, one line each, those every probe showed
    first."""
    out = []
    for (h, a, b), seen in sorted(headers.items(),
                                  key=lambda kv: (len(kv[1]) < len(names),
                                                  kv[0][0])):
        where = "every answer" if len(seen) == len(names) else \
            "; ".join(seen)
        out.append("%s: header %s: %r (FastAPI), %r (collab-auth)"
                   % (where, h, a, b))
    return out


def ask(port, probe):
    name, method, endpoint, body, headers, _ = probe
    return call(port, method, "/api/auth/" + endpoint, body, headers)


# -- The switch ---------------------------------------------------------------

def schema(db):
    cols = admin("SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, "
                 "COLUMN_KEY, EXTRA FROM information_schema.COLUMNS WHERE "
                 "TABLE_SCHEMA = '%s' AND TABLE_NAME IN ('user', "
                 "'passwordresettoken') ORDER BY TABLE_NAME, "
                 "ORDINAL_POSITION" % db)
    idx = admin("SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM "
                "information_schema.STATISTICS WHERE TABLE_SCHEMA = '%s' AND "
                "TABLE_NAME IN ('user', 'passwordresettoken') ORDER BY "
                "TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX" % db)
    fks = admin("SELECT TABLE_NAME, REFERENCED_TABLE_NAME, DELETE_RULE FROM "
                "information_schema.REFERENTIAL_CONSTRAINTS WHERE "
                "CONSTRAINT_SCHEMA = '%s' ORDER BY TABLE_NAME" % db)
    tabs = admin("SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM "
                 "information_schema.TABLES WHERE TABLE_SCHEMA = '%s' AND "
                 "TABLE_NAME IN ('user', 'passwordresettoken') "
                 "ORDER BY TABLE_NAME" % db)
    return cols, idx, fks, tabs


def migrate(db):
    script = os.path.join(env("AUTH_TEST_TOP"), "scripts", "migrate")
    return subprocess.run([script] + shlex.split(env("AUTH_TEST_MARIADB"))[1:]
                          + [db], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def setup(var):
    """A fresh database with an account for the FastAPI backend that may
    create tables (as its own was), and its .env (mode 0600, as
    collab-auth requires).  Returns the .env's path."""
    password = secrets.token_hex(12)
    admin("DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET "
          "utf8mb4 COLLATE utf8mb4_unicode_ci; CREATE USER IF NOT EXISTS "
          "'%s'@'localhost'; ALTER USER '%s'@'localhost' IDENTIFIED BY '%s';"
          " GRANT ALL ON %s.* TO '%s'@'localhost'"
          % (DB, DB, SEED_USER, SEED_USER, password, DB, SEED_USER))
    path = os.path.join(var, "fastapi.env")
    with open(path, "w") as f:
        f.write(SEED_ENV.format(user=SEED_USER, password=password, db=DB,
                                socket=env("AUTH_TEST_DB_SOCKET"),
                                secret=secrets.token_urlsafe(40)))
    os.chmod(path, 0o600)
    return path


def fastapi_first(t, var, env_file, users):
    """Phase 1: the FastAPI backend makes its tables and its accounts."""
    seed = Seed(var, env_file, "before")
    answers = {}
    try:
        if not t.ok(seed.up, "FastAPI backend: starts on a fresh database",
                    seed.tail()):
            return None
        admin("DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET"
              " utf8mb4 COLLATE utf8mb4_unicode_ci" % (REF_DB, REF_DB))
        sql001 = os.path.join(env("AUTH_TEST_TOP"), "sql", "001-initial.sql")
        with open(sql001) as f:
            admin(f.read(), REF_DB)
        t.eq(schema(DB), schema(REF_DB), "FastAPI backend: its tables are "
             "what sql/001-initial.sql says SQLModel made")
        admin("DROP DATABASE %s" % REF_DB)

        for key, u in users.items():
            r = post(seed.port, "register", {k: u[k] for k in (
                "email", "username", "password")})
            t.ok(r.status == 201, "FastAPI backend: registers %s (%r)"
                 % (key, u["email"]), repr(r))
            u["stored"] = (r.json or {}).get("email")
        for key, u in users.items():
            r = post(seed.port, "login", {"email": u["email"],
                                          "password": u["password"]})
            ok = r.status == 200 and r.json and "refresh_token" in r.json
            t.ok(ok, "FastAPI backend: %s logs in" % key, repr(r))
            if ok:
                u["refresh"] = r.json["refresh_token"]
                u["access"] = r.json["access_token"]
        # A second login: one more refresh token to trade.
        r = post(seed.port, "login", {"email": users["jose"]["email"],
                                      "password": users["jose"]["password"]})
        users["jose"]["refresh2"] = (r.json or {}).get("refresh_token")
        r = post(seed.port, "forgot-password",
                 {"email": users["bob"]["email"]})
        rows = admin("SELECT otp FROM passwordresettoken t JOIN `user` u ON "
                     "u.id = t.user_id WHERE u.username = '%s'"
                     % users["bob"]["username"], DB)
        t.ok(r.status == 200 and len(rows) == 1 and
             re.fullmatch(r"\d{6}", rows[0][0] or ""),
             "FastAPI backend: a code asked for is stored in clear",
             repr(r), repr(rows))
        users["bob"]["legacy_code"] = rows[0][0] if rows else None
        for p in probes("f" + RUN, users):
            answers[p[0]] = (ask(seed.port, p), p[3])
    finally:
        seed.stop()
    return answers


def collab_auth(t, var, env_file, users, before):
    """Phase 3: collab-auth on the migrated database with the FastAPI
    backend's .env."""
    outbox = os.path.join(var, "outbox")
    shutil.rmtree(outbox, ignore_errors=True)
    os.makedirs(outbox)
    with open(env_file) as f:
        env_text = f.read()
    ca = CollabAuth(var, env_file, MAIL_OUTBOX_DIR=outbox,
                    CORS_ALLOW_ORIGINS=FRONT_END,
                    CORS_ALLOW_CREDENTIALS="true",
                    REFRESH_REUSE_GRACE_SECONDS="2",
                    MAIL_DELIVERY_PROGRAM=os.path.join(
                        env("AUTH_TEST_TOP"), "cron", "auth-cleanup"))
    diffs = []
    try:
        if not t.ok(ca.up, "collab-auth: lighttpd starts", ca.why):
            return diffs
        port = ca.port
        mixed, jose, bob, long_ = (users[k] for k in (
            "mixed", "jose", "bob", "long"))

        r = post(port, "login", {"email": mixed["email"],
                                 "password": mixed["password"]})
        t.ok(r.status == 200, "collab-auth: reads the FastAPI backend's "
             ".env unchanged (a login answers 200)", repr(r),
             ca.program_log()[-1500:])
        c = claims((r.json or {}).get("access_token"))
        t.ok(c is not None and c.get("exp", 0) - c.get("iat", 0) ==
             10080 * 60, "collab-auth: access tokens live "
             "ACCESS_TOKEN_EXPIRE_MINUTES=10080 minutes, as the file says",
             repr(c))

        for key, u in users.items():
            r = post(port, "login", {"email": u["email"],
                                     "password": u["password"]})
            t.ok(r.status == 200, "collab-auth: %s (%r) logs in with the "
                 "password the FastAPI backend hashed" % (key, u["email"]),
                 repr(r))
        r = post(port, "login", {"email": mixed["email"].lower(),
                                 "password": mixed["password"]})
        t.ok(r.status == 200, "collab-auth: the mixed-case account logs in "
             "lower-cased too", repr(r))
        r = post(port, "login", {"email": long_["email"],
                                 "password": long_["password"][:72]})
        t.ok(r.status == 200, "collab-auth: the 80-byte password's first 72 "
             "bytes log in, as they did with the FastAPI backend's bcrypt",
             repr(r))
        r = post(port, "login", {"email": long_["email"],
                                 "password": long_["password"][:71]})
        t.eq(r.status, 401, "collab-auth: its first 71 bytes do not")

        # Refresh tokens the FastAPI backend issued: traded once.  Again
        # within the grace window (REFRESH_REUSE_GRACE_SECONDS=2 here, in
        # the environment) it is the same session; after it, reuse.
        r1 = post(port, "refresh-token", {"refresh_token": mixed["refresh"]})
        ok = r1.status == 200 and r1.json and "refresh_token" in r1.json
        t.ok(ok, "collab-auth: a refresh token of the FastAPI backend is "
             "traded for a new pair", repr(r1))
        r2 = post(port, "refresh-token", {"refresh_token": mixed["refresh"]})
        t.ok(ok and r2.status == 200 and
             claims(r2.json["refresh_token"])["sid"] ==
             claims(r1.json["refresh_token"])["sid"],
             "collab-auth: the same legacy token again at once (two tabs): "
             "the same session", repr(r2))
        time.sleep(3)
        r2 = post(port, "refresh-token", {"refresh_token": mixed["refresh"]})
        t.eq(r2.status, 401, "collab-auth: the same legacy token after the "
             "grace window is refused")
        if ok:
            r3 = post(port, "refresh-token",
                      {"refresh_token": r1.json["refresh_token"]})
            t.eq(r3.status, 401, "collab-auth: ... and revokes the session "
                 "its first use started")
        r = post(port, "refresh-token", {"refresh_token": jose["refresh2"]})
        ok = r.status == 200 and r.json and "refresh_token" in r.json
        t.ok(ok, "collab-auth: another user's legacy token is traded",
             repr(r))
        if ok:
            r = post(port, "refresh-token",
                     {"refresh_token": r.json["refresh_token"]})
            t.eq(r.status, 200, "collab-auth: ... and the session it started"
                 " rotates")
            users["jose"]["collab_refresh"] = (r.json or {}).get(
                "refresh_token")
        r = post(port, "refresh-token", {"refresh_token": jose["access"]})
        t.eq(r.status, 401, "collab-auth: a FastAPI access token is no "
             "refresh token")

        # The code the FastAPI backend issued is not honoured; asking for a
        # new one right after works, and the new one resets.
        r = post(port, "reset-password", {
            "email": bob["email"], "otp": bob["legacy_code"] or "123456",
            "new_password": "Pw-" + secrets.token_hex(8)})
        t.eq(r.status, 400, "collab-auth: the FastAPI backend's code is not "
             "honoured")
        r = post(port, "forgot-password", {"email": bob["email"]})
        code = None
        end = time.monotonic() + 20
        while r.status == 200 and code is None and time.monotonic() < end:
            for name in sorted(os.listdir(outbox)):
                with open(os.path.join(outbox, name), errors="replace") as f:
                    # A word of its own: the greeting names the user,
                    # "bob" and RUN, six hex digits that can all be
                    # decimal ones (one run in 17).
                    m = re.search(r"\b(\d{6})\b",
                                  f.read().split("\n\n", 1)[-1])
                if m:
                    code = m.group(1)
            time.sleep(0.2)
        t.ok(code is not None, "collab-auth: right after the legacy code was "
             "tried, a new code is sent", repr(r), os.listdir(outbox))
        if code is not None:
            bob["password"] = "Pw-" + secrets.token_hex(8)
            r = post(port, "reset-password", {
                "email": bob["email"], "otp": code,
                "new_password": bob["password"]})
            t.eq(r.status, 200, "collab-auth: the new code resets")
            r = post(port, "login", {"email": bob["email"],
                                     "password": bob["password"]})
            t.eq(r.status, 200, "collab-auth: the new password logs in")
            r = post(port, "refresh-token", {"refresh_token": bob["refresh"]})
            t.eq(r.status, 401, "collab-auth: the reset ends the sessions "
                 "of the FastAPI backend's refresh tokens too")

        headers = {}
        names = []
        for p in probes("c" + RUN, users):
            a = view(*before[p[0]])
            b = view(ask(port, p), p[3])
            if p[5]:
                t.eq(b[0], a[0], "same status from both: %s" % p[0])
            diffs += compare(p[0], a, b, headers)
            names.append(p[0])
        diffs = header_lines(headers, names) + diffs
        with open(env_file) as f:
            t.eq(f.read(), env_text, "collab-auth: the .env is as it was")
    finally:
        ca.stop()
    return diffs


def fastapi_again(t, var, env_file, users):
    """Phase 4: the FastAPI backend on the migrated database."""
    seed = Seed(var, env_file, "after")
    try:
        if not t.ok(seed.up, "FastAPI backend: starts on the migrated "
                    "database", seed.tail()):
            return
        new = {"email": "after%s@example.com" % RUN,
               "username": "after%s" % RUN,
               "password": "Pw-" + secrets.token_hex(8)}
        r = post(seed.port, "register", new)
        t.eq(r.status, 201, "FastAPI backend, after: registers")
        r = post(seed.port, "login", {"email": new["email"],
                                      "password": new["password"]})
        t.eq(r.status, 200, "FastAPI backend, after: the new account logs "
             "in")
        for key in ("bob", "long"):
            u = users[key]
            r = post(seed.port, "login", {"email": u["email"],
                                          "password": u["password"]})
            t.eq(r.status, 200, "FastAPI backend, after: %s logs in%s"
                 % (key, " (password reset through collab-auth)"
                    if key == "bob" else ""))
        if users["jose"].get("collab_refresh"):
            r = post(seed.port, "refresh-token",
                     {"refresh_token": users["jose"]["collab_refresh"]})
            t.eq(r.status, 200, "FastAPI backend, after: takes a refresh "
                 "token collab-auth issued (a way back keeps users logged "
                 "in)")
        r = post(seed.port, "forgot-password", {"email": new["email"]})
        rows = admin("SELECT t.otp FROM passwordresettoken t JOIN `user` u "
                     "ON u.id = t.user_id WHERE u.username = '%s'"
                     % new["username"], DB)
        code = rows[-1][0] if rows else "none"
        pw = "Pw-" + secrets.token_hex(8)
        r = post(seed.port, "reset-password", {"email": new["email"],
                                               "otp": code,
                                               "new_password": pw})
        t.eq(r.status, 200, "FastAPI backend, after: resets with its code")
        r = post(seed.port, "login", {"email": new["email"], "password": pw})
        t.eq(r.status, 200, "FastAPI backend, after: the new password logs "
             "in")
    finally:
        seed.stop()


def main():
    t = TAP()
    var = env("AUTH_TEST_SWITCH_VAR")
    shutil.rmtree(var, ignore_errors=True)
    os.makedirs(os.path.join(var, "log"))
    env_file = setup(var)
    users = {
        "mixed": {"email": "Ann.Mixed%s@Example.COM" % RUN},
        "jose": {"email": "jos\u00e9%s@example.com" % RUN},
        "bob": {"email": "bob%s@b\u00fccher.de" % RUN},
        "long": {"email": "long%s@example.com" % RUN},
    }
    for key, u in users.items():
        u["username"] = "%s%s" % (key, RUN)
        u["password"] = "Pw-" + secrets.token_hex(8)
    # 80 bytes, the first 72 of them ASCII letters, the rest not: bcrypt
    # (passlib's) reads the first 72.
    users["long"]["password"] = "P" * 70 + "w-" + "\u00e9" * 4

    before = fastapi_first(t, var, env_file, users)
    if before is not None:
        p = migrate(DB)
        t.ok(p.returncode == 0, "scripts/migrate applies to the FastAPI "
             "backend's database", p.stdout + p.stderr)
        diffs = collab_auth(t, var, env_file, users, before)
        fastapi_again(t, var, env_file, users)
        with open(os.path.join(var, "differences.txt"), "w") as f:
            for d in diffs:
                f.write(d + "\n")
                print("# difference: " + d)
    t.done()


if __name__ == "__main__":
    main()
