"""Schema migrations (Alembic), driven from code so `factoria db upgrade` works from any directory.

Each migration must work with the previous release still running (expand
first, contract in a later release): add nullable columns or columns with
server defaults, never rename or drop in the same release that stops using them.
"""

from __future__ import annotations

from pathlib import Path

from shared.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(url: str | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


MIGRATION_LOCK_KEY = 0x4C46_4D49_4752  # "LFMIGR": one migrator at a time per database


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Apply migrations. On PostgreSQL a transaction-scoped advisory lock serialises concurrent
    deploys (each service's pre-deploy command runs this); the second waits, then finds nothing to do."""
    from alembic import command

    url = url or get_settings().database_url
    if not url.startswith("postgres"):
        command.upgrade(alembic_config(url), revision)
        return
    from sqlalchemy import text

    from shared.database import make_engine

    engine = make_engine(url, pool_size=1)
    try:
        # One transaction holds the lock and every migration and ends with the commit: a transaction
        # lock is released by that commit on whichever server connection ran it, so it cannot leak
        # through PgBouncer's transaction pooling the way a session lock would.
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def downgrade(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def revisions_between(lower: str | None, upper: str | None) -> list[tuple[str, str]]:
    """(revision, title) of the migrations after `lower` up to `upper`, oldest first."""
    from alembic.script import ScriptDirectory

    if upper is None or upper == lower:
        return []
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revs = list(script.iterate_revisions(upper, lower or "base"))
    return [(r.revision, (r.doc or "").strip().splitlines()[0] if r.doc else "") for r in reversed(revs)]


def current_revision(connection) -> str | None:
    """The revision the connected database is at (None if never migrated)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
