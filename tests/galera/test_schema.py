# SPDX-License-Identifier: ISC
"""What Galera requires of the schema and the statements, and which
constructs tie the suite to MariaDB.

Galera replicates InnoDB rows only, certifies each row by its primary key
(a table without one replicates badly or not at all), and refuses or
replicates unsafely some statements: LOCK TABLES and FLUSH TABLES WITH
READ LOCK do not lock other nodes, non-InnoDB tables (MyISAM, Aria,
MEMORY) are not replicated, and a DELETE or UPDATE with LIMIT but no ORDER
BY picks rows the server considers unsafe to replay.  Named locks
(GET_LOCK) lock one node only; whether anything depends on them is shown
by running two auth-cleanups on two nodes at once (test_cluster.py), not
here.

Checked: the migrated database on node 1 (every table of it, whoever's
migration made it), sql/*.sql, and every SQL string literal in the C
sources of common/, cgi-bin/ and cron/ (the statement table in
common/db.c among them).  The rules are tried on known good and bad
statements first, so that a rule that cannot fail is caught.
"""

import glob
import os
import re

from galera import TAP, TOP, node_query

# Statements start with one of these (upper case, as the suite writes SQL;
# log messages and JSON are lower case).
SQL_START = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|SET|LOCK|UNLOCK|FLUSH|"
    r"CREATE|ALTER|DROP|START|BEGIN|COMMIT|ROLLBACK|XA|CALL|LOAD|"
    r"HANDLER)\b")

# (what is wrong, pattern[, "top"]): a statement matching pattern is
# refused or replicated unsafely by Galera (see broken() for "top").
GALERA_RULES = (
    ("LOCK TABLES locks one node only",
     re.compile(r"\b(UN)?LOCK\s+TABLES?\b", re.I)),
    ("FLUSH TABLES ... WITH READ LOCK pauses replication",
     re.compile(r"\bFLUSH\s+TABLES?\b.*\bREAD\s+LOCK\b", re.I | re.S)),
    ("only InnoDB tables are replicated",
     re.compile(r"\bENGINE\s*=?\s*(?!InnoDB\b)\w+", re.I)),
    ("a temporary table is not replicated",
     re.compile(r"\bCREATE\s+TEMPORARY\b", re.I)),
    ("XA transactions are not supported",
     re.compile(r"^\s*XA\b", re.I)),
    ("LOAD DATA is replicated as one huge transaction",
     re.compile(r"^\s*LOAD\s+DATA\b", re.I)),
    ("DELETE or UPDATE with LIMIT but no ORDER BY is unsafe to replicate",
     re.compile(r"^\s*(DELETE|UPDATE)\b(?:(?!\bORDER\s+BY\b).)*\bLIMIT\b",
                re.I | re.S), "top"),
)

# (name as README.md writes it, pattern): constructs MariaDB has and
# MySQL 8 has not.  README.md's "Supported database servers" must name
# each one the suite uses.
MARIADB_ONLY = (
    ("`INSERT … RETURNING`",
     re.compile(r"^\s*(INSERT|REPLACE)\b.*\bRETURNING\b", re.I | re.S)),
    ("`DELETE … RETURNING`",
     re.compile(r"^\s*DELETE\b.*\bRETURNING\b", re.I | re.S)),
    ("`CREATE INDEX IF NOT EXISTS`",
     re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\b",
                re.I)),
    ("`DROP INDEX IF EXISTS`",
     re.compile(r"\bDROP\s+INDEX\s+IF\s+EXISTS\b", re.I)),
    ("`ADD COLUMN IF NOT EXISTS`",
     re.compile(r"\bADD\s+(COLUMN\s+)?IF\s+NOT\s+EXISTS\b", re.I)),
    ("`ADD INDEX IF NOT EXISTS`",
     re.compile(r"\bADD\s+(UNIQUE\s+)?(INDEX|KEY)\s+IF\s+NOT\s+EXISTS\b",
                re.I)),
    ("`ADD CONSTRAINT IF NOT EXISTS`",
     re.compile(r"\bADD\s+(CONSTRAINT|FOREIGN\s+KEY)\s+IF\s+NOT\s+EXISTS\b",
                re.I)),
    ("`DROP COLUMN IF EXISTS`",
     re.compile(r"\bDROP\s+(COLUMN\s+)?IF\s+EXISTS\b", re.I)),
    ("`MODIFY COLUMN IF EXISTS`",
     re.compile(r"\b(MODIFY|CHANGE)\s+(COLUMN\s+)?IF\s+EXISTS\b", re.I)),
    ("`CREATE OR REPLACE`",
     re.compile(r"\bCREATE\s+OR\s+REPLACE\b", re.I)),
    ("`wsrep_` variables",
     re.compile(r"\bwsrep_\w+", re.I)),
)

# The rules tried first: each bad statement must break exactly the rule
# named, each good one none.
GOOD = (
    "DELETE FROM t WHERE expires_at < ? ORDER BY expires_at LIMIT ?",
    "DELETE FROM t WHERE id IN (SELECT id FROM u) ORDER BY id LIMIT 10",
    "UPDATE t SET a = 1 WHERE id = ?",
    "CREATE TABLE IF NOT EXISTS t (id INT, PRIMARY KEY (id)) "
    "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "SELECT id FROM t WHERE a = ? LIMIT 1 FOR UPDATE",
    "INSERT INTO t (a) VALUES (?) ON DUPLICATE KEY UPDATE a = a + 1",
)
BAD = (
    ("DELETE FROM t WHERE expires_at < ? LIMIT ?", 6),
    ("UPDATE t SET a = 1 WHERE b = 2 LIMIT 5", 6),
    ("DELETE FROM t WHERE id IN (SELECT id FROM u ORDER BY id) LIMIT 5", 6),
    ("LOCK TABLES t WRITE", 0),
    ("UNLOCK TABLES", 0),
    ("FLUSH TABLES WITH READ LOCK", 1),
    ("CREATE TABLE t (id INT PRIMARY KEY) ENGINE=MyISAM", 2),
    ("CREATE TABLE t (id INT PRIMARY KEY) ENGINE = Aria", 2),
    ("CREATE TEMPORARY TABLE t (id INT PRIMARY KEY)", 3),
    ("XA START 'x'", 4),
    ("LOAD DATA INFILE 'x' INTO TABLE t", 5),
)
ONLY_GOOD = (
    "INSERT INTO t (a) VALUES (?) ON DUPLICATE KEY UPDATE a = a + 1",
    "CREATE TABLE IF NOT EXISTS t (id INT, PRIMARY KEY (id))",
    "SELECT a FROM t WHERE returning_soon = 1",
)
ONLY_BAD = (
    ("INSERT INTO t (a) VALUES (?) RETURNING a", 0),
    ("DELETE FROM t WHERE a = 1 RETURNING id", 1),
    ("CREATE INDEX IF NOT EXISTS ix ON t (a)", 2),
    ("ALTER TABLE t ADD COLUMN IF NOT EXISTS b INT", 4),
    ("ALTER TABLE t ADD INDEX IF NOT EXISTS ix (b)", 5),
    ("CREATE OR REPLACE TABLE t (id INT PRIMARY KEY)", 9),
    ("SET SESSION wsrep_sync_wait = 3", 10),
)

C_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def top_level(stmt):
    """stmt without its parenthesised parts (subqueries, lists)."""
    while True:
        out = re.sub(r"\([^()]*\)", " ", stmt)
        if out == stmt:
            return out
        stmt = out


def broken(stmt, rules):
    """The indexes of the rules stmt breaks.  A rule marked "top" looks
    at the statement outside parentheses only (an ORDER BY in a subquery
    orders nothing the outer LIMIT takes)."""
    return [i for i, rule in enumerate(rules)
            if rule[1].search(top_level(stmt) if rule[2:] == ("top",)
                              else stmt)]


def c_statements(path):
    """The SQL statements among the string literals of C file path:
    adjacent literals joined (as the compiler does), comments and
    character constants dropped first."""
    with open(path, errors="replace") as f:
        src = f.read()
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = re.sub(r"'(?:[^'\\\n]|\\.)+'", "0", src)
    out = []
    pos = 0
    while True:
        m = C_STRING.search(src, pos)
        if m is None:
            break
        parts = [m.group(1)]
        pos = m.end()
        while True:
            n = re.compile(r'\s*"((?:[^"\\\n]|\\.)*)"').match(src, pos)
            if n is None:
                break
            parts.append(n.group(1))
            pos = n.end()
        text = "".join(parts)
        if SQL_START.match(text):
            out.append(text)
    return out


def sql_statements(path):
    """The statements of migration path: comments dropped, split at
    semicolons."""
    with open(path, errors="replace") as f:
        src = f.read()
    src = re.sub(r"--[^\n]*", "", src)
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return [s.strip() for s in src.split(";") if s.strip()]


def program_statements():
    """{source file (relative): [statements]} of the programs."""
    out = {}
    for d in ("common", "cgi-bin", "cron"):
        for path in sorted(glob.glob(os.path.join(TOP, d, "*.c"))):
            stmts = c_statements(path)
            if stmts:
                out[os.path.relpath(path, TOP)] = stmts
    return out


def migration_statements():
    return {os.path.relpath(p, TOP): sql_statements(p)
            for p in sorted(glob.glob(os.path.join(TOP, "sql",
                                                   "[0-9]*.sql")))}


def test_rules(t):
    wrong = ["%r breaks %r" % (s, [GALERA_RULES[i][0]
                                   for i in broken(s, GALERA_RULES)])
             for s in GOOD if broken(s, GALERA_RULES)]
    wrong += ["%r: breaks %r, want only %r" % (
        s, broken(s, GALERA_RULES), [i]) for s, i in BAD
        if broken(s, GALERA_RULES) != [i]]
    t.ok(not wrong, "the Galera rules tell %d bad statements from %d good "
         "ones" % (len(BAD), len(GOOD)), *wrong)
    wrong = ["%r matches %r" % (s, broken(s, MARIADB_ONLY))
             for s in ONLY_GOOD if broken(s, MARIADB_ONLY)]
    wrong += ["%r: matches %r, want only %r" % (
        s, broken(s, MARIADB_ONLY), [i]) for s, i in ONLY_BAD
        if broken(s, MARIADB_ONLY) != [i]]
    t.ok(not wrong, "the MariaDB-only patterns find %d constructs and "
         "leave %d portable statements alone"
         % (len(ONLY_BAD), len(ONLY_GOOD)), *wrong)


def test_live_schema(t):
    tables = node_query(1, "SELECT table_name, engine FROM "
                        "information_schema.tables WHERE table_schema = "
                        "DATABASE() AND table_type = 'BASE TABLE' "
                        "ORDER BY table_name")
    t.ok(len(tables) >= 5, "the migrated database has its tables (%s)"
         % ", ".join(r[0] for r in tables))
    nopk = node_query(1, "SELECT t.table_name FROM information_schema."
                      "tables t LEFT JOIN information_schema."
                      "table_constraints c ON c.table_schema = "
                      "t.table_schema AND c.table_name = t.table_name AND "
                      "c.constraint_type = 'PRIMARY KEY' WHERE "
                      "t.table_schema = DATABASE() AND t.table_type = "
                      "'BASE TABLE' AND c.constraint_name IS NULL")
    t.eq(nopk, [], "every table has a primary key (Galera certifies rows "
         "by it)")
    t.eq([r for r in tables if r[1] != "InnoDB"], [], "every table is "
         "InnoDB (the only engine Galera replicates)")


def check_statements(t, what, stmts, minimum):
    n = sum(len(v) for v in stmts.values())
    t.ok(n >= minimum, "%s: %d statements found (at least %d expected: "
         "the scan works)" % (what, n, minimum))
    bad = ["%s: %s: %s" % (f, GALERA_RULES[i][0], s)
           for f, ss in stmts.items() for s in ss
           for i in broken(s, GALERA_RULES)]
    t.ok(not bad, "%s: no statement Galera refuses or replicates unsafely"
         % what, *bad)


def readme_section():
    with open(os.path.join(TOP, "README.md")) as f:
        text = f.read()
    m = re.search(r"^#+ Supported database servers\n(.*?)(?=^#+ |\Z)", text,
                  re.M | re.S)
    return m.group(1) if m else ""


def test_mariadb_only(t, stmts):
    used = {}
    for f, ss in stmts.items():
        for s in ss:
            for i in broken(s, MARIADB_ONLY):
                used.setdefault(MARIADB_ONLY[i][0], set()).add(f)
    t.diag("MariaDB-only constructs in use: %s" % "; ".join(
        "%s (%s)" % (k, ", ".join(sorted(v))) for k, v in sorted(
            used.items())))
    section = readme_section()
    t.ok(section, "README.md has a section \"Supported database servers\"")
    missing = [k for k in used if k not in section]
    t.ok(used and not missing, "README.md's \"Supported database servers\" "
         "names every MariaDB-only construct the suite uses (%d)"
         % len(used), *["not named: %s in %s" % (k, ", ".join(
             sorted(used[k]))) for k in missing])


def main():
    t = TAP()
    t.run(test_rules)
    t.run(test_live_schema)
    programs = program_statements()
    migrations = migration_statements()
    t.run(check_statements, "the programs' SQL", programs, 30)
    t.run(check_statements, "the migrations", migrations, 6)
    both = dict(programs)
    both.update(migrations)
    t.run(test_mariadb_only, both)
    t.done()


if __name__ == "__main__":
    main()
