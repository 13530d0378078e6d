"""The HTTP layer every function shares: routing, auth, errors, headers, CORS.

A function's `main.py` builds a `FunctionApp` from a list of `Route`s and
hands each Flask request to it. Routing uses werkzeug's `Map` (no if-chains on
paths); every error is RFC 9457 problem+json; every response carries a request
id, the security headers and CORS headers for allowed origins only.

Cross-cutting concerns (rate limits, request metrics) plug in as middleware:
objects with optional `before(ctx)` and `after(ctx, response)` methods, passed
by each function's wiring (`FunctionApp(..., middleware=...)`); this layer
knows none of them.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from flask import Request, Response
from werkzeug.exceptions import MethodNotAllowed as _WzMethodNotAllowed
from werkzeug.exceptions import NotFound as _WzNotFound
from werkzeug.routing import Map, RequestRedirect, Rule

from shared import errors
from shared.admission import SHED_ROUTE, gate
from shared.auth import ANY_ROLE, Principal, authenticate, bearer_token, require_role
from shared.auth_throttle import client_address, throttle
from shared.logs import configure_logging, get_logger, request_id_var, safe_traceback

log = get_logger("lafactoria.http")

PUBLIC = None  # roles=None: no authentication
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
_CORS_ALLOW_HEADERS = "Authorization, Cache-Control, Content-Type, Idempotency-Key, X-Request-ID"
_CORS_EXPOSE_HEADERS = (  # what browser code may read (the contract's list, and Location of a 201)
    "X-Request-ID, Retry-After, Idempotent-Replayed, Content-Disposition, RateLimit-Limit, RateLimit-Remaining, "
    "RateLimit-Reset, Location"
)
GZIP_MIN_BYTES = 1024  # smaller bodies gain little and cost a compression on every request
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_HSTS_EXEMPT_PATHS = {"/livez", "/readyz"}
PROBE_PATHS = frozenset({"/livez", "/readyz"})  # never refused for capacity: busy is not dead


def get_settings():
    """Settings, imported on first use: `/livez` never pays for pydantic (cold start)."""
    from shared.settings import get_settings as _get

    return _get()


def resolve(ref: Any) -> Any:
    """An object or a lazy `"package.module:attr"` reference to one, imported on first use."""
    if not isinstance(ref, str):
        return ref
    found = _RESOLVED.get(ref)
    if found is None:
        import importlib

        module, _, attr = ref.partition(":")
        found = _RESOLVED[ref] = getattr(importlib.import_module(module), attr)
    return found


_RESOLVED: dict[str, Any] = {}


class Route:
    """One path template and method set bound to a handler.

    `roles` None means public; otherwise the caller needs a key whose role is
    in `roles`. `body`, `query` and `response` are pydantic models used for
    validation and for the OpenAPI document. The handler and the models may be
    given as `"package.module:attr"` strings: they are imported when a request
    first needs them, so a function's cold start pays only for what it serves.
    """

    def __init__(
        self,
        rule: str,
        handler: Callable[..., Any] | str,
        methods: tuple[str, ...] = ("GET",),
        roles: frozenset[str] | None = ANY_ROLE,
        body: type | str | None = None,
        query: type | str | None = None,
        response: type | str | None = None,
        status: int = 200,
        summary: str = "",
        responses: dict[int, Any] | None = None,
        options: dict[str, Any] | None = None,  # per-route knobs for middleware (e.g. rate weight)
    ) -> None:
        self.rule, self.methods, self.roles, self.status, self.summary = rule, tuple(methods), roles, status, summary
        self.responses = dict(responses or {})
        self.options = dict(options or {})
        self._handler, self._body, self._query, self._response = handler, body, query, response

    handler = property(lambda self: resolve(self._handler))
    body = property(lambda self: resolve(self._body))
    query = property(lambda self: resolve(self._query))
    response = property(lambda self: resolve(self._response))

    def __repr__(self) -> str:
        return f"Route({self.rule!r}, methods={self.methods!r})"


class Middleware(Protocol):  # pragma: no cover - typing only
    def before(self, ctx: "RequestContext") -> None: ...

    def after(self, ctx: "RequestContext", response: Response) -> None: ...


class RequestContext:
    """What a handler gets: the request, its id, the caller, and validated input."""

    def __init__(self, app: "FunctionApp", request: Request, request_id: str) -> None:
        self.app = app
        self.request = request
        self.request_id = request_id
        self.route: Route | None = None
        self.route_template: str = "unmatched"
        self.principal: Principal | None = None
        self.started = time.perf_counter()
        self.state: dict[str, Any] = {}
        self._body: bytes | None = None

    @property
    def settings(self):
        return get_settings()

    @property
    def user(self) -> Principal:
        if self.principal is None:  # a public route asked for a caller: fail closed
            raise errors.Unauthorized()
        return self.principal

    def raw_body(self) -> bytes:
        """The body, at most MAX_BODY_BYTES (413 above). Read once, here: what the host
        (functions-framework drains every body after the response) finds is this copy, so a
        malformed, oversized or stalled body is our problem+json, never the host's 500."""
        if self._body is None:
            limit = get_settings().max_body_bytes
            length = self.request.content_length
            try:
                if length is not None and length > limit:
                    raise errors.PayloadTooLarge(f"The body is over the {limit}-byte limit.")
                try:
                    data = self.request.stream.read(limit + 1)
                except Exception as exc:  # noqa: BLE001 - the server's parser and deadline speak here
                    raise _body_read_problem(exc) from None
                if len(data) > limit:
                    raise errors.PayloadTooLarge(f"The body is over the {limit}-byte limit.")
            except errors.Problem:
                self.request._cached_data = b""  # left unread: the connection closes (see __call__)
                self.state["close_connection"] = True
                raise
            self.request._cached_data = self._body = data
        return self._body

    def drain(self) -> None:
        """Read a body no handler read (a 401 before it, a 404), so the host's own drain finds it
        read; a body that cannot be read closes the connection instead."""
        request = self.request
        if self._body is not None or (not request.content_length and "chunked" not in
                                      request.headers.get("Transfer-Encoding", "").lower()):
            return
        try:
            self.raw_body()
        except errors.Problem:
            pass

    def json_body(self) -> Any:
        data = self.raw_body()
        if not data.strip():
            raise errors.BadRequest("The request body must be a JSON document.")
        mimetype = self.request.mimetype
        if mimetype and mimetype not in ("application/json",) and not mimetype.endswith("+json"):
            raise errors.UnsupportedMediaType("Send the body as application/json.")
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise errors.BadRequest("The request body is not valid JSON.") from None
        except RecursionError:  # valid JSON nested beyond any real payload: refuse, never a 500
            raise errors.ValidationFailed([{"field": "body", "message": "nested too deeply"}]) from None

    def body(self, model: type | None = None):
        """The JSON body validated against `model` (default the route's body model)."""
        return _validated(model or (self.route.body if self.route else None), self.json_body())

    def query(self, model: type | None = None):
        """The query string validated against `model` (default the route's query model)."""
        args = {k: v for k, v in self.request.args.items()}
        return _validated(model or (self.route.query if self.route else None), args)


def _body_read_problem(exc: Exception) -> errors.Problem:
    """What reading the body raised, as the client's problem: a malformed chunked body is 400,
    one not sent in time 408 (shared.serving); anything else is not the client's doing."""
    from werkzeug.exceptions import ClientDisconnected

    kind = type(exc)
    if kind.__name__ == "ReadTimedOut" and kind.__module__ == "shared.serving":
        return errors.RequestTimeout()
    if isinstance(exc, ClientDisconnected) or kind.__module__.startswith("gunicorn.http"):
        problem = errors.BadRequest("The request body is malformed or incomplete.")
        problem.headers["Connection"] = "close"
        return problem
    raise exc


def _validated(model: type | None, payload: Any) -> Any:
    """`payload` through pydantic `model` (as-is without one); failures are 422 with per-field errors."""
    if model is None:
        return payload
    from pydantic import ValidationError

    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise errors.ValidationFailed(errors.pydantic_errors(exc)) from None


def _request_id(request: Request) -> str:
    """The client's X-Request-ID when it is safe to echo, else a fresh one."""
    request_id = request.headers.get("X-Request-ID", "")
    return request_id if _REQUEST_ID.match(request_id) else uuid.uuid4().hex


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> Response:
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json")
    body = json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False)
    return Response(body, status=status, headers=headers, content_type=content_type)


def problem_response(problem: errors.Problem) -> Response:
    return json_response(problem.body(), problem.status, problem.headers, "application/problem+json")


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, headers=headers)


class FunctionApp:
    """A routed HTTP function: `app(request) -> Response`, with no import-time I/O."""

    def __init__(self, name: str, routes: Iterable[Route], *, middleware: Iterable[Middleware] | None = None) -> None:
        self.name = name
        self.routes = list(routes) + [
            Route("/openapi.json", self._serve_openapi, roles=PUBLIC, summary="This function's OpenAPI 3.1 document")
        ]
        self._openapi: dict[str, Any] | None = None
        self.middleware = list(middleware or ())
        self._by_endpoint = {str(i): r for i, r in enumerate(self.routes)}
        rules = []
        for endpoint, r in self._by_endpoint.items():
            rules.append(Rule(r.rule, endpoint=endpoint, methods=list(r.methods)))
        # A trailing or doubled slash is another path (404), never silently the same resource.
        self.url_map = Map(rules, strict_slashes=True, merge_slashes=False)
        if os.environ.get("ENVIRONMENT", "").strip().lower() == "production":
            # Refuse to start with unsafe settings (raises UnsafeSettingsError naming them).
            # Elsewhere settings load on first use, keeping `/livez` cold start free of pydantic.
            get_settings()
        self._adopt_host_app()

    def _adopt_host_app(self) -> None:
        """Give the host's own error pages our shape and headers.

        functions-framework loads `main.py` inside its Flask app's context and
        answers `/robots.txt` and `/favicon.ico` itself with an HTML 404 that
        has no security headers; registering an error handler on that app makes
        those problem+json with the same headers as every other response.
        """
        from flask import current_app, has_app_context

        if not has_app_context():
            return
        from werkzeug.exceptions import HTTPException

        def handle(exc: HTTPException) -> Response:
            from flask import request

            return self.error_page(request, exc)

        current_app.register_error_handler(HTTPException, handle)

    def error_page(self, request: Request, exc) -> Response:
        """A werkzeug HTTPException raised by the host (not by a route) as problem+json with our headers."""
        problem = errors.Problem(exc.description if exc.code != 404 else "No such path.")
        problem.status, problem.title, problem.slug = exc.code or 500, exc.name, "http-error"
        if exc.code == 404:
            problem.slug = errors.NotFound.slug
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            problem.headers["Allow"] = ", ".join(sorted(set(exc.valid_methods) | {"OPTIONS"}))
        ctx = RequestContext(self, request, _request_id(request))
        response = problem_response(problem)
        self._decorate(ctx, response)
        return response

    def openapi_document(self) -> dict[str, Any]:
        if self._openapi is None:
            from shared.openapi import build_document

            self._openapi = build_document(self.name, self.routes)
        return self._openapi

    def _serve_openapi(self, ctx: RequestContext) -> Response:
        return json_response(self.openapi_document())

    def test_client(self):
        """A Flask test client serving this function alone on every path and method, as
        functions-framework does; for tests and benchmarks of apps built in code."""
        from flask import Flask, request

        flask_app = Flask(f"lafactoria-{self.name}", root_path=".")
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        view = lambda path="": self(request)  # noqa: E731
        flask_app.add_url_rule("/", "entry", view, defaults={"path": ""}, methods=methods)
        flask_app.add_url_rule("/<path:path>", "entry", view, methods=methods)
        return flask_app.test_client()

    def matches(self, path: str) -> bool:
        """Whether any route (any method) matches `path`; used by `factoria dev`."""
        adapter = self.url_map.bind("localhost")
        try:
            adapter.match(path, method="GET")
        except _WzMethodNotAllowed:
            return True
        except (_WzNotFound, RequestRedirect):
            return False
        return True

    def __call__(self, request: Request) -> Response:
        configure_logging()
        request_id = _request_id(request)
        token = request_id_var.set(request_id)
        ctx = RequestContext(self, request, request_id)
        try:
            try:
                response = self._dispatch(ctx)
            finally:
                if ctx.state.pop("admitted", False):
                    gate.leave()
            for mw in self.middleware:
                after = getattr(mw, "after", None)
                if after is not None:
                    try:
                        after(ctx, response)
                    except Exception:  # observability must never break a response
                        log.exception("middleware after-hook failed")
            if not response.is_streamed:
                ctx.drain()
            if ctx.state.get("close_connection"):
                response.headers["Connection"] = "close"  # where the next request starts is unknown
            self._decorate(ctx, response)
            _compress(request, response)
            return response
        finally:
            request_id_var.reset(token)

    def _dispatch(self, ctx: RequestContext) -> Response:
        request = ctx.request
        try:
            self._check_transport(ctx)
            adapter = self.url_map.bind_to_environ(request.environ)
            if request.method == "OPTIONS":
                return self._preflight(ctx, adapter)
            try:
                rule, args = adapter.match(return_rule=True)
            except _WzMethodNotAllowed as exc:
                allowed = ", ".join(sorted(set(exc.valid_methods or []) | {"OPTIONS"}))
                raise errors.MethodNotAllowed(
                    f"{request.method} is not allowed here.", headers={"Allow": allowed}
                ) from None
            except (_WzNotFound, RequestRedirect):
                raise errors.NotFound("No such path.") from None
            route = self._by_endpoint[rule.endpoint]
            ctx.route, ctx.route_template = route, route.rule
            if request.path not in PROBE_PATHS:
                if not gate.enter():
                    ctx.route_template = SHED_ROUTE
                    log.warning("request shed: instance at capacity", extra={"route": route.rule})
                    raise errors.AtCapacity()
                ctx.state["admitted"] = True
            if route.roles is not None:
                ctx.principal = self._authenticate(ctx, route)
                require_role(ctx.principal, route.roles)
            for mw in self.middleware:
                before = getattr(mw, "before", None)
                if before is not None:
                    before(ctx)
            result = route.handler(ctx, **args)
            return self._to_response(result, route)
        except errors.Problem as problem:
            return problem_response(problem)
        except Exception as exc:  # noqa: BLE001 - the last line between a bug and a client
            from shared.database import is_outage

            from shared.settings import UnsafeSettingsError

            if isinstance(exc, UnsafeSettingsError):
                log.critical("refusing to serve: %s", exc)
                return problem_response(errors.ServiceUnavailable("The service is misconfigured.", retry_after=60))
            if is_outage(exc):  # unreachable, hung, or every pooled connection busy
                log.error("database unavailable", extra={"route": ctx.route_template,
                                                         "cause": type(exc).__name__})
                return problem_response(errors.ServiceUnavailable("The database is unavailable.", retry_after=5))
            # The request id (from the context) and the route, the types and frames: never the
            # exception's text, which may quote the request's data (shared.logs.safe_traceback).
            log.error("unhandled error", extra={"route": ctx.route_template, "error": type(exc).__name__,
                                                "traceback": safe_traceback(exc)})
            return problem_response(errors.Problem("An unexpected error occurred; it has been logged."))

    @staticmethod
    def _authenticate(ctx: RequestContext, route: Route) -> Principal:
        """The caller, throttled per address after repeated wrong keys (shared.auth_throttle).
        Routes that spend money or process personal data (`fresh_auth`) check the key afresh."""
        header = ctx.request.headers.get("Authorization")
        if bearer_token(header) is None:
            return authenticate(header)  # no key: refused without any I/O
        address = client_address(ctx.request)
        throttle.check(address)
        try:
            return authenticate(header, fresh=route.options.get("fresh_auth", False))
        except errors.Unauthorized:
            throttle.failed(address)
            raise

    @staticmethod
    def _to_response(result: Any, route: Route) -> Response:
        if isinstance(result, Response):
            return result
        if result is None:
            return empty_response(204)
        if isinstance(result, tuple):
            body, status = result
            return json_response(body, status)
        return json_response(result, route.status)

    @staticmethod
    def _check_transport(ctx: RequestContext) -> None:
        proto = ctx.request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if proto == "http" and ctx.request.path not in _HSTS_EXEMPT_PATHS and get_settings().is_production:
            raise errors.Forbidden("Plain HTTP is refused; use HTTPS.")

    def _preflight(self, ctx: RequestContext, adapter) -> Response:
        try:
            allowed = adapter.allowed_methods()
        except Exception:  # pragma: no cover - defensive
            allowed = []
        if not allowed:
            raise errors.NotFound("No such path.")
        headers = {"Allow": ", ".join(sorted(set(allowed) | {"OPTIONS"}))}
        if self._allowed_origin(ctx):
            headers.update({
                "Access-Control-Allow-Methods": headers["Allow"],
                "Access-Control-Allow-Headers": _CORS_ALLOW_HEADERS,
                "Access-Control-Max-Age": "600",
            })
        return empty_response(204, headers)

    @staticmethod
    def _allowed_origin(ctx: RequestContext) -> str | None:
        origin = ctx.request.headers.get("Origin")
        if not origin:
            return None
        origins = get_settings().origins
        origin = origin.rstrip("/")
        return origin if origin in origins else None

    def _decorate(self, ctx: RequestContext, response: Response) -> None:
        headers = response.headers
        headers["X-Request-ID"] = ctx.request_id
        for name, value in SECURITY_HEADERS.items():
            headers.setdefault(name, value)
        if ctx.principal is not None:
            headers.setdefault("Cache-Control", "no-store")
        headers.add("Vary", "Origin")
        origin = self._allowed_origin(ctx)
        if origin:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = _CORS_EXPOSE_HEADERS


def _accepts_gzip(request: Request) -> bool:
    return request.accept_encodings.quality("gzip") > 0


def _compress(request: Request, response: Response) -> None:
    """gzip a response over GZIP_MIN_BYTES for a client that accepts it (streamed ones as they stream)."""
    if (request.method == "HEAD" or response.status_code in (204, 304) or "Content-Encoding" in response.headers
            or not _accepts_gzip(request)):
        return
    if response.is_streamed:
        import zlib

        chunks = response.response

        def stream():
            packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip container
            for chunk in chunks:
                data = packer.compress(chunk if isinstance(chunk, bytes) else str(chunk).encode())
                if data:
                    yield data
            yield packer.flush()

        response.response = stream()
        response.headers.pop("Content-Length", None)
    else:
        body = response.get_data()
        if len(body) <= GZIP_MIN_BYTES:
            return
        import gzip

        response.set_data(gzip.compress(body, compresslevel=6))
    response.headers["Content-Encoding"] = "gzip"
    response.headers.add("Vary", "Accept-Encoding")
