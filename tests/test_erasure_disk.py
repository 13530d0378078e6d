"""After an erasure the database files hold no tuple of the person: SQLite (file and WAL), PostgreSQL (pages)."""

import json
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from tests.conftest import auth


def test_sqlite_files_hold_no_trace_after_erasure(env, tmp_path, client_for):
    from shared import migrations
    from tests.conftest import make_user

    path = tmp_path / "factoria.db"
    env(database_url=f"sqlite:///{path}")
    migrations.upgrade(f"sqlite:///{path}")
    email = "wal-trace-person@example.org"
    user_id, key = make_user("user", email=email)
    make_user("admin")
    client = client_for("gdpr")
    for _ in range(3):  # some history in the WAL
        assert client.patch("/v1/me", json={"display_name": "Trace Person"}, headers=auth(key)).status_code == 200
    resp = client.delete("/v1/me", json={"confirm": "erase my data"}, headers=auth(key))
    assert resp.status_code == 200, resp.get_json()
    from functions.gdpr.erasure import wait_for_disk_work

    wait_for_disk_work()  # the checkpoint runs after the receipt, off the request
    for file in (path, path.with_name(path.name + "-wal")):
        data = file.read_bytes() if file.exists() else b""
        assert email.encode() not in data and user_id.encode() not in data, file.name


# Every page of every table, index and TOAST table of the schema, and where its tuples start.
_PAGES = """
SELECT c.oid::regclass::text AS relation, raw, (page_header(raw)).upper
FROM pg_class c
CROSS JOIN LATERAL generate_series(0, pg_relation_size(c.oid) / current_setting('block_size')::int - 1) AS block
CROSS JOIN LATERAL get_raw_page(c.oid::regclass::text, block::int) AS raw
WHERE (c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i'))
   OR c.oid IN (SELECT reltoastrelid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
"""


@contextmanager
def _connection(url: str):
    """A connection of the test's own (not the platform's engines), in one transaction."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _in_tuples(url: str, *needles: str) -> set[str]:
    """Relations whose pages hold one of `needles` inside a tuple, live or dead, read off the raw pages.

    A page keeps its tuples from `pd_upper` on, dead ones included until
    VACUUM prunes them and compacts the page. What VACUUM frees becomes
    unallocated space below `pd_upper`, which PostgreSQL does not zero: bytes
    there are no tuple any more and are overwritten as the page takes new
    rows (docs/OPERATIONS.md), so they are not counted here.
    """
    with _connection(url) as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        pages = conn.execute(text(_PAGES)).all()
    found = set()
    for relation, raw, upper in pages:
        for needle in (n.encode() for n in needles):
            at = raw.find(needle)
            while at != -1:
                if at >= upper:
                    found.add(relation)
                at = raw.find(needle, at + 1)
    return found


def _delete_plainly(url: str, user_id: str) -> None:
    """What an erasure without VACUUM would leave: the rows deleted, their tuples still on the pages."""
    with _connection(url) as conn:
        conn.execute(text("DELETE FROM api_keys WHERE user_id = :id"), {"id": user_id})
        conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})


def _seed_others(url: str, n: int) -> None:
    """Enough other users that one erased row is under 2% of the table's pages: then a plain VACUUM
    (PostgreSQL 14+) skips the index pass and the email stays in `users_email_key`."""
    with _connection(url) as conn:
        conn.execute(text("INSERT INTO users (id, email, role, created_at, updated_at) "
                          "SELECT gen_random_uuid()::text, 'other-' || g || '@example.org', 'user', "
                          "now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc' FROM generate_series(1, :n) AS g"),
                     {"n": n})


def test_postgres_pages_hold_no_tuple_of_the_person_after_erasure(pg, client_for):
    from tests.conftest import make_user

    _seed_others(pg.url, 10_000)
    email = "vacuum-trace-person@example.org"
    user_id, key = make_user("user", email=email)
    make_user("admin")
    client = client_for("gdpr")
    for _ in range(3):  # old versions of the user row: dead tuples too
        assert client.patch("/v1/me", json={"display_name": "Trace Person"}, headers=auth(key)).status_code == 200
    control_id, _ = make_user("user", email="control-person@example.org")
    _delete_plainly(pg.url, control_id)
    assert {"users", "users_email_key"} <= _in_tuples(pg.url, "control-person@example.org")
    resp = client.delete("/v1/me", json={"confirm": "erase my data"}, headers=auth(key))
    assert resp.status_code == 200 and resp.get_json()["verified"] is True
    from functions.gdpr.erasure import wait_for_disk_work

    wait_for_disk_work()  # VACUUM runs after the receipt, off the request
    assert _in_tuples(pg.url, email, user_id) == set()


def test_vacuum_runs_after_the_receipt_not_inside_the_request(pg, client_for):
    """With `users` locked (another VACUUM, a migration), the receipt comes back at once, verified,
    while the VACUUM still waits; once the lock goes, the person's tuples go too."""
    from functions.gdpr import erasure
    from tests.conftest import make_user

    email = "vacuum-later-person@example.org"
    user_id, key = make_user("user", email=email)
    make_user("admin")
    locker = _lock_users(pg.url)
    try:
        resp = client_for("gdpr").delete("/v1/me", json={"confirm": "erase my data"}, headers=auth(key))
        assert resp.status_code == 200 and resp.get_json()["verified"] is True
        assert erasure._pending and not erasure._pending[-1].done()  # still waiting for the lock
    finally:
        locker.close()
    erasure.wait_for_disk_work()
    assert _in_tuples(pg.url, email, user_id) == set()


def test_cli_erasure_vacuums_too(pg, capsys):
    """`factoria users delete`, in process (the `factoria` script may import another checkout)."""
    from cli.main import main
    from tests.test_jobs_backup import seed_person

    person = seed_person("leaving-by-cli@example.org")
    assert "users" in _in_tuples(pg.url, "leaving-by-cli@example.org")
    assert main(["users", "delete", "--user-id", person, "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is True
    assert _in_tuples(pg.url, "leaving-by-cli@example.org", person) == set()


def _lock_users(url: str):
    """A session holding the lock VACUUM needs on `users`, as another VACUUM or a migration would;
    it gives the lock up by itself after 10 s, so a VACUUM that waits shows up as slow, not hung."""
    import psycopg

    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    conn.execute("SET idle_in_transaction_session_timeout = '10s'")
    conn.execute("LOCK TABLE users IN SHARE UPDATE EXCLUSIVE MODE")
    return conn


@pytest.mark.parametrize("pgbouncer", [False, True], ids=["direct", "pgbouncer"])
def test_a_table_that_cannot_be_vacuumed_does_not_fail_the_erasure(pg, client_for, env, caplog, monkeypatch,
                                                                    pgbouncer):
    """Direct: VACUUM waits `VACUUM_LOCK_TIMEOUT`, then fails. Behind PgBouncer: `SKIP_LOCKED`, no wait, a warning."""
    import time

    from functions.gdpr import erasure
    from tests.conftest import make_user

    env(db_pgbouncer=str(pgbouncer).lower())
    monkeypatch.setattr(erasure, "VACUUM_LOCK_TIMEOUT", "50ms")
    email = "locked-out-person@example.org"
    user_id, key = make_user("user", email=email)
    make_user("admin")
    locker = _lock_users(pg.url)
    started = time.monotonic()
    try:
        resp = client_for("gdpr").delete("/v1/me", json={"confirm": "erase my data"}, headers=auth(key))
        erasure.wait_for_disk_work()
    finally:
        locker.close()
    assert resp.status_code == 200 and resp.get_json()["verified"] is True
    assert time.monotonic() - started < 5
    [warning] = [r for r in caplog.records if r.getMessage().startswith("erasure: tables not vacuumed")]
    assert warning.levelname == "WARNING" and warning.not_vacuumed == {"users": "LockNotAvailable"}
    assert "api_keys" in warning.vacuumed
    assert email not in str(vars(warning)) and user_id not in str(vars(warning))


def test_an_unreachable_vacuum_connection_does_not_fail_the_erasure(pg, client_for, caplog, monkeypatch):
    from shared import database
    from tests.conftest import make_user

    _, key = make_user("user")
    make_user("admin")
    client = client_for("gdpr")
    assert client.get("/v1/me", headers=auth(key)).status_code == 200  # the request engine is made and cached
    real = database.make_engine
    monkeypatch.setattr(database, "make_engine", lambda url, **kw: real(url.replace(":5432/", ":1/"), **kw))
    resp = client.delete("/v1/me", json={"confirm": "erase my data"}, headers=auth(key))
    assert resp.status_code == 200 and resp.get_json()["verified"] is True
    from functions.gdpr.erasure import wait_for_disk_work

    wait_for_disk_work()
    [warning] = [r for r in caplog.records if r.getMessage().startswith("erasure: tables not vacuumed")]
    assert set(warning.not_vacuumed) >= {"users", "api_keys"} and warning.vacuumed == []
    assert set(warning.not_vacuumed.values()) == {"OperationalError"}
