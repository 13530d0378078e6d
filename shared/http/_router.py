"""The routing step: a request's path and method to one `Route` (werkzeug's `Map`), or 404 / 405."""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.exceptions import MethodNotAllowed as _WzMethodNotAllowed
from werkzeug.exceptions import NotFound as _WzNotFound
from werkzeug.routing import Map, RequestRedirect, Rule

from shared import errors

if TYPE_CHECKING:
    from shared.http._context import RequestContext
    from shared.http._routing import Route


class Router:
    """The routes of one app as a werkzeug `Map` (no if-chains on paths)."""

    def __init__(self, routes: list[Route]) -> None:
        self.by_endpoint = {str(i): r for i, r in enumerate(routes)}
        rules = [Rule(r.rule, endpoint=endpoint, methods=list(r.methods)) for endpoint, r in self.by_endpoint.items()]
        # A trailing or doubled slash is another path (404), never silently the same resource.
        self.url_map = Map(rules, strict_slashes=True, merge_slashes=False)

    def allowed_methods(self, ctx: "RequestContext") -> list[str]:
        """The methods any route takes at the request's path (empty: no route has the path)."""
        try:
            return list(self.url_map.bind_to_environ(ctx.request.environ).allowed_methods())
        except Exception:  # pragma: no cover - defensive
            return []

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


class RoutingMiddleware:
    """`before`: the request's route and path arguments onto the context, or 404 / 405."""

    place = "routing"

    def __init__(self, router: Router) -> None:
        self.router = router

    def before(self, ctx: "RequestContext") -> None:
        request = ctx.request
        adapter = self.router.url_map.bind_to_environ(request.environ)
        try:
            rule, args = adapter.match(return_rule=True)
        except _WzMethodNotAllowed as exc:
            allowed = ", ".join(sorted(set(exc.valid_methods or []) | {"OPTIONS"}))
            raise errors.MethodNotAllowed(
                f"{request.method} is not allowed here.", headers={"Allow": allowed}
            ) from None
        except (_WzNotFound, RequestRedirect):
            raise errors.NotFound("No such path.") from None
        route = self.router.by_endpoint[rule.endpoint]
        ctx.route, ctx.route_template, ctx.route_args = route, route.rule, args
