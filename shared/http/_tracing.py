"""Tracing of requests: a SERVER span per request (shared.tracing holds the provider and the other spans)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from shared.tracing import TracingConfig, tracer

if TYPE_CHECKING:
    from flask import Response

    from shared.http._context import RequestContext

_STATE_KEY = "otel"


def _start_ns(perf_started: float) -> int:
    """Wall-clock nanoseconds of a `time.perf_counter()` reading taken earlier."""
    return time.time_ns() - int((time.perf_counter() - perf_started) * 1e9)


class TracingMiddleware:
    """A SERVER span per request, covering it from its arrival (`ctx.started`), when `config`
    (built at startup, `TracingConfig.of`) turns tracing on."""

    place = "tracing"

    def __init__(self, function_name: str, config: TracingConfig) -> None:
        self.function_name = function_name
        self.config = config

    def before(self, ctx: "RequestContext") -> None:
        if self.config.enabled:
            self._start(ctx)

    def _start(self, ctx: "RequestContext") -> None:
        from opentelemetry import context, propagate, trace

        parent = propagate.extract({k.lower(): v for k, v in ctx.request.headers.items()})
        method = ctx.request.method
        span = tracer().start_span(
            f"{method} {ctx.route_template}", context=parent, kind=trace.SpanKind.SERVER,
            start_time=_start_ns(ctx.started),
            attributes={"http.request.method": method, "http.route": ctx.route_template,
                        "url.scheme": ctx.request.scheme, "lafactoria.function": self.function_name,
                        "lafactoria.request_id": ctx.request_id})
        token = context.attach(trace.set_span_in_context(span, parent))
        ctx.state[_STATE_KEY] = (span, token)

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        if not self.config.enabled:
            return
        from opentelemetry import context, trace

        if _STATE_KEY not in ctx.state:  # refused before the middleware ran (404, 401, 429...)
            self._start(ctx)
        span, token = ctx.state.pop(_STATE_KEY)
        status = response.status_code
        span.update_name(f"{ctx.request.method} {ctx.route_template}")
        span.set_attribute("http.route", ctx.route_template)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_attribute("error.type", str(status))
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        span.end()
        context.detach(token)
