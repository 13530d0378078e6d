"""`FunctionApp`: a routed HTTP function, `app(request) -> Response`, built with no I/O.

The app holds its routes, its settings (or None: the process's, loaded on first use), its
middleware in the one order (`_stack.ORDER`) and its exception registry (`_problems`).
A request runs every `before` hook in order, then the route's handler; whatever is raised
becomes a response through the registry; then every `after` hook runs in reverse order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Request, Response

from shared.http._context import RequestContext, get_settings
from shared.http._host import adopt_host_app, error_page, test_client
from shared.http._problems import ExceptionRegistry, Handler, register_shared_handlers
from shared.http._responses import json_response, to_response
from shared.http._router import Router
from shared.http._routing import PUBLIC, Route
from shared.http._stack import Middleware, builtin_middleware, in_order
from shared.logs import LoggingConfig, configure_logging, get_logger
from shared.settings.environment import Environment, read_environment

if TYPE_CHECKING:
    from shared.settings import Settings

log = get_logger("lafactoria.http")


def startup_settings(environment: Environment | None = None) -> "Settings | None":
    """The settings a function's `main.py` hands its `create_app`. In production (`ENVIRONMENT`,
    read before the settings by `shared.settings.environment`) they are loaded and checked now, so
    an unsafe value stops the process at startup (UnsafeSettingsError naming each); elsewhere None:
    loaded on first use, keeping `/livez`'s cold start free of pydantic."""
    if (environment or read_environment()).is_production:
        return get_settings()
    return None


class FunctionApp:
    """A routed HTTP function: `app(request) -> Response`, with no I/O when built."""

    def __init__(self, name: str, routes: Iterable[Route], *, middleware: Iterable[Middleware] | None = None,
                 settings: "Settings | None" = None) -> None:
        self.name = name
        self.settings = settings
        # The first line's level: from the settings when given, else LOG_LEVEL read before them.
        self.logging = LoggingConfig.of(settings if settings is not None else read_environment())
        self.routes = list(routes) + [
            Route("/openapi.json", self._serve_openapi, roles=PUBLIC, summary="This function's OpenAPI 3.1 document")
        ]
        self._openapi: dict[str, Any] | None = None
        self.router = Router(self.routes)
        self.middleware = in_order(builtin_middleware(self.router) + list(middleware or ()))
        self.errors = ExceptionRegistry()
        register_shared_handlers(self.errors)

    def exception_handler(self, kind: type[BaseException] | str) -> Callable[[Handler], Handler]:
        """Decorator: `@app.exception_handler(BudgetExhausted)` answers that exception (and its
        subclasses without a nearer handler) with what the handler returns, a Problem or a Response."""
        def register(handler: Handler) -> Handler:
            self.errors.register(kind, handler)
            return handler
        return register

    def adopt_host_app(self) -> None:
        """The host Flask app's own error pages as ours (see `shared.http._host`); `main.py` calls it."""
        adopt_host_app(self)

    def error_page(self, request: Request, exc: Any) -> Response:
        """A werkzeug HTTPException raised by the host (not by a route) as problem+json with our headers."""
        return error_page(self, request, exc)

    def test_client(self) -> Any:
        """A Flask test client serving this app alone, as functions-framework does."""
        return test_client(self)

    def matches(self, path: str) -> bool:
        """Whether any route (any method) matches `path`; used by `factoria dev`."""
        return self.router.matches(path)

    def openapi_document(self) -> dict[str, Any]:
        if self._openapi is None:
            from shared.openapi import build_document

            self._openapi = build_document(self.name, self.routes)
        return self._openapi

    def _serve_openapi(self, ctx: RequestContext) -> Response:
        return json_response(self.openapi_document())

    def __call__(self, request: Request) -> Response:
        configure_logging(self.logging)
        ctx = RequestContext(self, request)
        response: Response | None = None
        try:
            response = self._handle(ctx)
        finally:  # the after hooks run even when the request dies (the admission place, the request id)
            response = self._unwind(ctx, response)
        return response

    def _handle(self, ctx: RequestContext) -> Response:
        """The before hooks in order, then the handler; anything raised through the registry."""
        try:
            response = self._before(ctx)
            if response is None:
                route = ctx.route
                assert route is not None, "the routing middleware answers 404 or 405 without a route"
                response = to_response(route.handler(ctx, **ctx.route_args), route.status)
        except Exception as exc:  # noqa: BLE001 - every exception has an answer (the registry's last is 500)
            response = self.errors.respond(exc, ctx)
        if not response.is_streamed:
            ctx.drain()
        if ctx.state.get("close_connection"):
            response.headers["Connection"] = "close"  # where the next request starts is unknown
        return response

    def _before(self, ctx: RequestContext) -> Response | None:
        for mw in self.middleware:
            before: Callable[[RequestContext], Response | None] | None = getattr(mw, "before", None)
            if before is not None:
                early = before(ctx)
                if early is not None:
                    return early
        return None

    def _unwind(self, ctx: RequestContext, response: Response | None) -> Response:
        response = response if response is not None else Response(status=500)
        for mw in reversed(self.middleware):
            after: Callable[[RequestContext, Response], None] | None = getattr(mw, "after", None)
            if after is not None:
                try:
                    after(ctx, response)
                except Exception:  # an after hook never breaks a response
                    log.exception("middleware after-hook failed")
        return response
