"""The usage ledger and its price table: what every provider call cost.

One `usage_events` row per provider attempt (success or not) and per budget
reservation. Prices come from `functions/generate/prices.json` (versioned, per 1M input
and per 1M output tokens, keyed `provider/model`). A call whose token counts
or model price are unknown is recorded with `cost_usd = NULL` and
`cost_known = false`: never as $0, so budgets and reports can see the gap.

Reading the ledger for spend: `SUM(cost_usd) WHERE kind <> 'reservation'`
plus `SUM(reserved_usd) WHERE outcome = 'reserved'` for calls still in flight.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.models import UsageEvent

PRICES_PATH = Path(__file__).with_name("prices.json")
_MILLION = Decimal(1_000_000)
_CENT_FRACTION = Decimal("0.00000001")  # Numeric(18, 8)


@dataclass(frozen=True)
class Price:
    input_per_million: Decimal
    output_per_million: Decimal


@dataclass(frozen=True)
class PriceTable:
    version: str
    models: dict[str, Price]

    def price(self, provider: str, model: str) -> Price | None:
        return self.models.get(f"{provider}/{model}")

    def cost(self, provider: str, model: str, input_tokens: int | None, output_tokens: int | None) -> Decimal | None:
        """Cost in USD, or None when the model is unpriced or a token count is missing."""
        price = self.price(provider, model)
        if price is None or input_tokens is None or output_tokens is None:
            return None
        total = (price.input_per_million * input_tokens + price.output_per_million * output_tokens) / _MILLION
        return total.quantize(_CENT_FRACTION)


@cache
def price_table() -> PriceTable:
    """The repository's price table (read once per process)."""
    raw = json.loads(PRICES_PATH.read_text())
    models = {
        key: Price(Decimal(str(entry["input"])), Decimal(str(entry["output"])))
        for key, entry in raw["models"].items()
    }
    return PriceTable(version=str(raw["version"]), models=models)


def usage_event(**fields: Any) -> "UsageEvent":
    """A ledger row for one provider attempt, priced from the table.

    Pass `provider`, `model`, `input_tokens`, `output_tokens` and the context
    fields (user_id, request_id, content_type, attempt, kind, outcome, latency_ms,
    error). `cost_usd`/`cost_known`/`price_version` are filled in here unless given.
    """
    from shared.models import UsageEvent

    table = price_table()
    if "cost_usd" not in fields:
        cost = table.cost(fields["provider"], fields["model"], fields.get("input_tokens"), fields.get("output_tokens"))
        fields["cost_usd"] = cost
        fields["cost_known"] = cost is not None
    fields.setdefault("price_version", table.version)
    if fields.get("error"):
        fields["error"] = str(fields["error"])[:500]
    return UsageEvent(**fields)


def write_event(session, event, reservation_id: str | None) -> None:
    """Add `event` to the ledger: settle the reservation row in place, or insert a new row."""
    if reservation_id is None:
        session.add(event)
        return
    from sqlalchemy import update

    from shared.models import UsageEvent

    columns = {c: getattr(event, c) for c in (
        "kind", "outcome", "input_tokens", "output_tokens", "cost_usd", "cost_known", "price_version",
        "latency_ms", "error", "attempt", "content_id")}
    session.execute(update(UsageEvent).where(UsageEvent.id == reservation_id).values(**columns))
    event.id = reservation_id
