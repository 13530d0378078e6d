"""Engine and session handling: one code path for SQLite and PostgreSQL.

Engines are created lazily (cold start) and cached per URL. PostgreSQL engines
keep a small pre-pinged pool so a restarted database is survived without a
process restart; with `DB_PGBOUNCER=true` server-side prepared statements are
turned off for PgBouncer's transaction mode. SQLite gets WAL and a busy timeout
so several local processes can share the embedded file.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from shared.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

_engines: dict[str, "Engine"] = {}
_lock = threading.Lock()


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached; HTTP turns this into 503."""


def make_engine(url: str, *, pool_size: int | None = None, pgbouncer: bool | None = None) -> "Engine":
    """Build an engine for `url` with the platform's connection policy."""
    from sqlalchemy import create_engine, event

    settings = get_settings()
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            from pathlib import Path

            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return _traced(engine)

    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    bouncer = settings.db_pgbouncer if pgbouncer is None else pgbouncer
    connect_args: dict = {"connect_timeout": 5, "application_name": "lafactoria"}
    if bouncer:
        connect_args["prepare_threshold"] = None
    return _traced(create_engine(
        url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=2,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=10,
        connect_args=connect_args,
    ))


def _traced(engine: "Engine") -> "Engine":
    """Database spans when tracing is on (shared.tracing); otherwise the engine untouched."""
    from shared import tracing

    if tracing.enabled():
        tracing.instrument_engine(engine)
    return engine


def get_engine(url: str | None = None) -> "Engine":
    """The cached engine for `url` (default `DATABASE_URL`)."""
    url = url or get_settings().database_url
    engine = _engines.get(url)
    if engine is None:
        with _lock:
            engine = _engines.get(url)
            if engine is None:
                engine = _engines[url] = make_engine(url)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (jobs call this before exiting; tests between databases)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextlib.contextmanager
def session_scope(url: str | None = None) -> Iterator["Session"]:
    """A session in one transaction: committed on success, rolled back on any error."""
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.orm import Session

    try:
        session = Session(get_engine(url), expire_on_commit=False)
    except OperationalError as exc:  # pragma: no cover - engine creation is lazy
        raise DatabaseUnavailable(str(exc)) from exc
    try:
        yield session
        session.commit()
    except (OperationalError, InterfaceError) as exc:
        session.rollback()
        if _is_connection_error(exc):
            raise DatabaseUnavailable("database unreachable") from exc
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _is_connection_error(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    markers = ("connection", "connect", "server closed", "terminating", "could not translate", "timeout")
    return getattr(exc, "connection_invalidated", False) or any(m in text for m in markers)


def is_postgres(url: str | None = None) -> bool:
    return (url or get_settings().database_url).startswith("postgresql")
