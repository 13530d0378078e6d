"""The one middleware order: every app's hooks run in this order, whoever supplied them.

`before` hooks run top to bottom; the first to raise (or to return a response) ends the
request there, the exception becoming a response through the app's exception registry.
Then every `after` hook runs bottom to top, whether or not its own `before` ran (a refused
request is still measured, logged and given its headers); an `after` that fails is logged
and never breaks the response.

| place | before | after |
| --- | --- | --- |
| request_id | the id onto the context and the logs | `X-Request-ID` |
| compression | | gzip, last to touch the body |
| security_headers | | the security headers, `no-store` for a caller's data |
| https_only | production refuses plain HTTP (403) | |
| cors | answers a preflight | `Vary: Origin`, the allow headers |
| routing | the route or 404 / 405 | |
| admission | a place in the instance's gate or 503 | the place back |
| auth | the caller (401) and their role (403) | |
| tracing | the request's span starts | the span ends |
| metrics | counted in flight | the request's figures recorded |
| rate_limit | 429 past the caller's limits | `RateLimit-*`, refunds |
| access_log | | the access line |

The first eight every app has (`builtin_middleware`); the last four are the function's
own (`shared.middleware.standard_middleware`), each class naming its `place`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from shared.http._admission import AdmissionMiddleware
from shared.http._auth import AuthMiddleware
from shared.http._compression import CompressionMiddleware
from shared.http._cors import CorsMiddleware
from shared.http._https import HttpsOnlyMiddleware
from shared.http._request_id import RequestIdMiddleware
from shared.http._router import Router, RoutingMiddleware
from shared.http._security_headers import SecurityHeadersMiddleware

if TYPE_CHECKING:
    from flask import Response

    from shared.http._context import RequestContext

ORDER = (
    "request_id", "compression", "security_headers", "https_only", "cors", "routing", "admission", "auth",
    "tracing", "metrics", "rate_limit", "access_log",
)


class BeforeMiddleware(Protocol):  # pragma: no cover - typing only
    """A middleware with a `before(ctx)` hook, which may return a response that ends the request."""

    place: str

    def before(self, ctx: "RequestContext") -> "Response | None": ...


class AfterMiddleware(Protocol):  # pragma: no cover - typing only
    """A middleware with an `after(ctx, response)` hook."""

    place: str

    def after(self, ctx: "RequestContext", response: "Response") -> None: ...


# A `place` in `ORDER` and either hook or both: each hook is optional, so one protocol cannot say it.
Middleware = BeforeMiddleware | AfterMiddleware


def builtin_middleware(router: Router) -> list[Any]:
    """What every app runs, whatever its function adds."""
    return [RequestIdMiddleware(), CompressionMiddleware(), SecurityHeadersMiddleware(), HttpsOnlyMiddleware(),
            CorsMiddleware(router), RoutingMiddleware(router), AdmissionMiddleware(), AuthMiddleware()]


def in_order(middleware: Iterable[Any]) -> list[Any]:
    """`middleware` sorted by `ORDER` (stable: two at one place keep theirs); a middleware
    without a known place is refused at once, never run somewhere arbitrary."""
    middleware = list(middleware)
    for mw in middleware:
        if getattr(mw, "place", None) not in ORDER:
            raise ValueError(f"{type(mw).__name__} has no place in the middleware order {ORDER}")
    return sorted(middleware, key=lambda mw: ORDER.index(mw.place))
