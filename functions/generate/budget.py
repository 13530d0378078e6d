"""Spend caps enforced before every provider call, by reservation in the usage ledger.

Before a call, its worst-case cost (the prompt's size, over-estimated at three
characters a token, plus the type's maximum output tokens, at the price table)
is inserted as a `kind="reservation"`, `outcome="reserved"` row. The same
transaction then sums spend (settled costs, plus live reservations, plus the
reserved worst case for settled calls whose cost is unknown) and refuses the
call if any cap is exceeded, which rolls the reservation back. After the call
the row is settled in place to the real attempt (kind, outcome, tokens, cost).

Concurrency: on PostgreSQL the transaction first takes an advisory lock, so
checks by concurrent instances are serialised. On SQLite the reservation insert
takes the database's write lock before the sum, which serialises them too.
A reservation left behind by a crashed instance stops counting after
`STALE_AFTER`. Without any cap configured, nothing is reserved (no extra write).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal

from shared import errors
from functions.generate import ledger
from functions.generate.ledger import price_table, usage_event
from shared.models import UsageEvent, utcnow

ADVISORY_LOCK_KEY = 0x1AFAC7041A  # "la factoria budget": one lock for every cap
STALE_AFTER = timedelta(minutes=15)


class Unpriceable(Exception):
    """The model has no price: its worst case cannot be bounded, so a capped deployment must not call it."""


def caps_configured(settings) -> bool:
    return any(v is not None for v in (settings.user_daily_budget_usd, settings.daily_budget_usd,
                                       settings.monthly_budget_usd))


def worst_case_usd(provider: str, model: str, prompt_chars: int, max_output_tokens: int) -> Decimal:
    cost = price_table().cost(provider, model, math.ceil(prompt_chars / 3) + 16, max_output_tokens)
    if cost is None:
        raise Unpriceable(f"{provider}/{model} is not in the price table")
    return cost


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _spend(session, user_id: str | None, day_start: datetime, month_start: datetime, now: datetime):
    from sqlalchemy import and_, case, func, literal, select

    e = UsageEvent
    amount = case(
        (e.outcome == "reserved", case((e.created_at > now - STALE_AFTER, e.reserved_usd), else_=literal(0))),
        (e.cost_known.is_(True), func.coalesce(e.cost_usd, 0)),
        else_=func.coalesce(e.reserved_usd, 0),
    )
    today = e.created_at >= day_start
    user_today = and_(today, e.user_id == user_id) if user_id else literal(False)
    stmt = select(
        func.coalesce(func.sum(case((today, amount), else_=0)), 0),
        func.coalesce(func.sum(amount), 0),
        func.coalesce(func.sum(case((user_today, amount), else_=0)), 0),
    ).where(e.created_at >= min(day_start, month_start))
    day, month, user_day = session.execute(stmt).one()
    return Decimal(str(day)), Decimal(str(month)), Decimal(str(user_day))


def reserve(settings, *, user_id: str, provider: str, model: str, prompt_chars: int, max_output_tokens: int,
            **context) -> str | None:
    """Reserve the call's worst case; returns the ledger row id, or None when no cap is set.

    Raises 429 (the user's daily cap) or 503 (a global cap) with Retry-After
    until the cap's period resets; raises `Unpriceable` for a model without a price.
    """
    if not caps_configured(settings):
        return None
    from sqlalchemy import text

    from shared.database import is_postgres, session_scope

    worst = worst_case_usd(provider, model, prompt_chars, max_output_tokens)
    now = utcnow()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month_start = day_start.replace(day=1)
    next_day = day_start + timedelta(days=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    with session_scope() as session:
        if is_postgres():
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        row = usage_event(user_id=user_id, provider=provider, model=model, kind="reservation", outcome="reserved",
                          reserved_usd=worst, cost_usd=None, cost_known=False, created_at=now, **context)
        ledger.write(session, row)
        session.flush()  # takes SQLite's write lock before the sum
        day, month, user_day = _spend(session, user_id, day_start, month_start, now)
        if settings.user_daily_budget_usd is not None and user_day > settings.user_daily_budget_usd:
            raise errors.TooManyRequests(
                "Your daily generation budget is used up; it resets at midnight UTC.",
                retry_after=_seconds_until(next_day, now))
        if settings.daily_budget_usd is not None and day > settings.daily_budget_usd:
            raise errors.ServiceUnavailable(
                "The service's daily generation budget is used up; it resets at midnight UTC.",
                retry_after=_seconds_until(next_day, now))
        if settings.monthly_budget_usd is not None and month > settings.monthly_budget_usd:
            raise errors.ServiceUnavailable(
                "The service's monthly generation budget is used up; it resets on the 1st (UTC).",
                retry_after=_seconds_until(next_month, now))
        return row.id
