"""Admission: past `WEB_MAX_IN_FLIGHT` requests in flight, refuse at once (shared.admission)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import errors
from shared.admission import SHED_ROUTE, gate
from shared.logs import get_logger

if TYPE_CHECKING:
    from flask import Response

    from shared.http._context import RequestContext

log = get_logger("lafactoria.http")

PROBE_PATHS = frozenset({"/livez", "/readyz"})  # never refused for capacity: busy is not dead
_ADMITTED = "admitted"


class AdmissionMiddleware:
    """`before`: take a place in the gate or 503 (probes pass); `after`: give the place back."""

    place = "admission"

    def before(self, ctx: "RequestContext") -> None:
        if ctx.request.path in PROBE_PATHS:
            return
        if not gate.enter():
            log.warning("request shed: instance at capacity", extra={"route": ctx.route_template})
            ctx.route_template = SHED_ROUTE
            raise errors.AtCapacity()
        ctx.state[_ADMITTED] = True

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        if ctx.state.pop(_ADMITTED, False):
            gate.leave()
