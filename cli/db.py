"""`factoria db upgrade|downgrade|current|copy`.

`upgrade` exits 3 with one line when a revision cannot get its table lock
within MIGRATION_LOCK_TIMEOUT_MS after MIGRATION_LOCK_RETRIES retries: the
revisions before it stay applied, nothing of it is, and the deploy stops
before any new code serves (shared/migrations/__init__.py).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from cli.main import Subcommands


def register(sub: Subcommands) -> None:
    p = sub.add_parser("db", help="database migrations and moving data to PostgreSQL")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dsub.add_parser("upgrade", help="apply migrations up to REVISION (default head) and say which ran")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default head)")
    up.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    up.set_defaults(func=_upgrade)
    down = dsub.add_parser("downgrade", help="revert migrations down to REVISION")
    down.add_argument("revision", help="target revision ('base' for an empty schema)")
    down.set_defaults(func=_downgrade)
    cur = dsub.add_parser("current", help="print the database's revision and the code's head as JSON")
    cur.set_defaults(func=_current)
    cp = dsub.add_parser("copy", help="copy every row of DATABASE_URL (the embedded SQLite) into a fresh "
                         "PostgreSQL database")
    cp.add_argument("--to", dest="target", required=True, metavar="DATABASE_URL",
                    help="the PostgreSQL database to fill (created if missing; must hold no tables)")
    cp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    cp.set_defaults(func=_copy)


def _current_of(url: str | None = None) -> str | None:
    from shared import migrations
    from shared.database import get_engine, make_engine

    engine = make_engine(url, pool_size=1) if url else get_engine()
    try:
        with engine.connect() as conn:
            return migrations.current_revision(conn)
    finally:
        if url:
            engine.dispose()


def _upgrade(args: argparse.Namespace) -> int:
    from shared import migrations

    before = _current_of()
    try:
        migrations.upgrade(revision=args.revision)
    except migrations.MigrationLockTimeout as exc:
        print(f"factoria db upgrade: {exc}", file=sys.stderr)
        return 3
    after = _current_of()
    applied = migrations.revisions_between(before, after)
    result = {"from": before, "to": after, "applied": [{"revision": r, "title": t} for r, t in applied]}
    if args.json:
        print(json.dumps(result))
    elif applied:
        print(f"applied {len(applied)} migration(s), database now at {after}:")
        for rev, title in applied:
            print(f"  {rev}  {title}")
    else:
        print(f"database already at {after}; nothing to apply")
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    from shared import migrations

    before = _current_of()
    migrations.downgrade(revision=args.revision)
    print(f"database at {_current_of()} (was {before})")
    return 0


def _current(args: argparse.Namespace) -> int:
    from shared import migrations

    print(json.dumps({"current": _current_of(), "head": migrations.head_revision()}))
    return 0


def _copy(args: argparse.Namespace) -> int:
    from cli.copy import CopyError, copy_database
    from jobs.dump import safe_url
    from shared.settings import get_settings

    source = get_settings().database_url
    target = args.target.replace("postgres://", "postgresql://", 1)
    try:
        result = copy_database(source, target, progress=sys.stderr.isatty() and not args.json)
    except CopyError as exc:
        print(f"factoria db copy: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        print(f"copied {sum(result['tables'].values())} rows in {len(result['tables'])} tables from "
              f"{safe_url(source)} to {safe_url(target)} (schema {result['schema_revision']})")
        if result["created"]:
            print("the target database did not exist and was created")
        print(f"next: set DATABASE_URL={safe_url(target)} and keep the SQLite file until you have checked it")
    return 0
