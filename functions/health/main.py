"""Health function: `functions-framework --source functions/health/main.py --target health`."""

import functions_framework

from functions.health import handlers
from shared.http import PUBLIC, FunctionApp, Route
from shared.middleware import standard_middleware

_METRICS = "functions.health.metrics"
_FAILING = {"description": "Status fail: a required dependency fails",
            "content": {"application/health+json": {"schema": {"type": "object"}}}}

app = FunctionApp(
    "health",
    [
        Route("/livez", handlers.livez, roles=PUBLIC, summary="Liveness: the process is up"),
        Route("/readyz", handlers.readyz, roles=PUBLIC, summary="Readiness: dependencies needed to serve",
              responses={503: _FAILING}),
        Route("/health", handlers.health, roles=PUBLIC, summary="Health report (draft-inadarei-api-health-check)",
              responses={503: _FAILING}),
        # Imported on first use: pydantic and SQL stay out of the liveness cold start.
        Route("/v1/metrics", f"{_METRICS}:metrics", roles=frozenset({"ops", "admin"}), query=f"{_METRICS}:MetricsQuery",
              response=f"{_METRICS}:MetricsReport", summary="Operational metrics for a window (ops, admin)",
              responses={403: "The caller's role is not ops or admin", 422: "Unknown window"}),
    ],
    middleware=standard_middleware("health"),
)


@functions_framework.http
def health(request):
    return app(request)
