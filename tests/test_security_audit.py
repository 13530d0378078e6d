"""Audit of security events: aggregated auth failures, key and role changes, pseudonyms only."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared import audit as audit_module
from shared.audit import (AUTH_FAILED, AuditDataError, AuthFailureLog, audit, audit_admin_action, auth_failures,
                          record_auth_failure)
from shared.auth import Principal
from shared.database import session_scope
from shared.http import FunctionApp, Route
from shared.identity import revoke_key
from shared.models import AuditEntry
from shared.pseudonyms import pseudonym
from tests.conftest import ROOT, auth

FACTORIA = str(Path(sys.executable).parent / "factoria")
NOW = datetime(2026, 5, 4, 10, 30, 15, tzinfo=timezone.utc)


def _client():
    return FunctionApp("audited", [Route("/thing", lambda ctx: {"ok": True})]).test_client()


def _auth_rows():
    auth_failures.flush()  # what the writer thread does every FLUSH_SECONDS
    with session_scope() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == AUTH_FAILED)))


def _all_audit_text() -> str:
    with session_scope() as s:
        rows = s.scalars(select(AuditEntry)).all()
        return json.dumps([[r.action, r.actor, r.actor_role, r.subject, r.request_id, r.details] for r in rows])


def test_auth_failures_are_aggregated_per_minute(db):
    for _ in range(40):
        record_auth_failure("lf_0123456789ab_" + "x" * 43, now=NOW)
    record_auth_failure("lf_0123456789ab_" + "y" * 43, now=NOW.replace(minute=31))
    record_auth_failure(None, now=NOW)
    record_auth_failure("garbage", now=NOW)
    rows = {(r.actor, r.details["reason"], r.created_at): r.count for r in _auth_rows()}
    minute = NOW.replace(second=0)
    assert rows == {
        ("unknown", "unknown_key", minute): 40,
        ("unknown", "unknown_key", minute.replace(minute=31)): 1,
        ("anonymous", "missing", minute): 1,
        ("unknown", "malformed", minute): 1,
    }


def test_flood_of_random_keys_adds_no_rows(db):
    import secrets

    for _ in range(60):
        record_auth_failure(f"lf_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}", now=NOW)
    rows = _auth_rows()
    assert len(rows) == 1 and rows[0].count == 60


def test_known_key_failures_name_the_prefix_and_pseudonym(db, users):
    user_id, key = users("user")
    prefix = key.split("_")[1]
    record_auth_failure(key[:-2] + ("AA" if not key.endswith("AA") else "BB"), now=NOW)
    auth_failures.flush()  # the reason is the key's state when the counts are written (within FLUSH_SECONDS)
    with session_scope() as s:
        revoke_key(s, prefix)
    record_auth_failure(key, now=NOW)
    rows = {(r.actor, r.details["reason"]): r for r in _auth_rows()}
    assert set(rows) == {(f"key:{prefix}", "bad_secret"), (f"key:{prefix}", "revoked")}
    assert all(r.subject == pseudonym(user_id) for r in rows.values())
    assert key not in _all_audit_text() and user_id not in _all_audit_text()


def test_http_auth_failures_are_recorded_and_counted(db, users):
    client = _client()
    _, key = users("user")
    bad = "lf_0123456789ab_" + "z" * 43
    for _ in range(5):
        resp = client.get("/thing", headers=auth(bad))
        assert resp.status_code == 401 and bad not in resp.get_data(as_text=True)
    assert client.get("/thing").status_code == 401  # no credentials: anonymous, not an auth failure
    assert client.get("/thing", headers=auth(key)).status_code == 200
    counts: dict[str, int] = {}
    for r in _auth_rows():
        counts[r.details["reason"]] = counts.get(r.details["reason"], 0) + r.count
    assert counts == {"unknown_key": 5}


def test_concurrent_failures_are_all_counted(db):
    def worker():
        for _ in range(10):
            record_auth_failure("lf_0123456789ab_" + "q" * 43, now=NOW)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = _auth_rows()
    assert len(rows) == 1 and rows[0].count == 40


def test_audit_failure_never_breaks_the_401(db, monkeypatch):
    def broken(*a, **kw):
        raise RuntimeError("audit table gone")

    monkeypatch.setattr(auth_failures, "record", broken)
    assert _client().get("/thing", headers=auth("lf_0123456789ab_" + "z" * 43)).status_code == 401


class _Clock:
    """An injected clock: the minute failures are counted in moves only when the test says so."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _statements(db_url: str) -> list[str]:
    """Statements the flush sends to the test database (SQLAlchemy cursor events)."""
    from sqlalchemy import event

    from shared.database import get_engine

    seen: list[str] = []
    event.listen(get_engine(db_url), "before_cursor_execute",
                 lambda conn, cursor, statement, *a: seen.append(statement.split()[0].upper()))
    return seen


def test_a_flood_costs_no_write_per_failure_and_at_most_one_write_per_flush(db, users):
    """2,000 failures of every kind over two minutes: nothing written while they are counted, then one
    flush: one lookup of the prefixes and one upsert of the aggregated rows, with exact totals."""
    import secrets

    _, key = users("user")
    prefix = key.split("_")[1]
    clock = _Clock(NOW)
    log = AuthFailureLog(clock=clock, start_thread=False)
    seen = _statements(db.url)
    for i in range(2000):
        if i == 1000:
            clock.now = NOW.replace(minute=31)
        token = (None, "garbage", key[:-2] + ("AA" if not key.endswith("AA") else "BB"),
                 f"lf_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}")[i % 4]
        log.record(token, request_id=f"r{i}", database_url=db.url)
    assert seen == [] and log.pending() == 2000
    assert log.flush() == 2000
    assert [s for s in seen if s not in ("BEGIN", "COMMIT", "ROLLBACK")] == ["SELECT", "INSERT"]
    rows = {(r.actor, r.details["reason"], r.created_at.minute): (r.count, r.request_id) for r in _auth_rows()}
    assert rows == {
        (actor, reason, minute): (250, f"r{first + (0 if minute == 30 else 1000)}")
        for actor, reason, first in (("anonymous", "missing", 0), ("unknown", "malformed", 1),
                                     (f"key:{prefix}", "bad_secret", 2), ("unknown", "unknown_key", 3))
        for minute in (30, 31)
    }
    assert log.pending() == 0 and log.flush() == 0  # nothing left, nothing written twice


def test_counts_are_added_to_rows_already_written(db):
    log = AuthFailureLog(clock=_Clock(NOW), start_thread=False)
    for flushes in range(3):
        for _ in range(7):
            log.record("garbage", database_url=db.url)
        log.flush()
    [row] = _auth_rows()
    assert row.count == 21 and row.details == {"reason": "malformed", "window": "1m"}


def test_a_failed_flush_loses_nothing_and_the_next_one_writes_it(db, monkeypatch):
    log = AuthFailureLog(clock=_Clock(NOW), start_thread=False)
    for _ in range(30):
        log.record("lf_0123456789ab_" + "x" * 43, database_url=db.url)
    real = audit_module._write_failures

    def down(url, counts):
        raise OSError("database unreachable")

    monkeypatch.setattr(audit_module, "_write_failures", down)
    assert log.flush() == 0 and log.pending() == 30
    for _ in range(5):  # counted meanwhile, into the same bucket
        log.record("lf_0123456789ab_" + "x" * 43, database_url=db.url)
    monkeypatch.setattr(audit_module, "_write_failures", real)
    assert log.flush() == 35 and log.pending() == 0
    [row] = _auth_rows()
    assert row.count == 35 and row.actor == "unknown"


def test_the_first_failure_starts_the_writer_thread_once(db):
    log = AuthFailureLog(clock=_Clock(NOW))
    assert log._thread is None
    log.record(None, database_url=db.url)
    thread = log._thread
    log.record(None, database_url=db.url)
    assert thread is not None and thread.is_alive() and thread.daemon and log._thread is thread
    log.discard()


def test_audit_helper_pseudonymises_and_refuses_personal_data(db, users):
    admin_id, _ = users("admin")
    user_id, key = users("user")
    with session_scope() as s:
        entry = audit(s, "admin.export", actor=admin_id, actor_role="admin", subject=user_id,
                      details={"items": 3}, request_id="r1")
        assert entry.actor == pseudonym(admin_id) and entry.subject == pseudonym(user_id)
        again = audit_admin_action(s, "admin.erasure", Principal(admin_id, "admin", "k"), user_id)
        assert again.subject == pseudonym(user_id) and again.actor_role == "admin"
        assert audit(s, "x", actor="system", actor_role=None, subject=pseudonym(user_id)).subject == pseudonym(user_id)
        with pytest.raises(AuditDataError):
            audit(s, "x", actor="someone@example.org", actor_role="admin")
        with pytest.raises(AuditDataError):
            audit(s, "x", actor="cli", actor_role="operator", details={"note": "mail a@b.example.com"})
        with pytest.raises(AuditDataError):
            audit(s, "x", actor="cli", actor_role="operator", details={"key": key})


def _factoria(*args):
    proc = subprocess.run([FACTORIA, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_cli_key_and_role_events_are_audited_under_pseudonyms(db):
    created = _factoria("users", "create", "--email", "audited.person@example.org", "--json")
    extra = _factoria("keys", "create", "--user-id", created["user_id"], "--json")
    _factoria("keys", "revoke", extra["key_id"], "--json")
    changed = _factoria("users", "set-role", "--email", "audited.person@example.org", "--role", "admin", "--json")
    assert changed == {"user_id": created["user_id"], "role": "admin", "previous_role": "user"}
    with session_scope() as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.created_at)).all()
        actions = [r.action for r in rows]
        assert actions == ["user.created", "key.created", "key.revoked", "user.role_changed"]
        assert {r.subject for r in rows} == {pseudonym(created["user_id"])}
        assert rows[-1].details == {"from": "user", "to": "admin"}
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 4
    text = _all_audit_text()
    for secret in ("audited.person@example.org", created["user_id"], created["api_key"], extra["api_key"]):
        assert secret not in text
