"""`backup`: a logical dump of the database, checksummed, with a manifest, in the backup store.

Layout (DESIGN.md): `<UTC timestamp>/<dump>` then `<UTC timestamp>/manifest.json`,
written in that order so a backup without a manifest is visibly incomplete.
PostgreSQL is dumped with `pg_dump -Fc` (custom format, already compressed),
SQLite through the online backup API and gzip. With `BACKUP_ENCRYPTION_KEYS`
set the dump is encrypted client-side with age to the newest key before it
leaves the machine (`<dump>.age`; shared/backup_crypto.py). The store is
`BACKUP_URL`: a local folder or an S3-compatible bucket (server-side
encryption requested as well). The erasure ledger's rows that the store does
not hold yet (erasures older than the store's ledger) are copied there too
(shared/erasure/offsite.py).
Backups older than `BACKUP_RETENTION_DAYS` are then removed, never the newest
complete one. A failed dump or upload raises the critical `backup` alert and
exits 1; the next good backup resolves it.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.backup_catalog import MANIFEST, BackupEntry, Manifest, list_backups, new_backup_id, sha256_file
from jobs.erasure_replay import sync_ledger
from jobs.dump import DUMP_NAMES, PG_FORMAT, SQLITE_FORMAT, DumpError, backend_of, dump_postgres, dump_sqlite
from jobs.runner import JobConfigError, JobContext, JobResult

if TYPE_CHECKING:
    from shared.storage import Store

ALERT_RULE = "backup"


def expired_backups(entries: list[BackupEntry], retention_days: int, now: datetime) -> list[BackupEntry]:
    """Backups past retention; the newest complete backup is always kept, whatever its age."""
    cutoff = now - timedelta(days=retention_days)
    newest_complete = max((e.id for e in entries if e.complete), default=None)
    return [e for e in entries if e.taken_at < cutoff and e.id != newest_complete]


def _prune(ctx: JobContext, store: Store, now: datetime, *, dry_run: bool) -> list[str]:
    doomed = expired_backups(list_backups(store), ctx.settings.backup_retention_days, now)
    for entry in doomed:
        if dry_run:
            continue
        # Manifest first: a half-deleted backup must never look complete.
        for name in sorted(entry.objects, key=lambda n: n != MANIFEST):
            store.delete(entry.key(name))
        ctx.log.info("old backup removed", extra={"backup_id": entry.id})
    return [e.id for e in doomed]


def run(ctx: JobContext) -> JobResult:
    from shared.backup_crypto import Keyring
    from shared.database import get_engine
    from shared.storage import StoreError, open_store

    settings = ctx.settings
    try:
        database = backend_of(settings.database_url)
        store = open_store(settings.backup_url)
    except (DumpError, StoreError) as exc:
        raise JobConfigError(str(exc)) from None
    now = datetime.now(timezone.utc)
    backup_id = new_backup_id(now)
    keyring = Keyring.from_settings(settings)
    dump_name = DUMP_NAMES[database] + (".age" if keyring.enabled else "")

    if ctx.dry_run:
        from jobs.dump import read_snapshot

        with get_engine().connect() as conn:
            snap = read_snapshot(conn)
        would_prune = _prune(ctx, store, now, dry_run=True)
        ctx.emit({"would_write": f"{backup_id}/{dump_name}", "store": store.url, "tables": len(snap.tables)})
        return JobResult.ok(backup_id=backup_id, database=database, store=store.url, tables=snap.tables,
                            rows=sum(snap.tables.values()), schema_revision=snap.schema_revision,
                            would_remove=would_prune)

    with tempfile.TemporaryDirectory(prefix="lf-backup-") as tmp, \
            ctx.stages(["dump", "checksum", "upload", "manifest", "written"]) as stages:
        out = Path(tmp) / DUMP_NAMES[database]
        try:
            stages.step("dump")
            if database == "postgresql":
                source = settings.session_database_url  # pg_dump's snapshot needs a session, not PgBouncer
                snap = dump_postgres(get_engine(source), source, out)
            else:
                snap = dump_sqlite(settings.database_url, out)
            stages.step("checksum")
            sealed = Path(tmp) / dump_name
            if keyring.seal_file(out, sealed):
                out.unlink()
                out = sealed
            manifest = Manifest(
                file=dump_name, sha256=sha256_file(out), size=out.stat().st_size, tables=snap.tables,
                schema_revision=snap.schema_revision, created_at=now, database=database,
                format=PG_FORMAT if database == "postgresql" else SQLITE_FORMAT,
                encryption="age" if keyring.enabled else "none", recipient=keyring.recipient,
            )
            stages.step("upload")
            store.put_file(f"{backup_id}/{dump_name}", out)
            stages.step("manifest")
            store.put_bytes(f"{backup_id}/{MANIFEST}", manifest.to_json(), "application/json")
            stages.step("written")
        except (DumpError, StoreError) as exc:
            ctx.alert(ALERT_RULE, "critical", f"Backup failed: {exc}", {"backup_id": backup_id})
            return JobResult.problem(backup_id=backup_id, error=str(exc))

    ctx.log.info("backup written", extra={"backup_id": backup_id, "bytes": manifest.size})
    try:
        removed = _prune(ctx, store, now, dry_run=False)
    except StoreError as exc:  # the new backup is safe; pruning is retried tomorrow
        ctx.log.warning("could not remove old backups", extra={"error": str(exc)})
        removed = []
    try:
        synced = sync_ledger(get_engine(), store, keyring)
    except StoreError as exc:  # the live ledger still holds them; retried tomorrow
        ctx.log.warning("could not copy the erasure ledger to the store", extra={"error": str(exc)})
        synced = None
    ctx.resolve(ALERT_RULE, f"Backup {backup_id} written")
    return JobResult.ok(backup_id=backup_id, database=database, store=store.url, file=dump_name,
                        encrypted=keyring.enabled, ledger_copied=synced,
                        size=manifest.size, sha256=manifest.sha256, rows=sum(snap.tables.values()),
                        schema_revision=snap.schema_revision, removed=removed)
