# SPDX-License-Identifier: ISC
# passes: lighttpd -- it runs scripts/migrate itself
"""scripts/migrate: applies sql/NNN-*.sql in numeric order, is safe to run
again, stops at the first failure naming the file, and finds its sql/
both in the source tree and in the installed layout; the schema it makes
is the FastAPI backend's."""

import os
import shlex
import shutil
import subprocess

from harness import TAP, env

SCRATCH = "collab_auth_migrate_test"


def admin():
    return shlex.split(env("AUTH_TEST_MARIADB"))


def sql(stmt, db=None):
    cmd = admin() + ["--batch", "--raw", "--skip-column-names", "-e", stmt]
    if db:
        cmd.append(db)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    return [ln.split("\t") for ln in p.stdout.splitlines()]


def migrate(script, db):
    # The admin command line minus the client's own name: migrate's
    # options are the client's.
    return subprocess.run([script] + admin()[1:] + [db], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def columns(db, table):
    return sql("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM "
               "information_schema.COLUMNS WHERE TABLE_SCHEMA = '%s' AND "
               "TABLE_NAME = '%s' ORDER BY ORDINAL_POSITION" % (db, table))


def tables(db):
    return sorted(r[0] for r in sql("SHOW TABLES", db))


def main():
    t = TAP()
    script = os.path.join(env("AUTH_TEST_TOP"), "scripts", "migrate")
    sql("DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET "
        "utf8mb4 COLLATE utf8mb4_unicode_ci" % (SCRATCH, SCRATCH))
    try:
        p = migrate(script, SCRATCH)
        t.ok(p.returncode == 0, "migrate applies to an empty database",
             p.stdout + p.stderr)
        first = tables(SCRATCH)
        t.ok({"user", "passwordresettoken"} <= set(first),
             "user and passwordresettoken exist", repr(first))
        sql("INSERT INTO `user` (email, username, hashed_password, "
            "is_active, created_at) VALUES ('k@example.com', 'keep', 'h', 1,"
            " UTC_TIMESTAMP())", SCRATCH)
        p = migrate(script, SCRATCH)
        t.ok(p.returncode == 0, "migrate applies again", p.stdout + p.stderr)
        t.eq(tables(SCRATCH), first, "a second run adds or drops no table")
        t.eq(sql("SELECT username FROM `user`", SCRATCH), [["keep"]],
             "a second run keeps the rows")

        # The FastAPI backend's columns, as SQLModel made them.
        t.eq([c[0] for c in columns(SCRATCH, "user")],
             ["id", "email", "username", "hashed_password", "is_active",
              "created_at"], "user has the FastAPI backend's columns")
        t.eq([c[0] for c in columns(SCRATCH, "passwordresettoken")],
             ["id", "user_id", "otp", "expires_at", "is_used"],
             "passwordresettoken has the FastAPI backend's columns")
        idx = sql("SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM "
                  "information_schema.STATISTICS WHERE TABLE_SCHEMA = '%s' "
                  "AND TABLE_NAME = 'user' ORDER BY INDEX_NAME" % SCRATCH)
        t.ok(["ix_user_email", "0", "email"] in idx
             and ["ix_user_username", "0", "username"] in idx,
             "user.email and user.username have unique indexes", repr(idx))
        eng = sql("SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM "
                  "information_schema.TABLES WHERE TABLE_SCHEMA = '%s'"
                  % SCRATCH)
        t.ok(eng and all(e[1] == "InnoDB" and e[2].startswith("utf8mb4")
                         for e in eng),
             "every table is InnoDB, utf8mb4", repr(eng))

        # The installed layout: PKGDATADIR/migrate beside PKGDATADIR/sql/,
        # here with a failing migration in the middle.
        inst = os.path.join(env("AUTH_TEST_TMPDIR"), "pkgdata")
        shutil.rmtree(inst, ignore_errors=True)
        os.makedirs(os.path.join(inst, "sql"))
        shutil.copy(script, os.path.join(inst, "migrate"))
        files = {
            "001-a.sql": "CREATE TABLE IF NOT EXISTS m_a (i INT);\n",
            "002-b.sql": "CREATE TABLE IF NOT EXISTS m_b (i INT);\n",
            "010-c.sql": "CREATE TABLE IF NOT EXISTS m_c (i INT);\n"
                         "SELECT no_such_column FROM m_a;\n"
                         "CREATE TABLE IF NOT EXISTS m_c2 (i INT);\n",
            "011-d.sql": "CREATE TABLE IF NOT EXISTS m_d (i INT);\n",
            "notes.sql": "CREATE TABLE m_notes (i INT);\n",
            "1-short.sql": "CREATE TABLE m_short (i INT);\n",
        }
        for name, text in files.items():
            with open(os.path.join(inst, "sql", name), "w") as f:
                f.write(text)
        sql("DROP DATABASE %s; CREATE DATABASE %s" % (SCRATCH, SCRATCH))
        p = migrate(os.path.join(inst, "migrate"), SCRATCH)
        t.ok(p.returncode != 0, "installed layout: a failing migration "
             "fails the run", p.stdout + p.stderr)
        t.ok("010-c.sql" in p.stderr, "the failing file is named",
             p.stderr)
        t.eq(tables(SCRATCH), ["m_a", "m_b", "m_c"],
             "files before it applied, in order; nothing after the failing "
             "statement; files not named NNN-*.sql ignored")
        p = subprocess.run([os.path.join(inst, "migrate")],
                           capture_output=True, text=True, timeout=30)
        t.ok(p.returncode != 0 and "usage" in p.stderr,
             "no DATABASE: usage and non-zero exit", p.stderr)
    finally:
        sql("DROP DATABASE IF EXISTS %s" % SCRATCH)
    t.done()


if __name__ == "__main__":
    main()
