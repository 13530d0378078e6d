"""Authentication and roles: a route with `roles` needs a valid key of one of them (shared.auth)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import errors
from shared.auth import Principal, authenticate, bearer_token, require_role
from shared.auth_throttle import client_address, throttle

if TYPE_CHECKING:
    from shared.http._context import RequestContext
    from shared.http._routing import Route


class AuthMiddleware:
    """`before`: the caller onto the context (401), and their role checked against the route's (403)."""

    place = "auth"

    def before(self, ctx: "RequestContext") -> None:
        route = ctx.route
        if route is not None and route.roles is not None:
            ctx.principal = self._authenticate(ctx, route)
            require_role(ctx.principal, route.roles)

    @staticmethod
    def _authenticate(ctx: "RequestContext", route: "Route") -> Principal:
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
