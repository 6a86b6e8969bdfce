# SPDX-License-Identifier: ISC
# passes: lighttpd -- it runs auth-forgot-password as plain CGI itself
"""Mail through a real SMTP server: the real libcurl SMTP conversation of
cgi-bin/auth-forgot-password, run as plain CGI with MAIL_* set in its
environment against tests/endpoint/smtp_server.py (aiosmtpd) on a free
loopback port.  Plain SMTP, STARTTLS with a throwaway certificate,
implicit TLS, AUTH, certificate validation, a refused STARTTLS (nothing
may go out in clear), a server that is down, one that never greets and
one that stalls after the message: the mail is delivered or not as it
must be, the HTTP answer is the same 200 every time, each failure is one
log line, and no log holds the SMTP password or the code."""

import email
import email.policy
import email.utils
import datetime
import json
import os
import re
import secrets
import socket
import subprocess
import tempfile
import threading
import time

import harness
from harness import (TAP, CGIResult, cgi, check_logs_clean, clean_env,
                     db_query, db_scalar, env, new_user, program)
from smtp_server import Server, free_port, make_cert

FORGOT = "/api/auth/forgot-password"
ANSWER = {"message": "If that email is registered, a reset code has been "
                     "sent."}
MAIL_FROM = "noreply@collab-auth.test"
MAIL_FROM_NAME = "Collab Auth Test"
SMTP_USER = "mailer"
SMTP_PASSWORD = "Smtp-" + secrets.token_hex(10)
HEADERS = ["Date", "Message-ID", "From", "To", "Subject", "MIME-Version",
           "Content-Type", "Content-Transfer-Encoding"]
# A code: six digits on their own, not part of a longer word or number.
CODE = re.compile(r"(?<![0-9A-Za-z])[0-9]{6}(?![0-9A-Za-z])")
WAIT = 10           # seconds to wait for a mail to arrive

harness.SECRETS.append(SMTP_PASSWORD)

STATE = {"tmp": None, "cert": None, "key": None, "stderr": [],
         "codes": [], "answer": None}


class Run:
    """One run of auth-forgot-password as plain CGI: the parsed answer,
    stderr, when stdout was complete and when the process ended."""

    def __init__(self, result, answered, ended):
        self.r = result
        self.answered = answered
        self.ended = ended


def quiesce():
    """Each scenario runs alone: its sender, with the scenario's MAIL_*
    environment, must not deliver another's mail."""
    harness.mail_senders_idle()


# The first line of a sender's outcome for the one message of a run.
OUTCOME = re.compile(r"mail (sent|send failed|queued|dropped|not sent)|"
                     r"courier (no code|stopped)|config no mail")


def forgot(address, mail_env, timeout=90):
    """POST {"email": address} to auth-forgot-password as plain CGI, with
    mail_env added to its environment; the mail sender it starts inherits
    that environment.  Returns once the sender logged the outcome of its
    first try, after stopping it (see quiesce())."""
    quiesce()
    body = json.dumps({"email": address}).encode()
    e = clean_env(AUTH_CONFIG=env("AUTH_TEST_CONFIG"),
                  GATEWAY_INTERFACE="CGI/1.1", SERVER_PROTOCOL="HTTP/1.1",
                  REQUEST_METHOD="POST", SCRIPT_NAME=FORGOT,
                  REQUEST_URI=FORGOT, REMOTE_ADDR="127.0.0.1",
                  SERVER_NAME="localhost", SERVER_PORT="80",
                  CONTENT_TYPE="application/json",
                  CONTENT_LENGTH=str(len(body)))
    for k, v in mail_env.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    # The mail goes out from the sender (auth-cleanup --deliver), started
    # after the answer with stderr on /dev/null (Apache's mod_cgi would
    # hold the answer for it): it logs to LOG_FILE.
    logfile = os.path.join(env("AUTH_TEST_TMPDIR"),
                           "mail-%s.log" % secrets.token_hex(4))
    e["LOG_FILE"] = logfile
    t0 = time.monotonic()
    p = subprocess.Popen([program("auth-forgot-password")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=e)
    err = []
    reader = threading.Thread(target=lambda: err.append(p.stderr.read()),
                              daemon=True)
    reader.start()
    try:
        p.stdin.write(body)
        p.stdin.close()
    except BrokenPipeError:
        pass
    out = p.stdout.read()           # until the program closes stdout
    answered = time.monotonic() - t0
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    reader.join(10)
    log = ""
    end = t0 + timeout
    while time.monotonic() < end:
        try:
            with open(logfile, encoding="utf-8", errors="replace") as f:
                log = f.read()
        except FileNotFoundError:
            log = ""
        if OUTCOME.search(log):
            break
        time.sleep(0.05)
    ended = time.monotonic() - t0
    p.stdout.close()
    p.stderr.close()
    quiesce()
    res = CGIResult(subprocess.CompletedProcess(
        p.args, p.returncode, out,
        (err[0] if err else b"") + log.encode("utf-8")))
    STATE["stderr"].append(res.stderr)
    return Run(res, answered, ended)


def mail_env(port, **kw):
    """Every mail key set, so that neither the config file nor the
    caller's environment matters: plain SMTP without credentials unless
    kw says otherwise (KEY=value; None removes the key)."""
    e = {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(port),
        "MAIL_FROM": MAIL_FROM,
        "MAIL_FROM_NAME": MAIL_FROM_NAME,
        "MAIL_STARTTLS": "false",
        "MAIL_SSL_TLS": "false",
        "USE_CREDENTIALS": "false",
        "VALIDATE_CERTS": "true",
        "MAIL_USERNAME": "",
        "MAIL_PASSWORD": "",
        "MAIL_OUTBOX_DIR": "",      # empty: unset, so SMTP is used
        "OTP_EXPIRE_MINUTES": "30",
    }
    e.update(kw)
    return e


def register(t, what):
    """A fresh active account (no cooldown applies to it); its email."""
    user = new_user("ml")
    r = cgi(json.dumps(user))
    t.ok(r.status == 201, "%s: a fresh account is registered" % what, r)
    return user["email"]


def spool(name):
    return tempfile.mkdtemp(prefix=name + "-", dir=STATE["tmp"])


def check_answer(t, run, what):
    """The answer: the one 200, identical to the first scenario's."""
    r = run.r
    ok = r.status == 200 and r.json == ANSWER
    if STATE["answer"] is None and ok:
        STATE["answer"] = r.raw
    t.ok(ok and r.raw == STATE["answer"],
         "%s: answer 200 %s, byte for byte the same every time"
         % (what, json.dumps(ANSWER)), r)


def failure_lines(run):
    return [l for l in run.r.stderr.splitlines() if "mail send failed" in l]


def check_delivered(t, srv, run, address, what, tls, auth):
    """One message for address arrived, as expected; the success logged.
    Returns the message record (or None)."""
    msgs = srv.wait_messages(1, WAIT)
    t.eq(len(msgs), 1, "%s: one message delivered" % what,
         run.r.stderr, srv.log_text()[-1500:])
    if not msgs:
        return None
    m = msgs[0]
    t.eq([m["mail_from"], m["rcpt_tos"]], [MAIL_FROM, [address]],
         "%s: MAIL FROM is MAIL_FROM, RCPT TO the account's email" % what)
    t.eq([m["tls"], m["auth"]], [tls, auth],
         "%s: session encrypted %s, authenticated as %r"
         % (what, "yes" if tls else "no", auth))
    sent = [l for l in run.r.stderr.splitlines()
            if "mail sent server=127.0.0.1 port=%d" % srv.port in l]
    t.ok(len(sent) == 1 and not failure_lines(run),
         "%s: one \"mail sent server=127.0.0.1 port=%d\" line, no failure"
         % (what, srv.port), run.r.stderr)
    uid = db_scalar("SELECT id FROM `user` WHERE email = '%s'" % address)
    t.ok(len(sent) == 1 and sent[0].endswith(" user=%s attempt=1" % uid),
         "%s: the line names the account and the try: user=%s attempt=1"
         % (what, uid), run.r.stderr)
    codes = CODE.findall(m["data"])
    STATE["codes"].extend(codes)
    return m


def check_not_delivered(t, srv, run, what, status=None):
    """Nothing arrived; one failure line, with the SMTP status if given."""
    time.sleep(0.5)
    t.eq(len(srv.messages()), 0, "%s: nothing delivered" % what,
         srv.messages())
    lines = failure_lines(run)
    ok = (len(lines) == 1 and
          ("server=127.0.0.1 port=%d smtp_status=" % srv.port) in lines[0]
          and " error=" in lines[0] and
          re.search(r" user=\d+ attempt=1$", lines[0]) is not None)
    if ok and status is not None:
        ok = (" smtp_status=%d " % status) in lines[0]
    t.ok(ok, "%s: one \"mail send failed server=127.0.0.1 port=%d "
         "smtp_status=%s error=... user=N attempt=1\" line"
         % (what, srv.port, status if status is not None else "N"),
         run.r.stderr)
    t.ok("mail sent" not in run.r.stderr, "%s: no \"mail sent\" line" % what)


def check_message(t, m, address):
    """The RFC 5322 message as received."""
    data = m["data"]
    t.ok(re.search(r"(?<!\r)\n|\r(?!\n)", data) is None,
         "plain: every line of the message ends in CRLF", repr(data[:600]))
    t.ok(all(len(l) <= 998 for l in data.split("\r\n")),
         "plain: no line over 998 bytes")
    head, sep, body = data.partition("\r\n\r\n")
    t.ok(sep != "", "plain: a blank line ends the headers")
    names = [l.split(":", 1)[0] for l in head.split("\r\n")
             if l and not l[0].isspace()]
    t.eq(names, HEADERS, "plain: headers Date, Message-ID, From, To, "
         "Subject, MIME-Version, Content-Type, Content-Transfer-Encoding")
    msg = email.message_from_string(data, policy=email.policy.default)
    date = msg.get("Date", "")
    try:
        when = email.utils.parsedate_to_datetime(str(date))
        skew = abs((datetime.datetime.now(datetime.timezone.utc) -
                    when).total_seconds())
    except (TypeError, ValueError):
        skew = None
    t.ok(skew is not None and skew < 300 and str(date).endswith(" +0000"),
         "plain: Date is now, in UTC (+0000)", "Date: %r" % date)
    t.ok(re.fullmatch(r"<[0-9a-f]{32}@collab-auth\.test>",
                      str(msg.get("Message-ID", ""))) is not None,
         "plain: Message-ID is <32 hex@MAIL_FROM's domain>",
         "Message-ID: %r" % msg.get("Message-ID"))
    t.eq(email.utils.parseaddr(str(msg.get("From", ""))),
         (MAIL_FROM_NAME, MAIL_FROM), "plain: From is MAIL_FROM_NAME "
         "<MAIL_FROM>")
    t.eq(str(msg.get("To", "")), address, "plain: To is the account's email")
    t.eq([str(msg.get("MIME-Version", "")), msg.get_content_type(),
          msg.get_content_charset(), str(msg.get(
              "Content-Transfer-Encoding", ""))],
         ["1.0", "text/plain", "utf-8", "8bit"],
         "plain: MIME-Version 1.0, text/plain; charset=UTF-8, 8bit")
    subject = str(msg.get("Subject", ""))
    text = msg.get_content()
    codes = CODE.findall(text)
    t.ok(len(set(codes)) == 1, "plain: the body holds one 6-digit code",
         text)
    t.ok(re.search(r"password reset", subject, re.I) and
         re.search(r"code", subject, re.I),
         "plain: the subject says it is a password reset code", subject)
    t.ok(re.search(r"reset", text, re.I) and
         re.search(r"\b30 minutes\b", text) and
         re.search(r"\bignore\b", text, re.I) and
         re.search(r"did not|didn't|not request|not ask", text, re.I),
         "plain: the body says it is for a password reset, expires in 30 "
         "minutes, and to ignore it if not requested", text)
    return codes[0] if codes else None


def test_plain(t):
    address = register(t, "plain")
    with Server(spool("plain")) as srv:
        run = forgot(address, mail_env(srv.port))
        check_answer(t, run, "plain")
        m = check_delivered(t, srv, run, address, "plain", False, None)
        if m is None:
            return
        code = check_message(t, m, address)
        t.ok(code is not None and code not in run.r.stderr,
             "plain: the code is not in the program's log")


def test_starttls(t):
    address = register(t, "STARTTLS")
    with Server(spool("starttls"), starttls=True, cert=STATE["cert"],
                key=STATE["key"]) as srv:
        run = forgot(address, mail_env(srv.port, MAIL_STARTTLS="true",
                                       VALIDATE_CERTS="false"))
        check_answer(t, run, "STARTTLS")
        check_delivered(t, srv, run, address, "STARTTLS (self-signed, "
                        "VALIDATE_CERTS=false)", True, None)


def test_starttls_auth(t):
    address = register(t, "STARTTLS+AUTH")
    with Server(spool("auth"), starttls=True, cert=STATE["cert"],
                key=STATE["key"],
                auth="%s:%s" % (SMTP_USER, SMTP_PASSWORD)) as srv:
        env_ok = mail_env(srv.port, MAIL_STARTTLS="true",
                          VALIDATE_CERTS="false", USE_CREDENTIALS="true",
                          MAIL_USERNAME=SMTP_USER,
                          MAIL_PASSWORD=SMTP_PASSWORD)
        run = forgot(address, env_ok)
        check_answer(t, run, "STARTTLS+AUTH")
        check_delivered(t, srv, run, address, "STARTTLS+AUTH", True,
                        SMTP_USER)
        t.ok(SMTP_PASSWORD not in run.r.stderr and
             SMTP_USER not in run.r.stderr,
             "STARTTLS+AUTH: neither MAIL_USERNAME nor MAIL_PASSWORD is "
             "logged")


def test_auth_refused(t):
    """A wrong password, and credentials withheld by USE_CREDENTIALS."""
    with Server(spool("auth-bad"), starttls=True, cert=STATE["cert"],
                key=STATE["key"],
                auth="%s:%s" % (SMTP_USER, SMTP_PASSWORD)) as srv:
        wrong = "Wrong-" + secrets.token_hex(8)
        harness.SECRETS.append(wrong)
        address = register(t, "wrong password")
        run = forgot(address, mail_env(
            srv.port, MAIL_STARTTLS="true", VALIDATE_CERTS="false",
            USE_CREDENTIALS="true", MAIL_USERNAME=SMTP_USER,
            MAIL_PASSWORD=wrong))
        check_answer(t, run, "wrong password")
        check_not_delivered(t, srv, run, "wrong password", 535)
        t.ok(wrong not in run.r.stderr, "wrong password: not logged")

        address = register(t, "USE_CREDENTIALS=false")
        run = forgot(address, mail_env(
            srv.port, MAIL_STARTTLS="true", VALIDATE_CERTS="false",
            USE_CREDENTIALS="false", MAIL_USERNAME=SMTP_USER,
            MAIL_PASSWORD=SMTP_PASSWORD))
        check_answer(t, run, "USE_CREDENTIALS=false")
        check_not_delivered(t, srv, run, "USE_CREDENTIALS=false with "
                            "MAIL_USERNAME set: no AUTH sent, so the "
                            "server that requires it refuses")


def test_implicit_tls(t):
    address = register(t, "MAIL_SSL_TLS")
    with Server(spool("smtps"), tls=True, cert=STATE["cert"],
                key=STATE["key"]) as srv:
        run = forgot(address, mail_env(srv.port, MAIL_SSL_TLS="true",
                                       MAIL_STARTTLS="false",
                                       VALIDATE_CERTS="false"))
        check_answer(t, run, "MAIL_SSL_TLS")
        check_delivered(t, srv, run, address, "MAIL_SSL_TLS (smtps)", True,
                        None)


def test_validate_certs(t):
    address = register(t, "VALIDATE_CERTS")
    with Server(spool("verify"), starttls=True, cert=STATE["cert"],
                key=STATE["key"]) as srv:
        run = forgot(address, mail_env(srv.port, MAIL_STARTTLS="true",
                                       VALIDATE_CERTS="true"))
        check_answer(t, run, "VALIDATE_CERTS=true")
        check_not_delivered(t, srv, run, "VALIDATE_CERTS=true against a "
                            "self-signed certificate")
    address = register(t, "VALIDATE_CERTS smtps")
    with Server(spool("verify-smtps"), tls=True, cert=STATE["cert"],
                key=STATE["key"]) as srv:
        run = forgot(address, mail_env(srv.port, MAIL_SSL_TLS="true",
                                       VALIDATE_CERTS="true"))
        check_not_delivered(t, srv, run, "VALIDATE_CERTS=true, smtps, "
                            "self-signed")


def test_starttls_refused(t):
    address = register(t, "no STARTTLS")
    with Server(spool("nostarttls"), no_starttls=True) as srv:
        run = forgot(address, mail_env(srv.port, MAIL_STARTTLS="true",
                                       VALIDATE_CERTS="false"))
        check_answer(t, run, "no STARTTLS")
        check_not_delivered(t, srv, run, "MAIL_STARTTLS=true, server "
                            "without STARTTLS: no mail in clear")


def queue_code(t, address, menv, what):
    """forgot-password for address, as plain CGI, with a sender that does
    nothing (MAIL_DELIVERY_PROGRAM=/bin/true): the code is only queued."""
    body = json.dumps({"email": address}).encode()
    e = clean_env(AUTH_CONFIG=env("AUTH_TEST_CONFIG"),
                  GATEWAY_INTERFACE="CGI/1.1", REQUEST_METHOD="POST",
                  SCRIPT_NAME=FORGOT, REMOTE_ADDR="127.0.0.1",
                  CONTENT_TYPE="application/json",
                  CONTENT_LENGTH=str(len(body)),
                  MAIL_DELIVERY_PROGRAM="/bin/true")
    e.update(menv)
    r = CGIResult(subprocess.run([program("auth-forgot-password")],
                                 input=body, env=e, capture_output=True,
                                 timeout=30))
    t.ok(r.status == 200 and r.json == ANSWER, "%s: forgot-password "
         "queued the code for %s" % (what, address), r)


def free_slots():
    """Give back the slots the requests reserved for their /bin/true
    senders."""
    db_query("UPDATE auth_mail_slot SET holder = NULL, "
             "lease_until = '1970-01-01 00:00:00'")


def start_sender(menv):
    """One auth-cleanup --deliver with one slot (it starts no helper),
    its lines in a log file of its own: (process, log path)."""
    logfile = os.path.join(env("AUTH_TEST_TMPDIR"),
                           "mail-%s.log" % secrets.token_hex(4))
    e = clean_env(AUTH_CONFIG=env("AUTH_TEST_CONFIG"), LOG_FILE=logfile,
                  MAIL_DELIVERY_SLOTS="1")
    e.update(menv)
    return (subprocess.Popen([env("AUTH_TEST_CLEANUP"), "--deliver"], env=e,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE),
            logfile)


def read_log(path, keep=True):
    """The sender's log so far; kept for test_logs when keep."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            log = f.read()
    except FileNotFoundError:
        return ""
    if keep:
        STATE["stderr"].append(log)
    return log


def test_one_connection(t):
    """A sender with several messages to send sends them over one SMTP
    connection: the connection, STARTTLS and AUTH once, not per message.
    The messages are queued by forgot-password with a sender that does
    nothing (MAIL_DELIVERY_PROGRAM=/bin/true), then one auth-cleanup
    --deliver with one slot (no helper) sends them all."""
    n = 3
    addresses = [register(t, "one connection, %d" % i) for i in range(n)]
    with Server(spool("reuse"), starttls=True, cert=STATE["cert"],
                key=STATE["key"],
                auth="%s:%s" % (SMTP_USER, SMTP_PASSWORD)) as srv:
        menv = mail_env(srv.port, MAIL_STARTTLS="true",
                        VALIDATE_CERTS="false", USE_CREDENTIALS="true",
                        MAIL_USERNAME=SMTP_USER, MAIL_PASSWORD=SMTP_PASSWORD)
        quiesce()
        for a in addresses:
            queue_code(t, a, menv, "one connection")
        t.eq(len(srv.messages()), 0, "one connection: nothing sent before "
             "the sender runs")
        free_slots()
        p, logfile = start_sender(menv)
        p.communicate(timeout=120)
        msgs = srv.wait_messages(n)
        log = read_log(logfile)
        t.ok(p.returncode == 0 and len(msgs) == n and
             sorted(m["rcpt_tos"][0] for m in msgs) == sorted(addresses),
             "one connection: auth-cleanup --deliver sent the %d queued "
             "codes" % n, p, log)
        peers = {tuple(m["peer"]) for m in msgs if m["peer"]}
        t.eq(len(peers), 1, "one connection: the %d messages came over "
             "one SMTP connection (client ports %s)" % (n, sorted(peers)))
        t.ok(all(m["tls"] and m["auth"] == SMTP_USER for m in msgs),
             "one connection: every message encrypted and authenticated")
        t.eq(log.count("mail sent server=127.0.0.1 port=%d" % srv.port), n,
             "one connection: one \"mail sent\" line per message", log)


def idle_close(t, tls):
    """The server closes a connection idle for a second, as real servers
    do (Postfix: 300 s, 10 s under stress; it says "421" first).  Under
    STARTTLS the close comes with TLS close_notify, which curl's check
    before reuse takes for a live connection (data to read); in clear
    the check sees the close.  The sender, lingering on its empty queue,
    gets a second code meanwhile: it must go out at once on a new
    connection, not fail on the dead one and wait out the backoff."""
    what = "idle close, %s" % ("STARTTLS and AUTH" if tls else "in clear")
    a = register(t, what + " 1")
    b = register(t, what + " 2")
    kw = {}
    if tls:
        kw = dict(starttls=True, cert=STATE["cert"], key=STATE["key"],
                  auth="%s:%s" % (SMTP_USER, SMTP_PASSWORD))
    with Server(spool("idle-%d" % tls), **kw) as srv:
        srv.faults(idle_timeout=1)
        if tls:
            menv = mail_env(srv.port, MAIL_STARTTLS="true",
                            VALIDATE_CERTS="false", USE_CREDENTIALS="true",
                            MAIL_USERNAME=SMTP_USER,
                            MAIL_PASSWORD=SMTP_PASSWORD)
        else:
            menv = mail_env(srv.port)
        quiesce()
        queue_code(t, a, menv, what)
        free_slots()
        p, logfile = start_sender(menv)
        first = srv.wait_messages(1)
        # The sender stays two seconds on its empty queue; the server
        # drops the connection after one.
        time.sleep(1.6)
        queue_code(t, b, menv, what)
        p.communicate(timeout=60)
        msgs = srv.wait_messages(2)
        log = read_log(logfile)
        sent = [ln for ln in log.splitlines() if "mail sent" in ln]
        t.ok(len(first) == 1 and len(msgs) == 2 and
             all(m["tls"] == tls for m in msgs) and
             all(m["auth"] == (SMTP_USER if tls else None) for m in msgs),
             "%s: both codes delivered%s" % (
                 what, ", encrypted and authenticated" if tls else ""),
             msgs, log)
        t.ok("send failed" not in log and len(sent) == 2 and
             all("attempt=1" in ln for ln in sent),
             "%s: the second code went out at its first try, no failure "
             "logged" % what, log)
        t.ok(len({tuple(m["peer"]) for m in msgs}) == 2,
             "%s: over a new connection" % what, msgs)


def test_idle_close(t):
    idle_close(t, False)
    idle_close(t, True)


def test_quit_unanswered(t):
    """A server that refuses the recipient, then never answers QUIT:
    curl says QUIT as it drops the connection after the refusal, and
    waited its own 120 s for the answer, past the message's claim and the
    sender's slot (60 s).  Now no reply is awaited longer than the 30 s
    of a whole message: the failure is logged after about 30 s and the
    retry, 2 s later, sends the code."""
    address = register(t, "QUIT unanswered")
    with Server(spool("quit")) as srv:
        srv.faults(rcpt_reject=1, quit_stall=1)
        menv = mail_env(srv.port)
        quiesce()
        queue_code(t, address, menv, "QUIT unanswered")
        free_slots()
        t0 = time.monotonic()
        p, logfile = start_sender(menv)
        failed_at = None
        while p.poll() is None and time.monotonic() - t0 < 150:
            if failed_at is None and "send failed" in read_log(logfile,
                                                               False):
                failed_at = time.monotonic() - t0
            time.sleep(0.2)
        ended = time.monotonic() - t0
        if p.poll() is None:
            p.kill()
        p.communicate()
        msgs = srv.wait_messages(1)
        log = read_log(logfile)
        t.ok(failed_at is not None and failed_at < 40,
             "QUIT unanswered: the refusal logged within 40 s (%s s)"
             % (None if failed_at is None else round(failed_at, 1)), log)
        t.ok(ended < 50 and len(msgs) == 1 and "attempt=2" in log,
             "QUIT unanswered: the code sent at the second try and the "
             "sender gone within 50 s (%.1f s)" % ended, log)


def test_server_down(t):
    address = register(t, "server down")
    port = free_port()
    run = forgot(address, mail_env(port))
    check_answer(t, run, "server down")
    lines = failure_lines(run)
    t.ok(len(lines) == 1 and
         ("server=127.0.0.1 port=%d smtp_status=0 " % port) in lines[0],
         "server down: one \"mail send failed server=127.0.0.1 port=%d "
         "smtp_status=0 error=...\" line" % port, run.r.stderr)
    t.ok(run.ended < 15, "server down: the run ends within 15 s "
         "(%.1f s)" % run.ended)


def test_server_silent(t):
    """A server that accepts the connection and never greets: the answer
    is complete at once, and the attempt ends at the 10 s connect limit
    (CURLOPT_CONNECTTIMEOUT covers the SMTP greeting and EHLO)."""
    address = register(t, "silent server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)                 # the kernel completes the handshake
        port = s.getsockname()[1]
        run = forgot(address, mail_env(port), timeout=90)
    check_answer(t, run, "silent server")
    t.ok(run.answered < 5, "silent server: the answer is complete before "
         "the mail is tried (%.1f s)" % run.answered)
    lines = failure_lines(run)
    t.ok(len(lines) == 1 and ("port=%d " % port) in lines[0] and
         "Timeout" in lines[0], "silent server: one \"mail send failed "
         "... error=Timeout was reached\" line", run.r.stderr)
    t.ok(8 <= run.ended <= 20, "silent server: given up after about 10 s "
         "(%.1f s)" % run.ended)


def stalling_smtp(sock, seen):
    """A minimal SMTP server on the listening sock that accepts one
    message and never answers its final dot: only the 30 s limit on the
    whole session (CURLOPT_TIMEOUT) can end the client's wait."""
    sock.settimeout(60)
    try:
        conn, _ = sock.accept()
    except OSError:
        return
    with conn:
        conn.settimeout(60)
        f = conn.makefile("rb")
        conn.sendall(b"220 stall.test ESMTP\r\n")
        data = False
        try:
            for line in f:
                seen.append(line)
                if data:
                    if line == b".\r\n":
                        # Hold the connection open until the client goes.
                        conn.recv(1)
                        return
                    continue
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 stall.test\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    data = True
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 OK\r\n")
        except OSError:
            return


def test_server_stalls(t):
    address = register(t, "stalled server")
    seen = []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        port = s.getsockname()[1]
        th = threading.Thread(target=stalling_smtp, args=(s, seen),
                              daemon=True)
        th.start()
        run = forgot(address, mail_env(port), timeout=90)
        th.join(10)
    check_answer(t, run, "stalled server")
    t.ok(b".\r\n" in seen, "stalled server: the message was sent, the "
         "server never confirmed it")
    lines = failure_lines(run)
    t.ok(len(lines) == 1 and ("port=%d " % port) in lines[0] and
         "Timeout" in lines[0], "stalled server: one \"mail send failed "
         "... error=Timeout was reached\" line", run.r.stderr)
    t.ok(run.answered < 5 and 25 <= run.ended <= 45,
         "stalled server: the answer at once (%.1f s), the session given "
         "up after about 30 s (%.1f s)" % (run.answered, run.ended))


def test_no_curl_in_answering_program(t):
    """Only the sender loads libcurl and its TLS stack: the program that
    answers forgot-password does not even link it."""
    for prog, want in (("auth-forgot-password", False),
                       ("auth-reset-password", False)):
        p = subprocess.run(["ldd", program(prog)], capture_output=True,
                           timeout=30)
        linked = b"libcurl" in p.stdout
        t.ok(p.returncode == 0 and linked == want, "%s %s libcurl"
             % (prog, "links" if want else "does not link"),
             p.stdout.decode(errors="replace"))
    p = subprocess.run(["ldd", env("AUTH_TEST_CLEANUP")],
                       capture_output=True, timeout=30)
    t.ok(b"libcurl" in p.stdout, "auth-cleanup, the sender, links it",
         p.stdout.decode(errors="replace"))


def test_logs(t):
    text = "\n".join(STATE["stderr"])
    t.ok(SMTP_PASSWORD not in text,
         "no program log line holds MAIL_PASSWORD")
    leaked = [c for c in STATE["codes"] if c in text]
    t.ok(STATE["codes"] and not leaked,
         "no program log line holds a mailed code (%d codes)"
         % len(STATE["codes"]), *leaked)
    t.ok("example.com" not in "\n".join(
        l for l in text.splitlines() if " mail " in l),
        "no mail log line names the recipient")
    check_logs_clean(t, "mail")


def main():
    t = TAP()
    if not os.access(program("auth-forgot-password"), os.X_OK):
        t.ok(False, "%s is built" % program("auth-forgot-password"))
        t.done()
    STATE["tmp"] = tempfile.mkdtemp(prefix="mail-",
                                    dir=env("AUTH_TEST_TMPDIR"))
    STATE["cert"], STATE["key"] = make_cert(STATE["tmp"])
    t.run(test_plain)
    t.run(test_starttls)
    t.run(test_starttls_auth)
    t.run(test_auth_refused)
    t.run(test_implicit_tls)
    t.run(test_validate_certs)
    t.run(test_starttls_refused)
    t.run(test_one_connection)
    t.run(test_idle_close)
    t.run(test_quit_unanswered)
    t.run(test_server_down)
    t.run(test_server_silent)
    t.run(test_server_stalls)
    t.run(test_no_curl_in_answering_program)
    t.run(test_logs)
    t.done()


if __name__ == "__main__":
    main()
