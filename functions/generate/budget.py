"""Spend caps enforced before every provider call, by reservation against running totals.

Before a call, its worst-case cost (the prompt's size, over-estimated at three
characters a token, plus the type's maximum output tokens, at the price table)
is added to the running totals of the periods the caps cover
(`functions.generate.spend_totals`: one `UPDATE … RETURNING`) and inserted in
the ledger as a `kind="reservation"`, `outcome="reserved"` row, in one
transaction. If a new total is over its cap the transaction rolls back (the
totals and the row with it) and the call is refused. After the call the row is
settled in place to the real attempt and the totals move by the difference.

Concurrency: there is no global lock and no ledger sum. Concurrent reservations
on any instance each update the few rows they touch; the row lock is held only
for the length of that short transaction, so no instance waits on another's
provider call, and the caps still hold exactly (each sees the other's committed
addition). A reservation left behind by a crashed instance is released
(`outcome="released"`, its worst case subtracted) once it is older than
`stale_after`, when a cap would otherwise refuse. Without any cap configured,
nothing is reserved (no extra write).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal

from shared import errors
from functions.generate import ledger
from functions.generate.ledger import price_table, usage_event
from shared.models import UsageEvent, utcnow


class Unpriceable(Exception):
    """The model has no price: its worst case cannot be bounded, so a capped deployment must not call it."""


def worst_case_usd(provider: str, model: str, prompt_chars: int, max_output_tokens: int) -> Decimal:
    cost = price_table().cost(provider, model, math.ceil(prompt_chars / 3) + 16, max_output_tokens)
    if cost is None:
        raise Unpriceable(f"{provider}/{model} is not in the price table")
    return cost


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def stale_after(settings) -> timedelta:
    """How old a live reservation must be before it is treated as left behind by a crashed instance.

    Never less than the generation deadline (plus margin): a slow call that is
    still running must keep its worst case counted."""
    return max(timedelta(minutes=15), timedelta(seconds=settings.generation_deadline_seconds + 300))


def release_stale(settings, now: datetime | None = None) -> int:
    """Release reservations older than `stale_after`: their worst case stops counting. Returns how many."""
    from sqlalchemy import update

    from functions.generate import spend_totals
    from shared.database import session_scope

    cutoff = (now or utcnow()) - stale_after(settings)
    e = UsageEvent
    with session_scope() as session:
        released = session.execute(
            update(e).where(e.kind == "reservation", e.outcome == "reserved", e.created_at < cutoff)
            .values(outcome="released").returning(e.user_id, e.created_at, e.reserved_usd)
            .execution_options(synchronize_session=False)).all()
        for user_id, created_at, reserved in released:
            spend_totals.adjust(session, spend_totals.buckets(created_at, user_id), -Decimal(reserved or 0))
    return len(released)


def reserve(settings, *, user_id: str, provider: str, model: str, prompt_chars: int, max_output_tokens: int,
            **context) -> str | None:
    """Reserve the call's worst case; returns the ledger row id, or None when no cap is set.

    Raises 429 (the user's daily cap) or 503 (a global cap) with Retry-After
    until the cap's period resets; raises `Unpriceable` for a model without a price.
    """
    from functions.generate.spend_totals import caps_configured

    if not caps_configured(settings):
        return None
    worst = worst_case_usd(provider, model, prompt_chars, max_output_tokens)
    try:
        return _reserve(settings, worst, user_id, provider, model, context)
    except errors.Problem:
        if not release_stale(settings):
            raise
        return _reserve(settings, worst, user_id, provider, model, context)


def _reserve(settings, worst: Decimal, user_id: str, provider: str, model: str, context: dict) -> str:
    from functions.generate import spend_totals
    from shared.database import session_scope

    now = utcnow()
    day, month, *user_day = spend_totals.buckets(now, user_id)
    # Only the periods a cap covers: with per-user caps alone, different users never touch the same row.
    caps = [(b, cap) for b, cap in ((user_day[0] if user_day else None, settings.user_daily_budget_usd),
                                    (day, settings.daily_budget_usd), (month, settings.monthly_budget_usd))
            if b is not None and cap is not None]
    with session_scope() as session:
        totals = spend_totals.add(session, [b for b, _ in caps], worst)
        for bucket, cap in caps:
            if totals[bucket.key] <= cap:
                continue
            if bucket is month:
                raise errors.ServiceUnavailable(
                    "The service's monthly generation budget is used up; it resets on the 1st (UTC).",
                    retry_after=_seconds_until(month.end, now))
            if bucket is day:
                raise errors.ServiceUnavailable(
                    "The service's daily generation budget is used up; it resets at midnight UTC.",
                    retry_after=_seconds_until(day.end, now))
            raise errors.TooManyRequests("Your daily generation budget is used up; it resets at midnight UTC.",
                                         retry_after=_seconds_until(day.end, now))
        row = usage_event(user_id=user_id, provider=provider, model=model, kind="reservation", outcome="reserved",
                          reserved_usd=worst, cost_usd=None, cost_known=False, created_at=now, **context)
        ledger.write(session, row)
        session.flush()
        return row.id
