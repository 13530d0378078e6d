"""Point-in-time recovery end to end: a second PostgreSQL cluster archiving WAL with pgBackRest to moto S3.

The cluster is started by the test (its own data directory and port), as the
`postgres` user when the suite runs as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, select, text

from jobs import pitr
from shared import migrations
from shared.wal_archive import ArchiveState, _segment_end
from tests.conftest import free_port, reset_process_state
from tests.s3_tls import TlsMotoServer
from tests.test_backup_encryption import erase
from tests.test_jobs_backup import _factoria, run_job, seed_person

STANZA = "lf"


def as_cluster_user(*args: str) -> None:
    subprocess.run(pitr._as_cluster_user(list(args)), check=True, capture_output=True, timeout=120)


@pytest.fixture
def s3():
    import boto3

    server = TlsMotoServer().start()
    server.bucket = f"lf-wal-{secrets.token_hex(4)}"  # moto's state is per process, shared by its servers
    boto3.client("s3", endpoint_url=server.plain_endpoint, aws_access_key_id="testing",
                 aws_secret_access_key="testing", region_name="us-east-1").create_bucket(Bucket=server.bucket)
    yield server
    server.stop()


@pytest.fixture
def cluster(s3, env, monkeypatch):
    root = Path(tempfile.mkdtemp(prefix="lf-pitr-test-"))
    if os.geteuid() == 0:
        shutil.chown(root, pitr.CLUSTER_USER, pitr.CLUSTER_USER)
    port = free_port()
    conf = root / "pgbackrest.conf"
    conf.write_text(f"""[global]
repo1-type=s3
repo1-s3-bucket={s3.bucket}
repo1-s3-endpoint=127.0.0.1
repo1-storage-port={s3.port}
repo1-storage-verify-tls=n
repo1-s3-uri-style=path
repo1-s3-region=us-east-1
repo1-s3-key=testing
repo1-s3-key-secret=testing
repo1-path=/pgbackrest
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass={secrets.token_hex(16)}
repo1-retention-full=2
compress-type=lz4
log-path={root}
lock-path={root}
spool-path={root}
log-level-console=warn
log-level-file=off
start-fast=y

[{STANZA}]
pg1-path={root / 'data'}
pg1-socket-path={root}
pg1-port={port}
""")
    if os.geteuid() == 0:
        shutil.chown(conf, pitr.CLUSTER_USER, pitr.CLUSTER_USER)
    monkeypatch.setenv("PGBACKREST_CONFIG", str(conf))
    data = root / "data"
    as_cluster_user(pitr.pg_tool("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    with open(data / "postgresql.conf", "a") as fh:
        fh.write(f"""
port = {port}
listen_addresses = '127.0.0.1'
unix_socket_directories = '{root}'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config={conf} --stanza={STANZA} archive-push %p'
archive_timeout = 60
fsync = off
""")
    as_cluster_user(pitr.pg_tool("pg_ctl"), "-D", str(data), "-l", str(root / "pg.log"), "-w", "start")
    admin = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE factoria"))
    admin.dispose()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/factoria"
    env(database_url=url, pitr_stanza=STANZA)
    pitr.pgbackrest(STANZA, "stanza-create")
    restored: list[Path] = []
    try:
        yield SimpleNamespace(url=url, port=port, root=root, restored=restored)
    finally:
        reset_process_state()
        for folder in [*restored, data]:
            if (folder / "postmaster.pid").exists():
                subprocess.run(pitr._as_cluster_user([pitr.pg_tool("pg_ctl"), "-D", str(folder), "-m",
                                                      "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _count_users(url: str) -> set[str]:
    from shared.models import User

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(select(User.id)))
    finally:
        engine.dispose()


def _wait_archived(url: str) -> None:
    """Switch WAL and wait (bounded) until PostgreSQL says the segment is archived: an event, not a clock."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            segment = conn.execute(text("SELECT pg_walfile_name(pg_switch_wal())")).scalar_one()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                done = conn.execute(text("SELECT last_archived_wal >= :s FROM pg_stat_archiver"),
                                    {"s": segment}).scalar()
                if done:
                    return
                time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError(f"WAL segment {segment} not archived within 60 s")


def test_restore_to_a_chosen_second_recovers_exactly_the_writes_before_it(cluster):
    from shared import health_checks

    migrations.upgrade(cluster.url)
    backup = pitr.base_backup(STANZA)  # what the database image's schedule runs
    engine = create_engine(cluster.url)
    # pgBackRest records a backup's stop time in whole seconds and compares a recovery target with it
    # at that precision: the writes start once the server's clock is a full second past it (at most ~2 s).
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while conn.execute(text("SELECT clock_timestamp() <= :stop + interval '1 second'"),
                           {"stop": backup.newest_backup_at}).scalar_one():
            assert time.monotonic() < deadline, "the server clock never passed the backup's stop time"
            time.sleep(0.05)
    first = [seed_person() for _ in range(3)]
    with engine.connect() as conn:
        noted = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    engine.dispose()
    later = [seed_person() for _ in range(2)]
    erase(first[0])  # after the noted time: only the store's erasure ledger remembers it after a restore
    _wait_archived(cluster.url)
    [wal] = health_checks.check_wal_archive()
    assert wal["status"] == "pass" and wal["observedValue"] < 60, wal
    assert not _wal_finding().firing

    port = free_port()
    target = f"postgresql+psycopg://postgres@127.0.0.1:{port}/factoria"
    pg_data = cluster.root / "restored"
    cluster.restored.append(pg_data)
    proc = _factoria("backup", "restore", "--to-time", noted.isoformat(), "--pg-data", str(pg_data),
                     "--to", target)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "restored" and out["erasures_reapplied"] == 1, out
    assert _count_users(target) == set(first[1:])  # exactly the first writes, minus the erased person
    assert not set(later) & _count_users(target)


def _wal_finding():
    from jobs.alert_rules import Evaluation, wal_archive_stale
    from shared.database import session_scope
    from shared.settings import get_settings

    with session_scope() as session:
        [finding] = wal_archive_stale(Evaluation(session, datetime.now(timezone.utc), get_settings()))
    assert finding.rule == "wal_archive_stale" and finding.severity == "error"
    return finding


def test_wal_archive_stale_fires_on_a_server_that_archives_nothing(pg, env):
    """The suite's own PostgreSQL has archive_mode off: with PITR_STANZA set that is an error alert and a
    /health warning; without PITR_STANZA the rule stays silent."""
    from jobs.alert_rules import Evaluation, wal_archive_stale
    from shared import health_checks
    from shared.database import session_scope
    from shared.settings import get_settings

    env(pitr_stanza=STANZA)
    finding = _wal_finding()
    assert finding.firing and "archive_mode is off" in finding.observed
    assert health_checks.check_wal_archive()[0]["status"] == "warn"
    env(pitr_stanza=None)
    with session_scope() as session:
        assert wal_archive_stale(Evaluation(session, datetime.now(timezone.utc), get_settings())) == []
    assert health_checks.check_wal_archive()[0]["status"] == "pass"  # development: not configured


def test_backup_verify_checks_the_wal_chain_and_restores_the_newest_point(cluster, s3):
    import boto3

    migrations.upgrade(cluster.url)
    pitr.base_backup(STANZA)
    seed_person()
    _wait_archived(cluster.url)
    assert run_job("backup")[0] == 0
    code, summary = run_job("backup-verify")
    assert code == 0, summary.get("failures")
    assert summary["pitr"]["base_backups"] == 1 and summary["pitr"]["restored_rows"] >= 1, summary
    # A WAL segment gone from the bucket: the chain is broken, and verification says so.
    client = boto3.client("s3", endpoint_url=s3.plain_endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    wal = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3.bucket, Prefix="pgbackrest/archive/")["Contents"]
                 if len(Path(o["Key"]).name) > 40)
    assert len(wal) >= 3, wal
    client.delete_object(Bucket=s3.bucket, Key=wal[len(wal) // 2])
    code, summary = run_job("backup-verify")
    assert code == 1 and "wal_chain_broken" in summary["reasons"], summary


@pytest.mark.parametrize("state, stale", [
    (ArchiveState(True, 30.0, 1000, False), False),  # fresh
    (ArchiveState(True, 900.0, 0, False), False),  # idle: nothing at risk
    (ArchiveState(True, 900.0, 1000, False), True),  # behind the RPO
    (ArchiveState(True, 30.0, 0, True), True),  # failing now
    (ArchiveState(False, None, 0, False), True),  # archiving off
    (ArchiveState(True, None, 1000, False), True),  # never archived, WAL waiting
])
def test_wal_archive_staleness(state, stale):
    assert state.stale(300) is stale
    assert (state.describe(300) != "") is True


def test_segment_end_lsn():
    assert _segment_end("000000010000000000000004", 16 * 1024 * 1024) == 5 * 16 * 1024 * 1024
    assert _segment_end("0000000100000002000000FF", 16 * 1024 * 1024) == 3 * 2**32


def test_wal_gaps_found_within_each_timeline():
    names = [f"15-1/0000000100000000/00000001000000000000000{i}-{'a' * 40}.lz4" for i in (1, 2, 4)]
    names += ["00000002.history", f"15-1/0000000200000000/000000020000000000000005-{'b' * 40}.lz4",
              f"15-1/0000000100000001/000000010000000100000000-{'c' * 40}.lz4"]
    assert pitr.wal_gaps(names)[:1] == ["000000010000000000000003"]
    assert "0000000100000000000000FF" in pitr.wal_gaps(names)
    contiguous = [f"x/0000000100000000000000FF-{'a' * 40}", f"x/000000010000000100000000-{'a' * 40}"]
    assert pitr.wal_gaps(contiguous) == []


@pytest.mark.parametrize("args, env_extra, message", [
    (["--to-time", "2026-12-04T10:15:00Z", "--pg-data", "/tmp/x"], {}, "needs PITR_STANZA"),
    (["--to-time", "2026-12-04T10:15:00Z"], {"PITR_STANZA": "lf"}, "needs both --to-time and --pg-data"),
    (["--to-time", "2026-12-04T10:15:00Z", "--pg-data", "/tmp/x"], {"PITR_STANZA": "lf"}, "local host"),
    (["--to-time", "2026-12-04T10:15:00", "--pg-data", "/tmp/x"], {"PITR_STANZA": "lf"}, "time zone"),
])
def test_point_in_time_restore_refuses_bad_usage_with_one_line(args, env_extra, message):
    target = "postgresql://app:hunter2secret@db.example.org:5432/x"
    proc = _factoria("backup", "restore", *args, "--to", target, env_extra=env_extra)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "hunter2secret" not in proc.stdout + proc.stderr
