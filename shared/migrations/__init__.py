"""Schema migrations (Alembic), driven from code so `factoria db upgrade` works from any directory.

Each migration must work with the previous release still running (expand
first, contract in a later release): add nullable columns or columns with
server defaults, never rename or drop in the same release that stops using them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shared.settings import get_settings

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

    from shared.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


MIGRATION_LOCK_KEY = 0x4C46_4D49_4752  # "LFMIGR": one migrator at a time per database
# lock_not_available (our lock_timeout), deadlock_detected (a request holding one table and
# wanting the other while the revision holds the reverse): the revision is rolled back; retry it.
_RETRYABLE = {"55P03", "40P01"}


class MigrationLockTimeout(RuntimeError):
    """A revision could not get its table lock within MIGRATION_LOCK_TIMEOUT_MS, retries included.
    Its transaction was rolled back: revisions before it stay applied, nothing of it is."""


def _lock_not_available(exc: BaseException) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _RETRYABLE


MIGRATOR_WAIT_SECONDS = 1800  # another deploy's migrations may run this long before this one gives up


def _wait_for_migrator_lock(conn: Connection) -> None:
    """Take the migrators' session advisory lock, polling with short statements rather than one
    waiting `pg_advisory_lock`: a waiting statement holds a snapshot, and CREATE INDEX CONCURRENTLY
    in the other migrator waits for every old snapshot to go (a deadlock)."""
    import time

    from sqlalchemy import text

    deadline = time.monotonic() + MIGRATOR_WAIT_SECONDS
    while True:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY}).scalar_one()
        conn.commit()
        if got:
            return
        if time.monotonic() > deadline:
            raise MigrationLockTimeout(f"another migrator held the migration lock for {MIGRATOR_WAIT_SECONDS} s")
        time.sleep(0.5)


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Apply migrations without ever queueing the platform's requests behind a table lock.

    On PostgreSQL:
    - each revision runs in its own transaction (env.py: `transaction_per_migration`), so a
      failure leaves the revisions before it applied and nothing of itself;
    - every lock wait is bounded by `lock_timeout` (MIGRATION_LOCK_TIMEOUT_MS): a migration
      behind a long query gives up instead of making every request queue behind its lock
      request. A revision that timed out is retried from scratch (MIGRATION_LOCK_RETRIES
      times, with backoff), then `MigrationLockTimeout` is raised (`factoria db upgrade`: exit 3);
      a revision chosen as a deadlock victim against live requests is retried the same way;
    - index builds and constraint validation do not lock writers out (`shared.migrations.online`);
    - a session advisory lock on one direct connection serialises concurrent deploys (each
      service's pre-deploy command runs this); the second waits (polling, see
      `_wait_for_migrator_lock`), then finds nothing to do. Behind
      PgBouncer that connection uses DATABASE_DIRECT_URL: session state cannot cross a pooler.
    """
    from alembic import command

    settings = get_settings()
    url = url or settings.session_database_url
    if not url.startswith("postgres"):
        command.upgrade(alembic_config(url), revision)
        return
    from sqlalchemy import text

    from shared.database import make_engine

    engine = make_engine(url, pool_size=1, pgbouncer=False, statement_timeout_ms=0)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT set_config('lock_timeout', :t, false)"),
                         {"t": f"{settings.migration_lock_timeout_ms}ms"})
            conn.commit()
            _wait_for_migrator_lock(conn)
            try:
                _upgrade_retrying(conn, url, revision, settings)
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


def _upgrade_retrying(conn: Connection, url: str, revision: str, settings: Settings) -> None:
    """Run the revisions on `conn`, each retried from scratch when it timed out on a lock or was a
    deadlock victim; `MigrationLockTimeout` once the retries are spent (see `upgrade`)."""
    from alembic import command

    from shared.retry import RetryPolicy

    def upgrade_once() -> None:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    try:
        RetryPolicy(attempts=settings.migration_lock_retries + 1, first=0.5, longest_backoff=10).run(
            upgrade_once, _lock_not_available)
    except Exception as exc:
        if _lock_not_available(exc):
            conn.rollback()
            raise MigrationLockTimeout(
                f"a migration could not get its table locks in {settings.migration_lock_retries + 1} "
                f"attempts (MIGRATION_LOCK_TIMEOUT_MS={settings.migration_lock_timeout_ms}); database "
                f"left at revision "
                f"{current_revision(conn)}, nothing of the next one applied") from None
        raise


def downgrade(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # the revisions ship with the code: this is a broken install
        raise RuntimeError(f"no migration revisions in {MIGRATIONS_DIR / 'versions'}")
    return head


def revisions_between(lower: str | None, upper: str | None) -> list[tuple[str, str]]:
    """(revision, title) of the migrations after `lower` up to `upper`, oldest first."""
    from alembic.script import ScriptDirectory

    if upper is None or upper == lower:
        return []
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revs = list(script.iterate_revisions(upper, lower or "base"))
    return [(r.revision, (r.doc or "").strip().splitlines()[0] if r.doc else "") for r in reversed(revs)]


def current_revision(connection: Connection) -> str | None:
    """The revision the connected database is at (None if never migrated)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
