# SPDX-License-Identifier: ISC
"""POST /api/auth/register through the web server: the 201 and its row, the
409s, 405, 411, 413, 415, every 422 rule, malformed JSON, literal storage
of awkward input, concurrency, and clean logs."""

import datetime
import json
import re
import threading

from harness import (TAP, REGISTER, check_logs_clean, db_query, err,
                     expect, program_log, expect_422, header_problems,
                     new_user, parse_raw, password, post, raw_request,
                     request, server, sql_quote, unique, user_count,
                     user_row)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def check_created(t, r, user, want_email=None, desc="register"):
    """The 201, its body, and the row it wrote."""
    want_email = want_email or user["email"]
    bad = header_problems(r)
    if r.status != 201:
        bad.insert(0, "status %s, want 201" % r.status)
    body = r.json if isinstance(r.json, dict) else {}
    keys = sorted(body)
    if keys != ["created_at", "email", "id", "is_active", "username"]:
        bad.append("keys %r" % keys)
    if not isinstance(body.get("id"), int) or isinstance(body.get("id"),
                                                         bool):
        bad.append("id %r is not an integer" % body.get("id"))
    if body.get("email") != want_email:
        bad.append("email %r, want %r" % (body.get("email"), want_email))
    if body.get("username") != user["username"]:
        bad.append("username %r, want %r" % (body.get("username"),
                                             user["username"]))
    if body.get("is_active") is not True:
        bad.append("is_active %r" % body.get("is_active"))
    if b"$2" in r.body or user["password"].encode() in r.body:
        bad.append("the hash or the password is in the body")
    t.ok(not bad, "%s: 201 with id, email, username, is_active, created_at"
         % desc, *(bad + [repr(r)] if bad else []))
    return body


def test_created(t):
    user = new_user("ok")
    before = user_count()
    r = post(user)
    body = check_created(t, r, user)
    created = body.get("created_at", "")
    ok = isinstance(created, str) and ISO_UTC.match(created)
    t.ok(ok, "created_at is YYYY-MM-DDTHH:MM:SSZ", "got %r" % created)
    if ok:
        then = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
        now = datetime.datetime.now(datetime.timezone.utc).replace(
            tzinfo=None)
        t.ok(abs((now - then).total_seconds()) < 300,
             "created_at is the current time in UTC (servers run in TZ "
             "XYZ-3)", "created_at %s, now (UTC) %s" % (created, now))
    t.eq(user_count(), before + 1, "one row more in user")
    rows = user_row("id = %d" % body.get("id", -1)) if body else []
    t.eq(len(rows), 1, "the row with the returned id exists")
    if rows:
        rid, email, username, hashed, active, created_db = rows[0]
        t.eq([email, username, active], [user["email"], user["username"],
             "1"], "row: email, username, is_active = 1")
        t.ok(re.match(r"^\$2b\$10\$[./A-Za-z0-9]{53}$", hashed or ""),
             "row: hashed_password is a $2b$10$ bcrypt hash (BCRYPT_ROUNDS "
             "from the server's environment wins over the file's 11)",
             "got %r" % hashed)
        t.eq(created_db, created,
             "row: created_at (UTC) equals the response's")
    return user


def test_normalised_email(t):
    name = unique("Norm")
    user = {"email": "  %s.X@Example.COM  " % name.upper(),
            "username": unique("nm"), "password": password()}
    want = "%s.x@example.com" % name.lower()
    r = post(user)
    check_created(t, r, user, want_email=want,
                  desc="email trimmed and lower-cased")
    rows = db_query("SELECT email FROM `user` WHERE username = %s"
                    % sql_quote(user["username"]))
    t.eq(rows, [[want]], "the stored email is the normalised one")


def test_conflicts(t):
    user = new_user("dup")
    r = post(user)
    t.eq(r.status, 201, "first registration of a user for the 409s")
    before = user_count()
    other = new_user("dup")

    r = post({"email": user["email"], "username": other["username"],
              "password": other["password"]})
    expect(t, r, 409, "Email already registered", "same email: 409")
    r = post({"email": "  " + user["email"].upper() + " ",
              "username": other["username"], "password": other["password"]})
    expect(t, r, 409, "Email already registered",
           "same email in another case with spaces: 409")
    r = post({"email": other["email"], "username": user["username"],
              "password": other["password"]})
    expect(t, r, 409, "Username already taken", "same username: 409")
    r = post({"email": other["email"], "username": user["username"].upper(),
              "password": other["password"]})
    expect(t, r, 409, "Username already taken",
           "same username in another case: 409 (the unique index is "
           "case-insensitive)")
    r = post({"email": user["email"], "username": user["username"],
              "password": other["password"]})
    expect(t, r, 409, "Email already registered",
           "both taken: the email is reported")
    t.eq(user_count(), before, "no row added by a 409")
    r = post(other)
    t.eq(r.status, 201, "the other user still registers", repr(r))


def test_methods(t):
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        body = None if method in ("GET", "DELETE") else new_user("m")
        r = request(method, REGISTER, body)
        if expect(t, r, 405, "Method Not Allowed", "%s: 405" % method):
            t.eq(r.header("Allow"), "POST", "%s: Allow: POST" % method)
        else:
            t.ok(False, "%s: Allow: POST (not checked)" % method)
    r = request("GET", REGISTER, headers={"Content-Type": "text/plain"})
    expect(t, r, 405, "Method Not Allowed",
           "method is checked before Content-Type")


def test_content_type(t):
    user = new_user("ct")
    body = json.dumps(user)
    for ctype in ("text/plain", None, "application/jsonx",
                  "application/x-www-form-urlencoded", "json"):
        r = post(body, headers={"Content-Type": ctype})
        expect(t, r, 415, "Content-Type must be application/json",
               "Content-Type %r: 415" % ctype)
    r = post(body + " " * 20000, headers={"Content-Type": "text/plain"})
    expect(t, r, 415, "Content-Type must be application/json",
           "Content-Type is checked before the body size")
    for ctype in ("application/json; charset=utf-8", "Application/JSON",
                  "application/json;charset=UTF-8"):
        u = new_user("ct")
        r = post(json.dumps(u), headers={"Content-Type": ctype})
        check_created(t, r, u, desc="Content-Type %r accepted" % ctype)


JSON_CT = {"Content-Type": "application/json"}


def padded(obj, size):
    """obj as JSON, padded with spaces to exactly size bytes."""
    b = json.dumps(obj).encode()
    assert len(b) <= size
    return b + b" " * (size - len(b))


def test_sizes(t):
    user = new_user("big")
    before = user_count()
    r = post(padded(user, 16385), headers=JSON_CT)
    expect(t, r, 413, "Request body too large", "16385-byte body: 413")
    r = post(padded(user, 40000), headers=JSON_CT)
    expect(t, r, 413, "Request body too large",
           "40000-byte body: 413 from the program (below the server's "
           "limit)")
    st, raw = raw_request(
        b"POST " + REGISTER.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nContent-Length: 200000\r\n"
        b"Connection: close\r\n\r\n", timeout=5)
    t.eq(st, 413, "200000-byte Content-Length: 413 from the server before "
         "any body (its own limit)", raw[:300])
    t.eq(user_count(), before, "no row added by a 413")
    r = post(padded(user, 16384), headers=JSON_CT)
    check_created(t, r, user, desc="16384-byte body accepted")


def raw_json(raw):
    """The JSON body of a raw reply (chunked or not), or None."""
    head = raw.partition(b"\r\n\r\n")[0]
    if b"application/json" not in head.lower():
        return None
    body = parse_raw(raw)[2]
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def test_length(t):
    # lighttpd answers these itself; the programs' own 411 and 400 are
    # tested as plain CGI (test_cgi.py).  Apache hands a POST without
    # Content-Length (no body, in HTTP/1.1) to the program: mod_cgi with no
    # CONTENT_LENGTH (the program's 411), mod_fcgid with CONTENT_LENGTH 0,
    # the length of the body it read (the program's 422 for an empty body).
    before = user_count()
    st, raw = raw_request(
        b"POST " + REGISTER.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n\r\n")
    if server() == "apache-fcgid":
        t.ok(st == 422 and raw_json(raw) is not None,
             "no Content-Length: an empty body, the program's 422",
             raw[:400])
    elif server() == "apache-cgi":
        t.ok(st == 411 and raw_json(raw) == {
             "detail": "Content-Length required"},
             "no Content-Length: 411 (the program's)", raw[:400])
    else:
        t.eq(st, 411, "no Content-Length: 411")
    st, raw = raw_request(
        b"POST " + REGISTER.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nContent-Length: 12abc\r\n"
        b"Connection: close\r\n\r\n{}")
    t.eq(st, 400, "Content-Length 12abc: 400")
    # Chunked bodies reach the program with a Content-Length, except
    # through mod_cgi, which passes the body on as it comes, without
    # CONTENT_LENGTH: the program's 411.
    u = new_user("chunk")
    b = json.dumps(u).encode()
    st, raw = raw_request(
        b"POST " + REGISTER.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + b"%x\r\n" % len(b) + b +
        b"\r\n0\r\n\r\n")
    if server() == "apache-cgi":
        t.ok(st == 411 and raw_json(raw) == {
             "detail": "Content-Length required"},
             "chunked request body: 411 (the program's: mod_cgi gives it "
             "no CONTENT_LENGTH)", raw[:400])
        t.eq(user_count(), before, "no row added without a Content-Length")
    else:
        t.eq(st, 201, "chunked request body: 201", raw[:400])
        t.eq(user_count(), before + 1, "the chunked body's row, and no "
             "other")


def base(**over):
    """A valid body with some fields replaced (None: field left out)."""
    u = new_user("v")
    for k, v in over.items():
        if v is None:
            u.pop(k, None)
        else:
            u[k] = v
    return u


E_EMAIL = "Invalid email address"
E_USERNAME_LEN = "Username must be 3 to 32 characters"
E_USERNAME_CHARS = ("Username may contain only letters, digits, '_', '.' "
                    "and '-'")
E_PW_SHORT = "Password must be at least 8 characters"
E_PW_LONG = "Password must be at most 72 bytes"
E_PW_SAME = "Password must not match the email or username"
E_PW_COMMON = "Password is too common"
JSON_INVALID = [err(None, "JSON decode error", "json_invalid")]
NOT_OBJECT = [err(None, "Input should be a valid dictionary or object",
                  "model_attributes_type")]


def long_email(total, local=64):
    """An otherwise valid address of exactly total bytes, unique to the
    run, with a local part of local bytes."""
    rest = total - local - 1 - len("com")   # bytes of the "label." parts
    labels = []
    while rest > 0:
        n = min(63, rest - 1)
        if rest - (n + 1) == 1:             # a 1-byte rest makes no label
            n -= 1
        labels.append("d" * n)
        rest -= n + 1
    tag = unique("")        # the run's tag and a serial: unique
    return ("l" * (local - len(tag)) + tag + "@" +
            "".join(lb + "." for lb in labels) + "com")


def test_422_rules(t):
    before = user_count()
    cases = []
    for bad in ("not-an-email", "two@@example.com", "a@b@example.com",
                "@example.com", "user@", "us er@example.com",
                "user@exa mple.com", "user@-example.com",
                "user@example-.com", "user@example..com",
                "user@.example.com", "user@example.com.",
                "user@exam_ple.com", "user\x01@example.com",
                "user@example.com\x7f"):
        cases.append(("email %r" % bad, base(email=bad),
                      [err("email", E_EMAIL, "value_error")]))
    e255 = long_email(255)
    cases.append(("email of 255 bytes", base(email=e255),
                  [err("email", "Email must be at most 254 characters",
                       "value_error")]))
    e65 = "x" * 61 + unique("")[-4:] + "@example.com"
    cases.append(("email local part of 65 bytes", base(email=e65),
                  [err("email", "Email local part must be at most 64 "
                       "characters", "value_error")]))
    for bad in ("ab", "", "a" * 33):
        cases.append(("username %r" % bad, base(username=bad),
                      [err("username", E_USERNAME_LEN, "value_error")]))
    for bad in ("abc def", "x');DROP TABLE user;--", "j\u00f6rg",
                "a/b", "a@b", "tab\tx"):
        cases.append(("username %r" % bad, base(username=bad),
                      [err("username", E_USERNAME_CHARS, "value_error")]))
    cases.append(("password of 7 bytes", base(password="Ab1!xyz"),
                  [err("password", E_PW_SHORT, "value_error")]))
    cases.append(("password of 73 bytes", base(password="P" * 73),
                  [err("password", E_PW_LONG, "value_error")]))
    cases.append(("password of 37 two-byte characters (74 bytes)",
                  base(password="\u00e9" * 37),
                  [err("password", E_PW_LONG, "value_error")]))
    n = unique("same")
    cases.append(("password equal to the email",
                  base(email=n + "@example.com",
                       password=n + "@example.com"),
                  [err("password", E_PW_SAME, "value_error")]))
    cases.append(("password equal to the email in another case",
                  base(email=n + "@example.com",
                       password=(n + "@EXAMPLE.com").upper()),
                  [err("password", E_PW_SAME, "value_error")]))
    cases.append(("password equal to the email's local part",
                  base(email=n + "@example.com", password=n),
                  [err("password", E_PW_SAME, "value_error")]))
    cases.append(("password equal to the username in another case",
                  base(username="Name_" + n, password="nAME_" + n.upper()),
                  [err("password", E_PW_SAME, "value_error")]))
    for common in ("12345678", "baseball", "football", "BaseBall"):
        cases.append(("common password %r" % common,
                      base(password=common),
                      [err("password", E_PW_COMMON, "value_error")]))
    cases.append(("every field invalid, in order email, username, password",
                  {"email": "bad", "username": "a", "password": "short"},
                  [err("email", E_EMAIL, "value_error"),
                   err("username", E_USERNAME_LEN, "value_error"),
                   err("password", E_PW_SHORT, "value_error")]))
    cases.append(("no field at all", {},
                  [err("email", "Field required", "missing"),
                   err("username", "Field required", "missing"),
                   err("password", "Field required", "missing")]))
    cases.append(("password missing", base(password=None),
                  [err("password", "Field required", "missing")]))
    cases.append(("email missing, username invalid",
                  base(email=None, username="a b"),
                  [err("email", "Field required", "missing"),
                   err("username", E_USERNAME_CHARS, "value_error")]))
    nonstr = "Input should be a valid string"
    cases.append(("numbers where strings belong",
                  {"email": 123, "username": 4.5, "password": 12345678},
                  [err("email", nonstr, "string_type"),
                   err("username", nonstr, "string_type"),
                   err("password", nonstr, "string_type")]))
    for val in (True, ["a@example.com"], {"a": "b"}):
        cases.append(("email %s" % json.dumps(val), base(email=val),
                      [err("email", nonstr, "string_type")]))
    nul = "String must not contain NUL characters"
    for field, val in (("email", "a\x00b@example.com"),
                       ("username", "abc\x00def"),
                       ("password", "Pw-\x00" + unique("nul"))):
        cases.append(("%s with an embedded NUL" % field,
                      base(**{field: val}), [err(field, nul, "string_type")]))
    for name, body, want in cases:
        r = post(body)
        expect_422(t, r, want, "422: " + name)
    # Outside the list of messages: only the field and the status matter.
    for name, body in (("email ''", base(email="")),
                       ("email null", base(email=None) | {"email": None})):
        r = post(body)
        d = r.json.get("detail") if isinstance(r.json, dict) else None
        t.ok(r.status == 422 and isinstance(d, list) and len(d) == 1
             and d[0].get("loc") == ["body", "email"],
             "422: %s, for the email field" % name, repr(r))
    t.eq(user_count(), before, "no row added by a 422")


def test_422_json(t):
    before = user_count()
    good = json.dumps(base())
    cases = [
        ("empty object start", b"{"),
        ("missing value", b'{"email": }'),
        ("single quotes", b"{'email': 'a@example.com'}"),
        ("trailing comma", good[:-1].encode() + b",}"),
        ("trailing garbage", good.encode() + b" x"),
        ("two objects", good.encode() + good.encode()),
        ("invalid UTF-8", good.encode().replace(b"@example",
                                                b"\xff@example", 1)),
        ("overlong UTF-8", good.encode().replace(b"@example",
                                                 b"\xc0\xaf@example", 1)),
        ("nested 9 deep", json.dumps(dict(base(), x=[[[[[[[[1]]]]]]]]))
         .encode()),
        ("comment", b"/* c */" + good.encode()),
        # A NUL is no white space (RFC 8259, 2): issue 10.
        ("two trailing NUL bytes", good.encode() + b"\0\0"),
        ("a trailing NUL and x", good.encode() + b"\0x"),
        ("white space then NUL", good.encode() + b" \0"),
    ]
    for name, body in cases:
        r = post(body, headers=JSON_CT)
        expect_422(t, r, JSON_INVALID, "422 json_invalid: " + name)
    for name, body in (("array", b'[{"email": "a@example.com"}]'),
                       ("string", b'"a@example.com"'),
                       ("number", b"42")):
        r = post(body, headers=JSON_CT)
        expect_422(t, r, NOT_OBJECT, "422 model_attributes_type: " + name)
    # A repeated member name: json-c would keep the last value and free
    # the first (a password) unwiped, so it is refused (issue 10).
    u = base()
    dup = json.dumps(u)[:-1] + ', "password": "other-Pass-42"}'
    for name, body in (("repeated password", dup),
                       ("repeated name, escaped", json.dumps(u)[:-1] +
                        ', "p\\u0061ssword": "other-Pass-42"}'),
                       ("repeated nested name",
                        json.dumps(dict(base(), x={"a": 1})).replace(
                            '"a": 1', '"a": 1, "a": 2'))):
        r = post(body.encode(), headers=JSON_CT)
        expect_422(t, r, [err(None, "JSON object has a repeated key",
                              "json_invalid")], "422: " + name)
    r = post(b"", headers=JSON_CT)
    t.ok(r.status == 422 and not header_problems(r),
         "422: empty body", repr(r))
    t.eq(user_count(), before, "no row added by malformed JSON")
    u = base()
    u["x"] = [[[[[[[1]]]]]]]
    r = post(u)
    check_created(t, r, u, desc="nesting 8 deep (an unknown field) "
                  "accepted")


def test_literal(t):
    n = unique("")
    user = {"email": "o'brien+test%s@example.com" % n,
            "username": "Robert_.-" + n[-6:], "password": password()}
    r = post(user)
    check_created(t, r, user, desc="email with ' and +, username with _.-")
    rows = db_query("SELECT email, username FROM `user` WHERE email = %s"
                    % sql_quote(user["email"]))
    t.eq(rows, [[user["email"], user["username"]]],
         "stored literally")
    r = post(base(username="x');DROP TABLE user;--"))
    t.eq(r.status, 422, "SQL-looking username: 422")
    t.ok(user_count() > 0, "the user table is still there")

    u = new_user("extra")
    u.update({"is_active": False, "id": 999999, "hashed_password": "x",
              "created_at": "2000-01-01T00:00:00Z", "role": "admin"})
    r = post(u)
    check_created(t, r, u, desc="unknown and read-only fields ignored")
    rows = user_row("username = %s" % sql_quote(u["username"]))
    t.ok(rows and rows[0][0] != "999999" and rows[0][3].startswith("$2b$")
         and rows[0][4] == "1" and not rows[0][5].startswith("2000"),
         "fields the client sent for id, hash, is_active, created_at "
         "were not used", repr(rows))

    u = new_user("max")
    u["password"] = "P" + "q" * 70 + "1"
    r = post(u)
    check_created(t, r, u, desc="password of 72 bytes accepted")
    u = new_user("min")
    u["password"] = "Zq8!" + unique("")[-4:]
    r = post(u)
    check_created(t, r, u, desc="password of 8 bytes accepted")
    u = new_user("b")
    u["username"] = ("b" * 32 + unique(""))[-32:]
    r = post(u)
    check_created(t, r, u, desc="username of 32 characters accepted")
    u = new_user("e")
    u["email"] = long_email(254)
    r = post(u)
    check_created(t, r, u, desc="email of 254 bytes with a 64-byte local "
                  "part accepted")


def race(t, what, bodies):
    results = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def one(i):
        try:
            barrier.wait(timeout=30)
            r = post(bodies[i], timeout=60)
            results[i] = (r.status, r.json)
        except Exception as e:
            results[i] = ("exception", repr(e))

    threads = [threading.Thread(target=one, args=(i,))
               for i in range(len(bodies))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    statuses = sorted(str(r[0]) for r in results if r)
    t.eq(statuses.count("201"), 1, "%s: exactly one 201" % what,
         "statuses: %r" % statuses)
    return results


def test_concurrency(t):
    email = unique("race") + "@example.com"
    bodies = [{"email": email, "username": unique("r"),
               "password": password()} for _ in range(30)]
    res = race(t, "30 registrations of one email", bodies)
    conflicts = [r for r in res if r and r[0] == 409]
    t.eq(len(conflicts), 29, "the other 29 are 409", repr(res))
    t.ok(all(r[1] == {"detail": "Email already registered"}
             for r in conflicts),
         "each 409 says Email already registered", repr(conflicts[:3]))
    t.ok(not [r for r in res if not r or r[0] == "exception" or r[0] >= 500],
         "no 5xx, no error", repr(res))
    t.eq(db_query("SELECT COUNT(*) FROM `user` WHERE email = %s"
                  % sql_quote(email)), [["1"]], "exactly one row")

    name = unique("race")
    bodies = [{"email": unique("r") + "@example.com", "username": name,
               "password": password()} for _ in range(30)]
    res = race(t, "30 registrations of one username", bodies)
    conflicts = [r for r in res if r and r[0] == 409]
    t.eq(len(conflicts), 29, "the other 29 are 409", repr(res))
    t.ok(all(r[1] == {"detail": "Username already taken"}
             for r in conflicts),
         "each 409 says Username already taken", repr(conflicts[:3]))
    t.ok(not [r for r in res if not r or r[0] == "exception" or r[0] >= 500],
         "no 5xx, no error", repr(res))
    t.eq(db_query("SELECT COUNT(*) FROM `user` WHERE username = %s"
                  % sql_quote(name)), [["1"]], "exactly one row")


def test_logs(t):
    log = program_log()
    lines = [ln for ln in log.splitlines() if ln.startswith("auth-register[")]
    t.ok(re.search(r"^auth-register\[\d+\]: info: request status=201\b",
                   log, re.M),
         "the programs' log has a 'request status=201' line",
         "auth-register lines: %r" % lines[-5:])
    bad = [ln for ln in lines
           if not re.match(r"^auth-register\[\d+\]: [a-z]+: \S+", ln)]
    t.ok(lines and not bad, "every auth-register log line is "
         "'auth-register[pid]: level: event ...'", repr(bad[:5]))
    check_logs_clean(t, "register")


def main():
    t = TAP()
    for fn in (test_created, test_normalised_email, test_conflicts,
               test_methods, test_content_type, test_sizes, test_length,
               test_422_rules, test_422_json, test_literal,
               test_concurrency, test_logs):
        t.run(fn)
    t.done()


if __name__ == "__main__":
    main()
