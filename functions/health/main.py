"""Health function: `functions-framework --source functions/health/main.py --target health`.

Handlers and payload models are `"module:attr"` references, imported on the first
request that needs them (docs/ARCHITECTURE.md, "Lazy imports").
"""

import functions_framework

from shared.http import PUBLIC, FunctionApp, Route
from shared.middleware import standard_middleware

_HANDLERS = "functions.health.handlers"
_METRICS = "functions.health.metrics"
_FAILING = {"description": "Status fail: a required dependency fails",
            "content": {"application/health+json": {"schema": {"type": "object"}}}}

app = FunctionApp(
    "health",
    [
        Route("/livez", f"{_HANDLERS}:livez", roles=PUBLIC, summary="Liveness: the process is up"),
        Route("/readyz", f"{_HANDLERS}:readyz", roles=PUBLIC, summary="Readiness: dependencies needed to serve",
              responses={503: _FAILING}),
        Route("/health", f"{_HANDLERS}:health", roles=PUBLIC, summary="Health report (draft-inadarei-api-health-check)",
              responses={503: _FAILING}),
        Route("/v1/metrics", f"{_METRICS}:metrics", roles=frozenset({"ops", "admin"}), query=f"{_METRICS}:MetricsQuery",
              response=f"{_METRICS}:MetricsReport", summary="Operational metrics for a window (ops, admin)",
              responses={403: "The caller's role is not ops or admin", 422: "Unknown window"}),
    ],
    middleware=standard_middleware("health"),
)


@functions_framework.http
def health(request):
    return app(request)
