"""`GET /v1/spend?days=14` (ops, admin): known provider spend per UTC day and provider.

The console's spend chart. Reservations and unknown costs are excluded, as in
`/v1/metrics`' `cost_usd`; days without spend are present with zero totals.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field

from shared.http import RequestContext, json_response
from shared.wire_types import USD, Day


class SpendQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(14, ge=1, le=92, description="UTC days ending today")


class SpendDay(BaseModel):
    date: Day
    total: USD
    providers: dict[str, USD]


class SpendReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: Day = Field(alias="from")
    to: Day
    currency: str
    providers: list[str]
    days: list[SpendDay]


def spend_by_day(session, start: date, end: date) -> dict[tuple[str, str], float]:
    """{(YYYY-MM-DD, provider): usd} for UTC days start..end inclusive."""
    from sqlalchemy import Date, cast, func, select

    from shared.models import UsageEvent as U

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


def spend(ctx: RequestContext):
    from shared.database import session_scope

    query = ctx.query(SpendQuery)
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=query.days - 1)
    with session_scope() as session:
        cells = spend_by_day(session, start, today)
    providers = sorted({p for _, p in cells}, key=lambda p: -sum(v for (_, q), v in cells.items() if q == p))
    days = []
    for i in range(query.days):
        d = (start + timedelta(days=i)).isoformat()
        per = {p: round(cells[(d, p)], 6) for p in providers if (d, p) in cells}
        days.append({"date": d, "total": round(sum(per.values()), 6), "providers": per})
    body = {"from": start.isoformat(), "to": today.isoformat(), "currency": "USD", "providers": providers,
            "days": days}
    return json_response(body, 200, {"Cache-Control": "no-store"})
