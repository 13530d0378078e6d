"""The two aggregate scans of the usage ledger: spend by (day, provider, model, content type), and the
top spenders. Only rows with `kind != 'reservation'` are spend (reservations are budget holds)."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.sql.elements import ColumnElement

from jobs.cost_report.cells import Cell
from shared.models import UsageEvent


def _day_expr(dialect: str) -> ColumnElement:
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", UsageEvent.created_at))
    return func.date(UsageEvent.created_at)  # SQLite stores naive UTC text


def _at(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.utc)


def _spend_filter() -> ColumnElement[bool]:
    return UsageEvent.kind != "reservation"


def cube(session, start: date, end: date) -> dict[tuple[str, str, str, str], Cell]:
    """Spend by (day, provider, model, content type) for [start, end), one GROUP BY in the database."""
    day = _day_expr(session.get_bind().dialect.name).label("day")
    unknown = func.count() - func.count(UsageEvent.cost_usd)
    q = (select(day, UsageEvent.provider, UsageEvent.model, UsageEvent.content_type,
                func.sum(UsageEvent.cost_usd), func.count(), unknown)
         .where(_spend_filter(), UsageEvent.created_at >= _at(start), UsageEvent.created_at < _at(end))
         .group_by(day, UsageEvent.provider, UsageEvent.model, UsageEvent.content_type))
    out = {}
    for d, provider, model, ctype, spend, events, unknown_n in session.execute(q):
        out[(str(d), provider, model, ctype or "(none)")] = Cell(Decimal(spend or 0), int(events), int(unknown_n or 0))
    return out


def top_users(session, start: date, day: date, end: date, limit: int) -> list[tuple[str, Decimal, Decimal, int]]:
    """(user_id, spend in [start, end), spend on `day`, events) of the biggest spenders, by the database."""
    if limit == 0:
        return []
    mtd = func.coalesce(func.sum(UsageEvent.cost_usd), 0)
    on_day = func.coalesce(func.sum(case((UsageEvent.created_at >= _at(day), UsageEvent.cost_usd))), 0)
    q = (select(UsageEvent.user_id, mtd.label("mtd"), on_day, func.count())
         .where(_spend_filter(), UsageEvent.user_id.is_not(None),
                UsageEvent.created_at >= _at(start), UsageEvent.created_at < _at(end))
         .group_by(UsageEvent.user_id).order_by(mtd.desc(), UsageEvent.user_id).limit(limit))
    return [(uid, Decimal(a), Decimal(b), int(n)) for uid, a, b, n in session.execute(q)]


def in_session(fn, *args):
    """Run one aggregate query in its own transaction (JIT off: it only slows a one-off scan)."""
    from sqlalchemy import text

    from shared.database import is_postgres, session_scope

    with session_scope() as session:
        if is_postgres():
            session.execute(text("SET LOCAL jit = off"))
        return fn(session, *args)
