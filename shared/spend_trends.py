"""Cost per active user, requests per user, and the spend trend with a monthly-budget projection.

In `shared` because two parts show it: the health function (`GET /v1/spend`,
the console) and the weekly and monthly ops reports. Everything comes from the
usage ledger (`usage_events`, reservations excluded), aggregated by the
database; people appear only as counts.

- An **active user** on a day is a user with at least one ledger row that day
  (a provider attempt or a cache hit): someone who generated. Rows whose user
  was erased or anonymised count in spend, not in users.
- **Requests per user** are distinct generations (`generation_id`) per user and
  day; the percentiles are over those (user, day) pairs.
- The **trend** is a least-squares line through the daily spend of the window;
  the **projection** adds the line's values for the rest of the month to the
  month-to-date spend and names the first day the monthly budget is reached
  ("at this rate, the monthly budget is reached on ..."), or says it is not.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, SQLColumnExpression
    from sqlalchemy.orm import Session

PERCENTILES = (50, 90, 99)


def _day_expr(session: Session, column: SQLColumnExpression[datetime]) -> ColumnElement[Any]:
    """The UTC day of `column`: a date on PostgreSQL, an ISO string on SQLite (callers take str()[:10])."""
    from sqlalchemy import Date, cast, func

    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _at(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.utc)


def per_user_day(session: Session, start: date, end: date) -> dict[tuple[str, str], dict[str, Any]]:
    """{(day, content type): {"spend", "users"}} and per (day, user) request counts, in two GROUP BYs."""
    from sqlalchemy import func, select

    from shared.models import UsageEvent as U

    day = _day_expr(session, U.created_at).label("d")
    spent = (U.kind != "reservation", U.created_at >= _at(start), U.created_at < _at(end + timedelta(days=1)))
    cells = session.execute(select(day, U.content_type, func.coalesce(func.sum(U.cost_usd), 0),
                                   func.count(func.distinct(U.user_id)))
                            .where(*spent).group_by(day, U.content_type)).all()
    return {(str(d)[:10], ctype or "(none)"): {"spend": Decimal(total or 0), "users": int(users)}
            for d, ctype, total, users in cells}


def daily_users(session: Session, start: date, end: date) -> dict[str, int]:
    from sqlalchemy import func, select

    from shared.models import UsageEvent as U

    day = _day_expr(session, U.created_at).label("d")
    rows = session.execute(select(day, func.count(func.distinct(U.user_id))).where(
        U.kind != "reservation", U.user_id.is_not(None), U.created_at >= _at(start),
        U.created_at < _at(end + timedelta(days=1))).group_by(day)).all()
    return {str(d)[:10]: int(n) for d, n in rows}


def requests_per_user(session: Session, start: date, end: date) -> dict[str, Any]:
    """Percentiles of generations per (user, day) over the window."""
    from sqlalchemy import func, select

    from shared.models import UsageEvent as U

    day = _day_expr(session, U.created_at).label("d")
    counts = sorted(int(n) for (n,) in session.execute(
        select(func.count(func.distinct(func.coalesce(U.generation_id, U.id)))).where(
            U.kind != "reservation", U.user_id.is_not(None), U.created_at >= _at(start),
            U.created_at < _at(end + timedelta(days=1))).group_by(U.user_id, day)))
    out: dict[str, Any] = {"user_days": len(counts)}
    for p in PERCENTILES:
        out[f"p{p}"] = _percentile(counts, p)
    out["max"] = counts[-1] if counts else None
    return out


def _percentile(values: list[int], p: int) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 2)


class TrendLine(TypedDict):
    """The fitted line (None with fewer than two days) and the week-over-week growth."""

    slope_usd_per_day: float | None
    intercept_usd: float | None
    growth_week_over_week: float | None


def trend(daily: list[tuple[date, float]]) -> TrendLine:
    """Least-squares line through (day index, spend); growth = last 7 days' mean against the 7 before."""
    n = len(daily)
    ys = [y for _, y in daily]
    if n < 2:
        return {"slope_usd_per_day": None, "intercept_usd": None, "growth_week_over_week": None}
    mx, my = (n - 1) / 2, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in range(n))
    slope = sum((x - mx) * (y - my) for x, y in enumerate(ys)) / sxx
    last, prev = ys[-7:], ys[-14:-7]
    growth = (sum(last) / len(last)) / (sum(prev) / len(prev)) - 1 if prev and sum(prev) > 0 else None
    return {"slope_usd_per_day": round(slope, 6), "intercept_usd": round(my - slope * mx, 6),
            "growth_week_over_week": None if growth is None else round(growth, 4)}


def projection(today: date, month_to_date: float, line: TrendLine, today_index: int,
               budget: float | None) -> dict[str, Any]:
    """The month's end by the trend line (never below zero a day), and the day the budget is reached."""
    month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    out: dict[str, Any] = {"month": today.isoformat()[:7], "month_to_date_usd": round(month_to_date, 6),
                           "monthly_budget_usd": budget, "budget_reached_on": None}
    slope, intercept = line["slope_usd_per_day"], line["intercept_usd"]
    if slope is None or intercept is None:  # both None together (trend)
        out |= {"projected_month_usd": None, "statement": "not enough days of spend for a trend"}
        return out
    total, reached = month_to_date, None
    if budget is not None and total >= budget:
        reached = today
    for k in range(1, (month_end - today).days + 1):
        x = today_index + k
        total += max(0.0, intercept + slope * x)
        if reached is None and budget is not None and total >= budget:
            reached = today + timedelta(days=k)
    out["projected_month_usd"] = round(total, 6)
    if budget is None:
        out["statement"] = (f"at this rate, the month ends near ${total:,.2f}; no monthly budget is set")
    elif reached is not None:
        out["budget_reached_on"] = reached.isoformat()
        out["statement"] = f"at this rate, the monthly budget of ${budget:,.2f} is reached on {reached.isoformat()}"
    else:
        out["statement"] = (f"at this rate, the month ends near ${total:,.2f}, within the monthly budget of "
                            f"${budget:,.2f}")
    return out


def summary(session: Session, start: date, end: date, budget: float | None, *, end_is_partial: bool = False) -> dict[str, Any]:
    """Everything for the days [start, end]. With `end_is_partial` (the live view: end is today) the
    trend is fitted on the complete days only, and the projection adds the days after today."""
    from sqlalchemy import func, select

    from shared.models import UsageEvent as U

    cells = per_user_day(session, start, end)
    users = daily_users(session, start, end)
    spend_by_day: dict[str, float] = defaultdict(float)
    by_type: dict[str, dict[str, Any]] = defaultdict(lambda: {"spend": Decimal(0), "user_days": 0})
    for (d, ctype), cell in cells.items():
        spend_by_day[d] += float(cell["spend"])
        by_type[ctype]["spend"] += cell["spend"]
        by_type[ctype]["user_days"] += cell["users"]
    days = []
    for k in range((end - start).days + 1):
        d = (start + timedelta(days=k)).isoformat()
        n, total = users.get(d, 0), spend_by_day.get(d, 0.0)
        days.append({"date": d, "active_users": n, "cost_per_active_user": round(total / n, 6) if n else None})
    content_types = [{"content_type": t, "total": round(float(v["spend"]), 6), "active_user_days": v["user_days"],
                      "cost_per_active_user_day": round(float(v["spend"]) / v["user_days"], 6)
                      if v["user_days"] else None}
                     for t, v in sorted(by_type.items(), key=lambda kv: -kv[1]["spend"])]
    fitted = (end - start).days + (0 if end_is_partial else 1)
    series = [(start + timedelta(days=k), spend_by_day.get((start + timedelta(days=k)).isoformat(), 0.0))
              for k in range(fitted)]
    line = trend(series)
    month_start = end.replace(day=1)
    mtd = float(session.scalar(select(func.coalesce(func.sum(U.cost_usd), 0)).where(
        U.kind != "reservation", U.created_at >= _at(month_start), U.created_at < _at(end + timedelta(days=1)))) or 0)
    return {"days": days, "content_types": content_types, "requests_per_user": requests_per_user(session, start, end),
            "trend": {**line, "fitted_days": len(series),
                      "projection": projection(end, mtd, line, (end - start).days, budget)}}
