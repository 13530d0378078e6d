"""The standard middleware stack a function's wiring passes to its `FunctionApp`.

The HTTP layer runs whatever middleware it is given and knows none of them;
each function's `main.py` asks for this stack by name, so the order is
decided once: tracing first, metrics before the rate limiter, so requests it
refuses are still measured, and the access log last. Each middleware is cheap to construct (no I/O, no settings).
"""

from __future__ import annotations

from shared.access_log import AccessLogMiddleware
from shared.http import Middleware
from shared.metrics import RequestMetricsMiddleware
from shared.ratelimit import RateLimitMiddleware
from shared.tracing import TracingMiddleware


def standard_middleware(function_name: str) -> list[Middleware]:
    """Tracing (a no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set; its span covers the others'
    work), request metrics, rate limits, then the access log, for the function `function_name`."""
    return [TracingMiddleware(function_name), RequestMetricsMiddleware(function_name),
            RateLimitMiddleware(function_name), AccessLogMiddleware(function_name)]
