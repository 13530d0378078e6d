"""The connection pool: DB_POOL_SIZE is a ceiling per instance, and pre-ping is only for idle
connections (a warm request pays no ping round trip) while a database restart (every server
connection dropped) is still survived without a process restart."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from shared import database
from shared.database import DatabaseUnavailable, get_engine, session_scope


def _terminate_pool_connections(url: str) -> int:
    """What a database restart does to the pool: the server drops every connection of ours."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'lafactoria'"
        ).fetchone()[0]


def _count_pings(engine):
    pings = []
    original = engine.dialect.do_ping

    def counting(dbapi_conn):
        pings.append(1)
        return original(dbapi_conn)

    engine.dialect.do_ping = counting
    return pings, lambda: setattr(engine.dialect, "do_ping", original)


def test_a_connection_back_in_use_at_once_is_not_pinged(pg):
    engine = get_engine()
    with session_scope() as s:
        s.execute(text("SELECT 1"))
    pings, undo = _count_pings(engine)
    try:
        for _ in range(5):
            with session_scope() as s:
                s.execute(text("SELECT 1"))
    finally:
        undo()
    assert pings == []


def test_an_idle_connection_is_pinged_and_replaced_after_a_restart(pg, monkeypatch):
    with session_scope() as s:
        s.execute(text("SELECT 1"))
    assert _terminate_pool_connections(pg.url) >= 1
    monkeypatch.setattr(database, "PING_IDLE_SECONDS", -1.0)  # every connection counts as idle
    pings, undo = _count_pings(get_engine())
    try:
        with session_scope() as s:
            assert s.execute(text("SELECT 42")).scalar() == 42
    finally:
        undo()
    assert len(pings) >= 1


def test_a_dead_connection_used_at_once_fails_once_then_the_pool_recovers(pg, monkeypatch):
    monkeypatch.setattr(database, "PING_IDLE_SECONDS", 60.0)  # the connection counts as just used
    with session_scope() as s:
        s.execute(text("SELECT 1"))
    assert _terminate_pool_connections(pg.url) >= 1
    with pytest.raises(DatabaseUnavailable):
        with session_scope() as s:
            s.execute(text("SELECT 1"))
    with session_scope() as s:  # the disconnect invalidated the pool: a fresh connection
        assert s.execute(text("SELECT 7")).scalar() == 7


def test_an_instance_never_holds_more_than_db_pool_size_connections(pg, env):
    import threading

    import psycopg

    env(db_pool_size="2")
    seen, done = [], []

    def busy():
        with session_scope() as s:
            s.execute(text("SELECT pg_sleep(0.3)"))
        done.append(1)

    threads = [threading.Thread(target=busy) for _ in range(5)]
    for t in threads:
        t.start()
    with psycopg.connect(pg.url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        while any(t.is_alive() for t in threads):
            seen.append(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND application_name = 'lafactoria'").fetchone()[0])
    for t in threads:
        t.join()
    assert max(seen) == 2 and len(done) == 5  # five callers queue for two connections, none is refused


def test_single_statements_commit_each_statement_alone_and_transaction_holds_one(pg):
    """The request path's reads (`single_statements`) send no BEGIN/COMMIT: each statement is its
    own transaction (a new transaction id each); `transaction()` keeps one for all its statements."""
    ids = "SELECT pg_current_xact_id()::text"
    with database.single_statements() as conn:
        first, second = conn.execute(text(ids)).scalar(), conn.execute(text(ids)).scalar()
    assert first != second
    with database.transaction() as conn:
        first, second = conn.execute(text(ids)).scalar(), conn.execute(text(ids)).scalar()
    assert first == second
    with get_engine().connect() as conn:  # the pooled connection is back in its default mode
        assert not conn.connection.dbapi_connection.autocommit


def test_single_statements_behind_pgbouncer_are_one_transaction(pg, env):
    env(db_pgbouncer="true")
    ids = "SELECT pg_current_xact_id()::text"
    with database.single_statements() as conn:
        assert conn.execute(text(ids)).scalar() == conn.execute(text(ids)).scalar()


def test_request_path_connections_map_outages_to_database_unavailable(pg, env):
    env(db_pool_size="1", db_connect_timeout_seconds="1")
    held = get_engine().connect()  # the pool's only connection
    try:
        for scope in (database.single_statements, database.transaction):
            with pytest.raises(DatabaseUnavailable):
                with scope() as conn:
                    conn.execute(text("SELECT 1"))
    finally:
        held.close()
