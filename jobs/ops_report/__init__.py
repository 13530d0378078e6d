"""`ops-report --period daily|weekly|monthly [--date DATE]`: the operations checklists, answered from data.

Each checklist item (see `checks.CHECKLISTS`) becomes pass / warn / fail with
its evidence: the figures, the cost report's files and the newest backup's
manifest. The report also lists the info alerts collected since the previous
report of the same period (info alerts are never pushed one by one), the
incident history (open, acknowledge, resolve times), SLO and error-budget
status against the service levels (`levels.py`, docs/OPERATIONS.md) and, in
the weekly and monthly reports, the compliance report.

Periods, in UTC, for the report date D (default today):
- daily: the day before D, 00:00 to 24:00;
- weekly: the seven days before D (run on Monday: the previous Monday to Sunday);
- monthly: the calendar month before D's month.

Writes `ops-report/<period>/<D>.md`, `.html` (inline SVG charts, no script)
and `.json` to `REPORTS_URL`, and the cost report of the same days when it is
not there yet. The summary line holds `period`, `from`, `to`, `checks`
(name -> status) and `report`; exit 1 when any check fails. No personal data:
people appear only as counts.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from jobs.runner import JobConfigError, JobContext, JobResult, JobUnavailable
from shared.timestamps import iso

PERIODS = ("daily", "weekly", "monthly")
INFO_LOOKBACK_MAX = timedelta(days=35)


def add_arguments(group) -> None:
    group.add_argument("--period", choices=PERIODS, default=None,
                       help="which checklist to answer: daily, weekly or monthly (required)")
    group.add_argument("--date", dest="report_date", metavar="DATE", default=None,
                       help="report date, YYYY-MM-DD (UTC, default today); the period ends at its midnight")


def window(period: str, report_date: date, now: datetime):
    from jobs.ops_report.facts import Window

    end = datetime.combine(report_date, time.min, tzinfo=timezone.utc)
    if period == "daily":
        start = end - timedelta(days=1)
    elif period == "weekly":
        start = end - timedelta(days=7)
    else:
        end = end.replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
    return Window(period, start, end, now)


def _options(ctx: JobContext) -> tuple[str, date]:
    period = ctx.options.get("period")
    if period not in PERIODS:
        raise JobConfigError("--period is required: daily, weekly or monthly")
    raw = ctx.options.get("report_date")
    today = datetime.now(timezone.utc).date()
    try:
        report_date = raw if isinstance(raw, date) else date.fromisoformat(raw) if raw else today
    except ValueError:
        raise JobConfigError(f"--date is not a date (YYYY-MM-DD): {raw!r}") from None
    if report_date > today:
        raise JobConfigError(f"--date {report_date} is in the future")
    return period, report_date


def _previous_report_end(session, ctx: JobContext, period: str, w) -> datetime:
    """Where the info alerts of this report start: the end of the previous report of this period."""
    from sqlalchemy import select

    from shared.models import JobRun

    runs = session.scalars(select(JobRun).where(
        JobRun.job == ctx.name, JobRun.dry_run.is_(False), JobRun.status.in_(("ok", "problem")),
        JobRun.id != ctx.run_id).order_by(JobRun.started_at.desc()).limit(50)).all()
    for run in runs:
        summary = run.summary or {}
        if summary.get("period") == period and summary.get("to"):
            end = datetime.fromisoformat(summary["to"])
            if end < w.end:
                return max(end, w.end - INFO_LOOKBACK_MAX)
    return w.start


def gather(ctx: JobContext, w) -> dict[str, Any]:
    from jobs.ops_report import facts
    from shared import job_status
    from shared.database import session_scope

    with session_scope() as session:
        out: dict[str, Any] = {
            "window": {"period": w.period, "from": iso(w.start), "to": iso(w.end),
                       "now": iso(w.now), "days": (w.end - w.start).days},
            "alerts": facts.alerts(session, w, _previous_report_end(session, ctx, w.period, w)),
            "requests": facts.requests(session, w),
            "generation": facts.generation(session, w),
            "slo": facts.slo(session, w),
            "feedback": facts.feedback(session, w),
            "jobs": facts.job_runs(session, w, job_status.grace(ctx.settings)),
            "backups": facts.backups(session, w, ctx.settings),
        }
        if w.period != "daily":
            out["security"] = facts.security(session, w)
            out["compliance"] = facts.compliance(session, w)
            out["capacity"] = facts.capacity(session, w, out["requests"]["series"])
            out["database"] = facts.database(session, w, ctx.settings)
            out["spend_per_user"] = facts.spend_per_user(session, w, ctx.settings)
        if w.period == "monthly":
            out["reconciliation"] = facts.reconciliation(session, w)
    out["cost"] = facts.cost(w, ctx.settings)
    return out


def run(ctx: JobContext) -> JobResult:
    from jobs.ops_report import checks, render
    from shared.storage import StoreError, open_store

    period, report_date = _options(ctx)
    w = window(period, report_date, datetime.now(timezone.utc))
    found = gather(ctx, w)
    results = checks.evaluate(period, found, ctx.settings)
    statuses = {name: c.status for name, c in results.items()}
    overall = "fail" if "fail" in statuses.values() else "warn" if "warn" in statuses.values() else "pass"
    prefix = f"ops-report/{period}/{report_date.isoformat()}"
    cost = found["cost"]
    report = {"report": "ops", "period": period, "date": report_date.isoformat(),
              "from": found["window"]["from"], "to": found["window"]["to"],
              "generated_at": found["window"]["now"], "status": overall,
              "checks": {n: c.as_dict() for n, c in results.items()},
              "links": {"cost_report": cost["prefix"] + ".json", "newest_backup":
                        (found["backups"]["newest"] or {}).get("link")},
              "facts": {k: v for k, v in found.items() if k != "cost"} | {
                  "cost": {k: v for k, v in cost.items() if k != "report"}}}
    summary = {"period": period, "from": report["from"], "to": report["to"], "checks": statuses,
               "report": prefix, "status_overall": overall}
    if ctx.dry_run:
        ctx.emit({"would_write": f"{prefix}.md,html,json"})
    else:
        from jobs.cost_report.storage import write_report

        try:
            store = open_store(ctx.settings.reports_url)
            written = write_report(store, cost["report"], ctx.settings.daily_budget_usd, only_if_missing=True)
            store.put_bytes(prefix + ".json", render.json_document(report), "application/json")
            store.put_bytes(prefix + ".md", render.markdown(report).encode(), "text/markdown; charset=utf-8")
            store.put_bytes(prefix + ".html", render.html_page(report).encode(), "text/html; charset=utf-8")
        except StoreError as exc:
            raise JobUnavailable(f"cannot write to REPORTS_URL: {exc}") from None
        summary["written"] = written + [f"{prefix}.{ext}" for ext in ("json", "md", "html")]
    return JobResult.problem(**summary) if overall == "fail" else JobResult.ok(**summary)
