"""`factoria backup restore [BACKUP_ID] --to DATABASE_URL`, `factoria backup list`, `factoria backup keygen`.

Restores a backup from `BACKUP_URL` (default: the newest complete one) into
the target database, refusing a dump whose size or sha256 does not match its
manifest, decrypts it with `BACKUP_ENCRYPTION_KEYS` (age; any key of the
keyring), then re-applies every erasure in the erasure ledger so nobody who
asked to be forgotten comes back. The ledger is read from the restored data,
from the backup store's append-only copy (`erasures/`, written at each
erasure: it outlives the database) and, when it is reachable, from the
current `DATABASE_URL` too.

The target must be empty: a PostgreSQL database that does not exist yet is
created; one that already holds tables is refused, so a typo never overwrites
production. A restored PostgreSQL database is then vacuumed and analysed
(`VACUUM (ANALYZE, INDEX_CLEANUP ON)`): the re-applied erasures leave dead
tuples that still hold the people they erased, and pg_restore leaves no
planner statistics. Afterwards run `factoria db upgrade` against the target if
this release's schema is newer than the backup's.

Exit codes: 0 restored; 1 the backup is damaged or an erased person remains;
2 bad usage (unknown backup, target not empty, incompatible database, no key
in BACKUP_ENCRYPTION_KEYS opens the backup or a ledger entry); 3 the store is unreachable.

`keygen` prints a new age identity as its last line (and its public recipient
on stderr): put it first in BACKUP_ENCRYPTION_KEYS and keep the old keys after
it for as long as backups made with them are kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from jobs.erasure_replay import LedgerEntry
    from cli.main import Subcommands


def register(sub: Subcommands) -> None:
    p = sub.add_parser("backup", help="list backups and restore one")
    bsub = p.add_subparsers(dest="backup_command", metavar="ACTION", required=True)
    r = bsub.add_parser("restore", help="restore a backup (default the newest) into an empty database")
    r.add_argument("backup_id", nargs="?", metavar="BACKUP_ID", help="timestamp folder name; default the newest")
    r.add_argument("--to", dest="target", required=True, metavar="DATABASE_URL",
                   help="target database (postgresql://... or sqlite:///path); must be empty; a missing "
                   "PostgreSQL database is created")
    r.add_argument("--to-time", dest="to_time", type=_utc_time, metavar="TIME",
                   help="point-in-time recovery (needs PITR_STANZA): restore the whole cluster as it was at "
                   "TIME (ISO 8601 with a zone, e.g. 2026-12-04T10:15:00Z) into --pg-data, start it on the "
                   "host and port of --to, then re-apply erasures in the database --to names")
    r.add_argument("--pg-data", dest="pg_data", metavar="DIR",
                   help="with --to-time: a new, empty directory for the restored cluster's data")
    r.set_defaults(func=_restore)
    ls = bsub.add_parser("list", help="list backups in BACKUP_URL as JSON lines")
    ls.set_defaults(func=_list)
    kg = bsub.add_parser("keygen", help="print a new backup encryption key (age identity) as the last line")
    kg.set_defaults(func=_keygen)


def _out(record: dict) -> None:
    print(json.dumps(record, default=str), flush=True)


def _err(message: str, code: int) -> int:
    print(f"factoria backup: {message}", file=sys.stderr)
    _out({"status": "error", "error": message})
    return code


def _utc_time(value: str) -> datetime:
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time zone (e.g. ...T10:15:00Z)")
    return parsed


def _list(args: argparse.Namespace) -> int:
    from jobs.backup_catalog import list_backups
    from shared.settings import get_settings
    from shared.storage import open_store

    for entry in list_backups(open_store(get_settings().backup_url)):
        _out({"backup_id": entry.id, "complete": entry.complete,
              "bytes": sum(o.size for o in entry.objects.values())})
    return 0


def _keygen(args: argparse.Namespace) -> int:
    from shared.backup_crypto import generate_key

    identity, recipient = generate_key()
    print(f"public recipient: {recipient}", file=sys.stderr)
    print("put this first in BACKUP_ENCRYPTION_KEYS (comma-separated, newest first); keep older keys after it",
          file=sys.stderr)
    print(identity, flush=True)
    return 0


def target_problem(url: str) -> tuple[str | None, bool]:
    """(why `url` cannot receive a restore or None, whether a missing PostgreSQL database was created)."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from jobs.dump import backend_of, create_pg_database, sqlite_path
    from shared.database import make_engine

    if backend_of(url) == "sqlite":
        path = sqlite_path(url)
        return (f"{path} already exists" if path.exists() and path.stat().st_size else None), False
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
        return (f"target database already has {len(tables)} tables" if tables else None), False
    except OperationalError as exc:
        if "does not exist" not in str(exc.orig):
            return "target database unreachable", False
    finally:
        engine.dispose()
    from jobs.dump import safe_url

    name = make_url(url).database
    if not name:  # the server's default database is missing: no name to create one under
        return "target URL names no database", False
    print(f"factoria: {safe_url(url)} does not exist; creating it", file=sys.stderr, flush=True)
    create_pg_database(_maintenance_url(url), name)
    return None, True


def drop_created(url: str) -> None:
    """Drop the PostgreSQL database `url` names, one `target_problem` created (so it names one)."""
    from sqlalchemy.engine import make_url

    from jobs.dump import drop_pg_database

    name = make_url(url).database
    if name:
        drop_pg_database(_maintenance_url(url), name)


def _maintenance_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def _live_ledger(target: str) -> list[LedgerEntry]:
    """The erasure ledger of the current DATABASE_URL, or [] if it is unreachable (disaster recovery)."""
    from jobs.erasure_replay import read_ledger
    from shared.database import make_engine
    from shared.logs import get_logger
    from shared.settings import get_settings

    live = get_settings().database_url
    if live == target:
        return []
    if live.startswith("sqlite"):
        from jobs.dump import sqlite_path

        if not sqlite_path(live).exists():  # never create an empty database just to read a ledger
            return []
    engine = make_engine(live, pool_size=1)
    try:
        return read_ledger(engine)
    except Exception as exc:  # noqa: BLE001 - restoring must work when the live database is gone
        get_logger("lafactoria.cli.backup").warning(
            "live erasure ledger unreachable; re-applying the backup's and the store's ledgers",
            extra={"error": type(exc).__name__})
        return []
    finally:
        engine.dispose()


def _restore(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from jobs.backup_catalog import ManifestError, list_backups
    from jobs.backup_restore import RESTORE_STAGES, compare, fetch_checked, load_manifest, restore_with_erasures
    from jobs.erasure_replay import stored_ledger
    from jobs.progress import Stages, on_terminal
    from jobs.dump import DumpError, backend_of, safe_url
    from shared.backup_crypto import Keyring, MissingKeyError
    from shared.settings import get_settings
    from shared.storage import StoreError, open_store

    target = args.target.replace("postgres://", "postgresql://", 1)
    if args.to_time is not None or args.pg_data:
        return _restore_to_time(args, target)
    try:
        backend_of(target)
        store = open_store(get_settings().backup_url)
        entries = [e for e in list_backups(store) if e.complete]
    except (DumpError, StoreError) as exc:
        return _err(str(exc), 2)
    if args.backup_id:
        entries = [e for e in entries if e.id == args.backup_id]
    if not entries:
        return _err("no such backup" if args.backup_id else "no complete backup in the store", 2)
    entry = entries[-1]
    try:
        manifest = load_manifest(store, entry)
    except (ManifestError, StoreError) as exc:
        return _err(f"backup {entry.id}: {exc}", 1)
    if backend_of(target) != manifest.database:
        hint = ("; to move the embedded SQLite data into PostgreSQL use `factoria db copy --to URL`"
                if manifest.database == "sqlite" else "")
        return _err(f"a {manifest.database} backup cannot be restored into a {backend_of(target)} database"
                    + hint, 2)
    problem, created = target_problem(target)
    if problem:
        return _err(f"refusing to restore into {safe_url(target)}: {problem}", 2)
    keyring = Keyring.from_settings()
    try:
        # Before touching the target: the store's ledger must be readable, or nobody erased since the
        # backup could be forgotten again.
        ledger = stored_ledger(store, keyring) + _live_ledger(target)
    except StoreError as exc:
        return _undo(target, created, _err(f"erasure ledger in the store unreadable: {exc}", 3))
    except MissingKeyError as exc:
        return _undo(target, created, _err(str(exc), 2))
    with tempfile.TemporaryDirectory(prefix="lf-restore-") as tmp, \
            Stages(RESTORE_STAGES, desc=f"restore {entry.id}", enabled=on_terminal()) as stages:
        dump = Path(tmp) / manifest.file
        try:
            failures = fetch_checked(store, entry, manifest, dump, keyring, stages=stages)
        except MissingKeyError as exc:
            return _undo(target, created, _err(str(exc), 2))
        error = f"backup {entry.id} is damaged: " + "; ".join(f.detail for f in failures) if failures else None
        if error is None:
            try:
                outcome = restore_with_erasures(dump, manifest, target, ledger, stages)
                stages.step("compare")
            except DumpError as exc:
                error = str(exc)
    if error is not None:
        return _undo(target, created, _err(error, 1))
    failures = compare(manifest, outcome)
    vacuumed = {"vacuumed": _vacuum(target)} if backend_of(target) == "postgresql" else {}
    _out({"status": "restored" if not failures else "problem", "backup_id": entry.id,
          "target": safe_url(target), "schema_revision": outcome.snapshot.schema_revision,
          "rows": sum(outcome.snapshot.tables.values()), "erasures_reapplied": outcome.replay.erased,
          "ledger_entries_added": outcome.replay.ledger_added, **vacuumed,
          "failures": [f.as_dict() for f in failures]})
    return 1 if failures else 0


def _restore_to_time(args: argparse.Namespace, target: str) -> int:
    """Point-in-time recovery with pgBackRest (jobs/pitr.py), then every known erasure re-applied."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from jobs import pitr
    from jobs.dump import backend_of, safe_url
    from jobs.erasure_replay import reapply, stored_ledger
    from shared.backup_crypto import Keyring, MissingKeyError
    from shared.database import make_engine
    from shared.settings import get_settings
    from shared.storage import StoreError, open_store

    settings = get_settings()
    if args.to_time is None or not args.pg_data:
        return _err("point-in-time recovery needs both --to-time and --pg-data", 2)
    if not settings.pitr_stanza:
        return _err("point-in-time recovery needs PITR_STANZA (the pgBackRest stanza)", 2)
    if backend_of(target) != "postgresql":
        return _err("point-in-time recovery restores a PostgreSQL cluster; --to must be postgresql://", 2)
    url = make_url(target)
    if url.host not in ("127.0.0.1", "localhost", "::1") or not url.port or not url.database:
        return _err("--to must name a local host, a port and a database: the restored cluster is started "
                    "here, on that port", 2)
    try:
        ledger = stored_ledger(open_store(settings.backup_url), Keyring.from_settings(settings))
        ledger += _live_ledger(target)
    except StoreError as exc:
        return _err(f"erasure ledger in the store unreadable: {exc}", 3)
    except MissingKeyError as exc:
        return _err(str(exc), 2)
    data_dir = Path(args.pg_data).resolve()
    try:
        pitr.restore_cluster(settings.pitr_stanza, data_dir, args.to_time)
        pitr.start_cluster(data_dir, url.port, host=url.host)
        pitr.wait_promoted(target)
    except pitr.PitrError as exc:
        return _err(str(exc), 1)
    engine = make_engine(target, pool_size=1)
    try:
        replay = reapply(engine, ledger)
    finally:
        engine.dispose()
    _out({"status": "restored" if not replay.residue else "problem", "to_time": args.to_time.isoformat(),
          "pg_data": str(data_dir), "target": safe_url(target), "erasures_reapplied": replay.erased,
          "ledger_entries_added": replay.ledger_added, "vacuumed": _vacuum(target),
          "failures": [{"reason": "erased_person_present", "detail": ", ".join(replay.residue)}]
          if replay.residue else [],
          "next": f"the restored cluster is running from {data_dir} on port {url.port}; stop it with "
                  f"pg_ctl -D {data_dir} stop"})
    return 1 if replay.residue else 0


def _undo(target: str, created: bool, code: int) -> int:
    """Leave no half-made database behind: drop the target if this command created it; returns `code`."""
    if created:
        drop_created(target)
    return code


def _vacuum(url: str) -> bool:
    """Vacuum and analyse the whole restored database (module docstring); False, with a warning, if it
    could not: the restore stands, and the operator runs the same statement before switching to it."""
    from shared.database import make_engine
    from shared.logs import get_logger

    engine = make_engine(url, pool_size=1, pgbouncer=False, statement_timeout_ms=0)
    try:
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE, INDEX_CLEANUP ON)")
        return True
    except Exception as exc:  # noqa: BLE001 - best effort: reported in the summary line
        get_logger("lafactoria.cli.backup").warning(
            "restored database not vacuumed; run VACUUM (ANALYZE, INDEX_CLEANUP ON) on it before use",
            extra={"error": type(exc).__name__})
        return False
    finally:
        engine.dispose()
