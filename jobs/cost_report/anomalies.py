"""Anomaly detection, pure: a day whose spend is above `factor` times the mean of its trailing days.

A day after a quiet stretch (a trailing mean of zero) is never anomalous: there is nothing to
compare with, and a first day of use is not an incident.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from jobs.cost_report.cells import Cell, money


def trailing_mean(daily: dict[date, Cell], day: date, trailing: int) -> Decimal:
    """The mean spend of the `trailing` days before `day` (a day without a cell spent nothing)."""
    window = [daily.get(day - timedelta(n), Cell()).spend for n in range(1, trailing + 1)]
    return sum(window, Decimal(0)) / trailing


def anomalies(daily: dict[date, Cell], first: date, factor: Decimal, trailing: int) -> list[dict[str, Any]]:
    """Days from `first` whose spend exceeds `factor` times the mean of their trailing days, oldest first."""
    found = []
    for d, cell in sorted(daily.items()):
        if d < first:
            continue
        mean = trailing_mean(daily, d, trailing)
        if mean > 0 and cell.spend > factor * mean:
            found.append({"day": d.isoformat(), "spend_usd": money(cell.spend),
                          "trailing_mean_usd": money(mean), "ratio": float(round(cell.spend / mean, 2))})
    return found


def inside(found: list[dict[str, Any]], first: str, last: str) -> list[dict[str, Any]]:
    """The anomalies on days [first, last] (ISO dates): those in the period are the report's problem."""
    return [a for a in found if first <= a["day"] <= last]
