# SPDX-License-Identifier: ISC
"""Two web servers on two nodes of one Galera cluster, used at once.

Galera decides a conflict between transactions of two nodes when the
second commits (certification): the loser sees errno 1213 at COMMIT, or at
its statement when the server retries an autocommit statement for it.
Whatever the loser sees, a client must get the answer a single server
would give, or a 503, never a 500, and nothing may be decided twice:
  - concurrent refreshes of one token through both servers: exactly one
    rotation, the others the grace answer with the same generation;
  - a client moving between servers (refresh through one, the new token
    through the other) is never taken for a thief;
  - concurrent registrations of one address through both: one 201, the
    rest 409;
  - a login throttle filled through one server holds through the other;
  - forgot-password through one server, reset-password through the other;
  - mail senders on three nodes at once: each queued request becomes
    exactly one message;
  - auth-cleanup against node 3 while the web servers use nodes 1 and 2,
    and two runs at once on two nodes: each row deleted once, no error.
"""

import hashlib
import os
import re
import socket
import subprocess
import threading
import time

from galera import (FORGOT, LOGIN, NODES, REFRESH, REGISTER, RESET, TAP,
                    UNAVAILABLE, address, at_once, call, causal_reads,
                    claims, config_file, login, new_user, node_query,
                    node_scalar, node_status, outbox, password, program_log,
                    register, sql_quote, unique)

ROUNDS = 4      # of each race
REFRESH_ROUNDS = 10     # conflicts are rarer there: about 1 in 100
RACERS = 8      # requests per race, half through each server
CODE_RE = re.compile(r"\b(\d{6})\b")


def same_on_every_node(sql):
    """sql's rows on each node: {node: rows}."""
    return {n: node_query(n, sql) for n in NODES}


def no_500(answers):
    """What is wrong among answers: a 500, or no answer at all."""
    return [repr(a) for a in answers
            if a.status is None or a.status >= 500 and a.status != 503 or
            a.status == 503 and a.json != UNAVAILABLE]


def test_cluster_up(t):
    for n in NODES:
        got = (node_status(n, "wsrep_cluster_size"),
               node_status(n, "wsrep_cluster_status"),
               node_status(n, "wsrep_local_state_comment"))
        t.eq(got, ("3", "Primary", "Synced"), "node %d: in a primary "
             "component of 3, Synced" % n)
    tables = same_on_every_node(
        "SELECT GROUP_CONCAT(table_name ORDER BY table_name) FROM "
        "information_schema.tables WHERE table_schema = DATABASE()")
    t.ok(len({str(v) for v in tables.values()}) == 1 and tables[1][0][0],
         "the migrations applied through node 1 are on every node",
         tables)
    u = register(1)
    r = call(2, LOGIN, {"email": u["email"], "password": u["password"]})
    t.eq(r.status, 200, "an account registered through web server 1 logs "
         "in through web server 2", repr(r))


def test_causal_reads(t):
    """Causal reads must not depend on the nodes' configuration: the
    programs set wsrep_sync_wait for their own sessions (issue 14).  The
    nodes leave it at 0, so a web server's requests make its node wait
    for the cluster only if its programs asked."""
    glob = {n: node_scalar(n, "SELECT @@GLOBAL.wsrep_sync_wait")
            for n in NODES}
    t.eq(glob, {n: "0" for n in NODES}, "no node asks for causal reads "
         "in its configuration (wsrep_sync_wait = 0)")
    for web in (1, 2):
        waits, codes = causal_reads(web)
        t.ok(codes == [200] * len(codes) and waits >= len(codes),
             "web server %d: %d refreshes, each made its node wait for "
             "the cluster first (%d causal reads): the programs set "
             "wsrep_sync_wait" % (web, len(codes), waits), repr(codes))


def test_refresh_race(t):
    u = register(1)
    bad, wrong, rotations, graces, unavailable = [], [], 0, 0, 0
    for rnd in range(REFRESH_ROUNDS):
        token = login(1 + rnd % 2, u).json["refresh_token"]
        sid = claims(token)["sid"]
        answers = at_once([
            lambda w=1 + i % 2: call(w, REFRESH, {"refresh_token": token})
            for i in range(RACERS)])
        bad += no_500(answers)
        bad += [repr(a) for a in answers if a.status not in (200, 503)]
        row = same_on_every_node(
            "SELECT generation, current_jti, revoked_at IS NULL FROM "
            "auth_refresh_session WHERE id = %s" % sql_quote(sid))
        jtis = {claims(a.json["refresh_token"]).get("jti")
                for a in answers if a.status == 200}
        ok200 = sum(a.status == 200 for a in answers)
        if (any(r != [["2", row[1][0][1], "1"]] for r in row.values()) or
                jtis != {row[1][0][1]}):
            wrong.append("round %d: rows %r, 200s carry %r" %
                         (rnd, row, jtis))
        rotations += 1 if row[1] and row[1][0][0] == "2" else 0
        graces += max(ok200 - 1, 0)
        unavailable += sum(a.status == 503 for a in answers)
    t.ok(not bad, "refresh race: %d x %d refreshes of one token through "
         "both servers: every answer 200 or the JSON 503, never a 500, a "
         "401 or no answer" % (REFRESH_ROUNDS, RACERS), *bad)
    t.ok(not wrong and rotations == REFRESH_ROUNDS,
         "refresh race: exactly one rotation each time (generation 2 on "
         "every node), the session alive, and every 200 hands out that "
         "generation", *wrong)
    t.diag("refresh race: %d grace answers, %d answered 503"
           % (graces, unavailable))
    t.ok(graces >= REFRESH_ROUNDS * (RACERS - 1) // 2,
         "refresh race: the losers mostly get the grace answer (%d of %d),"
         " a 503 only where a conflict outlasted the retries"
         % (graces, REFRESH_ROUNDS * (RACERS - 1)))


def test_refresh_hops(t):
    """A client whose requests a balancer spreads over both servers:
    each refresh through the other server than the one before, with the
    token it just got.  The node it reaches must have applied the
    rotation the other node committed (wsrep_sync_wait), or the new token
    looks like a copied old one and the session is revoked."""
    u = register(1)
    token = login(1, u).json["refresh_token"]
    bad = []
    hops = 150
    for i in range(hops):
        r = call(1 + i % 2, REFRESH, {"refresh_token": token})
        if r.status != 200:
            bad.append("hop %d: %r" % (i, r))
            token = login(1, u).json["refresh_token"]
            continue
        token = r.json["refresh_token"]
    t.ok(not bad, "refresh hops: %d refreshes alternating servers, each "
         "with the token the other server just issued: all 200" % hops,
         *bad[:10])


def test_register_race(t):
    bad = []
    for rnd in range(ROUNDS):
        base = new_user("race")
        users = [dict(base, username=unique("race")) for _ in range(RACERS)]
        answers = at_once([
            lambda i=i: call(1 + i % 2, REGISTER, users[i])
            for i in range(RACERS)])
        codes = sorted(a.status for a in answers if a.status is not None)
        dup = [a for a in answers if a.status == 409 and
               a.json != {"detail": "Email already registered"}]
        rows = same_on_every_node(
            "SELECT COUNT(*) FROM `user` WHERE email = %s"
            % sql_quote(base["email"]))
        if (codes != [201] + [409] * (RACERS - 1) or dup or
                any(r != [["1"]] for r in rows.values())):
            bad.append("round %d: %r, rows per node %r" %
                       (rnd, answers, rows))
    t.ok(not bad, "register race: %d x %d registrations of one address "
         "through both servers: one 201, the rest 409 Email already "
         "registered, one row on every node" % (ROUNDS, RACERS), *bad)


def aligned(window, need):
    """Wait, if need be, until at least need seconds of the current fixed
    throttle window of length window are left."""
    left = window - time.time() % window
    if left < need:
        time.sleep(left + 0.05)


def test_throttle_shared(t):
    window = 900    # THROTTLE_LOGIN_ACCOUNT_WINDOW's default
    u = register(1)
    aligned(window, 30)
    codes = [call(1 + i % 2, LOGIN, {"email": u["email"],
                                     "password": "wrong-" + password()},
                  address()).status for i in range(5)]
    t.eq(codes, [401] * 5, "throttle: 5 failed logins of one account, "
         "alternating servers and addresses, are served")
    for web in (2, 1):
        r = call(web, LOGIN, {"email": u["email"],
                              "password": u["password"]}, address())
        t.ok(r.status == 429 and r.json == {"detail": "Too many requests"}
             and (r.headers.get("retry-after") or "").isdigit(),
             "throttle: the 6th, through web server %d, is 429 with "
             "Retry-After: the nodes share one count" % web, repr(r))


def test_throttle_contention(t):
    """One client's requests through both servers at once all count
    against the same counter row, from two nodes: the conflicts must be
    retried (each request counted exactly once), not answered 503."""
    kind = 7        # THROTTLE_REFRESH_ADDRESS (common/throttle.h)
    bad, counts = [], []
    aligned(300, 15)
    for rnd in range(ROUNDS):
        client = address()
        answers = at_once([
            lambda w=1 + i % 2: call(w, REFRESH, {"refresh_token": "x"},
                                     client)
            for i in range(RACERS * 2)])
        bad += [repr(a) for a in answers if a.status != 401]
        key = hashlib.sha256(b"4:" + socket.inet_aton(client)).hexdigest()
        hits = same_on_every_node(
            "SELECT hits FROM auth_throttle WHERE kind = %d AND key_hash = "
            "UNHEX('%s')" % (kind, key))
        counts.append(hits)
        if any(h != [[str(RACERS * 2)]] for h in hits.values()):
            bad.append("round %d: counts per node %r" % (rnd, hits))
    t.ok(not bad, "throttle contention: %d x %d requests of one client "
         "through both servers at once: all served (401 for the bad "
         "token, no 503), each counted once on every node"
         % (ROUNDS, RACERS * 2), *bad[:12])


def first_code(email, before, webs=(1, 2), timeout=15):
    """The code of the first new message (not in before: (web, name)) to
    email in the outboxes of webs, waiting for it (bounded); None if
    none."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for web in webs:
            for name, text in outbox(web):
                if (web, name) in before or email.lower() not in \
                        text.lower():
                    continue
                found = CODE_RE.findall(text.split("\n\n", 1)[-1])
                if found:
                    return found[0]
        time.sleep(0.1)
    return None


def test_forgot_reset(t):
    u = register(2)
    old = login(2, u).json["refresh_token"]
    before = {(w, name) for w in (1, 2) for name, _ in outbox(w)}
    r = call(1, FORGOT, {"email": u["email"]})
    t.eq(r.status, 200, "forgot-password through web server 1", repr(r))
    code = first_code(u["email"], before, webs=(1,))
    t.ok(code is not None, "its mail is in web server 1's outbox with a "
         "code")
    new_pw = password()
    r = call(2, RESET, {"email": u["email"], "otp": code or "000000",
                        "new_password": new_pw})
    t.ok(r.status == 200 and r.json == {"message": "Password has been "
                                        "reset"},
         "reset-password with that code through web server 2: 200",
         repr(r))
    r = call(1, LOGIN, {"email": u["email"], "password": new_pw})
    t.eq(r.status, 200, "the new password logs in through web server 1",
         repr(r))
    r = call(1, LOGIN, {"email": u["email"], "password": u["password"]})
    t.eq(r.status, 401, "the old one no longer does", repr(r))
    r = call(1, RESET, {"email": u["email"], "otp": code or "000000",
                        "new_password": password()})
    t.ok(r.status == 400, "the code used through web server 2 is refused "
         "through web server 1", repr(r))
    r = call(1, REFRESH, {"refresh_token": old})
    t.eq(r.status, 401, "a session from before the reset (started through "
         "web server 2) is revoked through web server 1 too", repr(r))


def test_recovery_races(t):
    """One account's recovery through both servers at once.  On one
    server a row lock makes one account's requests take turns; across
    nodes only a row both transactions write can decide (a certification
    conflict).  Two requests at once, one through each server, overlap
    in the database about one time in four here: hence several rounds."""
    rounds = 6
    issued, bad = [], []
    for rnd in range(rounds):
        u = register(1)
        before = {(w, name) for w in (1, 2) for name, _ in outbox(w)}
        answers = at_once([lambda w=w: call(w, FORGOT, {"email": u["email"]})
                           for w in (1, 2)])
        bad += [repr(a) for a in answers if a.status != 200]
        code = first_code(u["email"], before)
        time.sleep(0.5)     # for a second code, if any
        rows = same_on_every_node(
            "SELECT COUNT(*) FROM passwordresettoken t JOIN `user` u ON "
            "u.id = t.user_id WHERE u.email = %s" % sql_quote(u["email"]))
        issued.append((code, rows))
    t.ok(not bad, "forgot race: %d x 2 requests for one account, one "
         "through each server: all 200" % rounds, *bad)
    t.ok(all(code and all(r == [["1"]] for r in rows.values())
             for code, rows in issued),
         "forgot race: each time one code issued on every node (the "
         "cooldown holds across nodes)", *["round %d: code %r, rows %r"
                                           % (i, c, r) for i, (c, r) in
                                           enumerate(issued)])
    # The reset race on an account of its own, with one code for sure.
    u = register(2)
    before = {(w, name) for w in (1, 2) for name, _ in outbox(w)}
    call(1, FORGOT, {"email": u["email"]})
    code = first_code(u["email"], before)
    if code is None:
        raise RuntimeError("no code mailed to %s" % u["email"])
    answers = at_once([lambda w=1 + i % 2: call(w, RESET, {
        "email": u["email"], "otp": code,
        "new_password": "New-" + password()}) for i in range(RACERS)])
    got = sorted(a.status for a in answers if a.status is not None)
    t.ok(got == [200] + [400] * (RACERS - 1),
         "reset race: %d resets with one code through both servers: one "
         "200, the rest 400 (the code is used once)" % RACERS,
         *[repr(a) for a in answers])


# -- Mail senders ------------------------------------------------------------

SENDERS = (1, 2, 3)     # a mail sender on each node
MAILED = 24             # accounts asking for a code at once
HOLDER = "galera-test-holds-every-slot"
SLOTS = 4               # MAIL_DELIVERY_SLOTS' default


def hold_slots(timeout=30):
    """Hold every sender slot (through node 1, as a sender would), once
    none is held: no program starts a sender while they are held, and no
    earlier one is still at work.  Returns True once held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = node_scalar(1, "UPDATE auth_mail_slot SET holder = '%s', "
                          "lease_until = UTC_TIMESTAMP() + INTERVAL 120 "
                          "SECOND WHERE slot <= %d AND lease_until < "
                          "UTC_TIMESTAMP(); SELECT ROW_COUNT()"
                          % (HOLDER, SLOTS))
        if got == str(SLOTS):
            return True
        release_slots()
        time.sleep(0.5)
    return False


def release_slots():
    node_query(1, "UPDATE auth_mail_slot SET holder = NULL, lease_until = "
               "'1970-01-01 00:00:00' WHERE holder = '%s'" % HOLDER)


def sender(node):
    """auth-cleanup --deliver against node, writing to an outbox of its
    own (tests/galera/run): a Popen."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("HTTP_")}
    e["AUTH_CONFIG"] = config_file("mail%d/collab-auth.env" % node)
    e["TZ"] = os.environ.get("GALERA_TEST_TZ", "UTC")
    prog = os.path.join(os.environ["GALERA_TEST_TOP"], "cron",
                        "auth-cleanup")
    return subprocess.Popen([prog, "--deliver"], env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_mail_senders(t):
    """Senders on three nodes at once empty one queue: each claims a row
    with a conditional UPDATE (checked by the rows it changed), which on
    Galera two nodes may both think they won until certification says
    otherwise.  Every request must become exactly one message, sent by
    exactly one sender, and nothing may be left behind or logged as an
    error."""
    users = [new_user("mq") for _ in range(MAILED)]
    answers = at_once([lambda u=u, i=i: call(1 + i % 2, REGISTER, u)
                       for i, u in enumerate(users)])
    if any(a.status != 201 for a in answers):
        raise RuntimeError("register: %r" % [a for a in answers
                                              if a.status != 201][:3])
    if not hold_slots():
        raise RuntimeError("the sender slots stayed taken")
    try:
        answers = at_once([lambda u=u, i=i: call(1 + i % 2, FORGOT,
                                                 {"email": u["email"]})
                           for i, u in enumerate(users)])
        t.ok(all(a.status == 200 for a in answers), "mail senders: %d "
             "forgot-password requests through both servers while every "
             "sender slot is taken: all 200" % MAILED,
             *[repr(a) for a in answers if a.status != 200][:5])
        emails = ", ".join(sql_quote(u["email"].lower()) for u in users)
        queued = same_on_every_node(
            "SELECT COUNT(*) FROM auth_mail_queue WHERE email IN (%s)"
            % emails)
        t.ok(all(r == [[str(MAILED)]] for r in queued.values()),
             "mail senders: the %d requests wait in the queue, on every "
             "node (no sender started)" % MAILED, queued)
    finally:
        release_slots()
    runs = [sender(n) for n in SENDERS]
    outs = [p.communicate(timeout=120) for p in runs]
    errs = ["sender on node %d: exit %d, stderr %r" % (n, p.returncode, o[1])
            for n, p, o in zip(SENDERS, runs, outs)
            if p.returncode != 0 or b"error:" in o[1]]
    t.ok(not errs, "mail senders on nodes 1, 2 and 3 at once: exit 0, no "
         "error logged", *errs)
    got = {}
    for n in SENDERS:
        for _, text in outbox(n, "mail"):
            for u in users:
                if u["email"].lower() in text.lower():
                    got.setdefault(u["email"], []).append(n)
    wrong = ["%s: %r" % (u["email"], got.get(u["email"])) for u in users
             if len(got.get(u["email"], [])) != 1]
    t.diag("mail senders: messages sent by node: %r" % {
        n: sum(v.count(n) for v in got.values()) for n in SENDERS})
    t.ok(not wrong, "mail senders: each of the %d accounts got exactly one "
         "message (no row sent twice, none lost)" % MAILED, *wrong[:10])
    t.ok(sum(1 for n in SENDERS if any(n in v for v in got.values())) >= 2,
         "mail senders: the work was shared (at least two nodes' senders "
         "sent some): their claims met")
    ids = ", ".join(r[0] for r in node_query(
        1, "SELECT id FROM `user` WHERE email IN (%s)" % emails)) or "0"
    left = same_on_every_node(
        "SELECT COUNT(*) FROM auth_mail_queue WHERE email IN (%s) OR "
        "user_id IN (%s)" % (emails, ids))
    t.ok(all(r == [["0"]] for r in left.values()), "mail senders: the "
         "queue holds none of them on any node", left)


# -- auth-cleanup -------------------------------------------------------------

# Rows planted for auth-cleanup: table -> (count, INSERT ... SELECT of
# that many dead rows from seq, with %(uid)s the owner, %(tag)s a marker).
PLANTED = 2500
DEAD = {
    "auth_throttle": (
        "INSERT INTO auth_throttle (kind, key_hash, window_start, hits, "
        "expires_at) SELECT 4, UNHEX(SHA2(CONCAT(%(tag)s, seq), 256)), "
        "UTC_TIMESTAMP() - INTERVAL 2 HOUR, 1, UTC_TIMESTAMP() - INTERVAL "
        "1 HOUR FROM seq_1_to_%(n)d"),
    "auth_refresh_session": (
        "INSERT INTO auth_refresh_session (id, user_id, generation, "
        "current_jti, created_at, expires_at) SELECT LEFT(MD5(CONCAT("
        "%(tag)s, seq)), 32), %(uid)s, 1, LEFT(MD5(seq), 32), "
        "UTC_TIMESTAMP() - INTERVAL 40 DAY, UTC_TIMESTAMP() - INTERVAL 2 "
        "DAY FROM seq_1_to_%(n)d"),
    "passwordresettoken": (
        "INSERT INTO passwordresettoken (user_id, otp, expires_at, "
        "is_used) SELECT %(uid)s, CONCAT(%(tag)s, seq), UTC_TIMESTAMP() - "
        "INTERVAL 1 HOUR, 0 FROM seq_1_to_%(n)d"),
}
# The summary line's keys for each table.
SUMMARY_KEYS = {
    "auth_throttle": ("auth_throttle",),
    "auth_refresh_session": ("auth_refresh_session_expired",
                             "auth_refresh_session_revoked"),
    "passwordresettoken": ("passwordresettoken_expired",
                           "passwordresettoken_used"),
}


def plant(uid):
    tag = unique("dead")
    for table, sql in DEAD.items():
        node_query(1, sql % {"tag": sql_quote(tag), "uid": uid,
                             "n": PLANTED})
    return tag


def table_counts():
    return {table: int(node_scalar(3, "SELECT COUNT(*) FROM %s" % table))
            for table in DEAD}


def cleanup(node):
    e = {k: v for k, v in os.environ.items() if not k.startswith("HTTP_")}
    e["AUTH_CONFIG"] = config_file("cleanup-%d.env" % node)
    e["TZ"] = os.environ.get("GALERA_TEST_TZ", "UTC")
    prog = os.path.join(os.environ["GALERA_TEST_TOP"], "cron",
                        "auth-cleanup")
    return subprocess.Popen([prog, "-t", "60"], env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def summary(out):
    """The summary line's key=value pairs."""
    return dict(m.groups() for m in re.finditer(r"(\w+)=([\d.]+)", out))


class Traffic:
    """Requests through both web servers until stopped: through each, one
    client refreshing the session of an account of its own and failing
    to log in to it.  Once under way they add no row to the tables being
    cleaned, unless a throttle window starts."""

    def __init__(self, users):
        self.users = users
        self.answers = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(w,))
                        for w in (1, 2)]

    def run(self, web):
        u, client, token = self.users[web - 1], address(), ""
        while not self.stop.is_set():
            if not token:
                r = call(web, LOGIN, {"email": u["email"],
                                      "password": u["password"]}, client)
                self.answers.append(r)
                if r.status == 200:
                    token = r.json["refresh_token"]
                continue
            r = call(web, REFRESH, {"refresh_token": token}, client)
            self.answers.append(r)
            if r.status == 200:
                token = r.json["refresh_token"]
            self.answers.append(call(web, LOGIN, {
                "email": u["email"], "password": "wrong"}, client))

    def __enter__(self):
        for th in self.threads:
            th.start()
        time.sleep(1)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for th in self.threads:
            th.join(60)


def test_cleanup(t):
    users = [register(1), register(2)]
    uid = node_scalar(1, "SELECT id FROM `user` WHERE email = %s"
                      % sql_quote(users[0]["email"]))
    # The counts below hold only if nothing adds rows meanwhile: the
    # traffic's throttle rows are made when a window starts, and every
    # window's length is a multiple of 300 s.
    aligned(300, 60)
    with Traffic(users) as traffic:
        for nodes in ((3,), (3, 1)):
            tag = plant(uid)
            before = table_counts()
            runs = [cleanup(n) for n in nodes]
            outs = [p.communicate(timeout=120) for p in runs]
            after = table_counts()
            what = "auth-cleanup on node%s %s" % (
                "s" if len(nodes) > 1 else "",
                " and ".join(str(n) for n in nodes))
            errs = ["node %d: exit %d, stderr %r" % (n, p.returncode, o[1])
                    for n, p, o in zip(nodes, runs, outs)
                    if p.returncode != 0 or b"error:" in o[1]]
            t.ok(not errs, "%s%s, while traffic goes through nodes 1 and 2:"
                 " exit 0, no error logged" % (
                     what, " at once" if len(nodes) > 1 else ""), *errs)
            sums = [summary(o[0].decode()) for o in outs]
            wrong = []
            for table in DEAD:
                told = sum(int(s.get(k, 0)) for s in sums
                           for k in SUMMARY_KEYS[table])
                gone = before[table] - after[table]
                if told != gone or gone < PLANTED:
                    wrong.append("%s: runs say %d deleted, %d gone (%d "
                                 "planted)" % (table, told, gone, PLANTED))
            t.ok(not wrong, "%s: each row deleted once (the runs' counts "
                 "add up to the rows gone, every planted row among them)"
                 % what, *wrong, *[o[0] for o in outs])
            left = same_on_every_node(
                "SELECT COUNT(*) FROM passwordresettoken WHERE otp LIKE %s"
                % sql_quote(tag + "%"))
            t.ok(all(r == [["0"]] for r in left.values()),
                 "%s: the planted rows are gone from every node" % what,
                 left)
    bad = no_500(traffic.answers) + [
        repr(a) for a in traffic.answers if a.status not in (200, 401, 429)]
    t.ok(not bad and traffic.answers, "the traffic meanwhile (%d requests)"
         " was served: no 500, no 503" % len(traffic.answers), *bad[:10])


def test_logs(t):
    retried = [line for web in (1, 2) for line in
               program_log(web).splitlines()
               if ": warn: db " in line and "conflict retried" in line]
    t.diag("conflicts the programs retried and got past (one warning "
           "each): %d" % len(retried))
    for line in retried[:5]:
        t.diag(line)
    lines = [line for web in (1, 2) for line in
             program_log(web).splitlines() if ": error: " in line]
    t.diag("errors the programs logged (each one answered 503): %d"
           % len(lines))
    for line in lines[:10]:
        t.diag(line)
    t.ok(all("errno=1213" in line or "errno=1205" in line
             for line in lines),
         "the only errors the programs logged are conflicts (errno 1213 or"
         " 1205)", *lines[:20])


def main():
    t = TAP()
    for fn in (test_cluster_up, test_causal_reads, test_refresh_race,
               test_refresh_hops, test_register_race, test_throttle_shared,
               test_throttle_contention, test_forgot_reset,
               test_recovery_races, test_mail_senders, test_cleanup,
               test_logs):
        t.run(fn)
    t.done()


if __name__ == "__main__":
    main()
