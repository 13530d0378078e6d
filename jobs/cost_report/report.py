"""The report document: the ledger's aggregates added up into windows (the period, its last day, month
to date), the top spenders by pseudonym, the anomalies and what the chart draws."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Any

from jobs.cost_report.anomalies import anomalies
from jobs.cost_report.cells import DIMENSIONS, Cell, money
from jobs.cost_report.options import CostReportOptions
from jobs.cost_report.queries import cube, in_session, top_users


def window(cells: dict, days: set[str]) -> dict[str, Any]:
    """Totals of the cells on `days` (ISO dates), overall and by each dimension, biggest spend first."""
    total = Cell()
    by: dict[str, dict[str, Cell]] = {dim: defaultdict(Cell) for dim in DIMENSIONS}
    for (d, provider, model, ctype), cell in cells.items():
        if d not in days:
            continue
        total.add(cell)
        for dim, key in zip(DIMENSIONS, (provider, model, ctype)):
            by[dim][key].add(cell)
    out = total.as_dict()
    for dim in DIMENSIONS:
        out[f"by_{dim}"] = [{"key": k} | c.as_dict() for k, c in sorted(by[dim].items(), key=lambda kv: -kv[1].spend)]
    return out


def daily_totals(cells: dict, start: date, end: date) -> dict[date, Cell]:
    """One cell per day of [start, end), days without spend included."""
    days = {start + timedelta(n): Cell() for n in range((end - start).days)}
    for (d, *_), cell in cells.items():
        days[date.fromisoformat(d)].add(cell)
    return days


def _days(a: date, b: date) -> set[str]:
    return {(a + timedelta(n)).isoformat() for n in range((b - a).days + 1)}


def _windows(cells: dict, daily: dict[date, Cell], first: date, last: date, month_start: date) -> dict[str, Any]:
    windows = {"period": window(cells, _days(first, last)), "day": window(cells, {last.isoformat()}),
               "month_to_date": window(cells, _days(month_start, last))}
    for name, lo in (("period", first), ("month_to_date", month_start)):
        windows[name]["by_day"] = [{"key": d.isoformat()} | c.as_dict()
                                   for d, c in sorted(daily.items()) if lo <= d <= last]
    return windows


def _users(top: list, include_ids: bool) -> list[dict[str, Any]]:
    from shared.pseudonyms import pseudonym

    users = []
    for uid, total, on_day, n in top:
        entry = {"user": pseudonym(uid), "spend_usd": money(total), "spend_usd_day": money(on_day), "events": n}
        if include_ids:
            entry["user_id"] = uid
        users.append(entry)
    return users


def _chart(daily: dict[date, Cell], found: list, first: date, last: date, month_start: date, start: date,
           trailing: int) -> dict[str, Any]:
    """The chart's days: the period (month to date for one day), reaching back to the trailing window
    of its earliest anomaly."""
    chart_from = first if first < last else month_start
    earliest = min([date.fromisoformat(a["day"]) for a in found if a["day"] >= chart_from.isoformat()],
                   default=chart_from)
    drawn_from = max(start, min(chart_from, earliest - timedelta(days=trailing)))
    return {"from": chart_from.isoformat(),
            "title": f"{first} to {last}" if first < last else f"month to date ({last})",
            "days": [{"key": d.isoformat(), "spend_usd": money(c.spend)}
                     for d, c in sorted(daily.items()) if drawn_from <= d <= last]}


def _scan(start: date, end: date, users_from: date, last: date, limit: int) -> tuple[dict, list]:
    """The two aggregate scans at once, on two connections (the database does the work)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cost-report") as pool:
        cells_f = pool.submit(in_session, cube, start, end)
        users_f = pool.submit(in_session, top_users, users_from, last, end, limit)
        return cells_f.result(), users_f.result()


def build_report(first: date, last: date, opts: CostReportOptions) -> dict[str, Any]:
    """The report for the days [first, last]. `_daily` (the per-day cells) is for the budget checks
    and is removed before the report is written."""
    month_start = last.replace(day=1)
    end = last + timedelta(days=1)
    scan_from = min(first.replace(day=1), month_start)  # every month the period touches, to date
    start = scan_from - timedelta(days=opts.trailing_days)
    users_from = month_start if first == last else first  # a day's report ranks month to date
    cells, top = _scan(start, end, users_from, last, opts.top_users)
    daily = daily_totals(cells, start, end)
    found = anomalies(daily, min(first, month_start), opts.anomaly_factor, opts.trailing_days)
    return {
        "report": "cost", "currency": "USD", "generated_at": datetime.now(timezone.utc).isoformat(),
        "period": {"from": first.isoformat(), "to": last.isoformat(), "days": (last - first).days + 1},
        "day": last.isoformat(), "month_to_date": {"from": month_start.isoformat(), "to": last.isoformat()},
        "windows": _windows(cells, daily, first, last, month_start), "top_users": _users(top, opts.include_user_ids),
        "top_users_window": {"name": "month_to_date" if first == last else "period",
                             "from": users_from.isoformat(), "to": last.isoformat()},
        "user_ids": "raw" if opts.include_user_ids else "pseudonymised",
        "anomalies": found,
        "anomaly_rule": {"factor": str(opts.anomaly_factor), "trailing_days": opts.trailing_days},
        "chart": _chart(daily, found, first, last, month_start, start, opts.trailing_days),
        "_daily": daily,
    }
