"""backup, backup-verify and `factoria backup restore`: real dumps, real restores, every fault named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from shared import migrations
from tests.conftest import ROOT, create_pg_database, drop_pg_database, free_port, make_user

FACTORIA = str(Path(sys.executable).parent / "factoria")


# --- helpers -----------------------------------------------------------------------------------

def run_job(name: str, **kw):
    from jobs.runner import run_job as _run

    return _run(name, **kw)


def seed_person(email: str | None = None) -> str:
    """A user with content, feedback, usage, a metric and a rate-limit counter; returns the id."""
    from shared.database import session_scope
    from shared.models import ContentItem, Feedback, RateLimitCounter, RequestMetric, UsageEvent

    user_id, _ = make_user("user", email)
    with session_scope() as s:
        item = ContentItem(user_id=user_id, content_type="flashcards", topic="Photosynthesis", audience="general",
                           content={"title": "t"}, quality={"overall": 0.9}, quality_overall=0.9,
                           quality_passed=True, provider="mock", model="mock-1", prompt_version="v1")
        s.add(item)
        s.flush()
        s.add(Feedback(content_id=item.id, user_id=user_id, rating=5))
        s.add(UsageEvent(user_id=user_id, content_id=item.id, provider="mock", model="mock-1", outcome="success",
                         cost_usd=Decimal("0.0123"), input_tokens=10, output_tokens=20))
        s.add(RequestMetric(function="generate", route="/v1/content", method="POST", status=201,
                            latency_ms=12.0, user_id=user_id))
        s.add(RateLimitCounter(bucket=f"rl:{user_id}:generate", count=3,
                               expires_at=datetime.now(timezone.utc) + timedelta(minutes=1)))
    return user_id


def erase_in_live(user_id: str) -> None:
    """What the GDPR erasure leaves behind in the live database: no user, a ledger entry."""
    from sqlalchemy import delete, update

    from shared.database import session_scope
    from shared.models import Erasure, RateLimitCounter, RequestMetric, UsageEvent, User
    from shared.pseudonyms import pseudonym

    with session_scope() as s:
        s.execute(update(UsageEvent).where(UsageEvent.user_id == user_id).values(user_id=None))
        s.execute(update(RequestMetric).where(RequestMetric.user_id == user_id).values(user_id=None))
        s.execute(delete(RateLimitCounter).where(RateLimitCounter.bucket.contains(user_id)))
        s.execute(delete(User).where(User.id == user_id))
        s.add(Erasure(subject=pseudonym(user_id), requested_by="self", deleted={"users": 1}))


def backup_dir() -> Path:
    from shared.settings import get_settings

    return Path(get_settings().backup_url[len("file://"):])


def newest(folder: Path) -> Path:
    return sorted(p for p in folder.iterdir() if p.is_dir())[-1]


def open_alert(rule: str):
    from shared.database import session_scope
    from shared.models import Alert

    with session_scope() as s:
        return s.scalar(select(Alert).where(Alert.rule == rule, Alert.status == "open"))


def edit_manifest(folder: Path, **changes) -> None:
    path = folder / "manifest.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def dump_file(folder: Path) -> Path:
    return next(p for p in folder.iterdir() if p.name != "manifest.json")


# --- backup ------------------------------------------------------------------------------------

def test_backup_writes_dump_then_manifest_with_counts(db):
    seed_person()
    code, summary = run_job("backup")
    assert code == 0, summary
    folder = newest(backup_dir())
    assert folder.name == summary["backup_id"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest) >= {"file", "sha256", "size", "tables", "schema_revision", "created_at", "database", "format"}
    dump = folder / manifest["file"]
    import hashlib

    assert manifest["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert manifest["size"] == dump.stat().st_size
    assert manifest["tables"]["users"] == 1 and manifest["tables"]["content_items"] == 1
    assert manifest["schema_revision"] == migrations.head_revision()
    assert manifest["database"] == db.backend
    if db.backend == "postgresql":
        assert dump.read_bytes()[:5] == b"PGDMP" and manifest["format"] == "pg_dump-custom"
    else:
        assert dump.read_bytes()[:2] == b"\x1f\x8b" and manifest["format"] == "sqlite-gzip"


def test_backup_dry_run_writes_nothing(db):
    seed_person()
    code, summary = run_job("backup", dry_run=True)
    assert code == 0 and summary["tables"]["users"] == 1
    assert not backup_dir().exists() or not any(backup_dir().iterdir())


def test_backup_removes_backups_past_retention_but_never_the_newest(db, env):
    from jobs.backup_catalog import new_backup_id

    env(backup_retention_days=30)
    old = backup_dir() / new_backup_id(datetime.now(timezone.utc) - timedelta(days=40))
    old.mkdir(parents=True)
    (old / "manifest.json").write_text("{}")
    (old / "factoria.dump").write_bytes(b"x")
    recent = backup_dir() / new_backup_id(datetime.now(timezone.utc) - timedelta(days=2))
    recent.mkdir()
    (recent / "manifest.json").write_text("{}")
    code, summary = run_job("backup")
    assert code == 0 and summary["removed"] == [old.name]
    assert not old.exists() and recent.exists()
    # With only very old backups left, the newest complete one survives.
    from jobs.backup import expired_backups
    from jobs.backup_catalog import list_backups
    from shared.storage import open_store

    entries = list_backups(open_store(f"file://{backup_dir()}"))
    assert expired_backups(entries, 1, datetime.now(timezone.utc) + timedelta(days=365)) == entries[:-1]


def test_pg_password_goes_through_env_never_argv():
    from jobs.dump import libpq_target, safe_url

    url, env = libpq_target("postgresql+psycopg://app:s3cr%40t@db.internal:5432/factoria?sslmode=require")
    assert "s3cr" not in url and url.startswith("postgresql://app@db.internal:5432/factoria")
    assert env["PGPASSWORD"] == "s3cr@t"
    assert "s3cr" not in safe_url("postgresql+psycopg://app:s3cret@h/db")


def test_backup_failure_alerts_critical_and_exits_1(pg, monkeypatch):
    import jobs.dump

    with monkeypatch.context() as m:
        m.setattr(jobs.dump.shutil, "which", lambda name: None)  # pg_dump not installed
        code, summary = run_job("backup")
    assert code == 1 and "pg_dump is not installed" in summary["error"]
    alert = open_alert("backup")
    assert alert is not None and alert.severity == "critical"
    assert run_job("backup")[0] == 0
    assert open_alert("backup") is None


# --- verify: the happy paths (local folder and S3), with erasures re-applied -------------------

def test_verify_restores_into_scratch_database_and_reapplies_erasures(db, monkeypatch):
    import jobs.dump

    created: list[str] = []
    real_create = jobs.dump.create_pg_database
    monkeypatch.setattr(jobs.dump, "create_pg_database",
                        lambda server, name: created.append(name) or real_create(server, name))
    keep = seed_person()
    gone = seed_person()
    assert run_job("backup")[0] == 0
    erase_in_live(gone)
    code, summary = run_job("backup-verify")
    assert code == 0, summary
    assert summary["erasures_reapplied"] == 1 and summary["schema_revision"] == migrations.head_revision()
    assert summary["restored_rows"] > 0
    assert keep != gone
    if db.backend == "postgresql":  # a scratch database was created on the server, then dropped
        from sqlalchemy import text

        from shared.database import get_engine

        assert len(created) == 1 and created[0].startswith("lf_verify_")
        with get_engine().connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": created[0]}).scalar()
        assert left == 0


@pytest.fixture
def moto_s3(monkeypatch):
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}"}.items():
        monkeypatch.setenv(key, value)
    import boto3

    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}")
    client.create_bucket(Bucket="lf-backups")
    yield client
    server.stop()


def test_backup_to_s3_with_sse_verified_by_restore_into_scratch_postgres(pg, env, moto_s3):
    seed_person()
    env(backup_url="s3://lf-backups/prod/db")
    code, summary = run_job("backup")
    assert code == 0, summary
    keys = [o["Key"] for o in moto_s3.list_objects_v2(Bucket="lf-backups")["Contents"]]
    assert sorted(keys) == [f"prod/db/{summary['backup_id']}/factoria.dump",
                            f"prod/db/{summary['backup_id']}/manifest.json"]
    head = moto_s3.head_object(Bucket="lf-backups", Key=keys[0])
    assert head["ServerSideEncryption"] == "AES256"
    code, verified = run_job("backup-verify")
    assert code == 0, verified
    assert verified["backup_id"] == summary["backup_id"] and verified["database"] == "postgresql"
    # The same fault detection works against the bucket: one flipped byte.
    body = bytearray(moto_s3.get_object(Bucket="lf-backups", Key=keys[0])["Body"].read())
    body[len(body) // 2] ^= 0xFF
    moto_s3.put_object(Bucket="lf-backups", Key=keys[0], Body=bytes(body))
    code, failed = run_job("backup-verify")
    assert code == 1 and failed["reasons"] == ["checksum_mismatch"]


# --- verify: every fault named, alerted, exit 1 -------------------------------------------------

def _corrupt(kind: str, folder: Path, user_id: str) -> None:
    dump = dump_file(folder)
    if kind == "truncated":
        data = dump.read_bytes()
        dump.write_bytes(data[: len(data) // 2])
    elif kind == "flipped_byte":
        data = bytearray(dump.read_bytes())
        data[len(data) // 2] ^= 0x01
        dump.write_bytes(bytes(data))
    elif kind == "manifest_checksum_wrong":
        edit_manifest(folder, sha256="0" * 64)
    elif kind == "manifest_missing_fields":
        edit_manifest(folder, tables=None, sha256=None)
    elif kind == "no_manifest":
        (folder / "manifest.json").unlink()
    elif kind == "stale":
        edit_manifest(folder, created_at=(datetime.now(timezone.utc) - timedelta(hours=30)).isoformat())
    elif kind == "restore_fails":
        import hashlib

        junk = (b"PGDMP" if dump.name.endswith(".dump") else b"\x1f\x8b") + os.urandom(4096)
        dump.write_bytes(junk)
        edit_manifest(folder, sha256=hashlib.sha256(junk).hexdigest(), size=len(junk))
    elif kind == "row_count_mismatch":
        tables = json.loads((folder / "manifest.json").read_text())["tables"]
        edit_manifest(folder, tables=tables | {"users": tables["users"] + 1})
    elif kind == "schema_revision_mismatch":
        edit_manifest(folder, schema_revision="0099")


FAULTS = {
    "truncated": "truncated",
    "flipped_byte": "checksum_mismatch",
    "manifest_checksum_wrong": "checksum_mismatch",
    "manifest_missing_fields": "manifest_invalid",
    "no_manifest": "incomplete",
    "stale": "stale",
    "restore_fails": "restore_failed",
    "row_count_mismatch": "row_count_mismatch",
    "schema_revision_mismatch": "schema_revision_mismatch",
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_verify_detects_fault_with_its_own_reason_and_alerts(db, fault):
    user_id = seed_person()
    assert run_job("backup")[0] == 0
    _corrupt(fault, newest(backup_dir()), user_id)
    code, summary = run_job("backup-verify")
    assert code == 1, summary
    assert summary["reasons"] == [FAULTS[fault]], summary
    alert = open_alert("backup-verify")
    assert alert is not None and alert.severity == "critical"
    assert FAULTS[fault] in alert.message
    assert alert.details["failures"][0]["reason"] == FAULTS[fault]


def test_verify_no_backup(db):
    code, summary = run_job("backup-verify")
    assert code == 1 and summary["reasons"] == ["no_backup"]
    assert open_alert("backup-verify") is not None


def test_verify_too_small(db, env):
    seed_person()
    assert run_job("backup")[0] == 0
    env(backup_min_bytes=10**9)
    code, summary = run_job("backup-verify")
    assert code == 1 and summary["reasons"] == ["too_small"]
    assert "too_small" in open_alert("backup-verify").message


def test_verify_finds_erased_person_still_present(db):
    """An id that leaked where erasure does not look (here the audit details) is found after restore."""
    from shared.database import session_scope
    from shared.models import AuditEntry

    gone = seed_person()
    with session_scope() as s:
        s.add(AuditEntry(action="debug", actor="system", details={"note": f"user {gone} did a thing"}))
    assert run_job("backup")[0] == 0
    erase_in_live(gone)
    code, summary = run_job("backup-verify")
    assert code == 1 and summary["reasons"] == ["erased_person_present"], summary
    assert "audit_log.details" in summary["failures"][0]["detail"]
    assert gone not in json.dumps(summary)  # the id itself is never reported
    assert open_alert("backup-verify").severity == "critical"


def test_replay_keeps_the_erasure_and_copies_the_live_ledger_row_when_residue_remains(db):
    """Residue is reported, not rolled back: the restored copy keeps every erasure it could do."""
    from shared.database import get_engine, session_scope
    from shared.models import AuditEntry, Erasure, User
    from shared.pseudonyms import pseudonym

    from jobs.erasure_replay import LedgerEntry, reapply

    gone = seed_person()
    with session_scope() as s:
        s.add(AuditEntry(action="debug", actor="system", details={"note": f"user {gone} did a thing"}))
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    live = [LedgerEntry(pseudonym(gone), when, "admin", {"users": 1})]
    result = reapply(get_engine(), live)
    assert (result.erased, result.ledger_added, result.residue) == (1, 1, ["audit_log.details"])
    with session_scope() as s:
        assert s.get(User, gone) is None
        row = s.scalar(select(Erasure))
        assert (row.subject, row.requested_by, row.deleted) == (pseudonym(gone), "admin", {"users": 1})
        assert row.erased_at.replace(tzinfo=timezone.utc) == when
    assert reapply(get_engine(), live).ledger_added == 0  # copied once


def test_clean_verify_resolves_the_alert(db):
    seed_person()
    assert run_job("backup-verify")[0] == 1
    assert open_alert("backup-verify") is not None
    assert run_job("backup")[0] == 0
    assert run_job("backup-verify")[0] == 0
    assert open_alert("backup-verify") is None


# --- factoria backup restore --------------------------------------------------------------------

def _factoria(*args, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([FACTORIA, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def _count(url: str, model, *where) -> int:
    from shared.database import make_engine

    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture
def target(db, tmp_path):
    """A restore target that does not exist yet (on PostgreSQL the command creates it); dropped afterwards."""
    if db.backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    # pg_restore needs one session throughout: operators restore to the server, never through PgBouncer
    url = db.direct_url.rsplit("/", 1)[0] + f"/lf_restore_{os.urandom(4).hex()}"
    try:
        yield url
    finally:
        drop_pg_database(url)


def test_restore_cli_into_new_database_reapplies_erasures(db, target):
    from shared.models import Erasure, UsageEvent, User

    keep = seed_person()
    gone = seed_person()
    assert run_job("backup")[0] == 0
    erase_in_live(gone)
    listed = [json.loads(line) for line in _factoria("backup", "list").stdout.splitlines()]
    assert [b["complete"] for b in listed] == [True] and listed[0]["bytes"] > 0
    proc = _factoria("backup", "restore", "--to", target)
    assert proc.returncode == 0, proc.stderr
    if db.backend == "postgresql":  # the operator is told the missing database is created
        assert f"{target.rsplit('/', 1)[1]} does not exist; creating it" in proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "restored" and out["erasures_reapplied"] == 1
    if db.backend == "postgresql":  # the re-applied erasure's dead tuples are vacuumed, statistics gathered
        assert out["vacuumed"] is True
        engine = create_engine(target)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL "
                                     "FROM pg_stat_user_tables WHERE relname = 'users'")).scalar() is True
        engine.dispose()
    else:
        assert "vacuumed" not in out
    assert _count(target, User, User.id == keep) == 1
    assert _count(target, User, User.id == gone) == 0
    assert _count(target, UsageEvent, UsageEvent.user_id.is_(None)) == 1  # kept for accounting, unlinked
    assert _count(target, Erasure) == 1  # the target's ledger now knows the erasure too
    # A second restore into the now non-empty target is refused (exit 2), nothing touched.
    again = _factoria("backup", "restore", out["backup_id"], "--to", target)
    assert again.returncode == 2 and "refusing" in again.stderr
    assert _count(target, User) == 1


def test_restore_erases_what_a_live_erasure_erases(db, target):
    """Feedback others left on the person's content and counters named only by their key id go too."""
    from shared.database import session_scope
    from shared.models import ApiKey, ContentItem, Feedback, RateLimitCounter

    keep = seed_person()
    gone = seed_person()
    with session_scope() as s:
        item = s.scalar(select(ContentItem.id).where(ContentItem.user_id == gone))
        key_id = s.scalar(select(ApiKey.id).where(ApiKey.user_id == gone))
        s.add(Feedback(content_id=item, user_id=keep, rating=2, comment="too long"))
        s.add(RateLimitCounter(bucket=f"quota:k:{key_id}", count=1,
                               expires_at=datetime.now(timezone.utc) + timedelta(minutes=2)))
    assert run_job("backup")[0] == 0
    erase_in_live(gone)
    proc = _factoria("backup", "restore", "--to", target)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["erasures_reapplied"] == 1 and out["ledger_entries_added"] == 1
    assert _count(target, Feedback, Feedback.content_id == item) == 0
    assert _count(target, Feedback, Feedback.user_id == keep) == 1  # keep's feedback on own content
    assert _count(target, RateLimitCounter, RateLimitCounter.bucket.contains(key_id)) == 0
    assert _count(target, RateLimitCounter, RateLimitCounter.bucket.contains(keep)) == 1
    assert _count(target, ContentItem, ContentItem.user_id == keep) == 1


def test_restore_cli_refuses_damaged_or_unknown_backup(db, tmp_path):
    seed_person()
    assert run_job("backup")[0] == 0
    folder = newest(backup_dir())
    target = f"sqlite:///{tmp_path / 'r.db'}"
    if db.backend == "postgresql":
        target = create_pg_database("lf_restore")
    try:
        assert _factoria("backup", "restore", "20000101T000000.000Z", "--to", target).returncode == 2
        data = bytearray(dump_file(folder).read_bytes())
        data[100] ^= 0xFF
        dump_file(folder).write_bytes(bytes(data))
        proc = _factoria("backup", "restore", folder.name, "--to", target)
        assert proc.returncode == 1 and "damaged" in proc.stderr
        if db.backend == "postgresql":  # a database the command created is dropped again on failure
            fresh = target + "_new"
            proc = _factoria("backup", "restore", folder.name, "--to", fresh)
            assert proc.returncode == 1
            from sqlalchemy import create_engine, text

            from tests.conftest import PG_ADMIN_URL

            admin = create_engine(PG_ADMIN_URL)
            with admin.connect() as conn:
                exists = conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"),
                                      {"n": fresh.rsplit("/", 1)[1]}).scalar()
            admin.dispose()
            assert exists == 0
    finally:
        if db.backend == "postgresql":
            drop_pg_database(target)


def test_restore_password_never_printed(pg, tmp_path):
    proc = _factoria("backup", "restore", "--to", "postgresql://app:hunter2secret@127.0.0.1:1/x")
    assert proc.returncode == 2  # no backup at all
    assert "hunter2secret" not in proc.stdout + proc.stderr


def test_health_report_sees_the_new_backup(db, client_for):
    """The health function reads the same layout: after a backup, `backups:age` passes."""
    from tests.conftest import auth

    _, ops_key = make_user("ops")
    body = client_for("health").get("/health", headers=auth(ops_key)).get_json()
    assert body["checks"]["backups:age"][0]["status"] == "warn"  # no backup yet
    assert run_job("backup")[0] == 0
    from shared import health_checks as checks

    checks.cache.clear()  # the report caches its slow (store) checks
    body = client_for("health").get("/health", headers=auth(ops_key)).get_json()
    check = body["checks"]["backups:age"][0]
    assert check["status"] == "pass" and check["observedValue"] < 0.1
