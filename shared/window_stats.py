"""Window aggregates of request and generation statistics, computed by the database.

Read by the health function (`GET /v1/metrics`) and by the `alert-check`
rules, so the figures an operator sees and the figures alerts fire on are the
same numbers. Every figure is an aggregate query over the window (nothing is
loaded row by row): percentiles with `percentile_cont` on PostgreSQL, and on
SQLite, which lacks it, the same linear interpolation between the two ranked
neighbours picked out with window functions, so both backends agree.

Definitions (docs/OBSERVABILITY.md):
- error_rate_4xx / error_rate_5xx: share of responses with that status class.
- generation.count: content items generated in the window (equals the sum of
  `content_types`).
- generation.success_rate: of the generation requests that reached a provider
  in the window (distinct requests in the usage ledger, budget reservations
  excluded), the share with at least one attempt whose outcome is `success`
  (the provider returned valid output). Null when there were none.
- quality: mean overall score, share passing the gate, and a histogram of
  overall scores in the buckets [0, .5), [.5, .7), [.7, .85), [.85, 1].
- cost_usd: sum of known costs in the usage ledger, reservations excluded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import ColumnClause, ColumnElement, Label
    from sqlalchemy.orm import Session

    from shared.models import UsageEvent

    # Extra WHERE conditions for a window query.
    Conditions = tuple[ColumnElement[bool], ...]

PERCENTILES = (0.5, 0.95, 0.99)
HISTOGRAM_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("0.0-0.5", 0.0, 0.5),
    ("0.5-0.7", 0.5, 0.7),
    ("0.7-0.85", 0.7, 0.85),
    ("0.85-1.0", 0.85, 1.0),  # the last bucket includes 1.0
)
# The end-to-end generation request (excluded from API latency, judged on its own).
GENERATION_ROUTE = ("generate", "POST", "/v1/content")


@dataclass(frozen=True)
class RequestStats:
    count: int
    errors_4xx: int
    errors_5xx: int
    p50: float | None
    p95: float | None
    p99: float | None

    @property
    def error_rate_5xx(self) -> float:
        return self.errors_5xx / self.count if self.count else 0.0

    @property
    def error_rate_4xx(self) -> float:
        return self.errors_4xx / self.count if self.count else 0.0


def _is_postgres(session: Session) -> bool:
    return bool(session.get_bind().dialect.name == "postgresql")


def request_stats(session: Session, start: datetime, end: datetime, *, where: Conditions = (),
                  by_function: bool = True) -> dict[str | None, RequestStats]:
    """Counts, error counts and latency percentiles of request metrics in [start, end].

    Grouped by function (or one group keyed None); `where` adds conditions.
    """
    from shared.models import RequestMetric as M

    conds = (M.created_at >= start, M.created_at <= end, *where)
    if _is_postgres(session):
        return _pg_request_stats(session, conds, by_function)
    return _sqlite_request_stats(session, conds, by_function)


def _counts_by(by_function: bool) -> tuple[Label[str | None], list[Label[int]]]:
    """The group key and the count columns both backends share."""
    from sqlalchemy import func, literal_column

    from shared.models import RequestMetric as M

    key: Label[str | None] = (M.function if by_function else literal_column("NULL")).label("k")
    return key, [
        func.count().label("n"),
        func.count().filter(M.status.between(400, 499)).label("e4"),
        func.count().filter(M.status >= 500).label("e5"),
    ]


def _pg_request_stats(session: Session, conds: Conditions, by_function: bool) -> dict[str | None, RequestStats]:
    """Counts with a (parallel) hash aggregate, then every function's `percentile_cont` in one
    more pass, each an ordered-set aggregate with FILTER over that function's rows.

    Measured on 1M rows: about 25% faster than one `GROUP BY function` query, which
    has to sort the whole window by function before the per-group latency sorts.
    """
    from sqlalchemy import Float, func, literal_column, select
    from sqlalchemy.dialects.postgresql import ARRAY

    from shared.models import RequestMetric as M

    fractions: ColumnClause[Sequence[float]] = literal_column(f"ARRAY[{', '.join(map(repr, PERCENTILES))}]::float8[]")

    def percentiles(*only: ColumnElement[bool]) -> ColumnElement[Sequence[float]]:
        pct = func.percentile_cont(fractions).within_group(M.latency_ms)
        return (pct.filter(*only) if only else pct).cast(ARRAY(Float()))

    key, counts = _counts_by(by_function)
    if not by_function:
        r = session.execute(select(*counts, percentiles().label("p")).where(*conds)).one()
        return {None: RequestStats(r.n, r.e4, r.e5, *(r.p or (None, None, None)))} if r.n else {}
    rows = session.execute(select(key, *counts).where(*conds).group_by(M.function)).all()
    stats = {r.k: (r.n, r.e4, r.e5) for r in rows if r.n}
    if not stats:
        return {}
    pcts = session.execute(select(*(percentiles(M.function == k) for k in stats)).where(*conds)).one()
    return {k: RequestStats(n, e4, e5, *(p or (None, None, None)))
            for (k, (n, e4, e5)), p in zip(stats.items(), pcts)}


def _sqlite_request_stats(session: Session, conds: Conditions, by_function: bool) -> dict[str | None, RequestStats]:
    from sqlalchemy import select

    from shared.models import RequestMetric as M

    key, counts = _counts_by(by_function)
    rows = session.execute(select(key, *counts).where(*conds)
                           .group_by(*((M.function,) if by_function else ()))).all()
    stats = {r.k: (r.n, r.e4, r.e5) for r in rows if r.n}
    pcts = _sqlite_percentiles(session, conds, by_function)
    return {k: RequestStats(n, e4, e5, *pcts.get(k, (None, None, None))) for k, (n, e4, e5) in stats.items()}


def _sqlite_percentiles(session: Session, conds: Conditions, by_function: bool) -> dict[str | None, tuple[float, ...]]:
    """percentile_cont without the function: rank rows per group, pick the two neighbours of
    each percentile's position p*(n-1) in SQL, and interpolate between them."""
    from sqlalchemy import Integer, case, cast, func, literal_column, select

    from shared.models import RequestMetric as M

    partition = (M.function,) if by_function else ()
    ranked = select(
        (M.function if by_function else literal_column("NULL")).label("k"),
        M.latency_ms.label("v"),
        (func.row_number().over(partition_by=partition or None, order_by=M.latency_ms) - 1).label("rn"),
        func.count().over(partition_by=partition or None).label("n"),
    ).where(*conds).subquery()
    picks = []
    for i, p in enumerate(PERCENTILES):
        lo = cast(literal_column(repr(p)) * (ranked.c.n - 1), Integer)
        picks.append(func.max(case((ranked.c.rn == lo, ranked.c.v))).label(f"lo{i}"))
        picks.append(func.max(case((ranked.c.rn == lo + 1, ranked.c.v))).label(f"hi{i}"))
    rows = session.execute(select(ranked.c.k, func.max(ranked.c.n).label("n"), *picks).group_by(ranked.c.k)).all()
    out: dict[str | None, tuple[float, ...]] = {}
    for r in rows:
        values = []
        for i, p in enumerate(PERCENTILES):
            lo_v, hi_v = getattr(r, f"lo{i}"), getattr(r, f"hi{i}")
            pos = p * (r.n - 1)
            frac = pos - math.floor(pos)
            values.append(lo_v if hi_v is None or frac == 0 else lo_v + frac * (hi_v - lo_v))
        out[r.k] = tuple(values)
    return out


@dataclass(frozen=True)
class GenerationStats:
    count: int
    quality_mean: float | None
    passed_share: float | None
    histogram: dict[str, int]
    content_types: dict[str, int]
    requests: int
    succeeded: int

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.requests if self.requests else None


def generation_stats(session: Session, start: datetime, end: datetime) -> GenerationStats:
    from sqlalchemy import case, func, select

    from shared.models import ContentItem as C
    from shared.models import UsageEvent as U

    in_window = (C.created_at >= start, C.created_at <= end)
    buckets = []
    for label, lo, hi in HISTOGRAM_BUCKETS:
        upper = C.quality_overall <= hi if hi >= 1.0 else C.quality_overall < hi
        buckets.append(func.count().filter(C.quality_overall >= lo, upper).label(label))
    row = session.execute(select(
        func.count().label("n"),
        func.avg(C.quality_overall).label("mean"),
        func.avg(case((C.quality_passed.is_(True), 1.0), else_=0.0)).label("passed"),
        *buckets,
    ).where(*in_window)).one()
    types = session.execute(
        select(C.content_type, func.count().label("n")).where(*in_window)
        .group_by(C.content_type).order_by(func.count().desc(), C.content_type)
    ).all()
    # One hash aggregate per request (did any attempt deliver a valid document?), then two counts.
    # "low_quality" is valid output the gate scored low: the request still returned an item.
    request_key = func.coalesce(U.generation_id, U.request_id, U.content_id, U.id)
    per_request = select(func.max(case((U.outcome.in_(("success", "low_quality")), 1), else_=0)).label("ok")).where(
        U.created_at >= start, U.created_at <= end, U.kind != "reservation").group_by(request_key).subquery()
    led = session.execute(select(
        func.count().label("requests"),
        func.count().filter(per_request.c.ok == 1).label("succeeded"),
    ).select_from(per_request)).one()
    return GenerationStats(
        count=row.n,
        quality_mean=float(row.mean) if row.mean is not None else None,
        passed_share=float(row.passed) if row.passed is not None else None,
        histogram={label: getattr(row, label) for label, _, _ in HISTOGRAM_BUCKETS},
        content_types={t: n for t, n in types},
        requests=led.requests,
        succeeded=led.succeeded,
    )


def after_low_quality(U: type[UsageEvent]) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Ledger rows of a request made after one of its generations failed the quality gate: the
    regenerations and what they cost (their repairs and reviews included)."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import aliased

    earlier = aliased(U)
    first_low = (select(func.min(earlier.attempt))
                 .where(earlier.generation_id == U.generation_id, earlier.outcome == "low_quality")
                 .correlate(U).scalar_subquery())
    return (U.generation_id.is_not(None), U.attempt > first_low)


@dataclass(frozen=True)
class RegenerationStats:
    requests: int  # generation requests with ledger rows in the window
    regenerations: int  # generations made because an earlier one failed the gate
    cost_usd: float  # their known cost

    @property
    def per_100_requests(self) -> float | None:
        return 100 * self.regenerations / self.requests if self.requests else None


def regeneration_stats(session: Session, start: datetime, end: datetime) -> RegenerationStats:
    """Regenerations the quality gate asked for, and their known cost: a gate that rejects good text
    shows up here as spend."""
    from sqlalchemy import func, select

    from shared.models import UsageEvent as U

    in_window = (U.created_at >= start, U.created_at <= end, U.kind != "reservation")
    request_key = func.coalesce(U.generation_id, U.request_id, U.content_id, U.id)  # as generation_stats
    requests = session.scalar(select(func.count(func.distinct(request_key))).where(*in_window))
    row = session.execute(select(
        func.count().filter(U.kind == "generation", U.outcome.in_(("success", "low_quality"))),
        func.coalesce(func.sum(U.cost_usd).filter(U.cost_known.is_(True)), 0),
    ).where(*in_window, *after_low_quality(U))).one()
    return RegenerationStats(int(requests or 0), int(row[0] or 0), float(row[1] or 0))


def known_cost(session: Session, start: datetime, end: datetime) -> float:
    """Sum of known provider costs in the ledger; reservations and unknown costs excluded."""
    from sqlalchemy import func, select

    from shared.models import UsageEvent as U

    total = session.scalar(select(func.coalesce(func.sum(U.cost_usd), 0)).where(
        U.created_at >= start, U.created_at <= end, U.kind != "reservation",
        U.cost_known.is_(True), U.cost_usd.is_not(None)))
    return float(total or 0)


def feedback_stats(session: Session, start: datetime, end: datetime) -> tuple[int, float | None]:
    from sqlalchemy import func, select

    from shared.models import Feedback as F

    n, mean = session.execute(select(func.count(), func.avg(F.rating)).where(
        F.created_at >= start, F.created_at <= end)).one()
    return n, float(mean) if mean is not None else None
