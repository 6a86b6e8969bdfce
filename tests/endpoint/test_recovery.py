# SPDX-License-Identifier: ISC
"""Password recovery through the web server: POST /api/auth/forgot-password
(the one answer for every case, the mailed code taken from the test SMTP
server's spool, the stored digest, the cooldown and hourly cap, older
codes retired, the answer sent before the mail; the stored address only,
never a look-alike; delivery apart from the answer, retried while the
mail server is down or answers 4xx, dropped once the code expired, and
the answering process as quick whatever the address or the mail server;
no deadlock on an empty table; a queue that holds no usable code) and
POST /api/auth/reset-password (success, the same 400 for every bad code,
the attempt limit, the daily failure cap, the registration rules, revoked
refresh sessions, a concurrent race for one code, an unknown address as
slow as a wrong code, a COMMIT whose outcome is unknown), and logs
without codes or passwords.

The SMTP transport itself (STARTTLS, AUTH, a server that is down) is
tested in test_mail.py, auth-cleanup in test_cleanup.py."""

import email
import email.policy
import hashlib
import hmac
import json
import os
import re
import socket
import statistics
import subprocess
import threading
import time
import types

import smtp_server
from db_proxy import DbProxy
from harness import (TAP, cgi, CGIResult, check_logs_clean, clean_env,
                     config_values, db_query, db_scalar, env, err, expect,
                     expect_422, header_problems, mail_senders_idle, new_user,
                     password, program, program_headers, program_log,
                     program_pids, race, request, server, sql_quote, unique)

FORGOT = "/api/auth/forgot-password"
RESET = "/api/auth/reset-password"
LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh-token"
REGISTER = "/api/auth/register"

FORGOT_BODY = {"message":
               "If that email is registered, a reset code has been sent."}
RESET_BODY = {"message": "Password has been reset"}
BAD_CODE = "Invalid or expired code"

E_EMAIL = "Invalid email address"
E_PW_SHORT = "Password must be at least 8 characters"
E_PW_LONG = "Password must be at most 72 bytes"
E_PW_SAME = "Password must not match the email or username"
E_PW_COMMON = "Password is too common"
NOT_STRING = "Input should be a valid string"

CODE_RE = re.compile(r"\b(\d{6})\b")
MAIL_WAIT = 10          # seconds a mail may take to arrive
RESTART_MAIL_WAIT = 15  # ... the first after MariaDB's restart
NO_MAIL_WAIT = 3        # seconds after which a mail that did not come won't
ANSWER_WAIT = 5         # seconds a plain CGI answer may take (as CGI)

CFG = config_values()


def cfg_int(key, default):
    try:
        return int(CFG.get(key, default))
    except ValueError:
        return default


def unquote(v):
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    return v


COOLDOWN = cfg_int("OTP_COOLDOWN_SECONDS", 60)
MAX_PER_HOUR = cfg_int("OTP_MAX_PER_HOUR", 5)
EXPIRE_MINUTES = cfg_int("OTP_EXPIRE_MINUTES", 30)
MAX_ATTEMPTS = cfg_int("OTP_MAX_ATTEMPTS", 5)
MAIL_FROM = unquote(CFG.get("MAIL_FROM", ""))
MAIL_FROM_NAME = unquote(CFG.get("MAIL_FROM_NAME", ""))

# What the run has seen, for the checks at the end.
CODES = []              # every code received by mail
USED_PASSWORDS = []     # every new_password sent (beside harness.SECRETS)
EXPECTED_MAILS = {}     # address -> how many mails it must have received
REFERENCE = {}          # "forgot": the answer every case must equal
LAST_FORGOT = [0.0]     # monotonic time of the last forgot-password


# -- HTTP helpers ------------------------------------------------------------

def forgot(addr, **kw):
    LAST_FORGOT[0] = time.monotonic()
    return request("POST", FORGOT, {"email": addr}, **kw)


def reset(addr, otp, new_pw, **kw):
    if isinstance(new_pw, str):
        USED_PASSWORDS.append(new_pw)
    return request("POST", RESET, {"email": addr, "otp": otp,
                                   "new_password": new_pw}, **kw)


def login(addr, pw):
    return request("POST", LOGIN, {"email": addr, "password": pw})


def register(t, user, desc=None):
    r = request("POST", REGISTER, user)
    if r.status != 201:
        t.ok(False, desc or "register %s" % user["email"], repr(r))
        raise RuntimeError("cannot register %s: %r" % (user["email"], r))
    return r.json["id"]


def uid_of(user):
    return int(db_scalar("SELECT id FROM `user` WHERE email = %s"
                         % sql_quote(user["email"])))


def hash_of(user):
    return db_scalar("SELECT hashed_password FROM `user` WHERE email = %s"
                     % sql_quote(user["email"]))


def wrong(code):
    """A code that is not code."""
    return "%06d" % ((int(code) + 1) % 1000000)


def headers_but_date(r):
    return program_headers(r)


def same_answer(t, r, desc):
    """r is the one answer of forgot-password: status, headers (except
    Date) and body equal to the reference answer, which is itself a 200
    with FORGOT_BODY and the JSON headers."""
    ref = REFERENCE.get("forgot")
    bad = []
    if ref is None:
        bad.append("no reference answer")
    else:
        if r.status != ref.status:
            bad.append("status %r, reference %r" % (r.status, ref.status))
        if headers_but_date(r) != headers_but_date(ref):
            bad.append("headers %r, reference %r"
                       % (headers_but_date(r), headers_but_date(ref)))
        if r.body != ref.body:
            bad.append("body %r, reference %r" % (r.body, ref.body))
    return t.ok(not bad, "%s: the same 200 answer (status, headers but "
                "Date, body)" % desc, *(bad + [repr(r)] if bad else []))


def expect_bad_code(t, r, desc, ref=None):
    """400 {"detail": "Invalid or expired code"}, and when ref is given,
    the same status, headers (except Date) and body as ref."""
    ok = expect(t, r, 400, BAD_CODE, "%s: 400 %s" % (desc, BAD_CODE))
    if ref is not None:
        t.ok(r.status == ref.status and r.body == ref.body and
             headers_but_date(r) == headers_but_date(ref),
             "%s: the same bytes and headers as every other 400" % desc,
             repr(r), "reference: %r" % ref)
    return ok


# -- The spool ---------------------------------------------------------------

_spool = {}


def spool_messages():
    """Every message the test SMTP server has recorded, in order."""
    d = env("AUTH_TEST_SMTP_SPOOL")
    for n in os.listdir(d):
        if (n.endswith(".json") and not n.startswith(".") and
                n not in _spool):
            try:
                with open(os.path.join(d, n)) as f:
                    _spool[n] = json.load(f)
            except (OSError, ValueError):
                continue
    return [_spool[n] for n in sorted(_spool,
                                      key=lambda n: int(n.split(".")[0]))]


def mails_to(addr):
    """The messages with addr among their recipients (case-insensitive)."""
    a = addr.lower()
    return [m for m in spool_messages()
            if a in [x.lower() for x in m.get("rcpt_tos") or []]]


def wait_mails(want, timeout=MAIL_WAIT):
    """want: address -> count.  Wait until each address has at least its
    count of mails (bounded); return address -> its mails."""
    deadline = time.monotonic() + timeout
    while True:
        got = {a: mails_to(a) for a in want}
        if (all(len(got[a]) >= n for a, n in want.items()) or
                time.monotonic() >= deadline):
            return got
        time.sleep(0.1)


def parse(m):
    # From bytes: parsed from a str, a body with 4-byte UTF-8 characters
    # comes back from get_content() with them as backslash escapes.
    return email.message_from_bytes(m["data"].encode("utf-8"),
                                    policy=email.policy.default)


def code_in(m):
    """The code of a recorded message, or None."""
    try:
        body = parse(m).get_content()
    except Exception:
        body = m.get("data", "")
    found = CODE_RE.findall(body)
    return found[0] if found else None


def mail_code(t, addr, n=1, desc=None):
    """One check: the n-th mail to addr arrives (bounded wait) with a
    6-digit code.  Returns the code; raises if there is none."""
    got = wait_mails({addr: n})[addr]
    code = code_in(got[n - 1]) if len(got) >= n else None
    t.ok(code is not None, desc or "mail %d to %s arrived with a 6-digit "
         "code" % (n, addr),
         "%d mail(s) after %d s" % (len(got), MAIL_WAIT) if len(got) < n
         else got[n - 1].get("data", "")[:2000])
    if code is None:
        raise RuntimeError("no mail %d with a code to %s" % (n, addr))
    CODES.append(code)
    return code


def sleep_cooldown(since):
    """Sleep until the cooldown that began at monotonic time since (or
    earlier: since is when the mail arrived, after the code was issued)
    is over."""
    left = since + COOLDOWN + 0.2 - time.monotonic()
    if left > 0:
        time.sleep(left)


# -- Accounts with a code ----------------------------------------------------

ACCOUNTS = {}           # role -> {"user", "code", "id"}


def test_prepare(t):
    """Register one account per role and request a code for each; the
    codes come back by mail, all in one wait."""
    roles = ("success", "wrong", "expired", "disabled", "dead", "four",
             "username", "race", "used")
    for role in roles:
        user = new_user("rc")
        if role == "username":
            # A username unlike the email's local part, so that only the
            # username rule can refuse a password equal to it.
            user["username"] = "Nm_" + unique("x")
        register(t, user)
        ACCOUNTS[role] = {"user": user, "id": uid_of(user)}
    bad = []
    for role in roles:
        r = forgot(ACCOUNTS[role]["user"]["email"])
        if r.status != 200 or r.json != FORGOT_BODY or header_problems(r):
            bad.append("%s: %r" % (role, r))
        REFERENCE.setdefault("forgot", r)
    t.ok(not bad, "forgot-password for %d registered accounts: each 200 %s"
         " with the JSON headers" % (len(roles), json.dumps(FORGOT_BODY)),
         *bad)
    want = {ACCOUNTS[role]["user"]["email"]: 1 for role in roles}
    got = wait_mails(want)
    missing = [a for a, n in want.items() if len(got[a]) < n]
    t.ok(not missing, "a mail reached each of %d accounts within %d s"
         % (len(roles), MAIL_WAIT), "no mail for: %r" % missing)
    for role in roles:
        a = ACCOUNTS[role]["user"]["email"]
        EXPECTED_MAILS[a] = 1
        if got[a]:
            ACCOUNTS[role]["code"] = code_in(got[a][0])
            if ACCOUNTS[role]["code"]:
                CODES.append(ACCOUNTS[role]["code"])
    nocode = [r for r in roles if not ACCOUNTS[r].get("code")]
    t.ok(not nocode, "each mail holds a 6-digit code",
         "without a code: %r" % nocode)


def acct(role):
    a = ACCOUNTS.get(role)
    if not a or not a.get("code"):
        raise RuntimeError("account %r has no code (see test_prepare)"
                           % role)
    return a


# -- forgot-password -----------------------------------------------------------

def test_forgot_same_answer(t):
    """Registered, unknown, disabled, throttled: one answer; a mail only
    for the active registered account."""
    known = new_user("fk")
    register(t, known)
    disabled = new_user("fd")
    register(t, disabled)
    db_query("UPDATE `user` SET is_active = 0 WHERE email = %s"
             % sql_quote(disabled["email"]))
    unknown = unique("fu") + "@example.com"

    r = forgot(known["email"])
    t.ok(r.status == 200 and r.json == FORGOT_BODY and
         not header_problems(r),
         "registered active account: 200 %s with the JSON headers"
         % json.dumps(FORGOT_BODY), repr(r))
    REFERENCE.setdefault("forgot", r)
    same_answer(t, forgot(unknown), "unknown email")
    same_answer(t, forgot(disabled["email"]), "disabled account")
    # The second request for the account within the cooldown: one of the
    # two issues the code, the other is throttled.
    same_answer(t, forgot(known["email"]), "the same account again at "
                "once (cooldown)")
    got = mail_code(t, known["email"], 1, "the registered account's mail "
                    "arrived with a code")
    REFERENCE["known"] = known
    REFERENCE["known_code"] = got
    REFERENCE["known_id"] = uid_of(known)
    EXPECTED_MAILS[known["email"]] = 1
    EXPECTED_MAILS[unknown] = 0
    EXPECTED_MAILS[disabled["email"]] = 0
    REFERENCE["unknown"] = unknown
    REFERENCE["disabled"] = disabled


def test_mail_content(t):
    known = REFERENCE["known"]
    code = REFERENCE["known_code"]
    msgs = mails_to(known["email"])
    m = msgs[0]
    t.eq(m.get("rcpt_tos"), [known["email"]],
         "the mail has the account's address as its only recipient")
    t.eq(m.get("mail_from"), MAIL_FROM, "envelope sender is MAIL_FROM")
    msg = parse(m)
    raw_head = re.split(r"\r?\n\r?\n", m["data"], 1)[0]
    names = [ln.split(":", 1)[0].lower() for ln in re.split(r"\r?\n",
                                                            raw_head)
             if ln and not ln[0].isspace() and ":" in ln]
    for h in ("Date", "Message-ID", "From", "To", "Subject",
              "MIME-Version", "Content-Type"):
        t.eq(names.count(h.lower()), 1, "mail header %s appears once" % h,
             raw_head)
    try:
        frm = msg["From"].addresses
    except Exception:
        frm = ()
    t.ok(len(frm) == 1 and frm[0].addr_spec == MAIL_FROM and
         frm[0].display_name == MAIL_FROM_NAME,
         "From: %s <%s>" % (MAIL_FROM_NAME, MAIL_FROM),
         "From: %r" % msg["From"])
    try:
        to = [a.addr_spec for a in msg["To"].addresses]
    except Exception:
        to = None
    t.eq(to, [known["email"]], "To: the account's address")
    t.ok(msg.get_content_type() == "text/plain" and
         (msg.get_content_charset() or "").lower() == "utf-8",
         "Content-Type: text/plain; charset=UTF-8",
         "Content-Type: %r" % msg["Content-Type"])
    t.eq(str(msg["MIME-Version"]).strip(), "1.0", "MIME-Version: 1.0")
    try:
        date_ok = msg["Date"].datetime is not None
        skew = abs(msg["Date"].datetime.timestamp() - time.time())
    except Exception:
        date_ok, skew = False, None
    t.ok(date_ok and skew < 300, "Date: a valid RFC 5322 date, now",
         "Date: %r (skew %r s)" % (msg["Date"], skew))
    t.ok(re.match(r"^<[^<>@\s]+@[^<>@\s]+>$", str(msg["Message-ID"])
                  .strip()), "Message-ID: <id@domain>",
         "Message-ID: %r" % msg["Message-ID"])
    subject = str(msg["Subject"] or "")
    body = msg.get_content()
    t.ok(re.search(r"password", subject, re.I) and
         re.search(r"reset|code", subject, re.I),
         "the subject says it is about a password reset code",
         "Subject: %r" % subject)
    t.eq(sorted(set(CODE_RE.findall(body))), [code],
         "the body holds the code as 6 consecutive digits (and no other "
         "6-digit number)", body)
    flat = " ".join(body.split())
    t.ok(re.search(r"password reset code", flat, re.I),
         "the body says it is a password reset code", body)
    t.ok(re.search(r"expires in %d minutes" % EXPIRE_MINUTES, flat, re.I),
         "the body says the code expires in %d minutes" % EXPIRE_MINUTES,
         body)
    t.ok(re.search(r"\bignore\b", flat, re.I) and
         re.search(r"did not (ask|request)|didn't (ask|request)|not "
                   r"requested", flat, re.I),
         "the body says to ignore the mail if the reset was not "
         "requested", body)

    uid = REFERENCE["known_id"]
    rows = db_query("SELECT otp, is_used, TIMESTAMPDIFF(SECOND, "
                    "UTC_TIMESTAMP(), expires_at) FROM passwordresettoken "
                    "WHERE user_id = %d" % uid)
    t.eq(len(rows), 1, "one passwordresettoken row for the account", rows)
    if rows:
        otp, used, left = rows[0]
        t.ok(re.match(r"^[0-9a-f]{64}$", otp or "") and otp != code and
             code not in otp, "passwordresettoken.otp is 64 hex digits, "
             "not the code", "otp %r, code %r" % (otp, code))
        t.eq(used, "0", "the code is unused")
        left = int(left)
        t.ok(abs(left - EXPIRE_MINUTES * 60) < 120,
             "expires_at is %d minutes from now (UTC)" % EXPIRE_MINUTES,
             "%d s from now" % left)
    t.eq(db_query("SELECT attempts FROM auth_reset_code WHERE user_id = %d"
                  % uid), [["0"]],
         "auth_reset_code: one row, no attempt yet")


def test_forgot_422(t):
    for name, body, want in (
            ("no email", {},
             [err("email", "Field required", "missing")]),
            ("email a number", {"email": 123},
             [err("email", NOT_STRING, "string_type")]),
            ("email null", {"email": None}, None),
            ("email a list", {"email": ["a@example.com"]},
             [err("email", NOT_STRING, "string_type")]),
            ("malformed email", {"email": "not-an-email"},
             [err("email", E_EMAIL, "value_error")]),
            ("email with two @", {"email": "a@@example.com"},
             [err("email", E_EMAIL, "value_error")])):
        r = request("POST", FORGOT, body)
        if want is None:
            d = r.json.get("detail") if isinstance(r.json, dict) else None
            t.ok(r.status == 422 and isinstance(d, list) and len(d) == 1
                 and d[0].get("loc") == ["body", "email"],
                 "forgot-password, %s: 422 for the email field" % name,
                 repr(r))
        else:
            expect_422(t, r, want, "forgot-password, %s: 422" % name)
    r = request("POST", FORGOT, b"{", headers={
        "Content-Type": "application/json"})
    expect_422(t, r, [err(None, "JSON decode error", "json_invalid")],
               "forgot-password, malformed JSON: 422")


def test_cooldown_cap_retire(t):
    """One account: a code, a throttled request at once, a code after the
    cooldown, a third, then the hourly cap.  Only the newest code works;
    the older ones are retired in the database."""
    user = new_user("cap")
    register(t, user)
    uid = uid_of(user)
    a = user["email"]
    EXPECTED_MAILS[a] = 0
    codes = []

    r = forgot(a)
    same_answer(t, r, "cap account, request 1")
    codes.append(mail_code(t, a, 1, "cap account: mail 1 arrived with a "
                           "code"))
    came = time.monotonic()
    r = forgot(a)
    quick = time.monotonic() - came
    same_answer(t, r, "cap account, request 2 within the cooldown")
    sleep_cooldown(came)
    t.eq(len(mails_to(a)), 1, "no mail for the request within the %d s "
         "cooldown (checked %.1f s later)" % (COOLDOWN, COOLDOWN + 0.2),
         "it came %.2f s after the first mail" % quick)
    for n in range(2, MAX_PER_HOUR + 1):
        r = forgot(a)
        same_answer(t, r, "cap account, request after the cooldown "
                    "(code %d)" % n)
        codes.append(mail_code(t, a, n, "after the cooldown: mail %d "
                               "arrived with a code" % n))
        came = time.monotonic()
        sleep_cooldown(came)
    # The cap: MAX_PER_HOUR codes in the hour, cooldown over.
    r = forgot(a)
    same_answer(t, r, "cap account, request %d of the hour (hourly cap)"
                % (MAX_PER_HOUR + 1))
    time.sleep(NO_MAIL_WAIT)
    t.eq(len(mails_to(a)), MAX_PER_HOUR, "hourly cap: no mail %d (checked "
         "%d s later)" % (MAX_PER_HOUR + 1, NO_MAIL_WAIT))
    EXPECTED_MAILS[a] = MAX_PER_HOUR
    t.eq(db_scalar("SELECT COUNT(*) FROM auth_reset_code WHERE user_id = "
                   "%d" % uid), str(MAX_PER_HOUR),
         "auth_reset_code: %d codes issued" % MAX_PER_HOUR)
    rows = db_query("SELECT is_used, otp FROM passwordresettoken WHERE "
                    "user_id = %d ORDER BY id" % uid)
    t.eq([r[0] for r in rows], ["1"] * (MAX_PER_HOUR - 1) + ["0"],
         "passwordresettoken: the older codes are retired (is_used = 1), "
         "the newest is not", rows)
    t.ok(rows and all(re.match(r"^[0-9a-f]{64}$", r[1]) and
                      r[1] not in codes for r in rows),
         "no stored otp is a code", rows)

    # Older codes answer 400; the newest works.
    old_pw = user["password"]
    newest = codes[-1]
    for i, c in enumerate(codes[:-1]):
        if c == newest:
            t.diag("code %d happens to equal the newest" % (i + 1))
            continue
        r = reset(a, c, password())
        expect_bad_code(t, r, "reset with the older code %d" % (i + 1))
    new_pw = password()
    r = reset(a, newest, new_pw)
    t.ok(r.status == 200 and r.json == RESET_BODY,
         "reset with the newest code: 200", repr(r))
    t.eq(login(a, new_pw).status, 200, "login with the new password: 200")
    t.eq(login(a, old_pw).status, 401, "login with the old password: 401")


def test_timing(t):
    """Known and unknown emails: the same answer, in similar time."""
    known = new_user("tm")
    register(t, known)
    unknown = unique("tu") + "@example.com"
    EXPECTED_MAILS[unknown] = 0
    times = {"known": [], "unknown": []}
    differ = []
    for i in range(10):
        for kind, addr in (("unknown", unknown), ("known", known["email"])):
            t0 = time.perf_counter()
            r = forgot(addr)
            times[kind].append(time.perf_counter() - t0)
            ref = REFERENCE["forgot"]
            if (r.status != ref.status or r.body != ref.body or
                    headers_but_date(r) != headers_but_date(ref)):
                differ.append((kind, r))
    t.ok(not differ, "20 forgot-password requests (known and unknown "
         "email, alternately): the same status, headers and body",
         repr(differ[:3]))
    km = statistics.median(times["known"]) * 1000
    um = statistics.median(times["unknown"]) * 1000
    t.diag("forgot-password median: known %.1f ms, unknown %.1f ms"
           % (km, um))
    t.ok(km < 3 * um + 50, "known-email median (%.1f ms) < 3 x unknown "
         "median (%.1f ms) + 50 ms" % (km, um))


def cgi_env(**extra):
    """The environment harness.cgi() gives a program as plain CGI."""
    e = clean_env(AUTH_CONFIG=env("AUTH_TEST_CONFIG"),
                  BCRYPT_ROUNDS=os.environ.get("AUTH_TEST_BCRYPT_ROUNDS",
                                               "10"),
                  GATEWAY_INTERFACE="CGI/1.1", SERVER_PROTOCOL="HTTP/1.1",
                  REQUEST_METHOD="POST", SCRIPT_NAME=FORGOT,
                  REQUEST_URI=FORGOT, REMOTE_ADDR="127.0.0.1",
                  SERVER_NAME="localhost", SERVER_PORT="80",
                  CONTENT_TYPE="application/json")
    e.update(extra)
    return e


def cgi_same(t, r, ref, desc):
    bad = []
    if r.status != ref.status:
        bad.append("status %r, reference %r" % (r.status, ref.status))
    if r.headers != ref.headers:
        bad.append("headers %r, reference %r" % (r.headers, ref.headers))
    if r.body != ref.body:
        bad.append("body %r, reference %r" % (r.body, ref.body))
    return t.ok(not bad, desc, *(bad + [repr(r)] if bad else []))


def test_mail_failure(t):
    """As plain CGI: the answer is complete (stdout closed) while the mail
    is still being sent, a mail failure does not change it, and the
    failure is logged."""
    ok_user = new_user("cg")
    register(t, ok_user)
    fail_user = new_user("cf")
    register(t, fail_user)
    unknown = unique("cu") + "@example.com"
    EXPECTED_MAILS[unknown] = 0
    EXPECTED_MAILS[fail_user["email"]] = 0

    ref = cgi({"email": unknown}, prog="auth-forgot-password")
    t.ok(ref.status == 200 and ref.json == FORGOT_BODY,
         "as CGI, unknown email: 200 %s" % json.dumps(FORGOT_BODY),
         repr(ref))
    r = cgi({"email": ok_user["email"]}, prog="auth-forgot-password")
    cgi_same(t, r, ref, "as CGI, registered account (mail delivered): the "
             "same status, headers and body as for an unknown email")
    mail_code(t, ok_user["email"], 1, "as CGI, the registered account's "
              "mail arrived")
    EXPECTED_MAILS[ok_user["email"]] = 1

    # No sender of the web server's may be at work: the request below
    # must start its own, with its own MAIL_PORT.
    mail_senders_idle()
    # An SMTP "server" that accepts the connection and says nothing until
    # told to hang up.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(10)
    port = srv.getsockname()[1]
    body = json.dumps({"email": fail_user["email"]}).encode()
    # The mail is sent by a child of the program that lets go of stderr
    # (mod_cgi would hold the answer for it) and logs to LOG_FILE.
    logfile = os.path.join(env("AUTH_TEST_TMPDIR"), "recovery-mail.log")
    if os.path.exists(logfile):
        os.unlink(logfile)

    def mail_log():
        try:
            with open(logfile, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    proc = subprocess.Popen(
        [program("auth-forgot-password")], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=cgi_env(CONTENT_LENGTH=str(len(body)), MAIL_SERVER="127.0.0.1",
                    MAIL_PORT=str(port), LOG_FILE=logfile))
    out = []
    errbuf = []
    conn = None
    try:
        proc.stdin.write(body)
        proc.stdin.close()
        rd = threading.Thread(target=lambda: out.append(proc.stdout.read()),
                              daemon=True)
        er = threading.Thread(target=lambda: errbuf.append(
            proc.stderr.read()), daemon=True)
        rd.start()
        er.start()
        started = time.monotonic()
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            conn = None
        t.ok(conn is not None, "as CGI with a silent mail server: the "
             "program connects to MAIL_SERVER:MAIL_PORT to send the mail")
        # The server has not even greeted: no mail can have gone out, and
        # curl waits for the greeting for up to its connect timeout
        # (10 s).  The answer must be complete well before that.
        rd.join(max(0.0, started + ANSWER_WAIT - time.monotonic()))
        answered = bool(out)
        still_running = "mail send failed" not in mail_log()
        t.ok(answered and still_running, "the answer is complete (stdout "
             "closed) within %d s while the mail is still waiting for the "
             "server's greeting" % ANSWER_WAIT,
             "answered %r, process running %r" % (answered, still_running))
    finally:
        if conn is not None:
            try:
                conn.sendall(b"421 4.3.2 going away\r\n")
            except OSError:
                pass
            conn.close()
        srv.close()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    er.join(10)
    end = time.monotonic() + 40
    while "mail send failed" not in mail_log() and time.monotonic() < end:
        time.sleep(0.05)
    res = CGIResult(types.SimpleNamespace(
        returncode=proc.returncode, stdout=out[0] if out else b"",
        stderr=(errbuf[0] if errbuf else b"") + mail_log().encode()))
    cgi_same(t, res, ref, "as CGI, registered account whose mail fails: "
             "the same status, headers and body as for an unknown email")
    t.eq(res.returncode, 0, "the program exits 0 after the failed mail",
         res.stderr[-1000:])
    t.ok(re.search(r"mail.*(fail|error)", res.stderr, re.I) and
         re.search(r"port=%d" % port, res.stderr),
         "the mail failure is logged, with the port", res.stderr[-1500:])
    t.diag("codes issued for the account whose mail failed: %s"
           % db_scalar("SELECT COUNT(*) FROM auth_reset_code WHERE "
                       "user_id = %d" % uid_of(fail_user)))
    # Its message would be tried again (by a sender with this run's
    # MAIL_PORT, or another): end that here.
    mail_senders_idle()


# -- reset-password --------------------------------------------------------------

def test_reset_success(t):
    a = acct("success")
    user = a["user"]
    uid = a["id"]
    tokens = []
    for _ in range(2):
        r = login(user["email"], user["password"])
        if not t.ok(r.status == 200 and isinstance(r.json, dict) and
                    r.json.get("refresh_token"),
                    "login before the reset: 200 with a refresh token",
                    repr(r)):
            return
        tokens.append(r.json["refresh_token"])
    t.eq(db_query("SELECT COUNT(*), COUNT(revoked_at) FROM "
                  "auth_refresh_session WHERE user_id = %d" % uid),
         [["2", "0"]], "two live refresh sessions before the reset")
    old_hash = hash_of(user)
    new_pw = password()
    r = reset(user["email"], a["code"], new_pw)
    t.ok(r.status == 200 and r.json == RESET_BODY and
         not header_problems(r),
         "reset-password with the right code: 200 %s" % json.dumps(
             RESET_BODY), repr(r))
    new_hash = hash_of(user)
    t.ok(new_hash != old_hash and
         re.match(r"^\$2b\$10\$[./A-Za-z0-9]{53}$", new_hash or ""),
         "a new $2b$10$ hash is stored", new_hash)
    r = login(user["email"], new_pw)
    t.eq(r.status, 200, "login with the new password: 200", repr(r))
    new_refresh = r.json.get("refresh_token") if isinstance(r.json,
                                                            dict) else None
    r = login(user["email"], user["password"])
    expect(t, r, 401, "Invalid email or password",
           "login with the old password: 401")
    for i, tok in enumerate(tokens):
        r = request("POST", REFRESH, {"refresh_token": tok})
        expect(t, r, 401, "Invalid refresh token",
               "refresh token %d from before the reset: 401" % (i + 1))
    rows = db_query("SELECT id FROM auth_refresh_session WHERE user_id = %d"
                    " AND revoked_at IS NULL" % uid)
    # The login with the new password made one live session.
    t.eq(len(rows), 1, "every session from before the reset has revoked_at"
         " set; only the one made after it is live", rows)
    t.eq(db_query("SELECT COUNT(*) FROM auth_refresh_session WHERE user_id "
                  "= %d AND revoked_at IS NOT NULL" % uid), [["2"]],
         "auth_refresh_session: the 2 old sessions revoked")
    if new_refresh:
        r = request("POST", REFRESH, {"refresh_token": new_refresh})
        t.eq(r.status, 200, "a refresh token from after the reset works",
             repr(r))
    r = reset(user["email"], a["code"], password())
    expect_bad_code(t, r, "the same code a second time")
    t.eq(hash_of(user), new_hash, "the hash did not change again")
    t.eq(db_query("SELECT is_used FROM passwordresettoken WHERE user_id = "
                  "%d" % uid), [["1"]], "the code is marked used")


def test_reset_bad_codes(t):
    """Every bad case: the same 400, byte for byte."""
    unknown = unique("ru") + "@example.com"
    r = reset(unknown, "123456", password())
    expect(t, r, 400, BAD_CODE, "unknown email: 400 %s" % BAD_CODE)
    ref = r
    REFERENCE["bad_code"] = ref

    nocode = new_user("rn")
    register(t, nocode)
    r = reset(nocode["email"], "123456", password())
    expect_bad_code(t, r, "account that never asked for a code", ref)

    # Wrong codes, then the right one still works.
    a = acct("wrong")
    for name, otp in (("wrong code", wrong(a["code"])),
                      ("the code's first 5 digits", a["code"][:5]),
                      ("the code and a 7th digit", a["code"] + "0")):
        r = reset(a["user"]["email"], otp, password())
        expect_bad_code(t, r, name, ref)
    t.eq(db_query("SELECT attempts FROM auth_reset_code WHERE user_id = %d"
                  % a["id"]), [["3"]],
         "auth_reset_code.attempts counts each of the 3 tries")
    r = reset(a["user"]["email"], a["code"], password())
    t.eq(r.status, 200, "then the right code: 200", repr(r))

    # Used code (the account resets first).
    u = acct("used")
    pw1 = password()
    r = reset(u["user"]["email"], u["code"], pw1)
    t.eq(r.status, 200, "used-code account: first reset 200", repr(r))
    r = reset(u["user"]["email"], u["code"], password())
    expect_bad_code(t, r, "used code", ref)
    t.eq(login(u["user"]["email"], pw1).status, 200,
         "the password of the first reset still logs in")

    # Expired code.
    e = acct("expired")
    db_query("UPDATE passwordresettoken SET expires_at = UTC_TIMESTAMP() - "
             "INTERVAL 1 MINUTE WHERE user_id = %d" % e["id"])
    h = hash_of(e["user"])
    r = reset(e["user"]["email"], e["code"], password())
    expect_bad_code(t, r, "expired code (the right one)", ref)
    t.eq(hash_of(e["user"]), h, "expired code: the hash is unchanged")
    # The same code one minute before expiry works: it was the expiry.
    db_query("UPDATE passwordresettoken SET expires_at = UTC_TIMESTAMP() + "
             "INTERVAL 1 MINUTE WHERE user_id = %d" % e["id"])
    r = reset(e["user"]["email"], e["code"], password())
    t.eq(r.status, 200, "the same code, its expiry moved a minute ahead: "
         "200 (the 400 was the expiry)", repr(r))

    # Disabled account with the right code.
    d = acct("disabled")
    db_query("UPDATE `user` SET is_active = 0 WHERE id = %d" % d["id"])
    h = hash_of(d["user"])
    r = reset(d["user"]["email"], d["code"], password())
    expect_bad_code(t, r, "disabled account, the right code", ref)
    t.eq(hash_of(d["user"]), h, "disabled account: the hash is unchanged")
    t.eq(db_query("SELECT is_used FROM passwordresettoken WHERE user_id = "
                  "%d" % d["id"]), [["0"]],
         "disabled account: the code is not consumed")
    db_query("UPDATE `user` SET is_active = 1 WHERE id = %d" % d["id"])
    r = reset(d["user"]["email"], d["code"], password())
    t.eq(r.status, 200, "the same code once the account is active again: "
         "200 (the 400 was the disabled account)", repr(r))

    # Dead code: MAX_ATTEMPTS wrong tries, then the right one fails.
    k = acct("dead")
    h = hash_of(k["user"])
    statuses = []
    for i in range(MAX_ATTEMPTS):
        r = reset(k["user"]["email"], wrong(k["code"]), password())
        statuses.append(r.status)
        if i == 0:
            expect_bad_code(t, r, "dead-code account, wrong try 1", ref)
    t.eq(statuses, [400] * MAX_ATTEMPTS, "%d wrong tries: each 400"
         % MAX_ATTEMPTS)
    t.eq(db_query("SELECT attempts FROM auth_reset_code WHERE user_id = %d"
                  % k["id"]), [[str(MAX_ATTEMPTS)]],
         "auth_reset_code.attempts is %d after %d wrong tries"
         % (MAX_ATTEMPTS, MAX_ATTEMPTS))
    r = reset(k["user"]["email"], k["code"], password())
    expect_bad_code(t, r, "the right code after %d wrong tries (dead code)"
                    % MAX_ATTEMPTS, ref)
    t.eq(hash_of(k["user"]), h, "dead code: the hash is unchanged")
    t.eq(db_query("SELECT is_used FROM passwordresettoken WHERE user_id = "
                  "%d" % k["id"]), [["0"]],
         "dead code: not marked used (refused before the comparison)")

    # MAX_ATTEMPTS - 1 wrong tries, then the right one works.
    f = acct("four")
    statuses = [reset(f["user"]["email"], wrong(f["code"]),
                      password()).status for _ in range(MAX_ATTEMPTS - 1)]
    t.eq(statuses, [400] * (MAX_ATTEMPTS - 1), "%d wrong tries: each 400"
         % (MAX_ATTEMPTS - 1))
    t.eq(db_query("SELECT attempts FROM auth_reset_code WHERE user_id = %d"
                  % f["id"]), [[str(MAX_ATTEMPTS - 1)]],
         "auth_reset_code.attempts is %d" % (MAX_ATTEMPTS - 1))
    new_pw = password()
    r = reset(f["user"]["email"], f["code"], new_pw)
    t.ok(r.status == 200 and r.json == RESET_BODY,
         "the right code after %d wrong tries: 200" % (MAX_ATTEMPTS - 1),
         repr(r))
    t.eq(login(f["user"]["email"], new_pw).status, 200,
         "and the new password logs in")


def test_reset_422(t):
    a = acct("username")
    user = a["user"]
    addr = user["email"]
    code = a["code"]
    local = addr.split("@")[0]
    cases = [
        ("new_password of 7 bytes", {"new_password": "Ab1!xyz"},
         [err("new_password", E_PW_SHORT, "value_error")]),
        ("new_password of 73 bytes", {"new_password": "P" * 73},
         [err("new_password", E_PW_LONG, "value_error")]),
        ("new_password of 37 two-byte characters",
         {"new_password": "\u00e9" * 37},
         [err("new_password", E_PW_LONG, "value_error")]),
        ("common new_password 12345678", {"new_password": "12345678"},
         [err("new_password", E_PW_COMMON, "value_error")]),
        ("common new_password football", {"new_password": "football"},
         [err("new_password", E_PW_COMMON, "value_error")]),
        ("common new_password BaseBall", {"new_password": "BaseBall"},
         [err("new_password", E_PW_COMMON, "value_error")]),
        ("new_password equal to the email", {"new_password": addr},
         [err("new_password", E_PW_SAME, "value_error")]),
        ("new_password equal to the email's local part",
         {"new_password": local},
         [err("new_password", E_PW_SAME, "value_error")]),
        ("no field", None,
         [err("email", "Field required", "missing"),
          err("otp", "Field required", "missing"),
          err("new_password", "Field required", "missing")]),
        ("email missing", {"email": None},
         [err("email", "Field required", "missing")]),
        ("otp missing", {"otp": None},
         [err("otp", "Field required", "missing")]),
        ("new_password missing", {"new_password": None},
         [err("new_password", "Field required", "missing")]),
        ("otp a number", {"otp": int(code)},
         [err("otp", NOT_STRING, "string_type")]),
        ("new_password a number", {"new_password": 12345678},
         [err("new_password", NOT_STRING, "string_type")]),
        ("email a number", {"email": 42},
         [err("email", NOT_STRING, "string_type")]),
        ("email a list", {"email": [addr]},
         [err("email", NOT_STRING, "string_type")]),
        ("malformed email", {"email": "not-an-email"},
         [err("email", E_EMAIL, "value_error")]),
    ]
    for name, over, want in cases:
        if over is None:
            body = {}
        else:
            body = {"email": addr, "otp": code, "new_password": password()}
            for k, v in over.items():
                if v is None:
                    body.pop(k)
                else:
                    body[k] = v
        if isinstance(body.get("new_password"), str):
            USED_PASSWORDS.append(body["new_password"])
        r = request("POST", RESET, body)
        expect_422(t, r, want, "reset-password, %s: 422" % name)
    r = request("POST", RESET, b'{"email": ', headers={
        "Content-Type": "application/json"})
    expect_422(t, r, [err(None, "JSON decode error", "json_invalid")],
               "reset-password, malformed JSON: 422")
    t.eq(db_query("SELECT t.is_used, c.attempts FROM passwordresettoken t "
                  "JOIN auth_reset_code c ON c.token_id = t.id WHERE "
                  "t.user_id = %d" % a["id"]), [["0", "0"]],
         "no 422 used the code or counted an attempt")

    # The username rule: the username is known only once the code is
    # right, so a wrong code with that password is a 400 ...
    same = "".join(c.lower() if c.isupper() else c.upper()
                   for c in user["username"])
    t.ok(same != user["username"] and same.lower() != local.lower(),
         "test data: a password equal to the username in another case, "
         "unlike the email's local part", same)
    h = hash_of(user)
    r = reset(addr, wrong(code), same)
    expect_bad_code(t, r, "new_password equal to the username with a wrong "
                    "code (checked only after the code)")
    # ... and with the right code a 422 that leaves the code usable.
    r = reset(addr, code, same)
    expect_422(t, r, [err("new_password", E_PW_SAME, "value_error")],
               "new_password equal to the username in another case, right "
               "code: 422")
    t.eq(hash_of(user), h, "the hash is unchanged")
    t.eq(db_query("SELECT is_used FROM passwordresettoken WHERE user_id = "
                  "%d" % a["id"]), [["0"]], "the code is not consumed")
    new_pw = password()
    r = reset(addr, code, new_pw)
    t.ok(r.status == 200 and r.json == RESET_BODY,
         "then the right code with a good password: 200", repr(r))
    t.eq(login(addr, new_pw).status, 200, "and the new password logs in")


def test_reset_race(t):
    a = acct("race")
    user = a["user"]
    old_hash = hash_of(user)
    pws = [password() for _ in range(10)]
    USED_PASSWORDS.extend(pws)
    results = [None] * 10
    barrier = threading.Barrier(10)

    def one(i):
        try:
            barrier.wait(timeout=30)
            r = request("POST", RESET, {"email": user["email"],
                                        "otp": a["code"],
                                        "new_password": pws[i]}, timeout=30)
            results[i] = (r.status, r.json)
        except Exception as e:
            results[i] = ("exception", repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    statuses = [r[0] if r else None for r in results]
    t.eq(statuses.count(200), 1, "10 concurrent resets with one code: "
         "exactly one 200", repr(results))
    t.eq(statuses.count(400), 9, "the other nine: 400", repr(results))
    t.ok(all(r[1] == {"detail": BAD_CODE} for r in results
             if r and r[0] == 400),
         "each 400 says %s" % BAD_CODE, repr(results))
    t.ok(all(isinstance(s, int) and s < 500 for s in statuses),
         "no 5xx, no error", repr(results))
    t.ok(hash_of(user) != old_hash, "the hash changed")
    logins = [login(user["email"], pw).status for pw in pws]
    t.eq(logins.count(200), 1, "exactly one of the 10 passwords logs in",
         repr(logins))
    if 200 in statuses and 200 in logins:
        t.eq(logins.index(200), statuses.index(200),
             "the password that logs in is the one of the 200")



# -- Delivery apart from the answer ------------------------------------------

def faults(**kw):
    """Switch the faults of the test SMTP server (smtp_server.set_faults)."""
    smtp_server.set_faults(env("AUTH_TEST_SMTP_SPOOL"), **kw)


def logs_readable():
    """Whether the senders' log lines reach the program log here: not
    under plain CGI, where a sender started after the answer has no
    stderr and logs to syslog (LOG_FILE unset)."""
    return server() != "apache-cgi"


def insert_users(n, prefix="q", emails=None, usernames=None):
    """n active accounts inserted as the FastAPI backend would have made
    them (no usable password: they are reset); returns their emails."""
    if emails is None:
        emails = ["%s@example.com" % unique(prefix) for _ in range(n)]
    if usernames is None:
        usernames = [unique(prefix + "n") for _ in emails]
    db_query("INSERT INTO `user` (email, username, hashed_password, "
             "is_active, created_at) VALUES %s" % ", ".join(
                 "(%s, %s, '*', 1, UTC_TIMESTAMP())"
                 % (utf8mb4(e), utf8mb4(u))
                 for e, u in zip(emails, usernames)))
    return emails


def utf8mb4(text):
    """text as an SQL literal in utf8mb4, whatever the client's charset."""
    return "CONVERT(X'%s' USING utf8mb4)" % text.encode("utf-8").hex()


def uid_by_email(addr):
    return int(db_scalar("SELECT id FROM `user` WHERE email = %s"
                         % sql_quote(addr)))


def wait_queue_empty(timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db_scalar("SELECT COUNT(*) FROM auth_mail_queue") == "0":
            return True
        time.sleep(0.2)
    return False


def wait_message_row(uid, timeout=30):
    """Wait until the queue holds the message of account uid; return its
    columns (id, nonce, token_id) or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = db_query("SELECT id, nonce, token_id FROM auth_mail_queue "
                        "WHERE user_id = %d" % uid)
        if rows:
            return rows[0]
        time.sleep(0.1)
    return None


def log_since(mark):
    return program_log()[mark:]


def mailed_code_works(t, addr, got, desc):
    """got: the mails to addr.  The code of the first works."""
    code = code_in(got[0]) if got else None
    if code:
        CODES.append(code)
        reset_works(t, addr, code, desc)


def reset_works(t, addr, code, desc):
    new_pw = password()
    r = reset(addr, code, new_pw)
    t.ok(r.status == 200 and r.json == RESET_BODY, "%s: the code works "
         "(reset-password 200)" % desc, repr(r))
    return new_pw


def test_lookalike(t):
    """Stored addresses the FastAPI backend accepted: an address that the
    column's collation folds to the same (ü = u, ß = ss) is another
    address, which gets nothing; the stored one gets the code, as
    stored; ASCII case is the only fold."""
    run = unique("la")
    real = "bob%s@b\u00fccher.de" % run
    fold = "bob%s@bucher.de" % run
    sreal = "stra\u00dfe%s@example.com" % run
    sfold = "strasse%s@example.com" % run
    mixed = "Bob.Mixed%s@Example.com" % run
    insert_users(3, emails=[real, sreal, mixed])
    for addr in (fold, sfold):
        same_answer(t, forgot(addr), "look-alike %s" % addr)
    time.sleep(NO_MAIL_WAIT + 2)
    stray = [m for m in spool_messages()
             if any(run in x for x in m.get("rcpt_tos") or [])]
    t.eq(stray, [], "forgot-password for the look-alikes %s and %s sent "
         "nothing anywhere" % (fold, sfold))
    t.eq(db_query("SELECT COUNT(*) FROM passwordresettoken t JOIN `user` u "
                  "ON u.id = t.user_id WHERE u.email IN (%s, %s)"
                  % (sql_quote(real), sql_quote(sreal))), [["0"]],
         "and issued no code for the accounts they fold to")

    r = forgot(real)
    same_answer(t, r, "the stored non-ASCII address")
    ace = "bob%s@xn--bcher-kva.de" % run
    got = wait_mails({real: 1})[real] or mails_to(ace)
    code = code_in(got[0]) if got else None
    t.ok(code is not None, "the stored address %s received a code" % real,
         "spool: %r" % [m.get("rcpt_tos") for m in spool_messages()[-5:]])
    if got:
        t.ok(got[0]["rcpt_tos"] in ([real], [ace]),
             "the envelope names the stored address (or its A-label)",
             got[0]["rcpt_tos"])
    if code:
        CODES.append(code)
        r = reset(fold, code, password())
        expect_bad_code(t, r, "the real code with the look-alike address")
        reset_works(t, real, code, "the real code with the real address")

    r = forgot(mixed.lower())
    code = mail_code(t, mixed, 1, "Bob.Mixed... (stored in mixed case) "
                     "gets its code when asked in lower case")
    m = mails_to(mixed)
    t.eq(m[0]["rcpt_tos"] if m else None, [mixed], "the mail goes to the "
         "address exactly as stored, case and all")
    reset_works(t, mixed.lower(), code, "mixed-case account")


def test_smtp_down(t):
    """The mail server down for 10 s while forgot-password is asked, then
    back: the mail arrives within a minute of its return, the code works,
    and each failed try was one log line naming the account."""
    addr = insert_users(1, "dn")[0]
    uid = uid_by_email(addr)
    mark = len(program_log())
    faults(down=True)
    try:
        t0 = time.monotonic()
        same_answer(t, forgot(addr), "mail server down")
        time.sleep(max(0.0, t0 + 10 - time.monotonic()))
        t.eq(mails_to(addr), [], "nothing delivered while it is down")
        t.ok(wait_message_row(uid, 1) is not None, "the message waits in "
             "the queue")
    finally:
        faults()
    up = time.monotonic()
    got = wait_mails({addr: 1}, timeout=60)[addr]
    took = time.monotonic() - up
    t.ok(len(got) == 1, "the mail arrived %.1f s after the server came "
         "back (within 60 s)" % took)
    mailed_code_works(t, addr, got, "after the outage")
    if logs_readable():
        log = log_since(mark)
        fails = re.findall(r"mail send failed .* user=%d attempt=(\d+)\n"
                           % uid, log)
        sent = re.findall(r"mail sent .* user=%d attempt=(\d+)\n" % uid,
                          log)
        t.ok(len(fails) >= 2 and len(sent) == 1 and
             int(sent[0]) == len(fails) + 1 and
             [int(a) for a in fails] == list(range(1, len(fails) + 1)),
             "one log line per try, naming the account: %d failures, then "
             "sent at try %s" % (len(fails), sent), log[-3000:])


def test_smtp_4xx(t):
    """A server that answers 451 twice, then accepts: the third try
    delivers, and the code works."""
    addr = insert_users(1, "tf")[0]
    uid = uid_by_email(addr)
    mark = len(program_log())
    faults(temp_fail=2)
    try:
        same_answer(t, forgot(addr), "4xx then accepting")
        got = wait_mails({addr: 1}, timeout=60)[addr]
    finally:
        faults()
    t.eq(len(got), 1, "the mail arrived after two 451 answers")
    mailed_code_works(t, addr, got, "after 451 twice")
    if logs_readable():
        log = log_since(mark)
        t.eq(len(re.findall(r"mail send failed .*smtp_status=451 .* "
                            r"user=%d attempt=[12]\n" % uid, log)), 2,
             "two failures with smtp_status=451 logged", log[-2000:])


def test_expired_while_queued(t):
    """A code that expires while its message waits for the mail server:
    dropped, no mail once the server is back."""
    addr = insert_users(1, "ex")[0]
    uid = uid_by_email(addr)
    mark = len(program_log())
    faults(down=True)
    try:
        same_answer(t, forgot(addr), "code that will expire")
        row = wait_message_row(uid)
        t.ok(row is not None, "its message waits in the queue")
        db_query("UPDATE passwordresettoken SET expires_at = "
                 "UTC_TIMESTAMP() - INTERVAL 1 SECOND WHERE user_id = %d"
                 % uid)
        db_query("UPDATE auth_mail_queue SET expires_at = UTC_TIMESTAMP() "
                 "- INTERVAL 1 SECOND WHERE user_id = %d" % uid)
        t.ok(wait_queue_empty(60), "the sender drops the expired message")
    finally:
        faults()
    time.sleep(NO_MAIL_WAIT)
    t.eq(mails_to(addr), [], "no mail for the expired code, the server "
         "back up")
    if logs_readable():
        t.ok(re.search(r"mail dropped reason=expired user=%d " % uid,
                       log_since(mark)), "the drop is logged, naming the "
             "account", log_since(mark)[-2000:])


def timed_forgot(addr):
    t0 = time.perf_counter()
    r = forgot(addr)
    return time.perf_counter() - t0, r


def test_greeting_delay(t):
    """A mail server that takes 5 s to greet: forgot-password answers, and
    the next request answers in the same time as with a healthy server.
    Blocks of five (a registered address, then a timed probe) with the
    server healthy and slow in turn, three rounds; the n-th probe of a
    slow block is compared with the n-th of the healthy block before it
    (seconds apart, under the same load of a shared machine)."""
    accounts = insert_users(30, "gd")
    times = {"healthy": [], "slow": []}
    bad = []
    try:
        for rnd in range(3):
            for state in ("healthy", "slow"):
                faults(greeting_delay=5 if state == "slow" else 0)
                for i in range(5):
                    r = forgot(accounts.pop())
                    if r.status != 200:
                        bad.append(r)
                    dt, r = timed_forgot(unique("gu") + "@example.com")
                    if r.status != 200:
                        bad.append(r)
                    times[state].append(dt * 1000)
    finally:
        faults()
    t.ok(not bad, "every forgot-password answered 200, the greeting "
         "delayed or not", *bad[:3])
    h = statistics.median(times["healthy"])
    d = statistics.median([b - a for a, b in zip(times["healthy"],
                                                 times["slow"])])
    t.diag("next request after forgot-password: healthy %.2f ms, greeting "
           "delayed 5 s %.2f ms (medians of 15); median difference %+.2f ms"
           % (h, statistics.median(times["slow"]), d))
    t.ok(d <= max(0.25 * h, 1.0), "with a greeting delayed 5 s the next "
         "request answers in the same time: %+.2f ms, within 25 %% of "
         "%.2f ms or 1 ms" % (d, h))
    t.ok(wait_queue_empty(90), "the delayed mails go out in the end")


def test_timing_pairs(t):
    """30 pairs of a registered and an unknown address, alternated, each
    followed by a probe: the probes after a registered address and after
    an unknown one answer in the same time, so nothing in how soon the
    program is ready again tells them apart.  Compared pair by pair (the
    two probes of a pair run a few milliseconds apart, under the same load
    of a shared machine): the median difference is under 10 % of a probe,
    or under 1 ms."""
    accounts = insert_users(30, "tp")
    after = {"registered": [], "unknown": []}
    for i in range(30):
        kinds = ("registered", "unknown")
        for kind in kinds if i % 2 == 0 else reversed(kinds):
            addr = (accounts[i] if kind == "registered" else
                    unique("tq") + "@example.com")
            r = forgot(addr)
            if r.status != 200:
                t.ok(False, "forgot-password %s: 200" % kind, repr(r))
                return
            dt, r = timed_forgot(unique("tz") + "@example.com")
            after[kind].append(dt * 1000)
    diffs = [a - b for a, b in zip(after["registered"], after["unknown"])]
    d = statistics.median(diffs)
    probe = statistics.median(after["registered"] + after["unknown"])
    t.diag("the request after a registered address: %.2f ms, after an "
           "unknown one: %.2f ms (medians of 30); median difference within "
           "a pair %+.2f ms" % (statistics.median(after["registered"]),
                                statistics.median(after["unknown"]), d))
    t.ok(abs(d) < max(0.1 * probe, 1.0), "the median difference within a "
         "pair is under 10 %% of a probe (%.2f ms) or 1 ms: %+.2f ms"
         % (probe, d))
    got = wait_mails({x: 1 for x in accounts}, timeout=60)
    t.eq(collect_codes(got), 30, "and each of the 30 registered addresses "
         "got its mail with a code")


def collect_codes(got):
    """got: address -> its mails.  Keep each address's code (for the
    checks at the end); return how many addresses got exactly one mail
    with a code."""
    n = 0
    for mails in got.values():
        code = code_in(mails[0]) if mails else None
        if code:
            CODES.append(code)
            n += len(mails) == 1
    return n


def innodb_deadlocks():
    return int(db_query("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")[0][1])


def test_parallel_no_deadlock(t):
    """50 forgot-password requests at once for 50 accounts, on an empty
    code table: 50 mails, and no deadlock, neither in InnoDB's count nor
    in the logs."""
    db_query("DELETE FROM passwordresettoken")
    db_query("DELETE FROM auth_reset_code")
    accounts = insert_users(50, "pd")
    mark = len(program_log())
    before = innodb_deadlocks()
    results = race(50, lambda i: forgot(accounts[i], timeout=30).status)
    t.eq(results, [200] * 50, "50 parallel forgot-password: each 200")
    got = wait_mails({a: 1 for a in accounts}, timeout=60)
    t.eq(collect_codes(got), 50, "each of the 50 accounts got one mail "
         "with a code")
    t.eq(innodb_deadlocks() - before, 0, "InnoDB counted no deadlock")
    if logs_readable():
        t.ok(not re.search(r"errno=1213|deadlock", log_since(mark), re.I),
             "no deadlock in the program log", log_since(mark)[-2000:])


def mail_key():
    """The key the code is derived from a nonce with (otp.c), computed as
    only the holder of the secret can: here from the test config's
    JWT_SECRET_KEY (it sets no OTP_SECRET_KEY)."""
    cfg = config_values()
    if cfg.get("OTP_SECRET_KEY"):
        key = hashlib.sha256(unquote(cfg["OTP_SECRET_KEY"]).encode()).digest()
    else:
        key = hmac.new(unquote(cfg["JWT_SECRET_KEY"]).encode(),
                       b"collab-auth one-time code key v1",
                       hashlib.sha256).digest()
    return key, hmac.new(key, b"collab-auth mail code key v1",
                         hashlib.sha256).digest()


def code_from_nonce(mkey, uid, msg_id, nonce):
    for counter in range(16):
        md = hmac.new(mkey, b"collab-auth-code:%d:%d:%s:%d"
                      % (uid, msg_id, nonce.encode(), counter),
                      hashlib.sha256).digest()
        for i in range(0, len(md), 4):
            v = int.from_bytes(md[i:i + 4], "big")
            if v < 4294000000:
                return "%06d" % (v % 1000000)
    return None


def test_queue_holds_no_code(t):
    """The queue read directly, while a message waits: nothing in it is
    the code or gives it without the key; with the key (which only the
    programs' config holds) the nonce gives exactly the mailed code."""
    addr = insert_users(1, "nc")[0]
    uid = uid_by_email(addr)
    faults(down=True)
    try:
        same_answer(t, forgot(addr), "queue read directly")
        row = wait_message_row(uid)
        dump = db_query("SELECT * FROM auth_mail_queue WHERE user_id = %d"
                        % uid)
    finally:
        faults()
    got = wait_mails({addr: 1}, timeout=60)[addr]
    code = code_in(got[0]) if got else None
    t.ok(row is not None and code is not None, "the message waited, then "
         "was delivered with a code")
    if row is None or code is None:
        return
    CODES.append(code)
    flat = " ".join(str(c) for c in dump[0])
    t.ok(code not in flat, "no column of the queue row holds the code",
         flat)
    t.ok(re.fullmatch(r"[0-9a-f]{64}", row[1] or "") is not None,
         "the row holds a 64-hex-digit nonce", row)
    key, mkey = mail_key()
    t.eq(code_from_nonce(mkey, uid, int(row[0]), row[1]), code,
         "with the key, the nonce gives the mailed code")
    other = hmac.new(b"not-the-secret", b"collab-auth mail code key v1",
                     hashlib.sha256).digest()
    t.ok(code_from_nonce(other, uid, int(row[0]), row[1]) != code and
         code_from_nonce(hashlib.sha256(row[1].encode()).digest(), uid,
                         int(row[0]), row[1]) != code,
         "without it (another key, or one made from the nonce) it does not")
    digest = db_scalar("SELECT otp FROM passwordresettoken WHERE id = %s"
                       % row[2])
    t.eq(digest, hmac.new(key, b"collab-auth-otp:%d:%s" % (uid,
                                                           code.encode()),
                          hashlib.sha256).hexdigest(),
         "passwordresettoken.otp holds only the keyed HMAC of the code")
    reset_works(t, addr, code, "queue read directly")


def failure_key(addr):
    return hashlib.sha256(b"collab-auth-reset-failure:" +
                          addr.encode()).hexdigest()


def test_daily_cap(t):
    """OTP_MAX_FAILURES_PER_DAY (10): past 10 failed tries in 24 hours,
    every code of the address is refused with the same 400, even the
    right one, until the day has passed.  An unknown address is counted
    the same way."""
    cap = cfg_int("OTP_MAX_FAILURES_PER_DAY", 10)
    user = new_user("dc")
    register(t, user)
    addr = user["email"]
    EXPECTED_MAILS[addr] = 3
    codes = []
    for n in range(1, 4):
        if n > 1:
            sleep_cooldown(time.monotonic())
        forgot(addr)
        codes.append(mail_code(t, addr, n, "daily cap: code %d arrived" % n))
        if n < 3:
            statuses = [reset(addr, wrong(codes[-1]), password()).status
                        for _ in range(cap // 2)]
            t.eq(statuses, [400] * (cap // 2), "code %d: %d wrong tries, "
                 "each 400" % (n, cap // 2))
    t.eq(db_scalar("SELECT COUNT(*) FROM auth_reset_failure WHERE "
                   "key_hash = UNHEX('%s')" % failure_key(addr)), str(cap),
         "auth_reset_failure: %d failures of the address" % cap)
    h = hash_of(user)
    r = reset(addr, codes[-1], password())
    expect_bad_code(t, r, "the right, fresh code past %d failures" % cap,
                    REFERENCE.get("bad_code"))
    t.eq(hash_of(user), h, "past the cap: the hash is unchanged")
    db_query("UPDATE auth_reset_failure SET failed_at = failed_at - "
             "INTERVAL 25 HOUR WHERE key_hash = UNHEX('%s')"
             % failure_key(addr))
    reset_works(t, addr, codes[-1], "the day over")

    unknown = unique("dcu") + "@example.com"
    statuses = [reset(unknown, "123456", password()).status
                for _ in range(cap + 2)]
    t.eq(statuses, [400] * (cap + 2), "an unknown address: every try 400")
    t.eq(db_scalar("SELECT COUNT(*) FROM auth_reset_failure WHERE "
                   "key_hash = UNHEX('%s')" % failure_key(unknown)),
         str(cap), "an unknown address is counted like an account, up to "
         "the cap")


def test_reset_timing(t):
    """reset-password: an unknown address and a registered one with a
    wrong code answer in the same time (40 interleaved pairs, the median
    ratio within a pair within 1.25)."""
    pairs = 40
    accounts = insert_users(pairs, "rt")
    ids = [uid_by_email(a) for a in accounts]
    for uid in ids:
        tok = int(db_scalar(
            "INSERT INTO passwordresettoken (user_id, otp, expires_at, "
            "is_used) VALUES (%d, SHA2(RAND(), 256), UTC_TIMESTAMP() + "
            "INTERVAL 20 MINUTE, 0); SELECT LAST_INSERT_ID()" % uid))
        db_query("INSERT INTO auth_reset_code (token_id, user_id, "
                 "created_at, attempts) VALUES (%d, %d, UTC_TIMESTAMP(), 0)"
                 % (tok, uid))
    times = {"registered": [], "unknown": []}
    statuses = []
    for i in range(pairs):
        kinds = ("unknown", "registered")
        for kind in kinds if i % 2 == 0 else reversed(kinds):
            addr = (accounts[i] if kind == "registered" else
                    unique("ru") + "@example.com")
            t0 = time.perf_counter()
            r = reset(addr, "000000", password())
            times[kind].append(time.perf_counter() - t0)
            statuses.append(r.status)
    t.eq(statuses, [400] * 2 * pairs, "%d tries: each 400" % (2 * pairs))
    a = statistics.median(times["registered"]) * 1000
    b = statistics.median(times["unknown"]) * 1000
    ratio = statistics.median([x / y for x, y in zip(times["registered"],
                                                     times["unknown"])])
    t.diag("reset-password median: registered, wrong code %.2f ms; unknown "
           "address %.2f ms; median ratio within a pair %.3f" % (a, b, ratio))
    t.ok(1 / 1.25 <= ratio <= 1.25, "the median ratio within a pair "
         "(the two tries a few milliseconds apart, under the same load) "
         "is within 1.25: %.3f" % ratio,
         "registered ms: %s" % " ".join("%.1f" % (x * 1000)
                                         for x in times["registered"]),
         "unknown ms:    %s" % " ".join("%.1f" % (x * 1000)
                                         for x in times["unknown"]))


def proxy_url(path):
    """The test config's MYSQL_DB_URL with its unix socket replaced."""
    url = config_values()["MYSQL_DB_URL"]
    return re.sub(r"unix_socket=[^&]*", "unix_socket=" + path, url)


def test_commit_unknown(t):
    """The connection lost during the COMMIT of a reset: when the COMMIT
    landed, the answer is 200 (never 400 for a reset that happened);
    when it did not, 503, and the code still works."""
    sock = os.path.join(env("AUTH_TEST_TMPDIR"), "dbproxy.sock")
    with DbProxy(env("AUTH_TEST_DB_SOCKET"), sock) as proxy:
        e = {"MYSQL_DB_URL": proxy_url(sock)}
        for mode in ("after", "before"):
            user = new_user("cu")
            register(t, user)
            addr = user["email"]
            EXPECTED_MAILS[addr] = 1
            forgot(addr)
            code = mail_code(t, addr, 1, "commit %s: the code arrived" % mode)
            h = hash_of(user)
            new_pw = password()
            USED_PASSWORDS.append(new_pw)
            proxy.arm(mode)
            cuts = proxy.cuts
            r = cgi({"email": addr, "otp": code, "new_password": new_pw},
                    prog="auth-reset-password", extra_env=e)
            t.eq(proxy.cuts, cuts + 1, "commit %s: the connection was cut "
                 "at COMMIT" % mode, repr(r))
            if mode == "after":
                t.ok(r.status == 200 and r.json == RESET_BODY, "the COMMIT "
                     "landed, its answer lost: 200, found out by reading "
                     "the state again", repr(r))
                t.eq(login(addr, new_pw).status, 200, "and the new "
                     "password logs in")
            else:
                expect(t, r, 503, "Service temporarily unavailable",
                       "the COMMIT never reached the server: 503")
                t.eq(hash_of(user), h, "the password is unchanged")
                reset_works(t, addr, code, "after the lost COMMIT, the "
                            "same code")


def test_long_username(t):
    """A legacy username of about 1000 bytes (255 characters, mostly emoji:
    the FastAPI backend took any username that fit the column):
    the mail is built, its greeting shortened, and the code works."""
    prefix = unique("lu")
    name = prefix + "\U0001F600" * (255 - len(prefix))
    addr = insert_users(1, "lu", usernames=[name])[0]
    forgot(addr)
    code = mail_code(t, addr, 1, "a %d-byte username: the mail arrived"
                     % len(name.encode()))
    body = parse(mails_to(addr)[0]).get_content()
    first = body.splitlines()[0] if body else ""
    t.ok(first == "Hello " + name[:64] + "...,", "its greeting is the "
         "name cut to 64 characters and \"...\"", first)
    reset_works(t, addr, code, "the long username")


def test_cron_delivers(t):
    """A request no sender took (as if the one started had died): the next
    auth-cleanup run, from cron, issues and sends it."""
    mail_senders_idle()
    addr = insert_users(1, "cr")[0]
    db_query("INSERT INTO auth_mail_queue (email, created_at, expires_at, "
             "next_attempt_at) VALUES (%s, UTC_TIMESTAMP(), UTC_TIMESTAMP() "
             "+ INTERVAL 30 MINUTE, UTC_TIMESTAMP())" % sql_quote(addr))
    p = subprocess.run([env("AUTH_TEST_CLEANUP"), "-q"], capture_output=True,
                       timeout=120, env=clean_env(
                           AUTH_CONFIG=env("AUTH_TEST_CONFIG")))
    t.eq(p.returncode, 0, "auth-cleanup -q exits 0", p.stderr[-1000:])
    code = mail_code(t, addr, 1, "auth-cleanup delivered the queued "
                     "request's mail")
    t.ok(re.search(rb"mail sent .* user=\d+ attempt=1", p.stderr),
         "and logged the try, naming the account", p.stderr[-1000:])
    reset_works(t, addr, code, "delivered by auth-cleanup")

def sender_pids():
    """The pids of this run's mail senders (auth-cleanup --deliver: the
    config's MAIL_DELIVERY_PROGRAM, which the sanitizer pass leaves at
    the normal build's; this build's; or the copy Apache's user runs),
    sorted."""
    dirs = {os.path.realpath(os.path.dirname(env("AUTH_TEST_CLEANUP"))),
            os.path.realpath(os.path.join(env("AUTH_TEST_RUN_DIR"),
                                          "apache", "sbin"))}
    if CFG.get("MAIL_DELIVERY_PROGRAM"):
        dirs.add(os.path.realpath(os.path.dirname(
            CFG["MAIL_DELIVERY_PROGRAM"])))
    return program_pids("auth-cleanup", arg=b"--deliver", dirs=dirs)


def leased_slots():
    """How many sender slots are leased now (held, or reserved)."""
    return int(db_scalar("SELECT COUNT(*) FROM auth_mail_slot WHERE "
                         "lease_until > UTC_TIMESTAMP()"))


class SenderCount(threading.Thread):
    """Counts this run's mail senders every 0.1 s until stopped; most is
    the largest count seen."""

    def __init__(self):
        super().__init__(daemon=True)
        self.most = 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            self.most = max(self.most, len(sender_pids()))
            time.sleep(0.1)

    def stop(self):
        self.halt.set()
        self.join(10)
        return self.most


def test_db_restart_sender(t):
    """MariaDB stopped and started again while a sender holds its slot
    (a message waits in it for a retry: the mail server is down): a
    request made once the database is back, which starts no sender of
    its own (the slot is held), has its mail within RESTART_MAIL_WAIT
    seconds, with no other request and no auth-cleanup run; so has the
    message that was waiting; each gets one mail; no slot is left leased
    by a sender that is gone, and no more than MAIL_DELIVERY_SLOTS
    senders ran at once."""
    first, later = insert_users(2, "rs")
    for a in (first, later):
        EXPECTED_MAILS[a] = 1
    slots = cfg_int("MAIL_DELIVERY_SLOTS", 4)
    count = SenderCount()
    count.start()
    faults(down=True)
    try:
        same_answer(t, forgot(first), "mail server down")
        row = wait_message_row(uid_by_email(first), 15)
        deadline = time.monotonic() + 15
        while (row is not None and time.monotonic() < deadline and
               db_scalar("SELECT attempts FROM auth_mail_queue WHERE id = "
                         "%s" % row[0]) == "0"):
            time.sleep(0.1)
        held = leased_slots()
        senders = sender_pids()
        t.ok(row is not None and held >= 1 and senders,
             "a sender holds its slot, a message waiting in it for a retry "
             "(slots leased: %d, senders: %r)" % (held, senders))
        stop = subprocess.run(env("AUTH_TEST_DB_STOP"), shell=True,
                              capture_output=True, timeout=120)
        t.eq(stop.returncode, 0, "MariaDB stopped with the sender in its "
             "slot", (stop.stdout + stop.stderr)[-800:])
    finally:
        faults()
        start = subprocess.run(env("AUTH_TEST_DB_START"), shell=True,
                               capture_output=True, timeout=120)
    t.eq(start.returncode, 0, "MariaDB started again",
         (start.stdout + start.stderr)[-800:])
    r = forgot(later)
    same_answer(t, r, "the first request after the restart")
    t0 = time.monotonic()
    got = wait_mails({later: 1, first: 1}, timeout=RESTART_MAIL_WAIT)
    took = time.monotonic() - t0
    t.ok(len(got[later]) == 1, "its mail arrived within %d s (%.1f s), "
         "with no other request: the sender outlasted the restart"
         % (RESTART_MAIL_WAIT, took))
    t.ok(len(got[first]) == 1, "the message that waited for a retry was "
         "sent too")
    mailed_code_works(t, later, got[later], "mailed after the restart")
    mailed_code_works(t, first, got[first], "waiting across the restart")
    deadline = time.monotonic() + 30
    while sender_pids() and time.monotonic() < deadline:
        time.sleep(0.2)
    t.eq(sender_pids(), [], "the senders are done once the queue is empty")
    t.eq(leased_slots(), 0, "no slot left leased: every sender gave its "
         "own back")
    most = count.stop()
    t.ok(1 <= most <= slots, "at most MAIL_DELIVERY_SLOTS (%d) senders at "
         "once: %d" % (slots, most))
    t.eq([len(mails_to(a)) for a in (first, later)], [1, 1],
         "one mail each")


def test_db_away_at_start(t):
    """A sender started into the slot reserved for it while MariaDB is
    away (stopped after the reservation, as when it goes between the
    request and the sender's start): it does not give up while the
    reservation lasts; once MariaDB is back it takes the slot over and
    sends the request that waited, then exits 0."""
    mail_senders_idle()
    addr = insert_users(1, "sa")[0]
    EXPECTED_MAILS[addr] = 1
    holder = os.urandom(16).hex()
    db_query("INSERT INTO auth_mail_queue (email, created_at, expires_at, "
             "next_attempt_at) VALUES (%s, UTC_TIMESTAMP(), UTC_TIMESTAMP() "
             "+ INTERVAL 30 MINUTE, UTC_TIMESTAMP())" % sql_quote(addr))
    db_query("UPDATE auth_mail_slot SET holder = %s, lease_until = "
             "UTC_TIMESTAMP() + INTERVAL 15 SECOND WHERE slot = 1"
             % sql_quote(holder))
    stop = subprocess.run(env("AUTH_TEST_DB_STOP"), shell=True,
                          capture_output=True, timeout=120)
    sender = None
    try:
        t.eq(stop.returncode, 0, "MariaDB stopped, a slot reserved",
             (stop.stdout + stop.stderr)[-800:])
        sender = subprocess.Popen(
            [env("AUTH_TEST_CLEANUP"), "--deliver", "--slot", "1",
             "--holder", holder], stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=clean_env(
                AUTH_CONFIG=env("AUTH_TEST_CONFIG")))
        time.sleep(2)
        t.eq(sender.poll(), None, "the sender waits for MariaDB")
    finally:
        start = subprocess.run(env("AUTH_TEST_DB_START"), shell=True,
                               capture_output=True, timeout=120)
    t.eq(start.returncode, 0, "MariaDB started again",
         (start.stdout + start.stderr)[-800:])
    got = wait_mails({addr: 1}, timeout=RESTART_MAIL_WAIT)[addr]
    t.ok(len(got) == 1, "the request's mail arrived within %d s of "
         "MariaDB's return" % RESTART_MAIL_WAIT)
    mailed_code_works(t, addr, got, "sent by the sender that waited")
    try:
        rc = sender.wait(30)
    except subprocess.TimeoutExpired:
        sender.kill()
        rc = sender.wait()
    err = sender.stderr.read().decode("utf-8", "replace")
    t.eq(rc, 0, "the sender exits 0", err[-2000:])
    t.eq(len(re.findall(r"database away", err)), 1, "one line said the "
         "database was away, not one per try", err[-2000:])
    t.eq(leased_slots(), 0, "and gave its slot back")


# -- At the end ----------------------------------------------------------------

def test_mail_counts(t):
    """Every address received exactly the mails it should, checked well
    after the last request."""
    left = LAST_FORGOT[0] + NO_MAIL_WAIT - time.monotonic()
    if left > 0:
        time.sleep(left)
    bad = []
    for a, n in EXPECTED_MAILS.items():
        got = len(mails_to(a))
        if got != n:
            bad.append("%s: %d mail(s), want %d" % (a, got, n))
    t.ok(not bad, "mail counts after the run: exactly one per issued code; "
         "none to unknown or disabled addresses, throttled requests or the "
         "failed mail (%d addresses)" % len(EXPECTED_MAILS), *bad)
    for what in ("unknown", "disabled"):
        a = REFERENCE.get(what)
        a = a["email"] if isinstance(a, dict) else a
        t.eq(len(mails_to(a)) if a else None, 0,
             "no mail to the %s address" % what)
    t.eq(len(mails_to(REFERENCE["known"]["email"])), 1,
         "the account asked twice within the cooldown got one mail")


def test_no_codes_stored(t):
    codes = sorted(set(CODES))
    t.ok(len(codes) >= 10, "codes received by mail in this run: %d"
         % len(codes))
    if codes:
        n = db_scalar("SELECT COUNT(*) FROM passwordresettoken WHERE otp IN "
                      "(%s)" % ", ".join(sql_quote(c) for c in codes))
        t.eq(n, "0", "passwordresettoken holds none of the codes")
    bad = db_query("SELECT id, otp FROM passwordresettoken WHERE otp NOT "
                   "REGEXP '^[0-9a-f]{64}$'")
    t.eq(bad, [], "every passwordresettoken.otp is 64 hex digits")


def test_logs(t):
    log = program_log()
    for prog in ("auth-forgot-password", "auth-reset-password"):
        t.ok(re.search(r"(?<![\w-])%s\[\d+\]: " % prog, log),
             "the program log has %s lines" % prog)
    found = [c for c in set(CODES)
             if re.search(r"(?<!\d)%s(?!\d)" % c, log)]
    t.ok(not found, "the program log holds none of the %d codes mailed"
         % len(set(CODES)), "found: %r" % [c[:2] + "...." for c in found])
    # Passwords the tests sent that are not also an email or username
    # (those may be logged as identifiers).
    idents = set()
    for acc in ACCOUNTS.values():
        u = acc["user"]
        idents.update({u["email"].lower(), u["username"].lower(),
                       u["email"].split("@")[0].lower()})
    pws = {p for p in USED_PASSWORDS
           if len(p) >= 8 and p.lower() not in idents}
    found = [p for p in pws
             if re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(p), log)]
    t.ok(not found, "the program log holds none of the %d new passwords "
         "sent" % len(pws), "found: %r" % [p[:3] + "..." for p in found])
    check_logs_clean(t, "recovery")


def main():
    t = TAP()
    for fn in (test_prepare, test_forgot_same_answer, test_mail_content,
               test_forgot_422, test_timing, test_mail_failure,
               test_reset_success, test_reset_bad_codes, test_reset_422,
               test_reset_race, test_cooldown_cap_retire, test_lookalike,
               test_smtp_down, test_smtp_4xx, test_expired_while_queued,
               test_queue_holds_no_code, test_greeting_delay,
               test_timing_pairs, test_daily_cap, test_reset_timing,
               test_commit_unknown, test_long_username, test_cron_delivers,
               test_db_restart_sender, test_db_away_at_start,
               test_parallel_no_deadlock, test_mail_counts,
               test_no_codes_stored, test_logs):
        t.run(fn)
    t.done()


if __name__ == "__main__":
    main()
