"""`Route`: a path template and methods bound to a handler, each maybe a lazy `"module:attr"` reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.auth import ANY_ROLE

PUBLIC = None  # roles=None: no authentication


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
