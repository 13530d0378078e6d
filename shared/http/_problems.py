"""The exception registry: an exception to a problem+json response, by the nearest registered class.

`app.exception_handler(SomeError)` registers a handler `(exc, ctx) -> Problem | Response`.
A raised exception is looked up along its MRO, so a handler for a base class serves its
subclasses and the most specific one wins. A class may be named by a `"module:Class"`
string, so registering a handler imports nothing (the database layer and the settings
stay out of `/livez`'s cold start). Every app starts with the shared handlers below;
a function's `create_app` adds its domain's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Response

from shared import errors
from shared.http._responses import problem_response
from shared.logs import get_logger, safe_traceback

if TYPE_CHECKING:
    from shared.http._context import RequestContext

log = get_logger("lafactoria.http")

Handler = Callable[[BaseException, "RequestContext"], "errors.Problem | Response"]


def _key(kind: type | str) -> str:
    return kind if isinstance(kind, str) else f"{kind.__module__}:{kind.__qualname__}"


class ExceptionRegistry:
    """Handlers by exception class; `respond` finds the nearest along the exception's MRO."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, kind: type[BaseException] | str, handler: Handler) -> None:
        self._handlers[_key(kind)] = handler

    def handler_for(self, exc: BaseException) -> Handler | None:
        for kind in type(exc).__mro__:
            handler = self._handlers.get(_key(kind))
            if handler is not None:
                return handler
        return None

    def respond(self, exc: Exception, ctx: "RequestContext") -> Response:
        """The response for `exc`: its handler's; a handler that itself fails is a plain 500."""
        handler = self.handler_for(exc) or unexpected
        try:
            result = handler(exc, ctx)
        except Exception as failure:  # noqa: BLE001 - a broken handler must not reach the client
            result = unexpected(failure, ctx)
        return problem_response(result) if isinstance(result, errors.Problem) else result


def register_shared_handlers(registry: ExceptionRegistry) -> None:
    """What every app answers: problems as themselves, shared domain errors, the rest 500."""
    registry.register(errors.Problem, as_itself)
    registry.register("shared.settings.model:UnsafeSettingsError", misconfigured)
    registry.register("shared.database:DatabaseUnavailable", database_unavailable)
    for driver_error in ("sqlalchemy.exc:OperationalError", "sqlalchemy.exc:InterfaceError",
                         "sqlalchemy.exc:TimeoutError"):
        registry.register(driver_error, driver_failure)
    registry.register(Exception, unexpected)


def as_itself(exc: BaseException, ctx: "RequestContext") -> errors.Problem:
    """A problem answers as itself (registered for `errors.Problem`, so `exc` is one)."""
    assert isinstance(exc, errors.Problem)
    return exc


def misconfigured(exc: BaseException, ctx: "RequestContext") -> errors.Problem:
    log.critical("refusing to serve: %s", exc)
    return errors.ServiceUnavailable("The service is misconfigured.", retry_after=60)


def database_unavailable(exc: BaseException, ctx: "RequestContext") -> errors.Problem:
    """Unreachable, hung, or every pooled connection busy: 503, retry in a few seconds."""
    log.error("database unavailable", extra={"route": ctx.route_template, "cause": type(exc).__name__})
    return errors.ServiceUnavailable("The database is unavailable.", retry_after=5)


def driver_failure(exc: BaseException, ctx: "RequestContext") -> errors.Problem:
    """A driver error: an outage (shared.database.is_outage), a statement over
    `DB_STATEMENT_TIMEOUT_MS` (the database answered, too slowly: 503 too, named so), or a bug."""
    from shared.database import is_outage, is_statement_timeout

    if is_outage(exc):
        return database_unavailable(exc, ctx)
    if is_statement_timeout(exc):
        log.error("database statement timed out", extra={"route": ctx.route_template})
        return errors.ServiceUnavailable("The database took too long to answer.", retry_after=5)
    return unexpected(exc, ctx)


def unexpected(exc: BaseException, ctx: "RequestContext") -> errors.Problem:
    """A bug: 500. The log has the request id (from the context) and the route, the types and
    frames: never the exception's text, which may quote the request's data (shared.logs.safe_traceback)."""
    log.error("unhandled error", extra={"route": ctx.route_template, "error": type(exc).__name__,
                                        "traceback": safe_traceback(exc)})
    return errors.Problem("An unexpected error occurred; it has been logged.")

