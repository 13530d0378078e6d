"""Database dumps and restores: `pg_dump -Fc` / `pg_restore` for PostgreSQL, the
sqlite3 online backup API (then gzip) for SQLite.

Why here and not in `shared/`: only the backup job, backup verification and
`factoria backup restore` dump or restore a database.

Row counts and the schema revision are read in the *same snapshot* the dump
is taken from (PostgreSQL: an exported REPEATABLE READ snapshot handed to
`pg_dump --snapshot`; SQLite: counted on the backup copy itself), so the
manifest always matches the dump even while the platform keeps writing.

Passwords never reach a command line or a log: libpq gets the URL without the
password and the password through `PGPASSWORD` in the child's environment.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine, make_url

from shared.settings.environment import subprocess_environment

PG_FORMAT = "pg_dump-custom"
SQLITE_FORMAT = "sqlite-gzip"
DUMP_NAMES = {"postgresql": "factoria.dump", "sqlite": "factoria.sqlite.gz"}
_COPY_CHUNK = 1024 * 1024


class DumpError(RuntimeError):
    """A dump or restore tool failed; the message is safe to show (no password, no data)."""


@dataclass(frozen=True)
class Snapshot:
    """What the manifest says about a dump: counted in the dump's own snapshot."""

    tables: dict[str, int]
    schema_revision: str | None


def backend_of(url: str) -> str:
    """'postgresql' or 'sqlite' for a SQLAlchemy or libpq URL."""
    if url.startswith(("postgresql", "postgres://")):
        return "postgresql"
    if url.startswith("sqlite"):
        return "sqlite"
    raise DumpError("only PostgreSQL and SQLite databases can be backed up or restored")


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URL without the password, plus the environment carrying it."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    # libpq's own PG* variables would override the URL: the child gets this URL's alone.
    env = subprocess_environment(drop_prefix="PG", extra={"PGPASSWORD": parsed.password} if parsed.password else {})
    clean = URL.create("postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query)
    return clean.render_as_string(hide_password=False), env


def safe_url(url: str) -> str:
    """The URL as it may appear in output and logs (password masked)."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if not parsed.database or parsed.database == ":memory:":
        raise DumpError("an in-memory SQLite database cannot be backed up or restored")
    return Path(parsed.database)


def _run_tool(args: list[str], env: dict[str, str], what: str) -> None:
    binary = shutil.which(args[0])
    if binary is None:
        raise DumpError(f"{args[0]} is not installed")
    try:
        proc = subprocess.run([binary, *args[1:]], env=env, capture_output=True, text=True, timeout=6 * 3600)
    except subprocess.TimeoutExpired:
        raise DumpError(f"{what} timed out") from None
    if proc.returncode != 0:
        # The tool's own message (no password: it never had it on the command line).
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise DumpError(f"{what} failed (exit {proc.returncode}): {last}")


def _tables(conn: Connection) -> list[str]:
    from sqlalchemy import inspect

    return sorted(inspect(conn).get_table_names())


def read_snapshot(conn: Connection) -> Snapshot:
    """Row counts of every table and the Alembic revision, in the connection's transaction."""
    tables = _tables(conn)
    counts = {name: int(conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one())
              for name in tables if name != "alembic_version"}
    revision = None
    if "alembic_version" in tables:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return Snapshot(counts, revision)


def dump_postgres(engine: Engine, url: str, out: Path) -> Snapshot:
    """`pg_dump -Fc` of the database at `url` into `out`, counted in the same snapshot."""
    target, env = libpq_target(url)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        snapshot_id = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        snap = read_snapshot(conn)
        # The exporting transaction stays open until pg_dump has attached to its snapshot.
        _run_tool(["pg_dump", "--format=custom", "--compress=6", "--no-owner", "--no-privileges",
                   f"--snapshot={snapshot_id}", f"--file={out}", f"--dbname={target}"], env, "pg_dump")
        conn.rollback()
    return snap


def dump_sqlite(url: str, out: Path) -> Snapshot:
    """Online backup (consistent while others write), counted on the copy, then gzipped into `out`."""
    source = sqlite_path(url)
    if not source.exists():
        raise DumpError("the SQLite database file does not exist")
    with tempfile.TemporaryDirectory(prefix="lf-backup-") as tmp:
        copy = Path(tmp) / "copy.db"
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        from sqlalchemy import create_engine

        copy_engine = create_engine(f"sqlite:///{copy}")
        try:
            with copy_engine.connect() as conn:
                snap = read_snapshot(conn)
        finally:
            copy_engine.dispose()
        with open(copy, "rb") as raw, gzip.open(out, "wb", compresslevel=6) as packed:
            shutil.copyfileobj(raw, packed, _COPY_CHUNK)
    return snap


def restore_postgres(dump: Path, url: str) -> None:
    """`pg_restore` into an existing, empty database, all or nothing (one transaction)."""
    target, env = libpq_target(url)
    _run_tool(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
               f"--dbname={target}", str(dump)], env, "pg_restore")


def restore_sqlite(dump: Path, url: str) -> None:
    """Unpack a gzipped SQLite backup to the target file (which must not exist yet)."""
    target = sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".restoring")
    try:
        with gzip.open(dump, "rb") as packed, open(tmp, "wb") as raw:
            shutil.copyfileobj(packed, raw, _COPY_CHUNK)
        check = sqlite3.connect(tmp)
        try:
            if check.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise DumpError("the restored SQLite file fails its integrity check")
        finally:
            check.close()
    except (OSError, EOFError, gzip.BadGzipFile, sqlite3.DatabaseError) as exc:
        tmp.unlink(missing_ok=True)
        raise DumpError(f"SQLite restore failed: {type(exc).__name__}") from None
    except DumpError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)


def restore(dump: Path, database: str, url: str) -> None:
    """Restore a dump made from a `database` ('postgresql' or 'sqlite') into `url`."""
    if backend_of(url) != database:
        raise DumpError(f"a {database} backup cannot be restored into a {backend_of(url)} database")
    if database == "postgresql":
        restore_postgres(dump, url)
    else:
        restore_sqlite(dump, url)


def _admin_engine(url: str) -> Engine:
    from shared.database import make_engine

    # CREATE / DROP DATABASE wait for other sessions to leave: no statement bound.
    return make_engine(url, pool_size=1, statement_timeout_ms=0).execution_options(isolation_level="AUTOCOMMIT")


def create_pg_database(server_url: str, name: str) -> str:
    """Create database `name` on the server of `server_url`; returns its SQLAlchemy URL."""
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(server_url: str, name: str) -> None:
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@contextlib.contextmanager
def scratch_database(database: str, server_url: str | None) -> Iterator[str]:
    """A throw-away database to restore into: created, yielded as a URL, always dropped."""
    if database == "sqlite":
        with tempfile.TemporaryDirectory(prefix="lf-verify-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'restored.db'}"
        return
    if not server_url or backend_of(server_url) != "postgresql":
        raise DumpError("verifying a PostgreSQL backup needs DATABASE_URL to point at a PostgreSQL server")
    import uuid

    name = f"lf_verify_{uuid.uuid4().hex[:12]}"
    url = create_pg_database(server_url, name)
    try:
        yield url
    finally:
        from shared.database import get_engine

        # A cached engine on the scratch URL would hold connections; DROP ... WITH (FORCE) ends them anyway.
        with contextlib.suppress(Exception):
            get_engine(url).dispose()
        drop_pg_database(server_url, name)
