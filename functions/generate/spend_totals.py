"""Running spend per budget period, kept in `spend_totals` so a cap check is one row update.

A cap check used to sum the month's ledger under one global advisory lock, so
every provider call on every instance waited for the others. Now each period a
cap covers has a row (`day:2026-12-03`, `month:2026-12`, `user-day:<id>:2026-12-03`)
whose `total_usd` is moved by the same transaction that writes the ledger row:

- a reservation adds its worst case (`add`, one `UPDATE … RETURNING` for all
  its buckets, so the caller sees the new totals and can refuse);
- a settlement moves the bucket by real cost minus the reservation (`adjust`);
- any other priced row adds its cost to buckets that exist (`adjust`).

A missing bucket (first call of the period, or caps switched on mid-period)
is created from the ledger's sum for its period, once; concurrent creators
collide on the primary key and the loser's amount goes in by update. Rows
are only ever locked for the length of one short transaction, and only the
buckets a call touches.

Totals are kept only while a cap is configured (no extra statement otherwise).
A deployment that turns its caps off and on again within a period keeps the
stale rows of that period: `DELETE FROM spend_totals` makes the next call
rebuild them from the ledger (docs/GENERATE.md).

Amounts follow the ledger's reading of spend: settled costs, plus live
reservations' worst case, plus the worst case of settled calls whose cost is
unknown (never $0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.models import UsageEvent


@dataclass(frozen=True)
class Bucket:
    key: str
    start: datetime
    end: datetime
    user_id: str | None = None


def caps_configured(settings) -> bool:
    return any(v is not None for v in (settings.user_daily_budget_usd, settings.daily_budget_usd,
                                       settings.monthly_budget_usd))


def buckets(at: datetime, user_id: str | None) -> list[Bucket]:
    """The periods a ledger row created at `at` counts in: its UTC day, month and (with a user) user-day."""
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    next_day, next_month = day + timedelta(days=1), (month + timedelta(days=32)).replace(day=1)
    out = [Bucket(f"day:{day:%Y-%m-%d}", day, next_day), Bucket(f"month:{month:%Y-%m}", month, next_month)]
    if user_id:
        from shared.models import SpendTotal

        out.append(Bucket(f"{SpendTotal.user_prefix(user_id)}{day:%Y-%m-%d}", day, next_day, user_id))
    return out


def counted(event: "UsageEvent") -> Decimal:
    """What a ledger row counts towards spend (see the module docstring)."""
    if event.outcome == "released":
        return Decimal(0)
    if event.outcome != "reserved" and event.cost_known and event.cost_usd is not None:
        return Decimal(event.cost_usd)
    return Decimal(event.reserved_usd or 0)


def add(session: "Session", targets: list[Bucket], amount: Decimal) -> dict[str, Decimal]:
    """Add `amount` to every bucket of `targets` (creating missing ones); returns the new totals by key."""
    totals = _update(session, [b.key for b in targets], amount)
    missing = [b for b in targets if b.key not in totals]
    if missing:
        for bucket in missing:
            _create(session, bucket)
        totals |= _update(session, [b.key for b in missing], amount)
    return totals


def adjust(session: "Session", targets: list[Bucket], amount: Decimal) -> None:
    """Move the buckets of `targets` that exist by `amount` (a missing one is created from the ledger later)."""
    if amount:
        _update(session, [b.key for b in targets], amount)


def _update(session: "Session", keys: list[str], amount: Decimal) -> dict[str, Decimal]:
    """One statement; its rows are locked in key order (the subquery's `ORDER BY … FOR UPDATE`),
    so two transactions moving overlapping buckets queue instead of deadlocking."""
    from sqlalchemy import select, update

    from shared.models import SpendTotal, utcnow

    ordered = select(SpendTotal.bucket).where(SpendTotal.bucket.in_(keys)).order_by(SpendTotal.bucket)
    stmt = (update(SpendTotal).where(SpendTotal.bucket.in_(ordered.with_for_update()))
            .values(total_usd=SpendTotal.total_usd + amount, updated_at=utcnow())
            .returning(SpendTotal.bucket, SpendTotal.total_usd)
            .execution_options(synchronize_session=False))
    return {key: Decimal(str(total)) for key, total in session.execute(stmt).all()}


def _create(session: "Session", bucket: Bucket) -> None:
    """Insert the bucket at the ledger's sum for its period, unless another transaction just did."""
    from sqlalchemy import case, func, select

    from shared.database import upsert
    from shared.models import SpendTotal, UsageEvent, utcnow

    e = UsageEvent
    amount = case(
        (e.outcome == "released", Decimal(0)),
        (e.outcome == "reserved", func.coalesce(e.reserved_usd, 0)),
        (e.cost_known.is_(True), func.coalesce(e.cost_usd, 0)),
        else_=func.coalesce(e.reserved_usd, 0),
    )
    where = [e.created_at >= bucket.start, e.created_at < bucket.end]
    if bucket.user_id:
        where.append(e.user_id == bucket.user_id)
    total = session.execute(select(func.coalesce(func.sum(amount), 0)).where(*where)).scalar_one()
    table = SpendTotal.__table__
    session.execute(upsert(session, table).values(bucket=bucket.key, total_usd=Decimal(str(total)), period_end=bucket.end,
                                         updated_at=utcnow()).on_conflict_do_nothing(index_elements=[table.c.bucket]))
