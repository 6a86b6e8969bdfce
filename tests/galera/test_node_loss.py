# SPDX-License-Identifier: ISC
"""A node dies under load and comes back.

Registrations and logins go through both web servers without pause; node
2, web server 2's, is killed with SIGKILL (a crash, a power cut), left down
a few seconds, then started again the way Debian's systemd unit would
(mariadbd --wsrep-recover finds where it stopped, then it rejoins and
catches up by incremental state transfer).  Meanwhile:
  - web server 2 answers the JSON 503 promptly: never a 500, never a hang;
  - web server 1 keeps serving (2xx) throughout, the two survivors being
    a majority of the cluster;
  - web server 2 serves again once its node is back, without a restart,
    and its programs' new connections still ask for causal reads;
  - nothing answered 2xx is lost: every account and session it made is
    on all three nodes afterwards.
"""

import os
import re
import threading
import time

from galera import (GDIR, LOGIN, NODES, REGISTER, TAP, UNAVAILABLE, call,
                    causal_reads, claims, cluster_sh, new_user, node_query,
                    node_status, sql_quote)

WORKERS = 2     # per web server
DOWN = 6        # seconds node 2 stays down
# How long a 503 may take: the programs find a killed node's port closed
# at once; 5 s is their connect timeout, for a node that does not answer.
PROMPT = 6


class Load:
    """Workers registering a new account and logging it in, again and
    again, through one web server each; every answer is kept."""

    def __init__(self):
        self.answers = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(w,))
                        for w in (1, 2) for _ in range(WORKERS)]

    def keep(self, r, user):
        r.user = user
        with self.lock:
            self.answers.append(r)

    def run(self, web):
        while not self.stop.is_set():
            u = new_user("loss")
            r = call(web, REGISTER, u)
            self.keep(r, u)
            if r.status != 201:
                time.sleep(0.05)
                continue
            self.keep(call(web, LOGIN, {"email": u["email"],
                                        "password": u["password"]}), u)

    def start(self):
        for th in self.threads:
            th.start()

    def finish(self):
        self.stop.set()
        for th in self.threads:
            th.join(60)

    def of(self, web, since=0.0, until=None):
        """web's answers to requests sent in [since, until)."""
        with self.lock:
            return [a for a in self.answers if a.web == web and
                    a.start >= since and (until is None or a.start < until)]


def lighttpd_log(web):
    try:
        with open(os.path.join(GDIR, "web%d" % web, "log",
                               "lighttpd-error.log")) as f:
            return f.read()
    except OSError:
        return ""


def main():
    t = TAP()
    load = Load()
    died_before = len(re.findall(r"child (exited|signalled|died)",
                                 lighttpd_log(2)))
    load.start()
    try:
        time.sleep(3)
        killed = time.time()
        p = cluster_sh("ga_node_kill 2")
        t.ok(p.returncode == 0, "node 2 killed (SIGKILL) under load",
             p.stderr.decode(errors="replace"))
        # The survivors give up on node 2 after evs.suspect_timeout.
        deadline = time.time() + 30
        while True:
            sizes = {n: node_status(n, "wsrep_cluster_size")
                     for n in (1, 3)}
            if sizes == {1: "2", 3: "2"} or time.time() > deadline:
                break
            time.sleep(0.2)
        t.eq(sizes, {1: "2", 3: "2"}, "nodes 1 and 3 go on as a cluster "
             "of 2 (after %.1f s)" % (time.time() - killed))
        time.sleep(max(killed + DOWN - time.time(), 0))
        restart = time.time()
        p = cluster_sh("ga_node_start 2 recover")
        synced = time.time()
        t.ok(p.returncode == 0, "node 2 started again (wsrep-recover, then "
             "rejoin) and Synced in %.1f s" % (synced - restart),
             p.stderr.decode(errors="replace")[-3000:])
        # Web server 2 must serve again without help: wait for it.
        deadline = time.time() + 30
        while time.time() < deadline and not any(
                a.status in (200, 201) for a in load.of(2, synced)):
            time.sleep(0.2)
        time.sleep(2)
    finally:
        load.finish()

    every = load.of(1) + load.of(2)
    t.diag("%d requests; slowest %.1f s" % (
        len(every), max([a.seconds for a in every] or [0])))
    bad = [repr(a) for a in every if a.status is None or
           a.status >= 500 and (a.status != 503 or a.json != UNAVAILABLE)]
    t.ok(every and not bad, "no request was answered 500 or went "
         "unanswered, through either server", *bad[:10])

    one = load.of(1)
    bad = [repr(a) for a in one if a.status not in (200, 201)]
    t.ok(one and not bad, "web server 1 (node 1) served all along: %d "
         "answers, all 2xx" % len(one), *bad[:10])

    down = [a for a in load.of(2, killed + 0.5, restart)
            if a.start + a.seconds < restart]
    bad = [repr(a) for a in down if a.status != 503 or
           a.json != UNAVAILABLE or a.seconds > PROMPT]
    t.ok(down and not bad, "web server 2 while node 2 is down: %d answers,"
         " each the JSON 503 within %d s" % (len(down), PROMPT), *bad[:10])

    back = load.of(2, synced)
    bad = [repr(a) for a in back if a.status not in (200, 201)]
    t.ok(back and not bad, "web server 2 serves again once node 2 is "
         "Synced, without a restart: %d answers, all 2xx" % len(back),
         *bad[:10])

    # Its programs connected anew: their sessions must be set up again.
    waits, codes = causal_reads(2)
    t.ok(codes == [200] * len(codes) and waits >= len(codes),
         "after the rejoin web server 2's programs, on new connections, "
         "still make node 2 wait for the cluster: %d refreshes, %d causal "
         "reads (wsrep_sync_wait set again at reconnect)"
         % (len(codes), waits), repr(codes))

    died = len(re.findall(r"child (exited|signalled|died)",
                          lighttpd_log(2))) - died_before
    t.eq(died, 0, "no program under web server 2 died meanwhile")

    node_log = cluster_sh("ga_errlog 2").stdout.decode().strip()
    with open(node_log, errors="replace") as f:
        rejoin = f.read()[-200000:]
    t.ok("IST received" in rejoin, "node 2 caught up by incremental state "
         "transfer (IST), from where --wsrep-recover said it stopped")

    made = [a.user["email"] for a in every
            if a.path == REGISTER and a.status == 201]
    sids = [claims(a.json["refresh_token"]).get("sid") for a in every
            if a.path == LOGIN and a.status == 200 and a.json]
    lost = []
    for n in NODES:
        have = {r[0] for r in node_query(n, "SELECT email FROM `user` "
                                         "WHERE email LIKE 'loss%'")}
        lost += ["node %d lacks account %s" % (n, e) for e in made
                 if e not in have]
        have = {r[0] for r in node_query(
            n, "SELECT id FROM auth_refresh_session WHERE id IN (%s)"
            % ",".join(sql_quote(s or "") for s in sids or [""]))}
        lost += ["node %d lacks session %s" % (n, s) for s in sids
                 if s not in have]
    t.ok(made and sids and not lost, "nothing answered 2xx was lost: the "
         "%d accounts (201) and %d sessions (200) are on all three nodes"
         % (len(made), len(sids)), *lost[:10])
    t.done()


if __name__ == "__main__":
    main()
