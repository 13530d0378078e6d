"""`cost-report [--from DATE --to DATE]`: spend for a period and month to date, budget and anomaly checks.

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
- Budgets: `DAILY_BUDGET_USD` against every day of the period (the worst one
  decides), `MONTHLY_BUDGET_USD` against each month the period touches, to
  date. At 80 % an info alert, above the budget a warning.
- Anomaly: a day whose spend is above `COST_REPORT_ANOMALY_FACTOR` (2) times the
  mean of its trailing 7 days; an anomalous day in the period raises a warning.
- Any breach or anomaly inside the period exits 1.

The period is `--from DATE --to DATE` (UTC days, both included; either alone
means that one day). It defaults to yesterday; `COST_REPORT_DAY=YYYY-MM-DD`
changes the default day. Money is written as plain decimal strings (8 places,
never exponent form). Writes `cost/<day>/cost-report.json`, `.csv` and `.png`
for one day, `cost/<from>_<to>/...` for a longer period, to `REPORTS_URL`
(matplotlib with the Agg canvas, imported only here).
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

MAX_PERIOD_DAYS = 400
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
    """Exact ledger precision as a plain decimal string: JSON floats would lose cents, and
    `str(Decimal)` writes zero as "0E-8"."""
    return format(Decimal(value).quantize(EXACT), "f")


def add_arguments(group) -> None:
    """The job's own flags (see jobs.runner)."""
    group.add_argument("--from", dest="date_from", metavar="DATE", type=_iso_date,
                       help="first UTC day of the period, YYYY-MM-DD (default: --to, else yesterday)")
    group.add_argument("--to", dest="date_to", metavar="DATE", type=_iso_date,
                       help="last UTC day of the period, included, YYYY-MM-DD (default: --from, else yesterday)")


def _iso_date(value: str) -> date:
    import argparse

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def period(options: dict[str, Any], default_day: date | None) -> tuple[date, date]:
    """The report's (first, last) day from the job's flags; JobConfigError when they make no sense."""
    def day_of(value: Any) -> date | None:
        if value is None or isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise JobConfigError(f"not a date (YYYY-MM-DD): {value!r}") from None

    first, last = day_of(options.get("date_from")), day_of(options.get("date_to"))
    default = default_day or (datetime.now(timezone.utc).date() - timedelta(days=1))
    first, last = first or last or default, last or first or default
    if first > last:
        raise JobConfigError(f"--from {first} is after --to {last}")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise JobConfigError(f"the period is longer than {MAX_PERIOD_DAYS} days")
    if last > datetime.now(timezone.utc).date():
        raise JobConfigError(f"--to {last} is in the future")
    return first, last


def report_prefix(first: date, last: date) -> str:
    """Where a period's files go in `REPORTS_URL` (other reports link to it)."""
    name = first.isoformat() if first == last else f"{first}_{last}"
    return f"cost/{name}/cost-report"


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
    """(user_id, spend in [start, end), spend on `day`, events) of the biggest spenders, by the database."""
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
        w.writerow([report["top_users_window"]["name"], "user", row["user"], row["spend_usd"], row["events"], ""])
    return buf.getvalue().encode()


def _preload_plotting() -> None:
    """The early import in a thread; without the jobs extra, the chart's own import says so (exit 2)."""
    try:
        _import_plotting()
    except ImportError:
        pass


def _import_plotting() -> None:
    """matplotlib's object API with the Agg canvas: no pyplot global state, no GUI backend probing.

    Its INFO chatter ("generated new fontManager" on a fresh machine) is not for operators: the
    library's loggers start at WARNING. Without a writable home it would warn and build its font
    cache in a new temporary folder on every run; it gets a stable one instead.
    """
    import logging
    import os

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    if "MPLCONFIGDIR" not in os.environ and not os.access(os.path.expanduser("~"), os.W_OK):
        import tempfile

        os.environ["MPLCONFIGDIR"] = os.path.join(tempfile.gettempdir(), "lafactoria-matplotlib")
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401


def figure(report: dict[str, Any], daily_budget: Decimal | None):
    """The spend chart: one bar per day, anomalies in red with the trailing window they were
    measured against shaded and its mean drawn, the budget line labelled, the legend below the
    plot (never over the bars), and a $0-$1 axis with a note when nothing was spent."""
    _import_plotting()
    from matplotlib.figure import Figure
    from matplotlib.ticker import StrMethodFormatter

    rows = report["chart"]["days"]
    keys = [r["key"] for r in rows]
    spend = [float(r["spend_usd"]) for r in rows]
    first = report["chart"]["from"]
    anomalous = {a["day"]: a for a in report["anomalies"] if a["day"] in keys}
    colours = ["#b0b7c3" if k < first else "#c0392b" if k in anomalous else "#4a7bd0" for k in keys]
    fig = Figure(figsize=(10, 4.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    x = list(range(len(keys)))  # positions, not date strings: no categorical-units guessing
    ax.bar(x, spend, color=colours, width=0.8, zorder=2)
    handles = [_patch("#4a7bd0", "spend per day")]
    if any(k < first for k in keys):
        handles.append(_patch("#b0b7c3", "before the period (trailing window)"))
    tops = [max(spend, default=0.0)]
    trailing = report["anomaly_rule"]["trailing_days"]
    for n, (key, a) in enumerate(sorted(anomalous.items())):
        i = keys.index(key)
        left, mean = max(-0.5, i - trailing - 0.5), float(a["trailing_mean_usd"])
        ax.axvspan(left, i - 0.5, color="#f5b041", alpha=0.18, linewidth=0, zorder=0)
        ax.hlines(mean, left, i - 0.5, colors="#e67e22", linestyles="--", linewidth=1.5, zorder=3)
        if n == 0:
            handles += [_patch("#c0392b", f"anomaly (> {report['anomaly_rule']['factor']}x trailing mean)"),
                        _patch("#f5b041", f"trailing {trailing}-day window", alpha=0.4),
                        _line("#e67e22", "--", "trailing mean")]
        tops.append(mean)
    if daily_budget is not None:
        budget = float(daily_budget)
        ax.axhline(budget, color="#7d3c98", linestyle=":", linewidth=1.5, zorder=3)
        ax.annotate(f"daily budget ${budget:,.2f}", xy=(0, budget), xycoords=("axes fraction", "data"),
                    xytext=(4, 3), textcoords="offset points", ha="left", va="bottom", color="#7d3c98",
                    fontsize=8, zorder=4, bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                                                "alpha": 0.85})
        handles.append(_line("#7d3c98", ":", "daily budget"))
        tops.append(budget)
    top = max(tops)
    if top <= 0:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "no spend in this period", transform=ax.transAxes, ha="center", va="center",
                color="#566573")
    else:
        ax.set_ylim(0, top * 1.15)
    ax.yaxis.set_major_formatter(StrMethodFormatter("${x:,.2f}"))
    step = max(1, -(-len(keys) // 31))
    ax.set_xticks(x[::step], [k[5:] if len(keys) <= 62 else k for k in keys][::step],
                  rotation=60, fontsize=7)
    ax.set_xlim(-0.6, len(keys) - 0.4)
    ax.set_ylabel("USD")
    ax.set_title(f"La Factoria spend, {report['chart']['title']}")
    ax.grid(axis="y", color="#e5e8e8", linewidth=0.8, zorder=1)
    ax.set_axisbelow(True)
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), fontsize=8,
               frameon=False)
    return fig


def _patch(colour: str, label: str, alpha: float = 1.0):
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, alpha=alpha, label=label)


def _line(colour: str, style: str, label: str):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=colour, linestyle=style, label=label)


def _chart(report: dict[str, Any], daily_budget: Decimal | None) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figure(report, daily_budget)
    FigureCanvasAgg(fig)
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


def build_report(first: date, last: date, opts: CostReportOptions) -> dict[str, Any]:
    """The report for the days [first, last]; the two aggregate scans run at once on two
    connections (the database does the work)."""
    from concurrent.futures import ThreadPoolExecutor

    from shared.pseudonyms import pseudonym

    month_start = last.replace(day=1)
    end = last + timedelta(days=1)
    scan_from = min(first.replace(day=1), month_start)  # every month the period touches, to date
    start = scan_from - timedelta(days=opts.trailing_days)
    users_from = month_start if first == last else first  # a day's report ranks month to date
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cost-report") as pool:
        cells_f = pool.submit(_in_session, cube, start, end)
        users_f = pool.submit(_in_session, top_users, users_from, last, end, opts.top_users)
        cells, top = cells_f.result(), users_f.result()

    def days(a: date, b: date) -> set[str]:
        return {(a + timedelta(n)).isoformat() for n in range((b - a).days + 1)}

    daily = _daily(cells, start, end)
    windows = {"period": _window(cells, days(first, last)), "day": _window(cells, {last.isoformat()}),
               "month_to_date": _window(cells, days(month_start, last))}
    for name, lo in (("period", first), ("month_to_date", month_start)):
        windows[name]["by_day"] = [{"key": d.isoformat()} | c.as_dict()
                                   for d, c in sorted(daily.items()) if lo <= d <= last]
    users = []
    for uid, total, on_day, n in top:
        entry = {"user": pseudonym(uid), "spend_usd": money(total), "spend_usd_day": money(on_day), "events": n}
        if opts.include_user_ids:
            entry["user_id"] = uid
        users.append(entry)
    found = anomalies(daily, min(first, month_start), opts.anomaly_factor, opts.trailing_days)
    chart_from = first if first < last else month_start
    earliest = min([date.fromisoformat(a["day"]) for a in found if a["day"] >= chart_from.isoformat()],
                   default=chart_from)
    drawn_from = max(start, min(chart_from, earliest - timedelta(days=opts.trailing_days)))
    return {
        "report": "cost", "currency": "USD", "generated_at": datetime.now(timezone.utc).isoformat(),
        "period": {"from": first.isoformat(), "to": last.isoformat(), "days": (last - first).days + 1},
        "day": last.isoformat(), "month_to_date": {"from": month_start.isoformat(), "to": last.isoformat()},
        "windows": windows, "top_users": users,
        "top_users_window": {"name": "month_to_date" if first == last else "period",
                             "from": users_from.isoformat(), "to": last.isoformat()},
        "user_ids": "raw" if opts.include_user_ids else "pseudonymised",
        "anomalies": found,
        "anomaly_rule": {"factor": str(opts.anomaly_factor), "trailing_days": opts.trailing_days},
        "chart": {"from": chart_from.isoformat(),
                  "title": f"{first} to {last}" if first < last else f"month to date ({last})",
                  "days": [{"key": d.isoformat(), "spend_usd": money(c.spend)}
                           for d, c in sorted(daily.items()) if drawn_from <= d <= last]},
        "_daily": daily,
    }


def budgets(daily: dict[date, Cell], first: date, last: date, daily_limit: Decimal | None,
            monthly_limit: Decimal | None) -> dict[str, Any]:
    """Daily budget against every day of the period (the worst decides); monthly budget against
    each month the period touches, to date (the last month's figures on top)."""
    order = {"unset": 0, "ok": 1, "near": 2, "breach": 3}
    in_period = sorted((d, c.spend) for d, c in daily.items() if first <= d <= last)
    worst_day = max(in_period, key=lambda kv: kv[1])
    day_check = _budget(daily_limit, worst_day[1]) | {"day": worst_day[0].isoformat()}
    if daily_limit is not None:
        day_check["breach_days"] = [d.isoformat() for d, spend in in_period if spend > daily_limit]
    months = []
    month = first.replace(day=1)
    while month <= last:
        nxt = (month + timedelta(days=32)).replace(day=1)
        spend = sum((c.spend for d, c in daily.items() if month <= d <= min(last, nxt - timedelta(days=1))),
                    Decimal(0))
        months.append({"month": month.isoformat()[:7]} | _budget(monthly_limit, spend))
        month = nxt
    month_check = dict(months[-1])
    month_check["status"] = max((m["status"] for m in months), key=order.__getitem__)
    if len(months) > 1:
        month_check["months"] = months
    return {"daily": day_check, "monthly": month_check}


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
    period = report["period"]
    inside = [a for a in report["anomalies"] if period["from"] <= a["day"] <= period["to"]]
    if inside:
        problems.append("anomaly")
        latest = inside[-1]
        if not ctx.dry_run:
            ctx.alert("cost-report:anomaly", "warning",
                      f"Spend on {latest['day']} (${latest['spend_usd']}) is {latest['ratio']}x its "
                      f"trailing {report['anomaly_rule']['trailing_days']}-day mean", latest)
    elif not ctx.dry_run:
        ctx.resolve("cost-report:anomaly")
    return problems


def write_report(store, report: dict[str, Any], daily_budget: Decimal | None, *,
                 only_if_missing: bool = False) -> list[str]:
    """Write the report's JSON, CSV and chart; returns the keys written. With `only_if_missing`
    (the ops report linking to the cost report of its period) an existing report is left as is.

    A report naming users by id (COST_REPORT_INCLUDE_USER_IDS) holds personal data: with
    BACKUP_ENCRYPTION_KEYS set its JSON is encrypted like backups (`.json.age`; the CSV names
    users by pseudonym only).
    """
    from shared.backup_crypto import Keyring

    prefix = report_prefix(date.fromisoformat(report["period"]["from"]), date.fromisoformat(report["period"]["to"]))
    if only_if_missing and any(o.key in (prefix + ".json", prefix + ".json.age")
                               for o in store.list(prefix.rsplit("/", 1)[0])):
        return []
    keyring = Keyring.from_settings()
    document = json.dumps(report, indent=2).encode()
    json_key = prefix + ".json"
    if keyring.enabled and any("user_id" in row for row in report["top_users"]):
        json_key, document = json_key + ".age", keyring.seal(document)
    store.put_bytes(json_key, document, "application/json")
    store.delete(prefix + (".json" if json_key.endswith(".age") else ".json.age"))  # no stale twin
    store.put_bytes(prefix + ".csv", _csv(report), "text/csv")
    store.put_bytes(prefix + ".png", _chart(report, daily_budget), "image/png")
    return [json_key, prefix + ".csv", prefix + ".png"]


def run(ctx: JobContext) -> JobResult:
    from pydantic import ValidationError

    from shared.storage import StoreError, open_store

    try:
        opts = CostReportOptions()
    except ValidationError as exc:
        raise JobConfigError(f"bad COST_REPORT_* setting: {exc.errors()[0]['loc'][0]}") from None
    first, last = period(ctx.options, opts.day)
    if not ctx.dry_run:  # load the plotting library while the database aggregates
        import threading

        threading.Thread(target=_preload_plotting, name="cost-report-import", daemon=True).start()
    report = build_report(first, last, opts)
    daily = report.pop("_daily")
    report["budgets"] = budgets(daily, first, last, ctx.settings.daily_budget_usd, ctx.settings.monthly_budget_usd)
    problems = _alerts(ctx, report)
    prefix = report_prefix(first, last)
    summary = {"from": first.isoformat(), "to": last.isoformat(), "day": report["day"],
               "spend_usd_period": report["windows"]["period"]["spend_usd"],
               "spend_usd_day": report["windows"]["day"]["spend_usd"],
               "spend_usd_month_to_date": report["windows"]["month_to_date"]["spend_usd"],
               "unknown_cost_events_month_to_date": report["windows"]["month_to_date"]["unknown_cost_events"],
               "budgets": {k: v["status"] for k, v in report["budgets"].items()},
               "anomalies": len(report["anomalies"]), "problems": problems}
    if ctx.dry_run:
        ctx.emit({"would_write": f"{prefix}.json,csv,png"})
    else:
        try:
            summary["written"] = write_report(open_store(ctx.settings.reports_url), report,
                                              ctx.settings.daily_budget_usd)
        except StoreError as exc:
            raise JobUnavailable(f"cannot write to REPORTS_URL: {exc}") from None
    return JobResult.problem(**summary) if problems else JobResult.ok(**summary)
