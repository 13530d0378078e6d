"""Spend caps enforced before every provider call, by reservation against running totals.

Before a call, its worst-case cost is added to the running totals of the
periods the caps cover (`functions.generate.spend_totals`: one `UPDATE …
RETURNING`) and inserted in the ledger as a `kind="reservation"`,
`outcome="reserved"` row, in one transaction. If a new total is over its cap the transaction rolls back (the
totals and the row with it) and the call is refused. After the call the row is
settled in place to the real attempt and the totals move by the difference.

The worst case is a true upper bound, not an estimate (`input_bound`): every
UTF-8 byte the call sends (system and user text, the response schema, which
also serves as Anthropic's tool definition, in its longest form: OpenAI's
strict rewrite) counts as one input token, since no tokenizer in use emits
more tokens than bytes (byte-level BPE and
SentencePiece with byte fallback both map a byte to at most one token), plus
`FRAMING_TOKENS` for what providers add around a message (role markers, the
tool-use system prompt Anthropic adds, about 350 tokens); the input is priced
at the model's dearest input rate (a cache write costs more than plain input)
and the output at `max_output_tokens`, which every provider enforces on
everything it bills as output (reasoning and thinking included).

A reservation is short-lived: it covers one provider call, so it is settled
within the call's timeout (`PROVIDER_TIMEOUT_SECONDS` at most). One older than
that plus `STALE_MARGIN_SECONDS` belongs to a call whose instance died, and is
released (its worst case stops counting) when a cap would otherwise refuse. A
refusal that only live reservations cause says so, with a `Retry-After` of
seconds (reservations settle within a call), never "until midnight".

Concurrency: there is no global lock and no ledger sum. Concurrent reservations
on any instance each update the few rows they touch; the row lock is held only
for the length of that short transaction, so no instance waits on another's
provider call, and the caps still hold exactly (each sees the other's committed
addition). Without any cap configured, nothing is reserved (no extra write).

Erasure wins: the reservation locks the user row (`ledger.owner`, `FOR KEY
SHARE`) before it writes anything, so it either finishes before an erasure
(which then unlinks it) or finds the user gone and refuses with 410.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from functions.generate import ledger
from functions.generate.errors import AccountErased, BudgetExhausted, Scope
from functions.generate.ledger import price_table, usage_event
from shared.models import UsageEvent, utcnow

if TYPE_CHECKING:
    from functions.generate.spend_totals import Bucket


class Unpriceable(Exception):
    """The model has no price: its worst case cannot be bounded, so a capped deployment must not call it."""


FRAMING_TOKENS = 1024  # message framing and provider-added prompts around what we send (see above)
STALE_MARGIN_SECONDS = 15  # settling a call after its timeout: a database round trip or two
MAX_IN_FLIGHT_RETRY_AFTER = 60  # seconds: a live reservation settles within one call


def input_bound(system: str, user: str, schema: dict[str, Any] | None) -> int:
    """Input tokens no tokenizer can exceed for a call sending `system`, `user` and `schema`."""
    sent = len(system.encode()) + len(user.encode())
    if schema is not None:
        sent += _schema_bytes(schema)
    return sent + FRAMING_TOKENS


_SCHEMA_BYTES: dict[int, tuple[dict[str, Any], int]] = {}  # id(schema) -> (schema, bytes sent at most)


def _schema_bytes(schema: dict[str, Any]) -> int:
    """The longest form `schema` is sent in (OpenAI gets the strict form, which is longer; the
    others as is), measured once per schema object: every call of the request path asks."""
    from functions.generate.providers.openai_provider import strict_form

    entry = _SCHEMA_BYTES.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_SCHEMA_BYTES) >= 64:  # callers passing fresh schemas (tests): stay bounded
            _SCHEMA_BYTES.clear()
        size = max(len(json.dumps(form, separators=(",", ":"), ensure_ascii=False).encode())
                   for form in (schema, strict_form(schema)))
        entry = _SCHEMA_BYTES[id(schema)] = (schema, size)
    return entry[1]


def worst_case_usd(provider: str, model: str, input_tokens: int, max_output_tokens: int) -> Decimal:
    """The most a call with at most `input_tokens` in and `max_output_tokens` out can cost."""
    cost = price_table().worst_cost(provider, model, input_tokens, max_output_tokens)
    if cost is None:
        raise Unpriceable(f"{provider}/{model} is not in the price table")
    return cost


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def stale_after(settings) -> timedelta:
    """How old a reservation must be before it is treated as left behind by a crashed instance.

    A reservation covers one provider call, bounded by `PROVIDER_TIMEOUT_SECONDS`
    (and the request's deadline); the margin covers settling it after the call."""
    call = min(settings.provider_timeout_seconds, settings.generation_deadline_seconds)
    return timedelta(seconds=call + STALE_MARGIN_SECONDS)


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


def reserve(settings, *, user_id: str, provider: str, model: str, input_tokens: int, max_output_tokens: int,
            now: datetime | None = None, **context) -> str | None:
    """Reserve the call's worst case; returns the ledger row id, or None when no cap is set.

    `input_tokens` is the call's `input_bound`. Raises `BudgetExhausted` (the
    user's daily cap, or a global one) with the seconds until the cap's
    period resets, or a few seconds when live reservations alone fill the
    cap; `AccountErased` when the user was erased; `Unpriceable` for a model
    without a price. (`errors.to_problem` turns the first two into 429/503/410.)
    """
    from functions.generate.spend_totals import caps_configured

    if not caps_configured(settings):
        return None
    worst = worst_case_usd(provider, model, input_tokens, max_output_tokens)
    now = now or utcnow()
    try:
        return _reserve(settings, worst, user_id, provider, model, context, now)
    except _OverCap as over:
        refused = over
    if release_stale(settings, now):
        try:
            return _reserve(settings, worst, user_id, provider, model, context, now)
        except _OverCap as over:
            refused = over
    raise _refusal(settings, refused, worst, now)


class _OverCap(Exception):
    """The reservation would take `bucket` past `cap` (the transaction has rolled back)."""

    def __init__(self, kind: Scope, bucket: Bucket, cap: Decimal, total: Decimal) -> None:
        super().__init__(kind)
        self.kind, self.bucket, self.cap, self.total = kind, bucket, cap, total


def _reserve(settings, worst: Decimal, user_id: str, provider: str, model: str, context: dict,
             now: datetime) -> str:
    from functions.generate import spend_totals
    from shared.database import session_scope

    day, month, *user_day = spend_totals.buckets(now, user_id)
    # Only the periods a cap covers: with per-user caps alone, different users never touch the same row.
    periods: tuple[tuple[Scope, Bucket | None, Decimal | None], ...] = (
        ("user", user_day[0] if user_day else None, settings.user_daily_budget_usd),
        ("day", day, settings.daily_budget_usd), ("month", month, settings.monthly_budget_usd))
    caps = [(kind, b, cap) for kind, b, cap in periods if b is not None and cap is not None]
    with session_scope() as session:
        if ledger.owner(session, user_id) is None:
            raise AccountErased(user_id)
        totals = spend_totals.add(session, [b for _, b, _ in caps], worst)
        for kind, bucket, cap in caps:
            if totals[bucket.key] > cap:
                raise _OverCap(kind, bucket, cap, totals[bucket.key])
        row = usage_event(user_id=user_id, provider=provider, model=model, kind="reservation", outcome="reserved",
                          reserved_usd=worst, cost_usd=None, cost_known=False, created_at=now, **context)
        ledger.write(session, row)
        session.flush()
        return row.id


def _live_reservations(bucket) -> tuple[Decimal, datetime | None]:
    """The worst case still held by live reservations in `bucket`'s period, and the oldest one's time."""
    from sqlalchemy import func, select

    from shared.database import session_scope

    e = UsageEvent
    where = [e.kind == "reservation", e.outcome == "reserved", e.created_at >= bucket.start,
             e.created_at < bucket.end]
    if bucket.user_id:
        where.append(e.user_id == bucket.user_id)
    with session_scope() as session:
        held, oldest = session.execute(
            select(func.coalesce(func.sum(e.reserved_usd), 0), func.min(e.created_at)).where(*where)).one()
    return Decimal(str(held)), oldest


def _refusal(settings, over: _OverCap, worst: Decimal, now: datetime) -> BudgetExhausted:
    """Why the reservation was refused: in-flight calls (seconds) or a spent period (until its reset)."""
    held, oldest = _live_reservations(over.bucket)
    spent = over.total - worst - held
    if held > 0 and spent + worst <= over.cap:
        expires = (oldest or now) + stale_after(settings)
        retry = max(1, min(MAX_IN_FLIGHT_RETRY_AFTER, math.ceil((expires - now).total_seconds())))
        return BudgetExhausted(over.kind, "budget_in_flight", retry)
    return BudgetExhausted(over.kind, "budget_spent", _seconds_until(over.bucket.end, now))
