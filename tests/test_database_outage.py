"""One outage check, `shared.database.is_outage`: by exception class and SQLSTATE, never by text.

A statement cancelled by `statement_timeout` mentions "timeout" but is the database answering:
it is not "database unavailable" (HTTP says so separately; operator commands keep the traceback).
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shared.database import DatabaseUnavailable, is_outage, is_statement_timeout, session_scope
from shared.exits import EXIT_UNAVAILABLE, classify, database_failure
from shared.http import PUBLIC, FunctionApp, Route


def _statement_timeout(url: str) -> OperationalError:
    with pytest.raises(OperationalError) as raised:
        with session_scope(url) as session:
            session.execute(text("SET LOCAL statement_timeout = 20"))
            session.execute(text("SELECT pg_sleep(2)"))
    return raised.value


def test_a_statement_timeout_is_not_an_outage(pg):
    exc = _statement_timeout(pg.url)  # session_scope re-raised it as is: not DatabaseUnavailable
    assert isinstance(exc.orig, psycopg.errors.QueryCanceled) and "timeout" in str(exc)
    assert not is_outage(exc) and is_statement_timeout(exc)
    assert database_failure(exc) is None and classify(exc) is None


def test_a_refused_connection_is_an_outage():
    with pytest.raises(DatabaseUnavailable) as raised:
        with session_scope("postgresql+psycopg://postgres@127.0.0.1:9/nowhere") as session:
            session.execute(text("SELECT 1"))
    assert is_outage(raised.value) and is_outage(raised.value.__cause__)
    code, line = classify(raised.value)
    assert code == EXIT_UNAVAILABLE and line.startswith("database unreachable: ")


def test_an_unknown_database_is_an_outage(pg):
    from sqlalchemy.engine import make_url

    url = make_url(pg.url).set(database="lf_no_such_database").render_as_string(hide_password=False)
    with pytest.raises(DatabaseUnavailable):
        with session_scope(url) as session:
            session.execute(text("SELECT 1"))


def test_a_bad_query_is_not_an_outage(tmp_path):
    with pytest.raises(OperationalError) as raised:  # SQLite: no such table
        with session_scope(f"sqlite:///{tmp_path / 'x.db'}") as session:
            session.execute(text("SELECT * FROM no_such_table"))
    assert not is_outage(raised.value) and not is_statement_timeout(raised.value)
    assert not is_outage(ValueError("connection timeout"))  # the text says nothing


@pytest.mark.parametrize("error, outage", [
    (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), True),
    (psycopg.errors.TooManyConnections("sorry, too many clients already"), True),
    (psycopg.errors.InvalidPassword("password authentication failed"), True),
    (psycopg.OperationalError("connection failed: connection refused"), True),  # no SQLSTATE: no server answered
    (psycopg.InterfaceError("the connection is closed"), True),
    (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), False),
    (psycopg.errors.UndefinedTable("relation does not exist"), False),
])
def test_driver_errors_by_sqlstate(error, outage):
    assert is_outage(error) is outage
    assert is_outage(OperationalError("SELECT 1", {}, error)) is outage


def test_http_answers_an_outage_and_a_statement_timeout_apart():
    def raising(orig):
        def handler(ctx):
            raise OperationalError("SELECT 1", {}, orig)
        return handler

    client = FunctionApp("t", [
        Route("/down", raising(psycopg.OperationalError("connection failed")), roles=PUBLIC),
        Route("/slow", raising(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
              roles=PUBLIC),
        Route("/bug", raising(psycopg.errors.UndefinedTable("relation does not exist")), roles=PUBLIC),
    ]).test_client()
    down, slow, bug = client.get("/down"), client.get("/slow"), client.get("/bug")
    assert down.status_code == 503 and down.get_json()["detail"] == "The database is unavailable."
    assert slow.status_code == 503 and slow.get_json()["detail"] == "The database took too long to answer."
    assert slow.headers["Retry-After"] == "5"
    assert bug.status_code == 500
