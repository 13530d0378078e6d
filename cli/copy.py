"""`factoria db copy --to URL`: the embedded SQLite data into a fresh PostgreSQL database.

The step from a first local run to production. A backup cannot do it (a
SQLite dump restores only into SQLite), so the rows are copied table by
table through the data model itself, parents before children:

1. the source must be SQLite at this release's schema head (`factoria db upgrade` first);
2. the target must be PostgreSQL holding no tables; a database that does not
   exist yet is created (and dropped again if the copy fails);
3. the target gets the schema from the migrations, then every row in batches,
   in ONE transaction on the target (all or nothing), read from one
   consistent snapshot of the source;
4. identity sequences are moved past the copied ids, and the row counts of
   both sides are compared before the commit.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, Table

BATCH = 1000


class CopyError(Exception):
    """Bad usage: the message says what to do (exit 2)."""


def _count(conn: Connection, table: Table) -> int:
    from sqlalchemy import func, select

    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def copy_database(source: str, target: str, *, progress: bool = False) -> dict[str, Any]:
    """Copy every table of `source` (SQLite) into `target` (empty PostgreSQL); returns what was copied."""
    from cli.backup import drop_created, target_problem
    from jobs.dump import DumpError, backend_of, safe_url, sqlite_path
    from shared import migrations
    from shared.database import make_engine
    from shared.models import Base

    try:
        if backend_of(source) != "sqlite":
            raise CopyError("DATABASE_URL must be the embedded SQLite database to copy from")
        if backend_of(target) != "postgresql":
            raise CopyError("--to must be a PostgreSQL URL (postgresql://user:password@host/dbname)")
        if not sqlite_path(source).exists():
            raise CopyError(f"{safe_url(source)} does not exist: nothing to copy")
    except DumpError as exc:
        raise CopyError(str(exc)) from None
    src = make_engine(source, pool_size=1)
    try:
        with src.connect() as conn:
            revision = migrations.current_revision(conn)
        if revision != migrations.head_revision():
            raise CopyError(f"the source is at schema {revision}, this release at {migrations.head_revision()}: "
                            "run `factoria db upgrade` first")
        problem, created = target_problem(target)
        if problem:
            raise CopyError(f"refusing to copy into {safe_url(target)}: {problem}")
        try:
            migrations.upgrade(target, revision)
            counts = _copy_rows(src, target, Base.metadata.sorted_tables, progress)
        except Exception:
            if created:  # leave no half-made database behind
                drop_created(target)
            raise
    finally:
        src.dispose()
    return {"status": "copied", "source": safe_url(source), "target": safe_url(target), "created": created,
            "schema_revision": revision, "tables": counts}


def _copy_rows(src: Engine, target: str, tables: Sequence[Table], progress: bool) -> dict[str, int]:
    from sqlalchemy import select, text

    from shared.database import make_engine

    dst = make_engine(target, pool_size=1)
    counts: dict[str, int] = {}
    try:
        with src.connect() as s_conn, dst.begin() as d_conn:
            s_conn.exec_driver_sql("BEGIN")  # one snapshot of the source for every table
            total = sum(_count(s_conn, t) for t in tables)
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=total, desc="copying rows", unit="row", file=sys.stderr)
            for table in tables:
                rows = s_conn.execute(select(table)).mappings()
                n = 0
                while batch := rows.fetchmany(BATCH):
                    d_conn.execute(table.insert(), [dict(r) for r in batch])
                    n += len(batch)
                    if bar is not None:
                        bar.update(len(batch))
                counts[table.name] = n
            if bar is not None:
                bar.close()
            for table in tables:  # identity columns continue after the copied ids
                for column in table.primary_key.columns:
                    if column.type.python_type is int:
                        d_conn.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                            f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false) "
                            f"WHERE pg_get_serial_sequence('{table.name}', '{column.name}') IS NOT NULL"))
            copied = {t.name: _count(d_conn, t) for t in tables}
            if copied != counts:
                raise RuntimeError("row counts differ after the copy; nothing was committed")
    finally:
        dst.dispose()
    return counts
