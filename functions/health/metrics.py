"""Operational metrics: `GET /v1/metrics` for a window, from `shared.window_stats`.

The aggregates (and their definitions) live in `shared.window_stats`, shared
with the `alert-check` rules; this module holds the endpoint's query and
response models and assembles the body DESIGN.md fixes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.http import RequestContext, json_response
from shared.window_stats import feedback_stats, generation_stats, known_cost, regeneration_stats, request_stats
from shared.timestamps import iso
from shared.wire_types import USD, Timestamp

if TYPE_CHECKING:
    from flask import Response
    from sqlalchemy.orm import Session

WINDOWS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}


# -- request/response models ----------------------------------------------------------
class MetricsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window: Literal["15m", "1h", "24h", "7d"] = "1h"


class Latency(BaseModel):
    p50: float | None
    p95: float | None
    p99: float | None


class FunctionFigures(BaseModel):
    count: int
    error_rate_4xx: float
    error_rate_5xx: float
    latency_ms: Latency


class RequestFigures(BaseModel):
    total: int
    per_minute: float
    functions: dict[str, FunctionFigures]


class QualityFigures(BaseModel):
    mean: float | None
    passed_share: float | None
    histogram: dict[str, int] = Field(description='counts in "0.0-0.5", "0.5-0.7", "0.7-0.85", "0.85-1.0"')


class RegenerationFigures(BaseModel):
    count: int = Field(description="generations made because an earlier generation of the request failed the "
                                   "quality gate")
    per_100_requests: float | None = Field(description="regenerations per 100 generation requests (null: none)")
    cost_usd: float = Field(description="known cost of those regenerations (their repairs and reviews included)")


class GenerationFigures(BaseModel):
    count: int
    success_rate: float | None
    quality: QualityFigures
    content_types: dict[str, int]
    regenerations: RegenerationFigures


class FeedbackFigures(BaseModel):
    count: int
    mean_rating: float | None


class MetricsReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    window: str
    from_: Timestamp = Field(alias="from")
    to: Timestamp
    requests: RequestFigures
    generation: GenerationFigures
    cost_usd: USD
    feedback: FeedbackFigures


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def build_report(session: Session, window: str, end: datetime | None = None) -> dict[str, Any]:
    """The `/v1/metrics` body (DESIGN.md) for `window` ending at `end` (default now)."""
    end = end or datetime.now(timezone.utc)
    span = WINDOWS[window]
    start = end - span
    per_fn = request_stats(session, start, end)
    total = sum(s.count for s in per_fn.values())
    gen = generation_stats(session, start, end)
    regen = regeneration_stats(session, start, end)
    fb_count, fb_mean = feedback_stats(session, start, end)
    return {
        "window": window,
        "from": iso(start),
        "to": iso(end),
        "requests": {
            "total": total,
            "per_minute": round(total / (span.total_seconds() / 60), 4),
            "functions": {
                name: {
                    "count": s.count,
                    "error_rate_4xx": round(s.error_rate_4xx, 4),
                    "error_rate_5xx": round(s.error_rate_5xx, 4),
                    "latency_ms": {"p50": _r(s.p50, 2), "p95": _r(s.p95, 2), "p99": _r(s.p99, 2)},
                }
                for name, s in sorted(per_fn.items())
            },
        },
        "generation": {
            "count": gen.count,
            "success_rate": _r(gen.success_rate),
            "quality": {"mean": _r(gen.quality_mean), "passed_share": _r(gen.passed_share),
                        "histogram": gen.histogram},
            "content_types": gen.content_types,
            # Generations the quality gate asked for: what its rejections cost.
            "regenerations": {"count": regen.regenerations, "per_100_requests": _r(regen.per_100_requests, 2),
                              "cost_usd": round(regen.cost_usd, 6)},
        },
        "cost_usd": round(known_cost(session, start, end), 6),
        "feedback": {"count": fb_count, "mean_rating": _r(fb_mean, 3)},
    }


def metrics(ctx: RequestContext) -> Response:
    """GET /v1/metrics: operational figures for a window (ops and admin)."""
    from shared.database import session_scope

    query = ctx.query(MetricsQuery)
    with session_scope() as session:
        body = build_report(session, query.window)
    return json_response(body, 200, {"Cache-Control": "no-store"})
