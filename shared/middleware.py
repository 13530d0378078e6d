"""The standard middleware stack a function's wiring passes to its `FunctionApp`.

The HTTP layer runs whatever middleware it is given and knows none of them;
each function's `main.py` asks for this stack by name, so the order is
decided once: metrics first, so requests the rate limiter refuses are still
measured. Each middleware is cheap to construct (no I/O, no settings).
"""

from __future__ import annotations

from shared.http import Middleware
from shared.metrics import RequestMetricsMiddleware
from shared.ratelimit import RateLimitMiddleware


def standard_middleware(function_name: str) -> list[Middleware]:
    """Request metrics, then rate limits, for the function named `function_name`."""
    return [RequestMetricsMiddleware(function_name), RateLimitMiddleware(function_name)]
