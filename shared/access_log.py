"""The access log: one JSON line per request, on the `lafactoria.access` logger.

Fields: `function`, `method`, `route` (the template, e.g. `/v1/content/<item_id>`,
so no identifier from the path), `status`, `latency_ms` and `request_id`.
Deliberately never the API key, the caller, an email, the query string or the
body. Written at level info, so `LOG_LEVEL=warning` turns it off.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Response

    from shared.http import RequestContext

log = logging.getLogger("lafactoria.access")


class AccessLogMiddleware:
    """`after` hook: the request's one access-log line."""

    place = "access_log"  # in the one middleware order (shared.http ORDER)

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        log.info("request", extra={
            "function": self.function_name,
            "method": ctx.request.method,
            "route": ctx.route_template,
            "status": response.status_code,
            "latency_ms": round((time.perf_counter() - ctx.started) * 1000.0, 2),
            "request_id": ctx.request_id,
        })
