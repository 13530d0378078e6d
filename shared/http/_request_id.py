"""Request ids: the client's `X-Request-ID` when safe to echo, else a fresh one, on every response."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from shared.logs import request_id_var

if TYPE_CHECKING:
    from flask import Request, Response

    from shared.http._context import RequestContext

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
_TOKEN = "request_id_token"


def echoable_request_id(value: str) -> str:
    """`value` (a client's X-Request-ID) when it is safe to echo, else a fresh id."""
    return value if _REQUEST_ID.match(value) else uuid.uuid4().hex


def request_id_of(request: "Request") -> str:
    """The client's X-Request-ID when it is safe to echo, else a fresh one."""
    return echoable_request_id(request.headers.get("X-Request-ID", ""))


class RequestIdMiddleware:
    """`before`: the id onto the context and into every log line (shared.logs); `after`: the header."""

    place = "request_id"
    on_host_pages = True  # the host's own error pages carry it too (shared.http._host)

    def before(self, ctx: "RequestContext") -> None:
        ctx.request_id = request_id_of(ctx.request)
        ctx.state[_TOKEN] = request_id_var.set(ctx.request_id)

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        response.headers["X-Request-ID"] = ctx.request_id
        token = ctx.state.pop(_TOKEN, None)
        if token is not None:
            request_id_var.reset(token)
