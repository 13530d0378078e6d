"""`backup-verify`: prove the newest backup can be restored, every day.

A backup nobody has restored is a hope, not a backup. For the newest
timestamp folder this checks, naming each failure with its own reason:

- `no_backup`, `incomplete` (no manifest), `manifest_invalid` (unreadable, fields missing),
- `stale` (older than `BACKUP_MAX_AGE_HOURS`), `too_small` (under `BACKUP_MIN_BYTES`),
- `dump_missing`, `truncated`, `size_mismatch`, `checksum_mismatch` (sha256 against the manifest),
  `not_encrypted` (the manifest says age, the object is not),
- `restore_failed`: a real restore into a scratch database (PostgreSQL: CREATE DATABASE
  on the same server, `pg_restore`, DROP ... WITH (FORCE); SQLite: a temp file),
- `schema_revision_mismatch`, `row_count_mismatch` against the manifest,
- `erased_person_present`: past erasures from the ledger are re-applied and no erased
  person may remain anywhere.

With `PITR_STANZA` set, point-in-time recovery is verified too:

- `wal_chain_broken`: `pgbackrest verify` finds a backup or WAL segment missing or damaged,
- `pitr_restore_failed`: restoring the cluster to the newest archived WAL into a scratch
  directory (started on a free local port, then stopped and removed) fails, and
  `erased_person_present` if an erased person is still there after re-applying erasures.

Any failure raises the critical `backup-verify` alert and exits 1; a clean
verification resolves it. A dump (or erasure ledger entry) that no key in
`BACKUP_ENCRYPTION_KEYS` opens raises the alert too and exits 2 (`key_missing`):
the backup may be fine, the settings are not. Erasures re-applied are the
restored database's, the live database's and the backup store's ledger
(shared/erasure/offsite.py).
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.backup_catalog import ManifestError, list_backups
from jobs.backup_restore import RESTORE_STAGES, Failure, compare, fetch_checked, load_manifest, restore_with_erasures
from jobs.dump import DumpError, scratch_database
from jobs.runner import JobConfigError, JobContext, JobResult

if TYPE_CHECKING:
    from jobs.erasure_replay import LedgerEntry
    from shared.settings import Settings

ALERT_RULE = "backup-verify"


def _fail(ctx: JobContext, failures: list[Failure], **summary: Any) -> JobResult:
    reasons = [f.reason for f in failures]
    message = f"Backup verification failed: {', '.join(reasons)}"
    if not ctx.dry_run:
        ctx.alert(ALERT_RULE, "critical", message, {"failures": [f.as_dict() for f in failures], **summary})
    for failure in failures:
        ctx.log.error("backup verification failed", extra=failure.as_dict())
    return JobResult.problem(reasons=reasons, failures=[f.as_dict() for f in failures], **summary)


def _verify_pitr(settings: Settings, stanza: str, ledger: list[LedgerEntry], summary: dict[str, Any]) -> list[Failure]:
    """The WAL chain (pgBackRest's verify) and a real restore to the newest archived point."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from jobs import pitr
    from jobs.dump import read_snapshot
    from jobs.erasure_replay import reapply
    from shared.database import make_engine

    try:
        pitr.verify_archive(stanza)
        archive = pitr.info(stanza)
    except pitr.PitrError as exc:
        return [Failure("wal_chain_broken", str(exc))]
    summary["pitr"] = {"base_backups": archive.backups, "wal_max": archive.wal_max,
                       "newest_base_backup": archive.newest_backup_at.isoformat() if archive.newest_backup_at
                       else None}
    if not archive.backups:
        return [Failure("pitr_restore_failed", "no base backup in the pgBackRest repository")]
    port = pitr.free_port()
    try:
        with pitr.scratch_cluster(stanza, None, port):
            url = (make_url(settings.session_database_url).set(host="127.0.0.1", port=port)
                   .render_as_string(hide_password=False))
            pitr.wait_promoted(url)
            engine = make_engine(url, pool_size=1)
            try:
                with engine.connect() as conn:
                    restored = read_snapshot(conn)
                replay = reapply(engine, ledger)
            finally:
                engine.dispose()
    except pitr.PitrError as exc:
        return [Failure("pitr_restore_failed", str(exc))]
    except SQLAlchemyError as exc:
        return [Failure("pitr_restore_failed", f"restored cluster: {type(exc).__name__}")]
    summary["pitr"].update(restored_rows=sum(restored.tables.values()), erasures_reapplied=replay.erased)
    if replay.residue:
        return [Failure("erased_person_present", "after point-in-time recovery an erased person is still "
                        "present, in: " + ", ".join(replay.residue))]
    return []


def run(ctx: JobContext) -> JobResult:
    from sqlalchemy.exc import SQLAlchemyError

    from shared.backup_crypto import Keyring, MissingKeyError
    from shared.database import get_engine, is_postgres
    from shared.storage import StoreError, open_store

    settings = ctx.settings
    try:
        store = open_store(settings.backup_url)
        entries = list_backups(store)
    except StoreError as exc:
        return _fail(ctx, [Failure("store_unreachable", str(exc))])
    if not entries:
        return _fail(ctx, [Failure("no_backup", f"no backup in {store.url}")])
    entry = entries[-1]
    summary: dict[str, Any] = {"backup_id": entry.id}
    if not entry.complete:
        return _fail(ctx, [Failure("incomplete", "the newest backup has no manifest")], **summary)
    try:
        manifest = load_manifest(store, entry)
    except (ManifestError, StoreError) as exc:
        return _fail(ctx, [Failure("manifest_invalid", str(exc))], **summary)

    failures: list[Failure] = []
    age_h = (datetime.now(timezone.utc) - manifest.created_at).total_seconds() / 3600
    summary["age_hours"] = round(age_h, 2)
    if age_h > settings.backup_max_age_hours:
        failures.append(Failure("stale", f"newest backup is {age_h:.1f} h old "
                                         f"(limit {settings.backup_max_age_hours:g} h)"))
    if manifest.database == "postgresql" and not is_postgres():
        raise JobConfigError("verifying a PostgreSQL backup needs DATABASE_URL on a PostgreSQL server "
                             "(the scratch database is created there)")
    if ctx.dry_run:
        ctx.emit({"would_verify": entry.id, "database": manifest.database, "size": manifest.size})
        return _fail(ctx, failures, **summary) if failures else JobResult.ok(**summary, would_restore=True)

    from jobs.erasure_replay import read_ledger, stored_ledger

    keyring = Keyring.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="lf-verify-") as tmp, ctx.stages(RESTORE_STAGES) as stages:
        dump = Path(tmp) / manifest.file
        ledger = []
        try:
            integrity = fetch_checked(store, entry, manifest, dump, keyring, min_bytes=settings.backup_min_bytes,
                                      stages=stages)
            ledger = read_ledger(get_engine()) + stored_ledger(store, keyring)
        except StoreError as exc:
            integrity = [Failure("dump_missing", str(exc))]
        except MissingKeyError as exc:
            ctx.alert(ALERT_RULE, "critical", f"Backup verification failed: {exc}",
                      {"backup_id": entry.id, "reasons": ["key_missing"]})
            raise JobConfigError(str(exc)) from None
        failures += integrity
        if not integrity:  # never restore a dump known to be damaged
            try:
                server = settings.session_database_url if manifest.database == "postgresql" else None
                with scratch_database(manifest.database, server) as scratch_url:
                    outcome = restore_with_erasures(dump, manifest, scratch_url, ledger, stages)
            except DumpError as exc:
                failures.append(Failure("restore_failed", str(exc)))
            except SQLAlchemyError as exc:
                failures.append(Failure("restore_failed", f"scratch database: {type(exc).__name__}"))
            else:
                stages.step("compare")
                failures += compare(manifest, outcome)
                summary.update(restored_rows=sum(outcome.snapshot.tables.values()),
                               schema_revision=outcome.snapshot.schema_revision,
                               erasures_reapplied=outcome.replay.erased)
    if settings.pitr_stanza and not ctx.dry_run:
        failures += _verify_pitr(settings, settings.pitr_stanza, ledger, summary)
    if failures:
        return _fail(ctx, failures, **summary)
    ctx.resolve(ALERT_RULE, f"Backup {entry.id} verified by restore")
    return JobResult.ok(**summary, database=manifest.database, size=manifest.size)
