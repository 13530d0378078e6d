"""`cost-report`: spend for the report day and month to date, budget and anomaly checks.

Spend comes from the usage ledger (`usage_events`), aggregated in the
database: one GROUP BY (day, provider, model, content type) over the window
and one GROUP BY user for the top spenders; Python only adds up the few
hundred aggregate rows that come back, so the totals by day, provider, model
and content type are the same numbers and add up to the ledger exactly.

- Only rows with `kind != 'reservation'` are spend (reservations are budget holds).
- A row whose `cost_usd` is NULL has an unknown cost: it is counted in
  `unknown_cost_events`, never as $0.
- Users appear as keyed pseudonyms; `COST_REPORT_INCLUDE_USER_IDS=true` (for an
  admin running it by hand) adds the raw ids.
- Budgets: `DAILY_BUDGET_USD` against the report day, `MONTHLY_BUDGET_USD`
  against month to date. At 80 % an info alert, above the budget a warning.
- Anomaly: a day whose spend is above `COST_REPORT_ANOMALY_FACTOR` (2) times the
  mean of its trailing 7 days; an anomalous report day raises a warning.
- Any breach or anomaly of the report day exits 1.

Writes `cost/<day>/cost-report.json`, `.csv` and `.png` (matplotlib, Agg
backend, imported only here) to `REPORTS_URL`. The report day defaults to
yesterday (UTC); `COST_REPORT_DAY=YYYY-MM-DD` reruns an earlier day.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import case, func, select
from sqlalchemy.sql.elements import ColumnElement

from jobs.runner import JobConfigError, JobContext, JobResult, JobUnavailable
from shared.models import UsageEvent

CENT = Decimal("0.01")
EXACT = Decimal("0.00000001")
NEAR_BUDGET = Decimal("0.8")
DIMENSIONS = ("provider", "model", "content_type")


class CostReportOptions(BaseSettings):
    """Operator knobs of this job (environment, prefix COST_REPORT_)."""

    model_config = SettingsConfigDict(env_prefix="COST_REPORT_", extra="ignore", frozen=True)

    day: date | None = None
    top_users: int = Field(10, ge=0, le=1000)
    include_user_ids: bool = False
    anomaly_factor: Decimal = Field(Decimal(2), gt=0)
    trailing_days: int = Field(7, ge=1, le=60)


@dataclass
class Cell:
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


def money(value: Decimal) -> str:
    """Exact ledger precision as a string (JSON floats would lose cents)."""
    return str(value.quantize(EXACT))


def _day_expr(dialect: str) -> ColumnElement:
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", UsageEvent.created_at))
    return func.date(UsageEvent.created_at)  # SQLite stores naive UTC text


def _at(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.utc)


def _spend_filter() -> ColumnElement[bool]:
    return UsageEvent.kind != "reservation"


def cube(session, start: date, end: date) -> dict[tuple[str, str, str, str], Cell]:
    """Spend by (day, provider, model, content type) for [start, end), one GROUP BY in the database."""
    day = _day_expr(session.get_bind().dialect.name).label("day")
    unknown = func.count() - func.count(UsageEvent.cost_usd)
    q = (select(day, UsageEvent.provider, UsageEvent.model, UsageEvent.content_type,
                func.sum(UsageEvent.cost_usd), func.count(), unknown)
         .where(_spend_filter(), UsageEvent.created_at >= _at(start), UsageEvent.created_at < _at(end))
         .group_by(day, UsageEvent.provider, UsageEvent.model, UsageEvent.content_type))
    out = {}
    for d, provider, model, ctype, spend, events, unknown_n in session.execute(q):
        out[(str(d), provider, model, ctype or "(none)")] = Cell(Decimal(spend or 0), int(events), int(unknown_n or 0))
    return out


def top_users(session, start: date, day: date, end: date, limit: int) -> list[tuple[str, Decimal, Decimal, int]]:
    """(user_id, month-to-date spend, report-day spend, events) of the biggest spenders, by the database."""
    if limit == 0:
        return []
    mtd = func.coalesce(func.sum(UsageEvent.cost_usd), 0)
    on_day = func.coalesce(func.sum(case((UsageEvent.created_at >= _at(day), UsageEvent.cost_usd))), 0)
    q = (select(UsageEvent.user_id, mtd.label("mtd"), on_day, func.count())
         .where(_spend_filter(), UsageEvent.user_id.is_not(None),
                UsageEvent.created_at >= _at(start), UsageEvent.created_at < _at(end))
         .group_by(UsageEvent.user_id).order_by(mtd.desc(), UsageEvent.user_id).limit(limit))
    return [(uid, Decimal(a), Decimal(b), int(n)) for uid, a, b, n in session.execute(q)]


def _window(cells: dict, days: set[str]) -> dict[str, Any]:
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


def _daily(cells: dict, start: date, end: date) -> dict[date, Cell]:
    days = {start + timedelta(n): Cell() for n in range((end - start).days)}
    for (d, *_), cell in cells.items():
        days[date.fromisoformat(d)].add(cell)
    return days


def anomalies(daily: dict[date, Cell], first: date, factor: Decimal, trailing: int) -> list[dict[str, Any]]:
    """Days from `first` whose spend exceeds `factor` times the mean of their trailing days."""
    found = []
    for d, cell in sorted(daily.items()):
        if d < first:
            continue
        window = [daily.get(d - timedelta(n), Cell()).spend for n in range(1, trailing + 1)]
        mean = sum(window, Decimal(0)) / trailing
        if mean > 0 and cell.spend > factor * mean:
            found.append({"day": d.isoformat(), "spend_usd": money(cell.spend),
                          "trailing_mean_usd": money(mean), "ratio": float(round(cell.spend / mean, 2))})
    return found


def _budget(limit: Decimal | None, spend: Decimal) -> dict[str, Any]:
    if limit is None:
        return {"limit_usd": None, "spend_usd": money(spend), "status": "unset"}
    status = "breach" if spend > limit else "near" if spend >= limit * NEAR_BUDGET else "ok"
    return {"limit_usd": money(limit), "spend_usd": money(spend), "status": status,
            "used": float(round(spend / limit, 4)) if limit else None}


def _csv(report: dict[str, Any]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["window", "dimension", "key", "spend_usd", "events", "unknown_cost_events"])
    for name, win in report["windows"].items():
        w.writerow([name, "total", "", win["spend_usd"], win["events"], win["unknown_cost_events"]])
        for dim in ("day",) + DIMENSIONS:
            for row in win.get(f"by_{dim}", []):
                w.writerow([name, dim, row["key"], row["spend_usd"], row["events"], row["unknown_cost_events"]])
    for row in report["top_users"]:
        w.writerow(["month_to_date", "user", row["user"], row["spend_usd"], row["events"], ""])
    return buf.getvalue().encode()


def _import_plotting() -> None:
    """matplotlib's object API with the Agg canvas: no pyplot global state, no GUI backend probing."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401


def _chart(report: dict[str, Any], daily_budget: Decimal | None) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = report["windows"]["month_to_date"]["by_day"]
    days = [r["key"][5:] for r in rows]
    spend = [float(r["spend_usd"]) for r in rows]
    fig = Figure(figsize=(9, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar(days, spend, color="#4a7bd0", label="spend (USD)")
    if daily_budget is not None:
        ax.axhline(float(daily_budget), color="#c0392b", linestyle="--", label="daily budget")
    ax.set_title(f"La Factoria spend, month to date ({report['day']})")
    ax.set_ylabel("USD")
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    ax.legend(loc="upper left")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def _in_session(fn, *args):
    """Run one aggregate query in its own transaction (JIT off: it only slows a one-off scan)."""
    from sqlalchemy import text

    from shared.database import is_postgres, session_scope

    with session_scope() as session:
        if is_postgres():
            session.execute(text("SET LOCAL jit = off"))
        return fn(session, *args)


def build_report(day: date, opts: CostReportOptions) -> dict[str, Any]:
    """The report; the two aggregate scans run at once on two connections (the database does the work)."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.pseudonyms import pseudonym

    month_start = day.replace(day=1)
    end = day + timedelta(days=1)
    start = month_start - timedelta(days=opts.trailing_days)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cost-report") as pool:
        cells_f = pool.submit(_in_session, cube, start, end)
        users_f = pool.submit(_in_session, top_users, month_start, day, end, opts.top_users)
        cells, top = cells_f.result(), users_f.result()
    mtd_days = {(month_start + timedelta(n)).isoformat() for n in range((end - month_start).days)}
    windows = {"day": _window(cells, {day.isoformat()}), "month_to_date": _window(cells, mtd_days)}
    daily = _daily(cells, start, end)
    windows["month_to_date"]["by_day"] = [{"key": d.isoformat()} | c.as_dict()
                                          for d, c in sorted(daily.items()) if d >= month_start]
    users = []
    for uid, mtd, on_day, n in top:
        entry = {"user": pseudonym(uid), "spend_usd": money(mtd), "spend_usd_day": money(on_day), "events": n}
        if opts.include_user_ids:
            entry["user_id"] = uid
        users.append(entry)
    return {
        "report": "cost", "currency": "USD", "generated_at": datetime.now(timezone.utc).isoformat(),
        "day": day.isoformat(), "month_to_date": {"from": month_start.isoformat(), "to": day.isoformat()},
        "windows": windows, "top_users": users,
        "user_ids": "raw" if opts.include_user_ids else "pseudonymised",
        "anomalies": anomalies(daily, month_start, opts.anomaly_factor, opts.trailing_days),
        "anomaly_rule": {"factor": str(opts.anomaly_factor), "trailing_days": opts.trailing_days},
        "_daily": daily,
    }


def _alerts(ctx: JobContext, report: dict[str, Any]) -> list[str]:
    """Raise or resolve the budget and anomaly alerts; returns the problems found."""
    problems = []
    for period in ("daily", "monthly"):
        b = report["budgets"][period]
        rule = f"cost-report:{period}-budget"
        if b["status"] == "breach":
            problems.append(f"{period}_budget")
            if not ctx.dry_run:
                ctx.alert(rule, "warning", f"{period.capitalize()} spend ${b['spend_usd']} is over the budget "
                                           f"of ${b['limit_usd']}", b)
        elif b["status"] == "near":
            if not ctx.dry_run:
                ctx.alert(rule + "-near", "info", f"{period.capitalize()} spend ${b['spend_usd']} is at "
                                                  f"{b['used']:.0%} of the ${b['limit_usd']} budget", b)
        if not ctx.dry_run:
            if b["status"] != "breach":
                ctx.resolve(rule)
            if b["status"] != "near":
                ctx.resolve(rule + "-near")
    today = [a for a in report["anomalies"] if a["day"] == report["day"]]
    if today:
        problems.append("anomaly")
        if not ctx.dry_run:
            ctx.alert("cost-report:anomaly", "warning",
                      f"Spend on {report['day']} (${today[0]['spend_usd']}) is {today[0]['ratio']}x its "
                      f"trailing {report['anomaly_rule']['trailing_days']}-day mean", today[0])
    elif not ctx.dry_run:
        ctx.resolve("cost-report:anomaly")
    return problems


def run(ctx: JobContext) -> JobResult:
    from pydantic import ValidationError

    from shared.storage import StoreError, open_store

    try:
        opts = CostReportOptions()
    except ValidationError as exc:
        raise JobConfigError(f"bad COST_REPORT_* setting: {exc.errors()[0]['loc'][0]}") from None
    day = opts.day or (datetime.now(timezone.utc).date() - timedelta(days=1))
    if not ctx.dry_run:  # load the plotting library while the database aggregates
        import threading

        threading.Thread(target=_import_plotting, name="cost-report-import", daemon=True).start()
    report = build_report(day, opts)
    daily = report.pop("_daily")
    report["budgets"] = {
        "daily": _budget(ctx.settings.daily_budget_usd, daily[day].spend),
        "monthly": _budget(ctx.settings.monthly_budget_usd,
                           sum((c.spend for d, c in daily.items() if d >= day.replace(day=1)), Decimal(0))),
    }
    problems = _alerts(ctx, report)
    summary = {"day": report["day"], "spend_usd_day": report["windows"]["day"]["spend_usd"],
               "spend_usd_month_to_date": report["windows"]["month_to_date"]["spend_usd"],
               "unknown_cost_events_month_to_date": report["windows"]["month_to_date"]["unknown_cost_events"],
               "budgets": {k: v["status"] for k, v in report["budgets"].items()},
               "anomalies": len(report["anomalies"]), "problems": problems}
    if ctx.dry_run:
        ctx.emit({"would_write": f"cost/{report['day']}/cost-report.json,csv,png"})
    else:
        try:
            store = open_store(ctx.settings.reports_url)
            prefix = f"cost/{report['day']}/cost-report"
            store.put_bytes(prefix + ".json", json.dumps(report, indent=2).encode(), "application/json")
            store.put_bytes(prefix + ".csv", _csv(report), "text/csv")
            store.put_bytes(prefix + ".png", _chart(report, ctx.settings.daily_budget_usd), "image/png")
        except StoreError as exc:
            raise JobUnavailable(f"cannot write to REPORTS_URL: {exc}") from None
        summary["written"] = [f"{prefix}.{ext}" for ext in ("json", "csv", "png")]
    return JobResult.problem(**summary) if problems else JobResult.ok(**summary)
