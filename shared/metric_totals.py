"""Platform-wide cumulative totals behind `GET /metrics`, computed by the database.

Why from the database: every instance writes its request metrics, ledger rows
and content there, so any instance answering a scrape reports the same,
platform-wide figures (prometheus_client's multiprocess mode does not span
hosts). Why rollups: the retention job deletes old rows, which would make a
counter go down (read by Prometheus as a reset). Before it deletes a batch it
calls `fold_deleted` in the same transaction, which adds the batch's totals to
`metric_rollups`; a total is then live rows + rollups, and never decreases.

Each `Aggregate` is one metric family, or one slice of it (input and output
token usage are two), over one table: a histogram (count, sum, cumulative
bucket counts) or a counter (count and sum of the addend); content quality is a
gauge histogram of the items held now (owners and erasure delete items, so no
counter can stay true there). Token usage follows the OpenTelemetry GenAI
conventions: the `gen_ai.client.token.usage` histogram per call, and the
`gen_ai.client.inference.usage.*` counters, where cache reads and writes are
parts of the input tokens and reasoning tokens a part of the output tokens
(the provider adapters normalise every provider's usage to that). The health
function's exposition (`functions/health/prometheus.py`) reads them; the
retention job folds into them; both use this one definition.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, SQLColumnExpression
    from sqlalchemy.orm import Session

    from shared.models import Base

# OpenTelemetry's advisory bucket boundaries: http.server.request.duration (s, extended for
# generation requests), gen_ai.client.token.usage ({token}), gen_ai.client.operation.duration (s).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0, 120.0)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
GENAI_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
QUALITY_BUCKETS = (0.5, 0.7, 0.85, 1.0)  # the /v1/metrics histogram's bands


@dataclass(frozen=True)
class Aggregate:
    metric: str  # family name in the exposition (without _total / _bucket suffixes)
    kind: str  # "histogram" | "counter" | "held" (rows held now by bucket: a gauge histogram, never folded)
    doc: str
    model: type[Base]
    labels: tuple[tuple[str, SQLColumnExpression[Any]], ...]  # (label name, column expression)
    value: SQLColumnExpression[Any]  # the observation (histogram) or the addend (counter)
    where: tuple[SQLColumnExpression[bool], ...] = ()
    buckets: tuple[float, ...] = ()
    constant: tuple[tuple[str, str], ...] = ()  # labels with one value for this slice
    unit: str = ""

    @property
    def key(self) -> str:
        """The rollup key: the metric and its constant labels."""
        return self.metric + "".join(f"|{k}={v}" for k, v in self.constant)

    @property
    def label_names(self) -> list[str]:
        return [name for name, _ in self.labels] + [name for name, _ in self.constant]


@dataclass
class Totals:
    count: int = 0
    total: float = 0.0
    buckets: dict[float, int] = field(default_factory=dict)  # upper bound -> cumulative count

    def add(self, other: "Totals") -> None:
        self.count += other.count
        self.total += other.total
        for bound, n in other.buckets.items():
            self.buckets[bound] = self.buckets.get(bound, 0) + n


@functools.cache
def aggregates() -> tuple[Aggregate, ...]:
    """Every metric the rollups and the exposition compute, in exposition order."""
    return (_http_request_duration(), *_genai_aggregates(), *_quality_aggregates())


def _http_request_duration() -> Aggregate:
    from shared.models import RequestMetric as M

    return Aggregate("http_server_request_duration_seconds", "histogram",
                     "Duration of HTTP server requests, per function, route template, method and status.",
                     M, (("function", M.function), ("http_route", M.route), ("http_request_method", M.method),
                         ("http_response_status_code", M.status)),
                     M.latency_ms / 1000.0, buckets=HTTP_BUCKETS, unit="seconds")


def _genai_labels() -> tuple[tuple[str, SQLColumnExpression[Any]], ...]:
    """A provider call's labels: the ledger's provider name (the exposition maps it to OTel's
    well-known value, PROVIDER_NAMES) and the model."""
    from shared.models import UsageEvent as U

    return (("gen_ai_provider_name", U.provider), ("gen_ai_request_model", U.model))


def _genai_aggregates() -> tuple[Aggregate, ...]:
    """Provider calls from the usage ledger (OTel's gen_ai semantic conventions) and their known cost."""
    from sqlalchemy import case, func

    from shared.models import UsageEvent as U

    billed = (U.kind != "reservation",)
    genai = _genai_labels()
    op = (("gen_ai_operation_name", "chat"),)
    error_type = case((U.outcome.in_(("success", "low_quality")), ""), else_=U.outcome)
    cache_writes = func.coalesce(U.cache_write_tokens, 0) + func.coalesce(U.cache_write_1h_tokens, 0)
    inference_usage = (  # (metric suffix, addend, what it counts)
        ("input_tokens", U.input_tokens, "Input tokens billed (cache reads and writes included)."),
        ("output_tokens", U.output_tokens, "Output tokens billed (reasoning included)."),
        ("cache_read_input_tokens", U.cached_input_tokens,
         "Input tokens served from the provider's cache (a part of the input tokens)."),
        ("cache_write_input_tokens", cache_writes,
         "Input tokens written to the provider's cache (a part of the input tokens)."),
        ("reasoning_output_tokens", U.reasoning_tokens,
         "Reasoning/thinking tokens (a part of the output tokens)."),
    )
    return (
        *(Aggregate("gen_ai_client_token_usage", "histogram",
                    "Billable tokens per provider call, by provider, model and token type.",
                    U, genai, column, billed + (column.is_not(None),), TOKEN_BUCKETS,
                    op + (("gen_ai_token_type", token_type),))
          for token_type, column in (("input", U.input_tokens), ("output", U.output_tokens))),
        *(Aggregate(f"gen_ai_client_inference_usage_{suffix}", "counter", doc, U, genai, addend,
                    billed + (U.input_tokens.is_not(None) if suffix.endswith("input_tokens")
                              else U.output_tokens.is_not(None),), constant=op)
          for suffix, addend, doc in inference_usage),
        Aggregate("gen_ai_client_operation_duration_seconds", "histogram",
                  "Duration of provider calls, by provider, model and error type (empty when it succeeded).",
                  U, genai + (("error_type", error_type),), U.latency_ms / 1000.0,
                  billed + (U.latency_ms.is_not(None),), GENAI_DURATION_BUCKETS, op, unit="seconds"),
        Aggregate("lafactoria_gen_ai_cost_usd", "counter",
                  "Known provider cost in US dollars (reservations and unknown prices excluded).",
                  U, genai, func.coalesce(U.cost_usd, 0),
                  billed + (U.cost_known.is_(True), U.cost_usd.is_not(None))),
    )


def _quality_aggregates() -> tuple[Aggregate, ...]:
    """What the quality gate costs (regenerations) and what it scored (items held)."""
    from sqlalchemy import case, func

    from shared.models import ContentItem as C
    from shared.models import UsageEvent as U
    from shared.window_stats import after_low_quality

    genai = _genai_labels()
    regenerated = (U.kind != "reservation", *after_low_quality(U))
    return (
        # Regenerations the quality gate asked for (rate against POST /v1/content requests) and their cost.
        Aggregate("lafactoria_quality_regenerations", "counter",
                  "Generations made because an earlier generation of the request failed the quality gate.",
                  U, genai, case((U.kind == "generation", 1), else_=0),
                  regenerated + (U.kind == "generation", U.outcome.in_(("success", "low_quality")))),
        Aggregate("lafactoria_quality_regeneration_cost_usd", "counter",
                  "Known cost in US dollars of the calls made after a generation failed the quality gate.",
                  U, genai, func.coalesce(U.cost_usd, 0),
                  regenerated + (U.cost_known.is_(True), U.cost_usd.is_not(None))),
        # Items are deleted by their owners and by erasure, so this one is a gauge histogram of what is held.
        Aggregate("lafactoria_content_quality_items", "held",
                  "Generated items held now by content type: a gauge histogram of their overall quality score.",
                  C, (("content_type", C.content_type),), C.quality_overall, buckets=QUALITY_BUCKETS),
    )


def _live(session: Session, agg: Aggregate, extra: tuple[SQLColumnExpression[bool], ...] = ()) -> dict[tuple[str, ...], Totals]:
    from sqlalchemy import func, select

    cols = [expr for _, expr in agg.labels]
    measures: list[ColumnElement[Any]] = [func.count(agg.value), func.coalesce(func.sum(agg.value), 0)]
    measures += [func.count().filter(agg.value <= bound) for bound in agg.buckets]
    rows = session.execute(select(*cols, *measures).where(*agg.where, *extra).group_by(*cols)).all()
    out = {}
    n = len(cols)
    for row in rows:
        key = tuple("" if v is None else str(v) for v in row[:n])
        count, total, *buckets = row[n:]
        if count:
            out[key] = Totals(int(count), float(total), dict(zip(agg.buckets, map(int, buckets))))
    return out


def _rolled(session: Session, agg: Aggregate) -> dict[tuple[str, ...], Totals]:
    from sqlalchemy import select

    from shared.models import MetricRollup

    out = {}
    for row in session.scalars(select(MetricRollup).where(MetricRollup.metric == agg.key)):
        buckets = {float(b): int(n) for b, n in (row.buckets or {}).items()}
        out[tuple(json.loads(row.labels))] = Totals(int(row.count), float(row.total), buckets)
    return out


def totals(session: Session, agg: Aggregate) -> dict[tuple[str, ...], Totals]:
    """Everything ever recorded for `agg`: live rows plus what retention folded away."""
    out = _rolled(session, agg)
    for key, live in _live(session, agg).items():
        out.setdefault(key, Totals()).add(live)
    return out


def fold_deleted(session: Session, model: type[Base], condition: SQLColumnExpression[bool]) -> int:
    """Add the totals of `model` rows matching `condition` to the rollups, before the caller
    deletes them in the same transaction. Returns the label sets touched."""
    from shared.models import MetricRollup, utcnow

    touched = 0
    for agg in aggregates():
        if agg.model is not model or agg.kind == "held":
            continue
        for key, part in _live(session, agg, (condition,)).items():
            labels = json.dumps(list(key))
            row = session.get(MetricRollup, (agg.key, labels), with_for_update=True)
            if row is None:
                row = MetricRollup(metric=agg.key, labels=labels, count=0, total=0.0, buckets={})
                session.add(row)
            merged = Totals(int(row.count or 0), float(row.total or 0.0),
                            {float(b): int(n) for b, n in (row.buckets or {}).items()})
            merged.add(part)
            row.count, row.total, row.updated_at = merged.count, merged.total, utcnow()
            row.buckets = {repr(b): n for b, n in merged.buckets.items()}
            touched += 1
    session.flush()
    return touched


