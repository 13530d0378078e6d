"""Encrypted backups (age, keyring with rotation) and the erasure ledger that outlives the database."""

from __future__ import annotations

import json
import uuid
import subprocess

import pytest
from sqlalchemy import create_engine, text

from shared import migrations
from tests.conftest import ROOT, create_pg_database, drop_pg_database, reset_process_state
from tests.test_jobs_backup import FACTORIA, _count, _factoria, backup_dir, newest, run_job, seed_person

AGE_HEADER = b"age-encryption.org/v1\n"


def new_key() -> str:
    proc = subprocess.run([FACTORIA, "backup", "keygen"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    key = proc.stdout.strip().splitlines()[-1]
    assert key.startswith("AGE-SECRET-KEY-1") and "age1" in proc.stderr  # the recipient goes to stderr
    return key


def erase(user_id: str) -> None:
    """The real GDPR erasure (the one the HTTP route runs)."""
    from functions.gdpr.erasure import erase_subject
    from functions.gdpr.subjects import Acting
    from shared.pseudonyms import pseudonym

    erase_subject(Acting(user_id, pseudonym(user_id), pseudonym(user_id), "user", False))


def test_keygen_keys_pass_settings_and_malformed_keys_are_refused(env):
    from shared.settings import SettingsError, get_settings

    first, second = new_key(), new_key()
    assert first != second
    env(backup_encryption_keys=f" {second} , {first} ")
    assert get_settings().backup_keys == [second, first]
    for bad in ("not-a-key", first.lower(), first[:-1], f"{first},AGE-SECRET-KEY-1"):
        env(backup_encryption_keys=bad)
        with pytest.raises(SettingsError, match="BACKUP_ENCRYPTION_KEYS") as info:
            get_settings()
        assert first not in str(info.value)  # never echo a key
    proc = _factoria("backup", "list", env_extra={"BACKUP_ENCRYPTION_KEYS": "AGE-SECRET-KEY-1NOPE"})
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_encrypted_backup_unreadable_without_key_restorable_after_rotation(db, env, tmp_path):
    old = new_key()
    env(backup_encryption_keys=old)
    user_id = seed_person("enc-person@example.org")
    code, summary = run_job("backup")
    assert code == 0 and summary["encrypted"] is True, summary
    folder = newest(backup_dir())
    stored = folder / summary["file"]
    assert stored.name.endswith(".age")
    raw = stored.read_bytes()
    assert raw.startswith(AGE_HEADER)
    assert b"PGDMP" not in raw[:64] and b"enc-person" not in raw and user_id.encode() not in raw
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["encryption"] == "age" and manifest["recipient"].startswith("age1")
    assert "enc-person" not in json.dumps(manifest)

    # Rotation: a new key first, the old one kept; the old backup verifies and new ones use the new key.
    new = new_key()
    env(backup_encryption_keys=f"{new},{old}")
    code, verified = run_job("backup-verify")
    assert code == 0, verified

    # The old key dropped: the backup cannot be opened: exit 2, one line, never garbage restored.
    env(backup_encryption_keys=new)
    target = f"sqlite:///{tmp_path / 'r.db'}" if db.backend == "sqlite" else db.direct_url + "_nokey"
    proc = _factoria("backup", "restore", "--to", target, env_extra={"BACKUP_ENCRYPTION_KEYS": new})
    try:
        assert proc.returncode == 2, proc.stderr
        assert [line for line in proc.stderr.splitlines() if "creating it" not in line] == [
            f"factoria backup: backup {folder.name} is encrypted to a key not in BACKUP_ENCRYPTION_KEYS "
            "(or is damaged)"]
        if db.backend == "sqlite":
            assert not (tmp_path / "r.db").exists()
        else:  # the database the command created for the restore is gone again
            admin = create_engine(db.direct_url)
            with admin.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"),
                                    {"n": target.rsplit("/", 1)[1]}).scalar() == 0
            admin.dispose()
    finally:
        if db.backend == "postgresql":
            drop_pg_database(target)
    code, summary = run_job("backup-verify")
    assert code == 2 and "BACKUP_ENCRYPTION_KEYS" in summary["error"], summary
    env(backup_encryption_keys=None)
    code, summary = run_job("backup-verify")
    assert code == 2 and "BACKUP_ENCRYPTION_KEYS is not set" in summary["error"], summary


def test_decrypted_dump_restores_with_plain_age_and_pg_restore(pg, env, tmp_path):
    """The documented recovery without project code: `age -d -i key dump | pg_restore -d URL`."""
    key = new_key()
    env(backup_encryption_keys=key)
    user_id = seed_person()
    code, summary = run_job("backup")
    assert code == 0, summary
    keyfile = tmp_path / "key.txt"
    keyfile.write_text(key + "\n")
    dump = newest(backup_dir()) / summary["file"]
    target = create_pg_database("lf_agerestore")
    try:
        libpq = target.replace("postgresql+psycopg://", "postgresql://")
        proc = subprocess.run(f"age -d -i {keyfile} {dump} | pg_restore --no-owner -d '{libpq}'",
                              shell=True, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        from shared.models import User

        assert _count(target, User, User.id == user_id) == 1
    finally:
        drop_pg_database(target)


def test_erasure_writes_an_encrypted_ledger_entry_and_fails_closed_without_the_store(db, env):
    from shared import errors
    from shared.models import User

    key = new_key()
    env(backup_encryption_keys=key)
    gone = seed_person("ledger-person@example.org")
    erase(gone)
    entries = sorted((backup_dir() / "erasures").iterdir())
    assert len(entries) == 1 and entries[0].name.endswith(".json.age")
    raw = entries[0].read_bytes()
    assert raw.startswith(AGE_HEADER) and b"ledger-person" not in raw and gone.encode() not in raw
    import pyrage
    from pyrage import x25519

    from shared.pseudonyms import pseudonym

    entry = json.loads(pyrage.decrypt(raw, [x25519.Identity.from_str(key)]))
    assert entry["subject"] == pseudonym(gone) and entry["requested_by"] == "self"

    # A store that cannot take the entry: the erasure is refused (503) and nothing is erased.
    keep = seed_person()
    folder = backup_dir() / "erasures"
    env(backup_url="s3://")
    with pytest.raises(errors.ServiceUnavailable):
        erase(keep)
    assert _count(db.url, User, User.id == keep) == 1
    assert len(list(folder.iterdir())) == 1


def test_backup_job_copies_older_ledger_rows_to_the_store(db):
    from tests.test_jobs_backup import erase_in_live

    erase_in_live(seed_person())  # a ledger row written without the store (before this release)
    code, summary = run_job("backup")
    assert code == 0 and summary["ledger_copied"] == 1, summary
    assert run_job("backup")[1]["ledger_copied"] == 0
    assert len(list((backup_dir() / "erasures").iterdir())) == 1


def test_restore_after_total_database_loss_forgets_everyone_erased(env, tmp_path):
    """Back up, erase someone, lose the live database, restore the older backup: no trace of them."""
    from shared.models import ContentItem, Erasure, User

    key = new_key()
    live = create_pg_database("lf_live")
    target = live.rsplit("/", 1)[0] + f"/lf_after_loss_{uuid.uuid4().hex[:10]}"
    env(database_url=live, backup_encryption_keys=key)
    try:
        migrations.upgrade(live)
        keep = seed_person("stays@example.org")
        gone = seed_person("forget-me@example.org")
        assert run_job("backup")[0] == 0
        erase(gone)  # after the backup: only the live ledger and the store know
        reset_process_state()
        drop_pg_database(live)  # total loss
        proc = _factoria("backup", "restore", "--to", target)
        assert proc.returncode == 0, proc.stderr
        assert "live erasure ledger unreachable" in proc.stderr
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["status"] == "restored" and out["erasures_reapplied"] == 1 and out["failures"] == []
        assert _count(target, User, User.id == gone) == 0
        assert _count(target, ContentItem, ContentItem.user_id == gone) == 0
        assert _count(target, User, User.id == keep) == 1
        assert _count(target, Erasure) == 1
        engine = create_engine(target)
        with engine.connect() as conn:  # no trace anywhere: the whole database as text
            for table in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars():
                hits = conn.execute(text(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE :a OR '
                                         f"t::text LIKE :b"), {"a": f"%{gone}%", "b": "%forget-me%"}).scalar()
                assert hits == 0, table
        engine.dispose()
    finally:
        reset_process_state()
        drop_pg_database(live)
        drop_pg_database(target)


def test_production_without_a_backup_key_is_a_warning_in_health_and_the_ops_report(env):
    from jobs.ops_report import checks as ops_checks
    from shared import health_checks

    env(environment="production", secret_key="s" * 40, database_url="postgresql://u@127.0.0.1:1/x",
        ai_providers="openai", openai_api_key="sk-test", allowed_origins="https://app.example.org")
    [check] = health_checks.check_backup_encryption()
    assert check["status"] == "warn" and "BACKUP_ENCRYPTION_KEYS" in check["output"]
    facts = {"backups": {"store": "s3://b", "store_error": None, "taken_in_period": 1, "failed_backup_runs": 0,
                         "encrypted": False, "production": True,
                         "newest": {"backup_id": "x", "age_hours": 2.0, "bytes": 4096}}}
    result = ops_checks.backups(facts, 26)
    assert result.status == ops_checks.WARN and "not encrypted" in result.summary
    env(backup_encryption_keys=new_key())
    assert health_checks.check_backup_encryption()[0]["status"] == "pass"
    facts["backups"]["encrypted"] = True
    assert ops_checks.backups(facts, 26).status == ops_checks.PASS
