# SPDX-License-Identifier: ISC
"""openapi.json, the API's OpenAPI 3.1 document, proven against the real
answers.  scripts/test runs this file last in each server's pass: it reads
every answer the other files received (harness.py records them in
AUTH_TEST_TMPDIR/answers.jsonl) and checks

- the document: OpenAPI 3.1, every $ref resolves, every schema is a valid
  JSON Schema (draft 2020-12, which OpenAPI 3.1 uses), its paths are the
  programs' (scripts/lib.sh, CA_ENDPOINTS) and itself, and the web server
  serves it at /api/auth/openapi.json as application/json;
- every answer below /api/auth/, and every refusal auth-verify makes in
  front of the path the shipped examples guard (/api/profiles/, against
  the document's x-auth-verify): its status is documented for that path
  and method (another method: the path's x-method-not-allowed; another
  path: the document's x-not-found), its Content-Type is the documented
  one, its body validates against the documented schema, and every
  documented required header is there with a valid value.  Answers the
  web server makes itself before any program runs (lighttpd's or
  Apache's HTML for a malformed request, an unmapped path) are outside
  the document: they are told apart by not being JSON, and may only have
  the statuses a server uses for those;
- when the whole suite ran (AUTH_TEST_WHOLE_SUITE=1): every documented
  status of every path and method was received, but those listed in
  UNREACHABLE, each with the reason it cannot be seen through this
  server."""

import base64
import json
import os
import re
import urllib.parse

import jsonschema
from jsonschema import Draft202012Validator

from harness import TAP, env, request, server

DOC_PATH = "/api/auth/openapi.json"
GUARDED = "/api/profiles/"     # the shipped auth-verify examples
ANY = ("lighttpd", "apache-fcgid", "apache-cgi", "nginx", "apache-proxy")
APACHE = ("apache-fcgid", "apache-cgi")
POOLED = ("nginx", "apache-proxy")
POSTS = ["/api/auth/" + e for e in ("register", "login", "refresh-token",
                                    "forgot-password", "reset-password",
                                    "logout")]
# Statuses a web server answers with its own (non-JSON) page.
SERVER_STATUSES = {400, 403, 404, 405, 411, 413, 414, 431}

# (servers, paths, method, status, why it is never received there).
UNREACHABLE = [
    (ANY, [p for p in POSTS if not p.endswith("/reset-password")], "post",
     400, "the front end's 400 (malformed or short Content-Length): every "
     "shipped server refuses such a request itself"),
    (("lighttpd", "apache-fcgid", "nginx"), POSTS, "post", 411,
     "lighttpd and nginx answer 411 themselves; mod_fcgid hands the "
     "program the length of what it read"),
    (APACHE + POOLED, POSTS, "post", 429, "throttles are proven in the "
     "lighttpd pass (test_throttle.py, test_logout.py): the counters are "
     "in the database, not the web server"),
    (APACHE, ["/api/auth/forgot-password"], "post", 503,
     "forgot-password needs the database only for its throttle, proven "
     "in the lighttpd pass (test_throttle.py)"),
    (ANY, ["/api/auth/forgot-password"], "post", 500,
     "forgot-password answers before it runs a statement; its throttle "
     "fails closed with 503"),
    (("apache-cgi",), ["x-auth-verify"], "*", 401, "plain CGI has no "
     "authorizer phase: nothing guards /api/profiles/ there"),
]


def load_doc():
    with open(os.path.join(env("AUTH_TEST_TOP"), "httpd-conf", "openapi.json")) as f:
        return json.load(f)


def resolve(doc, obj):
    """obj with $refs (local, JSON pointers) followed."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        if not ref.startswith("#/"):
            raise ValueError("not a local $ref: %s" % ref)
        obj = doc
        for part in ref[2:].split("/"):
            obj = obj[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
        if seen > 20:
            raise ValueError("$ref loop at %s" % ref)
    return obj


def walk_refs(doc, obj, where, bad):
    if isinstance(obj, dict):
        if "$ref" in obj:
            try:
                resolve(doc, {"$ref": obj["$ref"]})
            except (KeyError, TypeError, ValueError) as e:
                bad.append("%s: $ref %s: %r" % (where, obj["$ref"], e))
        for k, v in obj.items():
            walk_refs(doc, v, where + "/" + k, bad)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            walk_refs(doc, v, "%s/%d" % (where, i), bad)


def operations(doc):
    for path, item in doc["paths"].items():
        for method in ("get", "head", "post", "put", "delete", "patch",
                       "options"):
            if method in item:
                yield path, method, item[method]


def lib_endpoints():
    with open(os.path.join(env("AUTH_TEST_TOP"), "scripts", "lib.sh")) as f:
        m = re.search(r'^CA_ENDPOINTS="([^"]*)"', f.read(), re.M)
    return m.group(1).split() if m else []


def test_document(t, doc):
    t.ok(str(doc.get("openapi", "")).startswith("3.1."),
         "openapi.json is OpenAPI 3.1 (%r)" % doc.get("openapi"))
    bad = []
    walk_refs(doc, doc, "#", bad)
    t.ok(not bad, "every $ref resolves", *bad)
    bad = []
    for name, schema in doc["components"]["schemas"].items():
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            bad.append("%s: %s" % (name, e.message))
    for path, method, op in operations(doc):
        for code, resp in op.get("responses", {}).items():
            resp = resolve(doc, resp)
            if not re.match(r"^[1-5][0-9][0-9]$", code) or \
                    not resp.get("description"):
                bad.append("%s %s %s: status or description" %
                           (method, path, code))
            for media in resp.get("content", {}).values():
                try:
                    Draft202012Validator.check_schema(media["schema"])
                except jsonschema.SchemaError as e:
                    bad.append("%s %s %s: %s" % (method, path, code,
                                                 e.message))
    t.ok(not bad, "every schema is valid draft 2020-12, every response a "
         "status with a description", *bad)
    want = sorted(["/api/auth/" + e for e in lib_endpoints()] + [DOC_PATH])
    t.eq(sorted(doc["paths"]), want, "its paths are the programs' "
         "(CA_ENDPOINTS in scripts/lib.sh) and itself")
    r = request("GET", DOC_PATH)
    t.ok(r.status == 200 and
         (r.header("Content-Type") or "").split(";")[0] ==
         "application/json" and r.json == doc,
         "%s: GET %s: 200, application/json, the document in the tree"
         % (server(), DOC_PATH), repr(r)[:300])


class Checker:
    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver.from_schema(doc)
        self.seen = set()

    def schema_errors(self, schema, value):
        v = Draft202012Validator(schema, resolver=self.resolver)
        return ["%s at %s" % (e.message, "/".join(map(str, e.path)))
                for e in v.iter_errors(value)]

    def check_headers(self, spec, headers):
        bad = []
        for name, h in spec.get("headers", {}).items():
            h = resolve(self.doc, h)
            value = headers.get(name.lower())
            if value is None:
                if h.get("required"):
                    bad.append("header %s missing" % name)
                continue
            schema = h.get("schema", {})
            if resolve(self.doc, schema).get("type") == "integer":
                try:
                    value = int(value)
                except ValueError:
                    pass
            bad += ["header %s: %s" % (name, e)
                    for e in self.schema_errors(schema, value)]
        return bad

    def check(self, a):
        """Return (key or None, problems) for the recorded answer a; key
        is the documented (path, method, status) it stands for, None for
        an answer outside the document."""
        path = urllib.parse.urlsplit(a["path"]).path
        method = a["method"].lower()
        status = a["status"]
        headers = {}
        for k, v in a["headers"]:
            headers[k.lower()] = v
        body = base64.b64decode(a["body"])
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if path.startswith(GUARDED) and status == 401:
            # auth-verify's refusal; what the guarded program answers
            # is its own business.
            return self.check_spec(("x-auth-verify", "*", 401), method,
                                   self.doc["x-auth-verify"]["responses"]
                                   ["401"], headers, ctype, body)
        if not path.startswith("/api/auth/"):
            return None, []
        if ctype != "application/json":
            # The web server's own page, before any program ran.
            if status in SERVER_STATUSES:
                return None, []
            return None, ["status %d with Content-Type %r: neither a "
                          "program's answer nor a server's refusal"
                          % (status, ctype)]
        item = self.doc["paths"].get(path)
        if item is None:
            spec, key, want = self.doc["x-not-found"], ("*", "*", 404), 404
        elif method not in item:
            if "x-method-not-allowed" not in item:
                return None, ["%s %s: no such operation, and no "
                              "x-method-not-allowed" % (method, path)]
            spec, key, want = item["x-method-not-allowed"], \
                (path, "*", 405), 405
            allow = ", ".join(m.upper() for m in ("get", "head", "post")
                              if m in item)
            if headers.get("allow") != allow:
                return key, ["Allow %r, want %r" % (headers.get("allow"),
                                                    allow)]
        else:
            responses = item[method]["responses"]
            if str(status) not in responses:
                return None, ["%s %s: status %d is not documented"
                              % (method, path, status)]
            spec, key, want = responses[str(status)], \
                (path, method, status), status
        if status != want:
            return None, ["status %d, want %d" % (status, want)]
        return self.check_spec(key, method, spec, headers, ctype, body)

    def check_spec(self, key, method, spec, headers, ctype, body):
        """Return (key, problems) of an answer against the response
        object spec."""
        spec = resolve(self.doc, spec)
        bad = self.check_headers(spec, headers)
        content = spec.get("content")
        if content is None or method == "head":
            if body:
                bad.append("a body where none is documented: %r"
                           % body[:100])
        elif ctype not in content:
            bad.append("Content-Type %r, documented %r"
                       % (ctype, sorted(content)))
        else:
            try:
                value = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                bad.append("body is not JSON: %r" % body[:100])
            else:
                bad += self.schema_errors(content[ctype]["schema"], value)
        return key, bad


def answers():
    p = os.path.join(env("AUTH_TEST_TMPDIR"), "answers.jsonl")
    try:
        with open(p) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def test_answers(t, doc, checker):
    got = answers()
    t.ok(len(got) > 0, "%s: %d answers recorded by the suite" %
         (server(), len(got)))
    bad, keys, outside = [], {}, 0
    for a in got:
        key, problems = checker.check(a)
        if problems:
            bad.append("%s: %s %s -> %s: %s" % (
                a["file"], a["method"], a["path"][:80], a["status"],
                "; ".join(problems)[:600]))
        elif key is None:
            outside += 1
        else:
            keys[key] = keys.get(key, 0) + 1
    t.diag("%d answers checked against the document, %d outside it (the "
           "web server's own pages, or the guarded program's answers)"
           % (len(got) - outside - len(bad), outside))
    t.ok(not bad, "%s: every answer below /api/auth/ and every refusal of "
         "auth-verify validates against openapi.json (status, "
         "Content-Type, body, headers): %d problems"
         % (server(), len(bad)), *bad[:40])
    return keys


def documented(doc):
    out = set()
    for path, method, op in operations(doc):
        for code in op["responses"]:
            out.add((path, method, int(code)))
    for path, item in doc["paths"].items():
        if "x-method-not-allowed" in item:
            out.add((path, "*", 405))
    out.add(("*", "*", 404))
    out.add(("x-auth-verify", "*", 401))
    return out


def unreachable(key):
    path, method, status = key
    for servers, paths, m, st, why in UNREACHABLE:
        if server() in servers and (path in paths or paths == ["*"]) and \
                m == method and st == status:
            return why
    return None


def test_coverage(t, doc, keys):
    if os.environ.get("AUTH_TEST_WHOLE_SUITE") != "1":
        t.ok(True, "# SKIP every documented status received: only when "
             "the whole suite runs")
        return
    missing, stale, excused = [], [], 0
    for key in sorted(documented(doc), key=repr):
        why = unreachable(key)
        if key in keys:
            if why:
                stale.append("%s %s %s received, yet listed as unreachable"
                             % (key[1], key[0], key[2]))
        elif why:
            excused += 1
        else:
            missing.append("%s %s %s" % (key[1].upper(), key[0], key[2]))
    for s in stale:
        t.diag(s)
    t.diag("%d documented statuses received, %d unreachable through %s "
           "(UNREACHABLE)" % (len(documented(doc)) - excused - len(missing),
                              excused, server()))
    t.ok(not missing, "%s: every documented status of every path and "
         "method was received by some test" % server(), *missing)


def main():
    t = TAP()
    doc = load_doc()
    t.run(test_document, doc)
    checker = Checker(doc)
    keys = {}

    def run_answers(t):
        keys.update(test_answers(t, doc, checker))

    t.run(run_answers)
    t.run(test_coverage, doc, keys)
    t.done()


if __name__ == "__main__":
    main()
