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
(matplotlib with the Agg canvas, imported only when drawing).

One concern a module:

- `options`: the COST_REPORT_* settings, the `--from`/`--to` flags and the period;
- `queries`: the two aggregate scans of the ledger; `cells`: spend cells and money as text;
- `report`: the report document (windows, top users, chart days);
- `anomalies` and `budgets`: the checks, pure functions of the daily totals;
- `alerts`: raising and resolving the report's alerts, and which findings are problems;
- `csv_export`, `chart`, `storage`: the CSV, the PNG, and where the files go.

"""

from __future__ import annotations

from jobs.cost_report import alerts
from jobs.cost_report.budgets import budgets
from jobs.cost_report.options import add_arguments, load_options, period
from jobs.cost_report.report import build_report
from jobs.cost_report.storage import report_prefix, write_report
from jobs.runner import JobContext, JobResult, JobUnavailable

__all__ = ["add_arguments", "run"]


def _summary(report: dict, problems: list[str]) -> dict:
    windows = report["windows"]
    return {"from": report["period"]["from"], "to": report["period"]["to"], "day": report["day"],
            "spend_usd_period": windows["period"]["spend_usd"],
            "spend_usd_day": windows["day"]["spend_usd"],
            "spend_usd_month_to_date": windows["month_to_date"]["spend_usd"],
            "unknown_cost_events_month_to_date": windows["month_to_date"]["unknown_cost_events"],
            "budgets": {k: v["status"] for k, v in report["budgets"].items()},
            "anomalies": len(report["anomalies"]), "problems": problems}


def run(ctx: JobContext) -> JobResult:
    """The job: build the report, check budgets and anomalies, raise alerts, write the files."""
    from shared.storage import StoreError, open_store

    opts = load_options()
    first, last = period(ctx.options, opts.day)
    if not ctx.dry_run:  # load the plotting library while the database aggregates
        import threading

        from jobs.cost_report.chart import preload_plotting

        threading.Thread(target=preload_plotting, name="cost-report-import", daemon=True).start()
    report = build_report(first, last, opts)
    daily = report.pop("_daily")
    report["budgets"] = budgets(daily, first, last, ctx.settings.daily_budget_usd, ctx.settings.monthly_budget_usd)
    problems = alerts.raise_alerts(ctx, report)
    summary = _summary(report, problems)
    if ctx.dry_run:
        ctx.emit({"would_write": f"{report_prefix(first, last)}.json,csv,png"})
    else:
        try:
            summary["written"] = write_report(open_store(ctx.settings.reports_url), report,
                                              ctx.settings.daily_budget_usd)
        except StoreError as exc:
            raise JobUnavailable(f"cannot write to REPORTS_URL: {exc}") from None
    return JobResult.problem(**summary) if problems else JobResult.ok(**summary)
