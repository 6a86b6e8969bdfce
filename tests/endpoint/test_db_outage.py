# SPDX-License-Identifier: ISC
"""The database goes away under a running server: requests get a JSON 503
in bounded time (not an empty reply, not a hang), the programs do not
exit, and once MariaDB is back every process reconnects by itself.

Requests go in parallel batches: lighttpd and mod_fcgid give a request to
an idle process, so one at a time would only ever reach the first.  Under
mod_cgi every request is a process of its own, started after the outage
began: there, nothing may die without answering."""

import time

from harness import (TAP, check_logs_clean, died_count, died_pattern, env,
                     header_problems, new_user, post, race, server, shell)

BATCH = 6
UNAVAILABLE = {"detail": "Service temporarily unavailable"}


def batch(n=BATCH):
    """n registrations at once: [(status or exception text, response)]."""
    def one(i):
        t0 = time.monotonic()
        r = post(new_user("db"), timeout=15)
        return (r.status, r, time.monotonic() - t0)

    return [r if isinstance(r, tuple) else ("error %s" % r, None, None)
            for r in race(n, one)]


def statuses(res):
    return [r[0] if r else "no answer" for r in res]


def main():
    t = TAP()
    res = batch()
    t.eq(statuses(res), [201] * BATCH, "before: a batch of registers, all 201")
    died_before = died_count()

    p = shell(env("AUTH_TEST_DB_STOP"))
    t.ok(p.returncode == 0, "MariaDB stopped", p.stderr[-500:])
    try:
        for round_ in (1, 2):
            res = batch()
            bad = [(s, r) for s, r, _ in res
                   if s != 503 or r.json != UNAVAILABLE or header_problems(r)]
            t.ok(not bad, "database down, batch %d: every request a JSON "
                 "503 within 15 s" % round_, repr(bad[:3]))
        r = post({"email": "bad"}, timeout=15)
        t.eq(r.status, 422, "database down: validation still answers 422",
             repr(r))
    finally:
        p = shell(env("AUTH_TEST_DB_START"))
    t.ok(p.returncode == 0, "MariaDB started again",
         (p.stdout + p.stderr)[-800:])

    seen = []
    for attempt in range(6):
        res = batch()
        seen.append(statuses(res))
        if statuses(res) == [201] * BATCH:
            break
        time.sleep(1)
    t.ok(seen and seen[-1] == [201] * BATCH,
         "after: within a few batches, every request is 201 again",
         "batches: %r" % seen)
    t.ok(all(s in (201, 503) for b in seen for s in b),
         "after: nothing but 201 and 503 meanwhile", "batches: %r" % seen)
    died_after = died_count()
    t.eq(died_after, died_before, "no program exited or died meanwhile "
         "(the %s error log says so: %r)" % (server(), died_pattern()))
    check_logs_clean(t, "outage")
    t.done()


if __name__ == "__main__":
    main()
