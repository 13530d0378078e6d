"""Budget checks, pure: `DAILY_BUDGET_USD` against every day of the period (the worst one decides),
`MONTHLY_BUDGET_USD` against each month the period touches, to date. At 80 % `near`, above `breach`."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from jobs.cost_report.cells import Cell, money

NEAR_BUDGET = Decimal("0.8")
_SEVERITY = {"unset": 0, "ok": 1, "near": 2, "breach": 3}


def check(limit: Decimal | None, spend: Decimal) -> dict[str, Any]:
    """One budget against one spend: `unset`, `ok`, `near` (80 % or more) or `breach` (over)."""
    if limit is None:
        return {"limit_usd": None, "spend_usd": money(spend), "status": "unset"}
    status = "breach" if spend > limit else "near" if spend >= limit * NEAR_BUDGET else "ok"
    return {"limit_usd": money(limit), "spend_usd": money(spend), "status": status,
            "used": float(round(spend / limit, 4)) if limit else None}


def _daily_check(daily: dict[date, Cell], first: date, last: date, limit: Decimal | None) -> dict[str, Any]:
    in_period = sorted((d, c.spend) for d, c in daily.items() if first <= d <= last)
    worst_day = max(in_period, key=lambda kv: kv[1])
    out = check(limit, worst_day[1]) | {"day": worst_day[0].isoformat()}
    if limit is not None:
        out["breach_days"] = [d.isoformat() for d, spend in in_period if spend > limit]
    return out


def _monthly_checks(daily: dict[date, Cell], first: date, last: date, limit: Decimal | None) -> list[dict]:
    months = []
    month = first.replace(day=1)
    while month <= last:
        nxt = (month + timedelta(days=32)).replace(day=1)
        spend = sum((c.spend for d, c in daily.items() if month <= d <= min(last, nxt - timedelta(days=1))),
                    Decimal(0))
        months.append({"month": month.isoformat()[:7]} | check(limit, spend))
        month = nxt
    return months


def budgets(daily: dict[date, Cell], first: date, last: date, daily_limit: Decimal | None,
            monthly_limit: Decimal | None) -> dict[str, Any]:
    """Daily budget against every day of the period (the worst decides); monthly budget against
    each month the period touches, to date (the last month's figures on top)."""
    months = _monthly_checks(daily, first, last, monthly_limit)
    month_check = dict(months[-1])
    month_check["status"] = max((m["status"] for m in months), key=_SEVERITY.__getitem__)
    if len(months) > 1:
        month_check["months"] = months
    return {"daily": _daily_check(daily, first, last, daily_limit), "monthly": month_check}
