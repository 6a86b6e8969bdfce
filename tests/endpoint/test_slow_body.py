# SPDX-License-Identifier: ISC
"""Clients that send their request body one byte a second do not take the
programs away from other clients.

More slow clients than the program has processes (lighttpd: its
max-procs; mod_fcgid: FcgidMaxProcessesPerClass; both from the shipped
configs) start a POST /api/auth/login and trickle its body a byte a
second, each keeping its last byte back.  Meanwhile a burst of other
requests to the same program must all be answered by it, while every
slow client is still sending: had the slow clients held a process each,
none would be left, and the burst would wait for them.  Then the slow
clients send their last byte and get their answers too.

lighttpd and mod_fcgid read the whole body before they hand a request to
a program, so a slow body costs a connection, not a process.  mod_cgi
starts the program as soon as the headers are in and hands it the body
as it comes: there each slow client does hold a program process, of its
own (the test sees them), and the burst gets processes of its own; what
ends a slow client there is Apache's own limit on reading a request
(Timeout, and mod_reqtimeout where loaded: README, "Slow clients").
So this file runs under all three servers: the property is the web
server's."""

import os
import re
import socket
import threading
import time

from harness import (TAP, base_url, env, header_problems, program_pids,
                     request, server)

PATH = "/api/auth/login"
BODY = b'{"email": "slow"}'          # the program answers 422
LIMIT = 30                          # seconds a slow client holds its last byte


def processes():
    """How many processes of the program the web server may run at once
    (the shipped configs); under mod_cgi, as many as there are requests:
    a few slow clients then."""
    if server() == "lighttpd":
        with open(env("AUTH_TEST_LIGHTTPD_CONF")) as f:
            text = f.read()
        i = text.index('"%s" =>' % PATH, text.index("fastcgi.server"))
        return int(re.search(r'"max-procs" => (\d+)', text[i:]).group(1))
    if server() == "apache-fcgid":
        with open(os.path.join(env("AUTH_TEST_TOP"), "httpd-conf",
                               "apache-collab-auth.conf")) as f:
            return int(re.search(r"^FcgidMaxProcessesPerClass (\d+)",
                                 f.read(), re.M).group(1))
    return 2


class Slow(threading.Thread):
    """A client that sends the headers, then the body a byte a second,
    keeping the last byte back, until release is set (or LIMIT s
    passed); then the rest of the body at once."""

    def __init__(self, release):
        super().__init__()
        self.release = release
        self.sent = 0
        self.done_at = None
        self.reply = b""
        self.error = None

    def run(self):
        host, port = base_url()
        try:
            with socket.create_connection((host, port), timeout=60) as s:
                s.sendall(b"POST %s HTTP/1.1\r\nHost: %s\r\n"
                          b"Content-Type: application/json\r\n"
                          b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                          % (PATH.encode(), host.encode(), len(BODY)))
                # A byte a second until released (or the last byte is
                # left), then the rest at once.
                deadline = time.monotonic() + LIMIT
                while (self.sent < len(BODY) - 1 and
                       not self.release.wait(1)):
                    s.sendall(BODY[self.sent:self.sent + 1])
                    self.sent += 1
                self.release.wait(max(0.0, deadline - time.monotonic()))
                self.done_at = time.monotonic()
                s.sendall(BODY[self.sent:])
                self.sent = len(BODY)
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    self.reply += chunk
        except Exception as e:
            self.error = repr(e)


def main():
    t = TAP()
    n = processes()
    release = threading.Event()
    slow = [Slow(release) for _ in range(n + 1)]
    for s in slow:
        s.start()
    burst = []
    try:
        # Every slow client is in its body, a few bytes sent.
        deadline = time.monotonic() + 20
        while (min(s.sent for s in slow) < 3 and
               time.monotonic() < deadline):
            time.sleep(0.2)
        t.ok(min(s.sent for s in slow) >= 3, "%d slow clients, each a few "
             "bytes into its body (%s)" % (len(slow), "mod_cgi: a process "
             "per request" if server() == "apache-cgi" else "%s: at most %d "
             "processes of the program" % (server(), n)))
        if server() == "apache-cgi":
            held = len(program_pids("auth-login"))
            t.ok(held >= len(slow), "mod_cgi: each slow client holds a "
                 "program process of its own (%d running)" % held)

        lock = threading.Lock()

        def one():
            try:
                r = request("POST", PATH, {"email": "fast"}, timeout=LIMIT)
            except Exception as e:
                r = e
            with lock:
                burst.append((time.monotonic(), r))

        threads = [threading.Thread(target=one) for _ in range(2 * n + 2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(LIMIT + 10)
        burst_end = time.monotonic()
    finally:
        release.set()
        for s in slow:
            s.join(LIMIT + 30)
    bad = [r for _, r in burst if isinstance(r, Exception) or
           r.status != 422 or header_problems(r)]
    t.ok(len(burst) == 2 * n + 2 and not bad, "a burst of %d requests to "
         "the same program, all answered by it (422)" % (2 * n + 2),
         *[repr(r) for r in bad[:5]])
    first_release = min(s.done_at or float("inf") for s in slow)
    t.ok(burst_end < first_release, "... every one of them while all the "
         "slow clients were still sending (%.1f s before the first "
         "finished)" % (first_release - burst_end))
    bad = [s.error or s.reply[:300] for s in slow
           if s.error or not re.match(rb"HTTP/1\.1 422 ", s.reply)]
    t.ok(not bad, "the slow clients got their answers too (422)", *bad[:3])
    t.done()


if __name__ == "__main__":
    main()
