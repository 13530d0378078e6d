"""The usage ledger and its price table: what every provider call cost.

One `usage_events` row per provider attempt (success or not), per cache hit and
per budget reservation, each with the server-side `generation_id` of its
request and its user; the client's `X-Request-ID` is kept only as a label.
Row kinds: `generation`, `repair`, `judge`, `cache_hit` (and `reservation`,
a budget hold that is settled in place into one of the others).

Token classes (all counted inside `input_tokens` / `output_tokens`):
cached input (cache reads), 5-minute and 1-hour cache writes, reasoning or
thinking (billed as output). Prices come from `functions/generate/prices.json`, per 1M
tokens, keyed `provider/model`, each row with its source and the date it was
checked; a row may carry a long-context tier that applies to the whole call
once its input exceeds the tier's threshold. A call whose token counts or model
price are unknown is recorded with `cost_usd = NULL` and `cost_known = false`
(never $0), and an unpriced model raises an info alert.

Every row is written through `write` (one place: budgets and reports hook
there; `write_alone` is its one-statement form for a row that touches nothing else). Erasure wins over a generation in flight: `write` locks the user row
first (`owner`, `FOR KEY SHARE`, which only an erasure's `FOR UPDATE` and
delete conflict with), so a row is either written before the erasure (which
then unlinks it) or after it, without the user: a paid call is always in the
books, as an anonymous platform cost when its person is gone. Reading the ledger for spend: `SUM(cost_usd) WHERE kind <> 'reservation'`
plus `SUM(reserved_usd) WHERE outcome = 'reserved'` for calls still in flight.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

    from shared.models import UsageEvent

PRICES_PATH = Path(__file__).with_name("prices.json")
KINDS = ("generation", "repair", "judge", "cache_hit", "reservation")
TOKEN_CLASSES = ("cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "reasoning_tokens")
UNPRICED_ALERT_RULE = "price_unknown"
ERASED_DETAIL = ("This account was erased while the request ran, so nothing was stored; "
                 "the API key no longer exists.")
_MILLION = Decimal(1_000_000)
_CENT_FRACTION = Decimal("0.00000001")  # Numeric(18, 8)


@dataclass(frozen=True)
class Rates:
    """USD per 1M tokens of each billed class (cache rates default to the input rate when a provider has none)."""

    input: Decimal
    output: Decimal
    cached_input: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal

    @classmethod
    def parse(cls, entry: dict[str, Any]) -> "Rates":
        base = Decimal(str(entry["input"]))

        def rate(name: str) -> Decimal:
            return Decimal(str(entry[name])) if entry.get(name) is not None else base

        return cls(base, Decimal(str(entry["output"])), rate("cached_input"), rate("cache_write_5m"),
                   rate("cache_write_1h"))


@dataclass(frozen=True)
class Price:
    rates: Rates
    long_context_above: int | None = None  # input tokens above which `long_rates` apply to the whole call
    long_rates: Rates | None = None
    source: str = ""
    checked: str = ""


@dataclass(frozen=True)
class PriceTable:
    version: str
    models: dict[str, Price]

    def price(self, provider: str, model: str) -> Price | None:
        return self.models.get(f"{provider}/{model}")

    def cost(self, provider: str, model: str, input_tokens: int | None, output_tokens: int | None, *,
             cached_input_tokens: int | None = 0, cache_write_tokens: int | None = 0,
             cache_write_1h_tokens: int | None = 0) -> Decimal | None:
        """Cost in USD, or None when the model is unpriced or a token count is missing.

        `input_tokens` is every input token of the call; cache reads and writes are
        the parts of it billed at their own rates, the rest at the input rate.
        """
        price = self.price(provider, model)
        if price is None or input_tokens is None or output_tokens is None:
            return None
        cached, w5, w1 = (cached_input_tokens or 0), (cache_write_tokens or 0), (cache_write_1h_tokens or 0)
        fresh = max(0, input_tokens - cached - w5 - w1)
        rates = price.rates
        if price.long_rates is not None and price.long_context_above is not None \
                and input_tokens > price.long_context_above:
            rates = price.long_rates
        total = (rates.input * fresh + rates.cached_input * cached + rates.cache_write_5m * w5
                 + rates.cache_write_1h * w1 + rates.output * output_tokens) / _MILLION
        return total.quantize(_CENT_FRACTION)

    def worst_cost(self, provider: str, model: str, input_tokens: int, output_tokens: int) -> Decimal | None:
        """The most `input_tokens` in and `output_tokens` out can cost, whatever share of the input is
        billed as cache reads or writes (a cache write is dearer than plain input); rounded up."""
        price = self.price(provider, model)
        if price is None:
            return None
        rates = price.rates
        if price.long_rates is not None and price.long_context_above is not None \
                and input_tokens > price.long_context_above:
            rates = price.long_rates
        dearest = max(rates.input, rates.cached_input, rates.cache_write_5m, rates.cache_write_1h)
        total = (dearest * input_tokens + rates.output * output_tokens) / _MILLION
        return total.quantize(_CENT_FRACTION, rounding=ROUND_CEILING)


def _parse_price(entry: dict[str, Any]) -> Price:
    long = entry.get("long_context")
    return Price(
        rates=Rates.parse(entry),
        long_context_above=int(long["above_input_tokens"]) if long else None,
        long_rates=Rates.parse(long) if long else None,
        source=str(entry.get("source", "")),
        checked=str(entry.get("checked", "")),
    )


@cache
def price_table() -> PriceTable:
    """The repository's price table (read once per process)."""
    raw = json.loads(PRICES_PATH.read_text())
    models = {key: _parse_price(entry) for key, entry in raw["models"].items()}
    return PriceTable(version=str(raw["version"]), models=models)


def usage_event(**fields: Any) -> "UsageEvent":
    """A ledger row, priced from the table (not yet written: see `write`).

    Pass `provider`, `model`, `kind`, `outcome`, the token counts (`input_tokens`,
    `output_tokens` and any of `TOKEN_CLASSES`) and the context fields (user_id,
    generation_id, request_id, content_type, attempt, latency_ms, error).
    `cost_usd`/`cost_known`/`price_version` are filled in here unless given.
    """
    from shared.models import UsageEvent

    kind = fields.setdefault("kind", "generation")
    if kind not in KINDS:
        raise ValueError(f"unknown ledger row kind {kind!r}")
    table = price_table()
    if "cost_usd" not in fields:
        cost = table.cost(fields["provider"], fields["model"], fields.get("input_tokens"),
                          fields.get("output_tokens"),
                          **{k: fields.get(k) for k in TOKEN_CLASSES if k != "reasoning_tokens"})
        fields["cost_usd"] = cost
        fields["cost_known"] = cost is not None
    fields.setdefault("price_version", table.version)
    if fields.get("error"):
        fields["error"] = str(fields["error"])[:500]
    return UsageEvent(**fields)


_SETTLED_COLUMNS = ("kind", "outcome", "input_tokens", "output_tokens", *TOKEN_CLASSES, "cost_usd",
                    "cost_avoided_usd", "cost_known", "price_version", "latency_ms", "error", "attempt",
                    "content_id", "generation_id")


def write(session: "Session", event: "UsageEvent", reservation_id: str | None = None) -> "UsageEvent":
    """Add `event` to the ledger in the caller's transaction: the one place ledger rows are written.

    With `reservation_id`, the budget reservation row is settled in place into
    this event (same id); otherwise a new row is inserted. Either way the
    budget's running totals move by what the row changes (spend_totals). A row
    whose model has no price raises (or refreshes) the `price_unknown` info alert.
    """
    # A reservation's owner was locked by the budget before it touched the totals.
    if event.kind != "reservation" and event.user_id is not None and owner(session, event.user_id) is None:
        event.user_id = None  # erased while the call ran: the cost stays, as the platform's
    if reservation_id is None:
        session.add(event)
        if event.kind != "reservation":  # a reservation's worst case was added by the budget itself
            _count_in_totals(session, event)
    else:
        _settle(session, event, reservation_id)
    if event.kind != "reservation" and price_table().price(event.provider, event.model) is None:
        from shared.alerts import raise_alert

        raise_alert(session, UNPRICED_ALERT_RULE, "info",
                    f"{event.provider}/{event.model} has no row in the price table; its cost is recorded as unknown",
                    {"provider": event.provider, "model": event.model, "price_version": event.price_version},
                    deliver_now=False)  # inside a request: the outbox (info is not pushed anyway)
    return event


def stands_alone(event: "UsageEvent", reservation_id: str | None) -> bool:
    """Whether writing `event` touches no row but its own (and its owner's lock): a new priced row,
    no reservation to settle, no budget totals to move (no cap configured), no alert to raise.
    `write_alone` writes such a row in one statement; anything else goes through `write`."""
    from functions.generate import spend_totals
    from shared.settings import get_settings

    return (reservation_id is None and event.kind != "reservation"
            and not spend_totals.caps_configured(get_settings())
            and price_table().price(event.provider, event.model) is not None)


def write_alone(connection: "Connection", event: "UsageEvent") -> "UsageEvent":
    """`write` for a row that `stands_alone`, as one INSERT (one round trip, no ORM unit of work).

    The row's user is the answer of `owner`'s own locking read, as a subquery of the INSERT
    (`FOR KEY SHARE` until the statement commits): a row is written before an erasure, which then
    unlinks it, or after it, without the user, exactly as `write` decides.
    """
    from sqlalchemy import inspect

    from shared.models import new_id, utcnow

    if event.id is None:
        event.id = new_id()
    if event.created_at is None:
        event.created_at = utcnow()
    statement, columns = _owned_insert()
    values = {k: v for k, v in inspect(event).dict.items() if k in columns}
    values["owner"] = values.pop("user_id", None)
    event.user_id = connection.execute(statement, values).scalar_one_or_none()
    return event


@cache
def _owned_insert() -> tuple[Any, frozenset[str]]:
    """The INSERT of `write_alone` (its user column from the owner lock) and the columns it takes."""
    from sqlalchemy import insert

    from shared.models import UsageEvent

    table = UsageEvent.__table__
    statement = insert(table).values(user_id=_owner_lock().scalar_subquery()).returning(table.c.user_id)
    return statement, frozenset(table.c.keys())


def owner(session: "Session | Connection", user_id: str | None) -> str | None:
    """`user_id` if that user still exists, locking their row against an erasure until this transaction
    ends (`FOR KEY SHARE`: ordinary updates of the row never wait on it); None once they are erased."""
    if user_id is None:
        return None
    return session.execute(_owner_lock(), {"owner": user_id}).scalar_one_or_none()


@cache
def _owner_lock() -> Any:
    """`owner`'s locking read of the user row (:owner), built once: it runs on every ledger write."""
    from sqlalchemy import bindparam, select

    from shared.models import User

    return select(User.id).where(User.id == bindparam("owner")).with_for_update(read=True, key_share=True)


def _count_in_totals(session: "Session", event: "UsageEvent") -> None:
    from functions.generate import spend_totals
    from shared.models import utcnow
    from shared.settings import get_settings

    if not spend_totals.caps_configured(get_settings()):
        return
    if event.created_at is None:
        event.created_at = utcnow()  # the buckets are the row's own periods
    spend_totals.adjust(session, spend_totals.buckets(event.created_at, event.user_id), spend_totals.counted(event))


def _settle(session: "Session", event: "UsageEvent", reservation_id: str) -> None:
    """Turn the reservation row into `event`; the totals move from its worst case to what the event counts."""
    from sqlalchemy import select, update

    from functions.generate import spend_totals
    from shared.models import UsageEvent

    e = UsageEvent
    held = session.execute(select(e.outcome, e.reserved_usd, e.user_id, e.created_at)
                           .where(e.id == reservation_id).with_for_update()).one_or_none()
    values = {c: getattr(event, c) for c in _SETTLED_COLUMNS}
    session.execute(update(e).where(e.id == reservation_id).values(**values)
                    .execution_options(synchronize_session=False))
    event.id = reservation_id
    if held is None:
        return
    outcome, reserved, user_id, created_at = held
    event.reserved_usd = reserved  # the settled row keeps its worst case (an unknown cost counts at it)
    before = Decimal(reserved or 0) if outcome == "reserved" else Decimal(0)  # a released one counts nothing
    spend_totals.adjust(session, spend_totals.buckets(created_at, user_id), spend_totals.counted(event) - before)
