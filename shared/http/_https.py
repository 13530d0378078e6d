"""The HTTPS check: production refuses plain HTTP (as told by the edge proxy's X-Forwarded-Proto)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import errors

if TYPE_CHECKING:
    from shared.http._context import RequestContext

# Probes come from the platform over plain HTTP inside its network.
_HSTS_EXEMPT_PATHS = {"/livez", "/readyz"}


class HttpsOnlyMiddleware:
    """`before`: 403 for a plain-HTTP request in production, before anything else looks at it."""

    place = "https_only"

    def before(self, ctx: "RequestContext") -> None:
        proto = ctx.request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if proto == "http" and ctx.request.path not in _HSTS_EXEMPT_PATHS and ctx.settings.is_production:
            raise errors.Forbidden("Plain HTTP is refused; use HTTPS.")
