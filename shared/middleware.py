"""The function's own middleware, which each function's `create_app` passes to its `FunctionApp`.

Where each runs is not decided here: every middleware names its `place` in the one
order, `shared.http` `ORDER` (docs/ARCHITECTURE.md, "Middleware order"): tracing
first, so its span covers the others' work; metrics before the rate limiter, so
requests it refuses are still measured; the access log last. Each is cheap to
construct (no I/O, no settings).
"""

from __future__ import annotations

from shared.access_log import AccessLogMiddleware
from shared.http import Middleware, TracingMiddleware
from shared.metrics import RequestMetricsMiddleware
from shared.ratelimit import RateLimitMiddleware


def standard_middleware(function_name: str) -> list[Middleware]:
    """Tracing (a no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set), request metrics, rate limits
    and the access log, for the function `function_name`."""
    return [TracingMiddleware(function_name), RequestMetricsMiddleware(function_name),
            RateLimitMiddleware(function_name), AccessLogMiddleware(function_name)]
