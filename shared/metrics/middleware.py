"""`RequestMetricsMiddleware`: capture each request's figures in the after hook, off the hot path's I/O."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from shared.logs import get_logger
from shared.metrics.config import DEFERRED, MetricsConfig
from shared.metrics.instance import in_flight
from shared.metrics.record import MetricRecord
from shared.metrics.recorder import MetricsRecorder, recorder

if TYPE_CHECKING:
    from flask import Response

    from shared.http import RequestContext

log = get_logger("lafactoria.metrics")
_IN_FLIGHT = "metrics_in_flight"  # in ctx.state: counted in by `before`, so `after` counts it out


class RequestMetricsMiddleware:
    """`after` hook: capture function, route template, method, status and latency of a request;
    `before`/`after` also count the requests this instance is handling now (in flight).

    `config`: from the app's settings at startup (`MetricsConfig.of`), else `DEFERRED`."""

    place = "metrics"  # in the one middleware order (shared.http ORDER)

    def __init__(self, function_name: str, sink: MetricsRecorder | None = None, *,
                 config: MetricsConfig = DEFERRED) -> None:
        self.function_name = function_name
        self.sink = sink or recorder
        self.config = config

    def before(self, ctx: "RequestContext") -> None:
        in_flight.enter()
        ctx.state[_IN_FLIGHT] = True

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        if ctx.state.pop(_IN_FLIGHT, False):
            in_flight.leave()
        try:
            if not self.config.enabled:
                return
            principal = ctx.principal
            self.sink.record(MetricRecord(
                self.config.database_url,
                datetime.now(timezone.utc),
                self.function_name,
                ctx.route_template,
                ctx.request.method,
                response.status_code,
                (time.perf_counter() - ctx.started) * 1000.0,
                principal.user_id if principal is not None else None,
            ), self.config)
        except Exception:  # noqa: BLE001 - metrics never break a response
            log.exception("request metric capture failed")
