"""`RequestContext`: what a handler gets, the request, its id, the caller, and validated input."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from flask import Request, Response

from shared import errors
from shared.auth import Principal

if TYPE_CHECKING:
    from pydantic import BaseModel

    from shared.http._routing import Route
    from shared.settings import Settings


class App(Protocol):  # pragma: no cover - typing only
    """What a context and the host glue need of a `FunctionApp` (which imports them)."""

    name: str
    settings: "Settings | None"
    middleware: list[Any]

    def __call__(self, request: Request) -> Response: ...


def get_settings() -> "Settings":
    """Settings, imported on first use: `/livez` never pays for pydantic (cold start)."""
    from shared.settings import get_settings as _get

    return _get()


class RequestContext:
    """What a handler gets: the request, its id, the caller, and validated input.

    Middlewares fill it in their order (docs/ARCHITECTURE.md, "Middleware order"): the
    request id, then the route and its path arguments, then the caller.
    """

    def __init__(self, app: App, request: Request, request_id: str = "") -> None:
        self.app = app
        self.request = request
        self.request_id = request_id
        self.route: Route | None = None
        self.route_template: str = "unmatched"
        self.route_args: Mapping[str, Any] = {}
        self.principal: Principal | None = None
        self.started = time.perf_counter()
        self.state: dict[str, Any] = {}
        self._body: bytes | None = None

    @property
    def settings(self) -> "Settings":
        """The app's settings (`create_app(settings)`), else the process's, loaded on first use."""
        return self.app.settings or get_settings()

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
            limit = self.settings.max_body_bytes
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
                self.request._cached_data = b""  # left unread: the connection closes (see drain)
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

    def body(self, model: type[BaseModel] | None = None) -> Any:
        """The JSON body validated against `model` (default the route's body model)."""
        return _validated(model or (self.route.body if self.route else None), self.json_body())

    def query(self, model: type[BaseModel] | None = None) -> Any:
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


def _validated(model: type[BaseModel] | None, payload: Any) -> Any:
    """`payload` through pydantic `model` (as-is without one); failures are 422 with per-field errors."""
    if model is None:
        return payload
    from pydantic import ValidationError

    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise errors.ValidationFailed(errors.pydantic_errors(exc)) from None
