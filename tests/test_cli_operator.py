"""The operator's command line: help on every flag, users list/delete, db upgrade/copy, progress, demo key."""

from __future__ import annotations

import argparse
import json
import os
import pty
import select as select_io
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import PG_ADMIN_URL, ROOT, auth, drop_pg_database, function_client, make_user
from tests.test_jobs_backup import seed_person

FACTORIA = str(Path(sys.executable).parent / "factoria")


def factoria(*args, stdin=subprocess.DEVNULL, env_extra=None):
    env = dict(os.environ) | (env_extra or {})
    return subprocess.run([FACTORIA, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
                          stdin=stdin)


def _actions(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_flag_and_argument_has_help():
    from cli.main import build_parser
    from jobs.runner import build_parser as jobs_parser
    from shared.job_schedule import JOBS

    missing = [f"{path}: {'/'.join(a.option_strings) or a.dest}"
               for path, a in _actions(build_parser(), "factoria") if not (a.help or "").strip()]
    for job in JOBS:
        missing += [f"python -m jobs {job}: {'/'.join(a.option_strings) or a.dest}"
                    for _, a in _actions(jobs_parser(job=job), job) if not (a.help or "").strip()]
    assert missing == []


def test_jobs_run_help_names_every_job_and_a_jobs_own_flags():
    from shared.job_schedule import JOBS

    out = " ".join(factoria("jobs", "run", "--help").stdout.split())
    assert all(job in out for job in JOBS)
    own = factoria("jobs", "run", "cost-report", "--help")
    assert own.returncode == 0 and "--from DATE" in own.stdout and "--to DATE" in own.stdout


def test_users_list_and_delete_through_the_erasure_path(db):
    from shared.database import session_scope
    from shared.models import AuditEntry, Erasure, UsageEvent, User
    from shared.pseudonyms import pseudonym

    admin, _ = make_user("admin", "boss@example.org")
    person = seed_person("leaving@example.org")
    listed = json.loads(factoria("users", "list", "--json").stdout)
    assert {u["email"] for u in listed} == {"boss@example.org", "leaving@example.org"}
    assert {u["active_keys"] for u in listed} == {1}
    assert [u["email"] for u in json.loads(factoria("users", "list", "--role", "admin", "--json").stdout)] == \
        ["boss@example.org"]
    # erasure cannot be undone: without a terminal it needs --yes, and nothing is erased
    refused = factoria("users", "delete", "--email", "leaving@example.org")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    done = factoria("users", "delete", "--email", "Leaving@Example.org", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    assert receipt["verified"] is True and receipt["deleted"]["users"] == 1 and receipt["deleted"]["content_items"] == 1
    with session_scope() as s:
        assert s.get(User, person) is None
        ledger = s.scalars(select(Erasure)).one()
        assert ledger.id == receipt["erasure_id"] and ledger.subject == pseudonym(person)
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "gdpr.erasure")).one()
        assert entry.actor == "cli" and entry.subject == pseudonym(person)
        assert s.scalar(select(func.count()).select_from(UsageEvent).where(UsageEvent.user_id.is_(None))) == 1
    assert "leaving@example.org" not in done.stderr
    assert factoria("users", "delete", "--email", "leaving@example.org", "--yes").returncode == 2  # gone
    text = factoria("users", "list")
    assert text.returncode == 0 and "boss@example.org" in text.stdout and "leaving" not in text.stdout


def test_db_upgrade_says_what_it_applied(tmp_path):
    from shared import migrations

    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    first = factoria("db", "upgrade", "--json", env_extra=env)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["from"] is None and result["to"] == migrations.head_revision()
    assert result["applied"][0]["revision"] == "0001" and result["applied"][-1]["revision"] == result["to"]
    assert all(step["title"] for step in result["applied"])
    again = factoria("db", "upgrade", env_extra=env)
    assert again.stdout.strip() == f"database already at {result['to']}; nothing to apply"
    fresh = factoria("db", "upgrade", env_extra={"DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"})
    assert fresh.stdout.startswith(f"applied {len(result['applied'])} migration(s), database now at {result['to']}")


@pytest.fixture
def sqlite_source(tmp_path, monkeypatch):
    """An embedded SQLite database at head with a person's data in it; DATABASE_URL points at it."""
    from shared import migrations
    from tests.conftest import reset_process_state

    url = f"sqlite:///{tmp_path / 'factoria.db'}"
    migrations.upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    reset_process_state()
    return url


@pytest.fixture
def new_pg_url():
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/lf_copy_{os.urandom(4).hex()}"
    yield url
    drop_pg_database(url)


def test_db_copy_moves_the_embedded_sqlite_into_a_fresh_postgresql(sqlite_source, new_pg_url, env):
    from shared.database import make_engine
    from shared.models import Base, RequestMetric

    person = seed_person("mover@example.org")
    _, api_key = make_user("admin")
    proc = factoria("db", "copy", "--to", new_pg_url, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["created"] is True and result["tables"]["users"] == 2 and result["tables"]["content_items"] == 1
    assert "does not exist; creating it" in proc.stderr
    engine = make_engine(new_pg_url, pool_size=1)
    try:
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                assert conn.execute(select(func.count()).select_from(table)).scalar() == result["tables"][table.name]
            # identity sequences continue after the copied ids
            conn.execute(RequestMetric.__table__.insert().values(function="health", route="/livez", method="GET",
                                                                status=200, latency_ms=1.0))
            conn.commit()
    finally:
        engine.dispose()
    # the platform runs on the copy: the same key authenticates, the person's data is there
    env(database_url=new_pg_url)
    me = function_client("gdpr").get(f"/v1/users/{person}", headers=auth(api_key))
    assert me.status_code == 200 and me.get_json()["email"] == "mover@example.org"
    env(database_url=sqlite_source)
    # a second copy into the now filled database is refused, nothing touched
    again = factoria("db", "copy", "--to", new_pg_url)
    assert again.returncode == 2 and "refusing" in again.stderr
    # and the target must be PostgreSQL
    assert factoria("db", "copy", "--to", "sqlite:////tmp/x.db").returncode == 2


def test_db_copy_refuses_a_source_behind_the_schema(tmp_path, new_pg_url):
    import sqlite3

    with sqlite3.connect(tmp_path / "old.db") as conn:  # a database never migrated by this release
        conn.execute("CREATE TABLE notes (x TEXT)")
    url = f"sqlite:///{tmp_path / 'old.db'}"
    proc = factoria("db", "copy", "--to", new_pg_url, env_extra={"DATABASE_URL": url})
    assert proc.returncode == 2 and "factoria db upgrade" in proc.stderr
    missing = factoria("db", "copy", "--to", new_pg_url,
                       env_extra={"DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"})
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def _on_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (as an operator would); (exit code, stdout, terminal text)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    proc = subprocess.Popen(argv, cwd=ROOT, env=os.environ | env, stdout=subprocess.PIPE, stderr=slave,
                            stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select_io.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out = proc.stdout.read().decode()
    code = proc.wait(timeout=60)
    os.close(master)
    return code, out, seen.decode(errors="replace")


def test_progress_bars_for_backup_verify_and_restore_on_a_terminal(sqlite_source, tmp_path):
    seed_person()
    env = {"DATABASE_URL": sqlite_source}
    code, out, tty = _on_terminal([sys.executable, "-m", "jobs", "backup"], env)
    assert code == 0, tty
    assert "backup: 5/5" in tty and "done" in tty
    code, out, tty = _on_terminal([sys.executable, "-m", "jobs", "backup-verify"], env)
    assert code == 0, tty
    assert "backup-verify: 5/5" in tty and "done" in tty
    code, out, tty = _on_terminal([FACTORIA, "backup", "restore", "--to", f"sqlite:///{tmp_path / 'r.db'}"], env)
    assert code == 0, tty
    assert "5/5" in tty and "done" in tty and json.loads(out.splitlines()[-1])["status"] == "restored"
    # not on a terminal (cron, CI): no bar, only JSON logs
    piped = subprocess.run([sys.executable, "-m", "jobs", "backup"], cwd=ROOT, env=os.environ | env,
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and "5/5" not in piped.stderr
    assert all(line.startswith("{") for line in piped.stderr.splitlines() if line.strip())


def test_demo_key_is_kept_under_var_and_reused(db, tmp_path):
    key_file = tmp_path / "var" / "demo-admin.key"
    args = ("users", "create", "--email", "demo@lafactoria.dev", "--role", "admin", "--reuse",
            "--key-file", str(key_file), "--json")
    first = json.loads(factoria(*args).stdout)
    assert key_file.read_text().strip() == first["api_key"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = json.loads(factoria(*args).stdout)
    assert second == first  # the same key again, no new one issued
    listed = json.loads(factoria("keys", "list", "--email", "demo@lafactoria.dev", "--json").stdout)
    assert len(listed) == 1
    assert function_client("health").get("/v1/metrics", headers=auth(first["api_key"])).status_code == 200
    # a revoked (or foreign) key in the file is replaced by a new one
    factoria("keys", "revoke", first["api_key"].split("_")[1])
    third = json.loads(factoria(*args).stdout)
    assert third["api_key"] != first["api_key"] and key_file.read_text().strip() == third["api_key"]
    text = factoria(*args[:-1]).stdout
    assert f"kept in {key_file}" in text and third["api_key"] in text
    # the Makefile uses it
    makefile = (ROOT / "Makefile").read_text()
    assert "--key-file $(DEMO_KEY_FILE)" in makefile and "DEMO_KEY_FILE ?= var/demo-admin.key" in makefile
