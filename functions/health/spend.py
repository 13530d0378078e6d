"""`GET /v1/spend?days=14` (ops, admin): known provider spend per UTC day and provider.

The console's spend chart. Reservations and unknown costs are excluded, as in
`/v1/metrics`' `cost_usd`; days without spend are present with zero totals.
Added fields (`shared.spend_trends`): active users and cost per active user per
day, cost per active user-day per content type, requests-per-user percentiles,
and the spend trend with its monthly-budget projection.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.http import RequestContext, json_response
from shared.wire_types import USD, Day

if TYPE_CHECKING:
    from flask import Response
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session


class SpendQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(14, ge=1, le=92, description="UTC days ending today")


class SpendDay(BaseModel):
    date: Day
    total: USD
    providers: dict[str, USD]
    active_users: int = Field(description="users with at least one generation (ledger row) that day")
    cost_per_active_user: float | None = Field(description="total / active_users; null without active users")


class ContentTypeCost(BaseModel):
    content_type: str
    total: float
    active_user_days: int = Field(description="sum over the days of the users who generated this type")
    cost_per_active_user_day: float | None


class RequestsPerUser(BaseModel):
    user_days: int = Field(description="(user, day) pairs with at least one generation")
    p50: float | None
    p90: float | None
    p99: float | None
    max: int | None


class Projection(BaseModel):
    month: str
    month_to_date_usd: float
    monthly_budget_usd: float | None
    projected_month_usd: float | None
    budget_reached_on: str | None = Field(description="the first day the trend reaches MONTHLY_BUDGET_USD, if "
                                                      "within the month")
    statement: str


class SpendTrend(BaseModel):
    slope_usd_per_day: float | None = Field(description="least-squares line through the complete days' spend")
    intercept_usd: float | None
    growth_week_over_week: float | None = Field(description="last 7 complete days' mean against the 7 before, "
                                                            "minus 1")
    fitted_days: int
    projection: Projection


class SpendReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: Day = Field(alias="from")
    to: Day
    currency: str
    providers: list[str]
    days: list[SpendDay]
    content_types: list[ContentTypeCost]
    requests_per_user: RequestsPerUser
    trend: SpendTrend


def spend_by_day(session: Session, start: date, end: date) -> dict[tuple[str, str], float]:
    """{(YYYY-MM-DD, provider): usd} for UTC days start..end inclusive."""
    from sqlalchemy import Date, cast, func, select

    from shared.models import UsageEvent as U

    day: ColumnElement[Any]
    if session.get_bind().dialect.name == "postgresql":
        day = cast(func.timezone("UTC", U.created_at), Date)
    else:
        day = func.date(U.created_at)  # stored as naive UTC
    lo = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
    hi = datetime(end.year, end.month, end.day, tzinfo=timezone.utc) + timedelta(days=1)
    rows = session.execute(select(day.label("d"), U.provider, func.sum(U.cost_usd)).where(
        U.created_at >= lo, U.created_at < hi, U.kind != "reservation", U.cost_known.is_(True),
        U.cost_usd.is_not(None)).group_by(day, U.provider)).all()
    return {(str(d)[:10], provider): float(total or 0) for d, provider, total in rows}


def spend(ctx: RequestContext) -> Response:
    from shared import spend_trends
    from shared.database import session_scope
    from shared.settings import get_settings

    query = ctx.query(SpendQuery)
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=query.days - 1)
    budget = get_settings().monthly_budget_usd
    with session_scope() as session:
        cells = spend_by_day(session, start, today)
        extra = spend_trends.summary(session, start, today, None if budget is None else float(budget),
                                     end_is_partial=True)
    providers = sorted({p for _, p in cells}, key=lambda p: -sum(v for (_, q), v in cells.items() if q == p))
    days = []
    for i in range(query.days):
        d = (start + timedelta(days=i)).isoformat()
        per = {p: round(cells[(d, p)], 6) for p in providers if (d, p) in cells}
        total, users = round(sum(per.values()), 6), extra["days"][i]["active_users"]
        days.append({"date": d, "total": total, "providers": per, "active_users": users,
                     "cost_per_active_user": round(total / users, 6) if users else None})
    body = {"from": start.isoformat(), "to": today.isoformat(), "currency": "USD", "providers": providers,
            "days": days, "content_types": extra["content_types"], "requests_per_user": extra["requests_per_user"],
            "trend": extra["trend"]}
    return json_response(body, 200, {"Cache-Control": "no-store"})
