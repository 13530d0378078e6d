"""Schema changes that never lock the platform's tables for long, for use inside revisions.

- `create_index`: on PostgreSQL `CREATE INDEX CONCURRENTLY`, outside the revision's
  transaction (Alembic's autocommit block), so reads and writes go on while it builds.
  A build that failed half-way leaves an INVALID index; it is dropped and rebuilt, so
  re-running the revision after a lock timeout is safe.
- `add_foreign_key`: `NOT VALID` first (a brief lock, no scan), then `VALIDATE CONSTRAINT`,
  which scans under a lock that lets reads and writes continue.

- `lock_tables`: a revision that alters several busy tables takes all their locks first,
  each wait shorter than PostgreSQL's `deadlock_timeout`: a request holding one of the
  tables and wanting another then never meets a revision holding the other (a deadlock
  whose victim could be the request, a 500); the revision gives up first and is retried.

Elsewhere (SQLite) these are the plain operations (or nothing). Every lock wait is bounded by the
runner's `lock_timeout` (shared/migrations/__init__.py).
"""

from __future__ import annotations

from typing import Any

from alembic import op
from sqlalchemy import text


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def if_missing() -> bool | None:
    """`if_not_exists` for steps a revision may find done when it is retried (PostgreSQL; SQLite
    revisions run whole in one transaction)."""
    return True if _postgres() else None


def lock_tables(*tables: str) -> None:
    """ACCESS EXCLUSIVE on `tables`, in the order given (the order requests use them), before any DDL."""
    if not _postgres():
        return
    bind = op.get_bind()
    deadlock_ms: int = bind.execute(
        text("SELECT setting::int FROM pg_settings WHERE name = 'deadlock_timeout'")).scalar_one()
    current: int | None = bind.execute(text("SELECT setting::int FROM pg_settings WHERE name = 'lock_timeout'")).scalar()
    wait = max(1, min(current or deadlock_ms, deadlock_ms // 2))
    bind.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": f"{wait}ms"})
    names = ", ".join(f'"{t}"' for t in tables)
    bind.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))
    bind.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": f"{current}ms"})


def create_index(name: str, table: str, columns: list[str], *, unique: bool = False) -> None:
    if not _postgres():
        op.create_index(name, table, columns, unique=unique)
        return
    with op.get_context().autocommit_block():
        invalid = op.get_bind().execute(text(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :n AND NOT i.indisvalid"), {"n": name}).first()
        if invalid:
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
        op.create_index(name, table, columns, unique=unique, postgresql_concurrently=True, if_not_exists=True)


def drop_index(name: str, table: str) -> None:
    if not _postgres():
        op.drop_index(name, table_name=table)
        return
    with op.get_context().autocommit_block():
        op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)


def add_foreign_key(name: str, source: str, referent: str, local_cols: list[str], remote_cols: list[str],
                    **kw: Any) -> None:  # Alembic's create_foreign_key options (ondelete=...)
    if not _postgres():
        with op.batch_alter_table(source) as batch_op:
            batch_op.create_foreign_key(name, referent, local_cols, remote_cols, **kw)
        return
    op.create_foreign_key(name, source, referent, local_cols, remote_cols, postgresql_not_valid=True, **kw)
    op.execute(f'ALTER TABLE "{source}" VALIDATE CONSTRAINT "{name}"')
