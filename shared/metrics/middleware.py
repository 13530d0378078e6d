"""`RequestMetricsMiddleware`: capture each request's figures in the after hook, off the hot path's I/O."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from shared.logs import get_logger
from shared.metrics.config import loaded_settings
from shared.metrics.instance import in_flight
from shared.metrics.record import MetricRecord
from shared.metrics.recorder import MetricsRecorder, recorder

if TYPE_CHECKING:
    from flask import Response

    from shared.http import RequestContext

log = get_logger("lafactoria.metrics")


class RequestMetricsMiddleware:
    """`after` hook: capture function, route template, method, status and latency of a request;
    `before`/`after` also count the requests this instance is handling now (in flight)."""

    place = "metrics"  # in the one middleware order (shared.http ORDER)

    def __init__(self, function_name: str, sink: MetricsRecorder | None = None) -> None:
        self.function_name = function_name
        self.sink = sink or recorder

    def before(self, ctx: "RequestContext") -> None:
        in_flight.enter()
        ctx.state["in_flight"] = True

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        if ctx.state.get("in_flight"):
            in_flight.leave()
            ctx.state["in_flight"] = False
        try:
            settings = loaded_settings()
            if settings is not None and not settings.metrics_enabled:
                return
            principal = ctx.principal
            self.sink.record(MetricRecord(
                settings.database_url if settings is not None else None,
                datetime.now(timezone.utc),
                self.function_name,
                ctx.route_template,
                ctx.request.method,
                response.status_code,
                (time.perf_counter() - ctx.started) * 1000.0,
                principal.user_id if principal is not None else None,
            ), settings)
        except Exception:  # noqa: BLE001 - metrics never break a response
            log.exception("request metric capture failed")
