"""Health function: `functions-framework --source functions/health/main.py --target health`."""

import functions_framework

from functions.health import handlers, metrics
from shared.http import PUBLIC, FunctionApp, Route

app = FunctionApp(
    "health",
    [
        Route("/livez", handlers.livez, roles=PUBLIC, summary="Liveness: the process is up"),
        Route("/readyz", handlers.readyz, roles=PUBLIC, summary="Readiness: dependencies needed to serve"),
        Route("/health", handlers.health, roles=PUBLIC, summary="Health report (draft-inadarei-api-health-check)"),
        Route("/v1/metrics", metrics.metrics, roles=frozenset({"ops", "admin"}), query=metrics.MetricsQuery,
              response=metrics.MetricsReport, summary="Operational metrics for a window (ops, admin)",
              responses={403: "The caller's role is not ops or admin", 422: "Unknown window"}),
    ],
)


@functions_framework.http
def health(request):
    return app(request)
