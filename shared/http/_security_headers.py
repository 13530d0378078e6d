"""The security headers every response carries, refusals and the host's own pages included."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Response

    from shared.http._context import RequestContext

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class SecurityHeadersMiddleware:
    """`after`: the security headers (a handler's own value wins), and `no-store` for a caller's data."""

    place = "security_headers"
    on_host_pages = True

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        headers = response.headers
        for name, value in SECURITY_HEADERS.items():
            headers.setdefault(name, value)
        if ctx.principal is not None:
            headers.setdefault("Cache-Control", "no-store")
