"""The function's own middleware, which each function's `create_app` passes to its `FunctionApp`.

Where each runs is not decided here: every middleware names its `place` in the one
order, `shared.http` `ORDER` (docs/ARCHITECTURE.md, "Middleware order"): tracing
first, so its span covers the others' work; metrics before the rate limiter, so
requests it refuses are still measured; the access log last.

Each gets its own small config object, built here from the app's settings at startup
(docs/ARCHITECTURE.md, "Settings"). Without settings (they load on first use outside
production, so `/livez` imports no pydantic) tracing still knows its endpoint (read
before the settings), metrics capture is `DEFERRED` and the limiter reads the request's
settings when it first limits one. No I/O here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.access_log import AccessLogMiddleware
from shared.http import TracingMiddleware
from shared.metrics import DEFERRED, MetricsConfig, RequestMetricsMiddleware
from shared.ratelimit import RateLimitConfig, RateLimitMiddleware
from shared.settings.environment import Environment, read_environment
from shared.tracing import TracingConfig

if TYPE_CHECKING:
    from shared.settings import Settings


def standard_middleware(function_name: str, settings: "Settings | None" = None,
                        environment: Environment | None = None) -> list[Any]:
    """Tracing (a no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set), request metrics, rate limits
    and the access log, for the function `function_name` with `settings` (None: loaded on first
    use) and `environment` (the variables read before the settings; default this process's).
    Typed like `builtin_middleware`: an after-only middleware (the access log) has no `before`."""
    environment = environment or read_environment()
    return [TracingMiddleware(function_name, TracingConfig.of(environment)),
            RequestMetricsMiddleware(function_name,
                                     config=MetricsConfig.of(settings) if settings is not None else DEFERRED),
            RateLimitMiddleware(function_name, config=RateLimitConfig.of(settings) if settings is not None else None),
            AccessLogMiddleware(function_name)]
