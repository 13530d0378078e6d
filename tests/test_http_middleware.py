"""The HTTP core's two extension points: the one middleware order and the exception registry."""

from __future__ import annotations

import pytest

from shared import errors
from shared.http import ORDER, PUBLIC, FunctionApp, Route
from shared.http._stack import in_order
from shared.middleware import standard_middleware


class BudgetSpent(Exception):
    """A domain error, as a function's domain code raises it (nothing HTTP about it)."""


class UserBudgetSpent(BudgetSpent):
    pass


class GlobalBudgetSpent(BudgetSpent):
    pass


def _raise(kind):
    def handler(ctx):
        raise kind("spent")
    return handler


def _app(**kw) -> FunctionApp:
    routes = [Route(f"/{kind.__name__}", _raise(kind), roles=PUBLIC)
              for kind in (BudgetSpent, UserBudgetSpent, GlobalBudgetSpent, RuntimeError, KeyError)]
    return FunctionApp("t", routes, **kw)


def test_a_registered_handler_answers_its_domain_error_and_subclasses_by_mro():
    app = _app()

    @app.exception_handler(BudgetSpent)
    def budget(exc, ctx):
        return errors.TooManyRequests("Budget used up.", retry_after=60)

    @app.exception_handler(GlobalBudgetSpent)
    def global_budget(exc, ctx):
        return errors.ServiceUnavailable("The service's budget is used up.", retry_after=300)

    client = app.test_client()
    assert client.get("/BudgetSpent").status_code == 429
    user = client.get("/UserBudgetSpent")  # no handler of its own: its base class's
    assert user.status_code == 429 and user.headers["Retry-After"] == "60"
    assert user.headers["Content-Type"] == "application/problem+json"
    assert user.headers["X-Request-ID"] and user.headers["X-Content-Type-Options"] == "nosniff"
    spent = client.get("/GlobalBudgetSpent")  # the nearer handler wins
    assert spent.status_code == 503 and spent.get_json()["detail"] == "The service's budget is used up."
    assert budget.__name__ == "budget"  # the decorator hands the function back


def test_unregistered_exceptions_and_broken_handlers_are_a_bare_500():
    app = _app()

    @app.exception_handler(KeyError)
    def broken(exc, ctx):
        raise ValueError("the handler itself fails")

    client = app.test_client()
    for path in ("/BudgetSpent", "/RuntimeError", "/KeyError"):
        response = client.get(path)
        assert response.status_code == 500, path
        assert response.get_json()["detail"] == "An unexpected error occurred; it has been logged."


def test_a_handler_may_be_registered_by_name_without_importing_the_class():
    app = _app()
    app.exception_handler(f"{__name__}:UserBudgetSpent")(lambda exc, ctx: errors.Conflict("named"))
    client = app.test_client()
    assert client.get("/UserBudgetSpent").status_code == 409
    assert client.get("/BudgetSpent").status_code == 500


def test_shared_domain_errors_have_their_handlers():
    from shared.database import DatabaseUnavailable
    from shared.settings import UnsafeSettingsError

    def raising(exc):
        def handler(ctx):
            raise exc
        return handler

    app = FunctionApp("t", [Route("/db", raising(DatabaseUnavailable("down")), roles=PUBLIC),
                            Route("/settings", raising(UnsafeSettingsError("unsafe")), roles=PUBLIC)])
    client = app.test_client()
    db = client.get("/db")
    assert db.status_code == 503 and db.headers["Retry-After"] == "5"
    assert db.get_json()["detail"] == "The database is unavailable."
    misconfigured = client.get("/settings")
    assert misconfigured.status_code == 503 and misconfigured.headers["Retry-After"] == "60"


class Recorder:
    """A middleware at `place`, noting each hook call in a shared journal."""

    def __init__(self, place: str, journal: list[str], refuse: bool = False) -> None:
        self.place, self.journal, self.refuse = place, journal, refuse

    def before(self, ctx) -> None:
        self.journal.append(f"before {self.place}")
        if self.refuse:
            raise errors.TooManyRequests("no", retry_after=1)

    def after(self, ctx, response) -> None:
        self.journal.append(f"after {self.place} {response.status_code}")


def test_middleware_runs_in_the_one_order_whatever_order_it_was_given_in():
    journal: list[str] = []
    given = [Recorder("access_log", journal), Recorder("tracing", journal), Recorder("rate_limit", journal)]
    app = FunctionApp("t", [Route("/ok", lambda ctx: {"ok": True}, roles=PUBLIC)], middleware=given)
    assert [m.place for m in app.middleware] == list(ORDER[:8]) + ["tracing", "rate_limit", "access_log"]
    assert app.test_client().get("/ok").status_code == 200
    assert journal == ["before tracing", "before rate_limit", "before access_log",
                       "after access_log 200", "after rate_limit 200", "after tracing 200"]


def test_a_refusal_stops_the_before_hooks_and_every_after_hook_still_runs():
    journal: list[str] = []
    given = [Recorder("tracing", journal), Recorder("rate_limit", journal, refuse=True),
             Recorder("access_log", journal)]
    app = FunctionApp("t", [Route("/ok", lambda ctx: {"ok": True}, roles=PUBLIC)], middleware=given)
    response = app.test_client().get("/ok")
    assert response.status_code == 429 and response.headers["X-Request-ID"]
    assert journal == ["before tracing", "before rate_limit",
                       "after access_log 429", "after rate_limit 429", "after tracing 429"]
    journal.clear()
    assert app.test_client().get("/missing").status_code == 404  # refused by routing, before them all
    assert journal == ["after access_log 404", "after rate_limit 404", "after tracing 404"]


def test_a_middleware_without_a_place_is_refused():
    class Placeless:
        def before(self, ctx) -> None:
            pass

    with pytest.raises(ValueError, match="Placeless has no place in the middleware order"):
        in_order([Placeless()])
    assert [m.place for m in in_order(standard_middleware("x"))] == list(ORDER[8:])
