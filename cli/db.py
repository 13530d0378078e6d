"""`factoria db upgrade|downgrade|current`."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("db", help="database migrations")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dsub.add_parser("upgrade", help="apply migrations up to REVISION (default head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_upgrade)
    down = dsub.add_parser("downgrade", help="revert migrations down to REVISION")
    down.add_argument("revision")
    down.set_defaults(func=_downgrade)
    cur = dsub.add_parser("current", help="print the database's revision and the code's head as JSON")
    cur.set_defaults(func=_current)


def _upgrade(args) -> int:
    from shared import migrations

    migrations.upgrade(revision=args.revision)
    return 0


def _downgrade(args) -> int:
    from shared import migrations

    migrations.downgrade(revision=args.revision)
    return 0


def _current(args) -> int:
    from shared import migrations
    from shared.database import get_engine

    with get_engine().connect() as conn:
        current = migrations.current_revision(conn)
    print(json.dumps({"current": current, "head": migrations.head_revision()}))
    return 0
