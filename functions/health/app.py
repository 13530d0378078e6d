"""Health function's app factory: `create_app(settings)`; `main.py` is the entry point.

Handlers and payload models are `"module:attr"` references, imported on the first
request that needs them (docs/ARCHITECTURE.md, "Lazy imports").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.http import PUBLIC, FunctionApp, Route
from shared.middleware import standard_middleware

if TYPE_CHECKING:
    from shared.settings import Settings

_HANDLERS = "functions.health.handlers"
_METRICS = "functions.health.metrics"
_ALERTS = "functions.health.alerts"
_JOBS = "functions.health.jobs_status"
_PROM = "functions.health.prometheus"
_CONSOLE = "functions.health.console"
_SPEND = "functions.health.spend"
_OPS = frozenset({"ops", "admin"})
_FAILING = {"description": "Status fail: a required dependency fails",
            "content": {"application/health+json": {"schema": {"type": "object"}}}}

def _routes() -> list[Route]:
    return [
        Route("/livez", f"{_HANDLERS}:livez", roles=PUBLIC, summary="Liveness: the process is up"),
        Route("/readyz", f"{_HANDLERS}:readyz", roles=PUBLIC, summary="Readiness: dependencies needed to serve",
              responses={503: _FAILING}),
        Route("/health", f"{_HANDLERS}:health", roles=PUBLIC, summary="Health report (draft-inadarei-api-health-check)",
              responses={503: _FAILING}),
        Route("/v1/metrics", f"{_METRICS}:metrics", roles=frozenset({"ops", "admin"}), query=f"{_METRICS}:MetricsQuery",
              response=f"{_METRICS}:MetricsReport", summary="Operational metrics for a window (ops, admin)",
              responses={403: "The caller's role is not ops or admin", 422: "Unknown window"}),
        Route("/metrics", f"{_PROM}:metrics", roles=_OPS, response=f"{_PROM}:Exposition",
              summary="Prometheus exposition (text 0.0.4, or OpenMetrics 1.0 by `Accept`), platform-wide from the database "
                      "(ops, admin)",
              responses={403: "The caller's role is not ops or admin"}),
        Route("/v1/alerts", f"{_ALERTS}:list_alerts", roles=_OPS, query=f"{_ALERTS}:AlertsQuery",
              response=f"{_ALERTS}:AlertList", summary="Alerts, newest first (ops, admin)",
              responses={403: "The caller's role is not ops or admin", 422: "Unknown state or bad limit"}),
        Route("/v1/alerts/<alert_id>/ack", f"{_ALERTS}:ack", methods=("POST",), roles=_OPS,
              response=f"{_ALERTS}:AlertView", summary="Acknowledge an open alert: no escalation follows (ops, admin)",
              responses={403: "The caller's role is not ops or admin", 404: "No such alert",
                         409: "The alert is resolved already"}),
        Route("/v1/spend", f"{_SPEND}:spend", roles=_OPS, query=f"{_SPEND}:SpendQuery",
              response=f"{_SPEND}:SpendReport", summary="Known spend per UTC day and provider (ops, admin)",
              responses={403: "The caller's role is not ops or admin", 422: "days outside 1..92"}),
        Route("/console", f"{_CONSOLE}:page", roles=PUBLIC, response=f"{_CONSOLE}:Page",
              summary="The ops console (its data needs an ops or admin key)"),
        Route("/console/<name>", f"{_CONSOLE}:asset", roles=PUBLIC, summary="The ops console's script, styles and icon",
              responses={404: "No such asset"}),
        Route("/v1/jobs", f"{_JOBS}:list_jobs", roles=_OPS, response=f"{_JOBS}:JobList",
              summary="Every job's schedule, latest run and next due time (ops, admin)",
              responses={403: "The caller's role is not ops or admin"}),
    ]


def create_app(settings: Settings | None) -> FunctionApp:
    """The health function with `settings` (None: the process's, loaded on first use). No I/O."""
    return FunctionApp("health", _routes(), middleware=standard_middleware("health", settings),
                       settings=settings)
