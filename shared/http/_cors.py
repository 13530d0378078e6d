"""CORS: preflights answered, and the allow headers for configured origins only (ALLOWED_ORIGINS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import errors
from shared.http._responses import empty_response

if TYPE_CHECKING:
    from flask import Response

    from shared.http._context import RequestContext
    from shared.http._router import Router

_CORS_ALLOW_HEADERS = "Authorization, Cache-Control, Content-Type, Idempotency-Key, X-Request-ID"
CORS_EXPOSE_HEADERS = (  # what browser code may read (the contract's list, and Location of a 201)
    "X-Request-ID, Retry-After, Idempotent-Replayed, Content-Disposition, RateLimit-Limit, RateLimit-Remaining, "
    "RateLimit-Reset, Location"
)


def allowed_origin(ctx: "RequestContext") -> str | None:
    """The request's Origin when it is one of the configured origins."""
    origin = ctx.request.headers.get("Origin")
    if not origin:
        return None
    origins = ctx.settings.origins
    origin = origin.rstrip("/")
    return origin if origin in origins else None


class CorsMiddleware:
    """`before`: an OPTIONS request is a preflight, answered here (404 for a path no route has);
    `after`: `Vary: Origin`, and the allow and expose headers for an allowed origin."""

    place = "cors"
    on_host_pages = True

    def __init__(self, router: "Router") -> None:
        self.router = router

    def before(self, ctx: "RequestContext") -> "Response | None":
        if ctx.request.method != "OPTIONS":
            return None
        allowed = self.router.allowed_methods(ctx)
        if not allowed:
            raise errors.NotFound("No such path.")
        headers = {"Allow": ", ".join(sorted(set(allowed) | {"OPTIONS"}))}
        if allowed_origin(ctx):
            headers.update({
                "Access-Control-Allow-Methods": headers["Allow"],
                "Access-Control-Allow-Headers": _CORS_ALLOW_HEADERS,
                "Access-Control-Max-Age": "600",
            })
        return empty_response(204, headers)

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        response.headers.add("Vary", "Origin")
        origin = allowed_origin(ctx)
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
