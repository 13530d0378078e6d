"""Spend as the ledger's aggregates come back: a `Cell` of spend and event counts, and money as text."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

EXACT = Decimal("0.00000001")
DIMENSIONS = ("provider", "model", "content_type")


def money(value: Decimal) -> str:
    """Exact ledger precision as a plain decimal string: JSON floats would lose cents, and
    `str(Decimal)` writes zero as "0E-8"."""
    return format(Decimal(value).quantize(EXACT), "f")


@dataclass
class Cell:
    """Spend and events of one aggregate (a day, a provider...); `unknown` counts rows without a cost."""

    spend: Decimal = Decimal(0)
    events: int = 0
    unknown: int = 0

    def add(self, other: "Cell") -> None:
        self.spend += other.spend
        self.events += other.events
        self.unknown += other.unknown

    def as_dict(self) -> dict[str, Any]:
        return {"spend_usd": money(self.spend), "events": self.events, "priced_events": self.events - self.unknown,
                "unknown_cost_events": self.unknown}
