"""Engine and session handling: one code path for SQLite and PostgreSQL.

Engines are created lazily (cold start) and cached per URL. PostgreSQL engines
keep a small pre-pinged pool (a connection idle for more than a second is pinged
before use) so a restarted database is survived without a
process restart; with `DB_PGBOUNCER=true` server-side prepared statements are
turned off for PgBouncer's transaction mode. SQLite gets WAL and a busy timeout
so several local processes can share the embedded file.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from shared.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session
    from sqlalchemy.sql import TableClause

_engines: dict[str, "Engine"] = {}
_lock = threading.Lock()
_statement_timeout_ms: int | None = None  # None: DB_STATEMENT_TIMEOUT_MS (functions)


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached; HTTP turns this into 503."""


def use_statement_timeout(ms: int | None) -> None:
    """Bound statements of engines built from now on by `ms` (0: unbounded; None: back to
    `DB_STATEMENT_TIMEOUT_MS`): jobs and CLI commands run longer statements than requests."""
    global _statement_timeout_ms
    _statement_timeout_ms = ms
    dispose_engines()


def make_engine(url: str, *, pool_size: int | None = None, pgbouncer: bool | None = None,
                statement_timeout_ms: int | None = None) -> "Engine":
    """Build an engine for `url` with the platform's connection policy.

    Every PostgreSQL call is bounded: connecting by `DB_CONNECT_TIMEOUT_SECONDS`,
    waiting for a pooled connection by the same, each statement by the server's
    `statement_timeout`, and a peer that stops answering mid-call by TCP keepalives
    and `tcp_user_timeout`, so a hung database turns into `DatabaseUnavailable`.
    """
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return _postgres_engine(url, pool_size=pool_size, pgbouncer=pgbouncer, statement_timeout_ms=statement_timeout_ms)


def _sqlite_engine(url: str) -> "Engine":
    """WAL, a busy timeout and foreign keys, so several local processes share the embedded file."""
    from sqlalchemy import create_engine, event

    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        from pathlib import Path

        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA secure_delete=ON")  # deleted rows are zeroed, not left in free pages
        cur.close()

    return _traced(engine)


def _postgres_engine(url: str, *, pool_size: int | None, pgbouncer: bool | None,
                     statement_timeout_ms: int | None) -> "Engine":
    from sqlalchemy import create_engine

    from shared import pool_usage

    settings = get_settings()
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    bouncer = settings.db_pgbouncer if pgbouncer is None else pgbouncer
    timeout_ms = next(t for t in (statement_timeout_ms, _statement_timeout_ms, settings.db_statement_timeout_ms)
                      if t is not None)
    connect_s = settings.db_connect_timeout_seconds
    engine = create_engine(
        url,
        poolclass=pool_usage.MeasuredQueuePool,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0,  # DB_POOL_SIZE is the instance's ceiling: N instances never hold more than N x it
        pool_recycle=1800,
        pool_timeout=connect_s,
        connect_args=_postgres_connect_args(connect_s, timeout_ms, bouncer),
    )
    if bouncer and timeout_ms:
        _bound_each_transaction(engine, timeout_ms)
    _ping_when_idle(engine)
    pool_usage.instrument(engine)
    return _traced(engine)


def _postgres_connect_args(connect_s: int, timeout_ms: int, bouncer: bool) -> dict[str, Any]:
    connect_args: dict[str, Any] = {
        "connect_timeout": connect_s, "application_name": "lafactoria",
        "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 1, "keepalives_count": 3,
        # A sent query unacknowledged this long drops the connection (a peer gone silent).
        "tcp_user_timeout": (connect_s * 1000 + timeout_ms) if timeout_ms else 0,
    }
    if bouncer:
        connect_args["prepare_threshold"] = None  # transaction pooling: no server-side statements
    elif timeout_ms:
        connect_args["options"] = f"-c statement_timeout={int(timeout_ms)}"
    return connect_args


def _bound_each_transaction(engine: "Engine", timeout_ms: int) -> None:
    """Behind PgBouncer's transaction pooling a session setting (or the `options` startup
    parameter, which PgBouncer refuses) would not stick, so each transaction sets its own."""
    from sqlalchemy import event

    @event.listens_for(engine, "begin")
    def _local_timeout(conn: Connection) -> None:
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")


def _traced(engine: "Engine") -> "Engine":
    """Database spans when tracing is on (shared.tracing); otherwise the engine untouched."""
    from shared import tracing

    if tracing.enabled():
        tracing.instrument_engine(engine)
    return engine


# A pooled connection back in use within this many seconds is not pinged again.
PING_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: "Engine") -> None:
    """Pre-ping, but only connections that sat idle in the pool (SQLAlchemy's `pool_pre_ping`
    pings on every checkout: one round trip per transaction, several per request).

    A restarted database drops every pooled connection; any idle for more than
    `PING_IDLE_SECONDS` is pinged and, if dead, replaced before the request uses it. One that
    fails although used a moment ago raises a disconnect error, on which SQLAlchemy invalidates
    the whole pool, so the next checkout connects afresh (the request gets 503, like any request
    in flight during a restart).
    """
    import time

    from sqlalchemy import event, exc

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("returned_at", 0.0) <= PING_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as error:  # noqa: BLE001 - any failure means the connection is unusable
            raise exc.DisconnectionError() from error


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


def cached_engines() -> list["Engine"]:
    """The engines this process holds now (pool usage reports their pools)."""
    with _lock:
        return list(_engines.values())


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
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from sqlalchemy.orm import Session

    try:
        session = Session(get_engine(url), expire_on_commit=False)
    except OperationalError as exc:  # pragma: no cover - engine creation is lazy
        raise DatabaseUnavailable(str(exc)) from exc
    try:
        yield session
        session.commit()
    except PoolTimeout as exc:
        session.rollback()
        raise DatabaseUnavailable("every pooled connection is busy") from exc
    except (OperationalError, InterfaceError) as exc:
        session.rollback()
        if is_outage(exc):
            raise DatabaseUnavailable("database unreachable") from exc
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextlib.contextmanager
def transaction(url: str | None = None) -> Iterator["Connection"]:
    """A Core connection in one transaction, committed on success, rolled back on any error.

    For the request path's fixed statements that belong together (the rate-limit charge's
    upserts): no ORM session, identity map or unit of work to build and tear down, which is
    most of a short transaction's CPU. Errors map as in `session_scope`.
    """
    with _outages_mapped():
        with get_engine(url).begin() as connection:
            yield connection


@contextlib.contextmanager
def single_statements(url: str | None = None) -> Iterator["Connection"]:
    """A Core connection on which each statement commits by itself (autocommit): one round trip
    per statement instead of BEGIN, statement, COMMIT (psycopg sends BEGIN on its own). For the
    request path's single reads and single-row writes that need no transaction around them.

    Behind PgBouncer a transaction is what bounds each statement (`_bound_each_transaction`),
    so there it is an ordinary `transaction()`.
    """
    engine = get_engine(url)
    if engine.dialect.name != "postgresql" or get_settings().db_pgbouncer:
        with transaction(url) as connection:
            yield connection
        return
    with _outages_mapped():
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection


@contextlib.contextmanager
def _outages_mapped() -> Iterator[None]:
    """Pool timeouts and lost connections as `DatabaseUnavailable`, as in `session_scope`."""
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    try:
        yield
    except PoolTimeout as exc:
        raise DatabaseUnavailable("every pooled connection is busy") from exc
    except (OperationalError, InterfaceError) as exc:
        if is_outage(exc):
            raise DatabaseUnavailable("database unreachable") from exc
        raise


# SQLSTATEs of a server that cannot serve a connection now (PostgreSQL, Appendix A): connection
# exceptions (class 08), refused credentials (class 28), no such database, too many connections,
# shutting down or starting up. A statement cancelled by `statement_timeout` (57014) is none of
# them: the database answered, the query was too slow.
_OUTAGE_SQLSTATE_CLASSES = ("08", "28")
_OUTAGE_SQLSTATES = frozenset({"3D000", "53300", "57P01", "57P02", "57P03"})


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` is the database being unreachable or saturated (not a bad query, a slow one
    or a missing table), decided by exception class and SQLSTATE, never by message text. The one
    check: the HTTP layer answers it 503 with `Retry-After`, operator commands exit 3."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout):  # every pooled connection busy for DB_CONNECT_TIMEOUT_SECONDS
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:  # SQLAlchemy's dialect saw the connection drop
            return True
        return _driver_outage(exc.orig)
    return _driver_outage(exc)


def is_statement_timeout(exc: BaseException) -> bool:
    """Whether `exc` is a statement cancelled by `statement_timeout` (SQLSTATE 57014): the
    database answered, the query was too slow. Not an outage (`is_outage`)."""
    from sqlalchemy.exc import DBAPIError

    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return getattr(orig, "sqlstate", None) == "57014"


def _driver_outage(exc: BaseException | None) -> bool:
    """A psycopg error: by its SQLSTATE; one without a SQLSTATE never got a server's answer
    (refused, unknown host, timed out connecting, dropped mid-call), so it is an outage."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a base dependency
        return False
    if not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return False
    sqlstate = exc.sqlstate
    return sqlstate is None or sqlstate[:2] in _OUTAGE_SQLSTATE_CLASSES or sqlstate in _OUTAGE_SQLSTATES


def upsert(session: "Session", table: "TableClause") -> "postgresql.Insert | sqlite.Insert":
    """An INSERT into `table` for the session's dialect, so `on_conflict_do_update` (with
    `where=` and `returning`) is available: PostgreSQL and SQLite share that syntax."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def is_postgres(url: str | None = None) -> bool:
    return (url or get_settings().database_url).startswith("postgresql")
