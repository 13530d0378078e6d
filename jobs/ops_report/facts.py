"""What the ops report knows: figures read from the database, the backup store and the cost ledger.

Every figure is an aggregate (counts, percentiles, sums) computed by the
database; nothing here returns a user id, an email or a piece of content.
People appear only as counts (and in the audit log's own pseudonyms, which
the report never lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from jobs.ops_report import levels
from shared.timestamps import as_utc, iso

INCIDENT_SEVERITIES = ("critical", "error", "warning")
SECURITY_ACTIONS = ("auth.failed", "key.created", "key.revoked", "user.role_changed", "admin.content.read",
                    "admin.content.delete", "gdpr.erasure.unverified")
COMPLIANCE_ACTIONS = {
    "erasures": ("gdpr.erasure",), "exports": ("gdpr.export",), "rectifications": ("gdpr.rectification",),
    "consent_changes": ("gdpr.consent",), "restrictions_set": ("gdpr.restriction.set",),
    "restrictions_lifted": ("gdpr.restriction.lifted",), "unverified_erasures": ("gdpr.erasure.unverified",),
}


@dataclass(frozen=True)
class Window:
    period: str
    start: datetime
    end: datetime
    now: datetime

    @property
    def bucket(self) -> timedelta:
        return timedelta(hours=1) if self.period == "daily" else timedelta(days=1)

    def buckets(self) -> list[datetime]:
        out, t = [], self.start
        while t < self.end:
            out.append(t)
            t += self.bucket
        return out


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else round((as_utc(b) - as_utc(a)).total_seconds(), 2)


def alerts(session, w: Window, info_since: datetime) -> dict[str, Any]:
    """Incidents overlapping the period (with acknowledge and resolve times), open alerts now,
    and the info alerts collected since the previous report."""
    from shared.models import Alert

    overlapping = session.scalars(select(Alert).where(
        Alert.severity.in_(INCIDENT_SEVERITIES), Alert.opened_at < w.end,
        (Alert.resolved_at.is_(None)) | (Alert.resolved_at >= w.start)).order_by(Alert.opened_at)).all()
    incidents = []
    for a in overlapping:
        tta, ttr = _seconds(a.opened_at, a.acknowledged_at), _seconds(a.opened_at, a.resolved_at)
        incidents.append({"id": a.id, "rule": a.rule, "severity": a.severity, "state": a.status,
                          "summary": a.message, "opened_at": iso(a.opened_at),
                          "acknowledged_at": iso(a.acknowledged_at), "escalated_at": iso(a.escalated_at),
                          "resolved_at": iso(a.resolved_at), "time_to_acknowledge_s": tta,
                          "time_to_resolve_s": ttr})
    acknowledged = [i["time_to_acknowledge_s"] for i in incidents if i["time_to_acknowledge_s"] is not None]
    resolved = [i["time_to_resolve_s"] for i in incidents if i["time_to_resolve_s"] is not None]
    info = session.scalars(select(Alert).where(Alert.severity == "info", Alert.opened_at >= info_since,
                                               Alert.opened_at < w.now).order_by(Alert.opened_at)).all()
    open_now = session.scalars(select(Alert).where(Alert.status == "open").order_by(Alert.opened_at)).all()
    opened = dict(session.execute(select(Alert.severity, func.count()).where(
        Alert.opened_at >= w.start, Alert.opened_at < w.end).group_by(Alert.severity)).all())
    return {
        "opened_by_severity": {s: int(opened.get(s, 0)) for s in ("critical", "error", "warning", "info")},
        "incidents": incidents,
        "incident_stats": {
            "count": len(incidents), "acknowledged": len(acknowledged), "resolved": len(resolved),
            "mean_time_to_acknowledge_s": round(sum(acknowledged) / len(acknowledged), 1) if acknowledged else None,
            "max_time_to_acknowledge_s": max(acknowledged, default=None),
            "mean_time_to_resolve_s": round(sum(resolved) / len(resolved), 1) if resolved else None,
            "max_time_to_resolve_s": max(resolved, default=None),
        },
        "info_since": iso(info_since),
        "info": [{"rule": a.rule, "summary": a.message, "opened_at": iso(a.opened_at), "state": a.status}
                 for a in info],
        "open_now": [{"id": a.id, "rule": a.rule, "severity": a.severity, "summary": a.message,
                      "opened_at": iso(a.opened_at), "acknowledged": a.acknowledged_at is not None,
                      "age_s": _seconds(a.opened_at, w.now)} for a in open_now],
    }


def _stats_dict(stats) -> dict[str, Any] | None:
    if stats is None:
        return None
    r = lambda v: None if v is None else round(float(v), 1)  # noqa: E731
    return {"count": stats.count, "errors_4xx": stats.errors_4xx, "errors_5xx": stats.errors_5xx,
            "error_rate_4xx": round(stats.error_rate_4xx, 5), "error_rate_5xx": round(stats.error_rate_5xx, 5),
            "p50_ms": r(stats.p50), "p95_ms": r(stats.p95), "p99_ms": r(stats.p99)}


def requests(session, w: Window) -> dict[str, Any]:
    """API (generation excluded), health and generation request figures, and a series per bucket."""
    from shared.models import RequestMetric as M
    from shared.window_stats import GENERATION_ROUTE, request_stats

    fn, method, route = GENERATION_ROUTE
    is_generation = (M.function == fn) & (M.method == method) & (M.route == route)
    end = w.end - timedelta(microseconds=1)  # request_stats includes its end; periods exclude it

    def one(*where):
        return _stats_dict(request_stats(session, w.start, end, where=where, by_function=False).get(None))

    series = []
    for t in w.buckets():
        got = request_stats(session, t, t + w.bucket - timedelta(microseconds=1), where=(~is_generation,),
                            by_function=False).get(None)
        series.append({"at": iso(t), "count": got.count if got else 0, "errors_5xx": got.errors_5xx if got else 0,
                       "p95_ms": round(got.p95, 1) if got and got.p95 is not None else None})
    return {"all": one(), "api": one(~is_generation), "health": one(M.function == "health"),
            "generation": one(is_generation), "series": series}


def generation(session, w: Window) -> dict[str, Any]:
    from shared.models import ContentItem as C
    from shared.window_stats import generation_stats, regeneration_stats

    g = generation_stats(session, w.start, w.end - timedelta(microseconds=1))
    regen = regeneration_stats(session, w.start, w.end - timedelta(microseconds=1))
    day = func.date(C.created_at) if session.get_bind().dialect.name == "sqlite" else \
        func.date(func.timezone("UTC", C.created_at))
    per_day = session.execute(select(day, func.count(), func.avg(C.quality_overall)).where(
        C.created_at >= w.start, C.created_at < w.end).group_by(day).order_by(day)).all()
    return {"count": g.count, "requests": g.requests, "succeeded": g.succeeded,
            "success_rate": None if g.success_rate is None else round(g.success_rate, 4),
            "quality_mean": None if g.quality_mean is None else round(g.quality_mean, 4),
            "passed_share": None if g.passed_share is None else round(g.passed_share, 4),
            "histogram": g.histogram, "content_types": g.content_types,
            "regenerations": regen.regenerations,
            "regenerations_per_100_requests": None if regen.per_100_requests is None
            else round(regen.per_100_requests, 2),
            "regeneration_cost_usd": round(regen.cost_usd, 6),
            "per_day": [{"day": str(d), "count": int(n), "quality_mean": round(float(q), 4) if q is not None
                         else None} for d, n, q in per_day]}


def slo(session, w: Window) -> dict[str, Any]:
    """Availability over the period and over the 30 days ending with it, with the error budget."""
    from shared.window_stats import request_stats

    def availability(start: datetime) -> dict[str, Any]:
        got = request_stats(session, start, w.end - timedelta(microseconds=1), by_function=False).get(None)
        total, bad = (got.count, got.errors_5xx) if got else (0, 0)
        allowed = total * (1 - levels.AVAILABILITY)
        return {"from": iso(start), "requests": total, "errors_5xx": bad,
                "availability": round(1 - bad / total, 6) if total else None,
                "error_budget_requests": round(allowed, 2),
                "error_budget_consumed": round(bad / allowed, 4) if allowed else None}

    return {"target": levels.AVAILABILITY, "period": availability(w.start),
            "rolling_30_days": availability(w.end - levels.ERROR_BUDGET_WINDOW)}


def feedback(session, w: Window) -> dict[str, Any]:
    from shared.models import Feedback as F

    rows = dict(session.execute(select(F.rating, func.count()).where(
        F.created_at >= w.start, F.created_at < w.end).group_by(F.rating)).all())
    n = sum(rows.values())
    mean = sum(r * c for r, c in rows.items()) / n if n else None
    return {"count": n, "mean_rating": None if mean is None else round(mean, 3),
            "ratings": {str(r): int(rows.get(r, 0)) for r in range(1, 6)}}


def job_runs(session, w: Window, grace: timedelta) -> dict[str, Any]:
    """Per job: counted runs in the period by status, and its state now (`shared.job_status`):
    the latest counted run, whether it is overdue, and for the alert watcher whether it fell silent."""
    from shared import job_status
    from shared.models import JobRun

    out = {}
    for job, st in job_status.assess(session, w.now, grace).items():
        counts = dict(session.execute(select(JobRun.status, func.count()).where(
            JobRun.job == job, *job_status.counted(), JobRun.started_at >= w.start,
            JobRun.started_at < w.end).group_by(JobRun.status)).all())
        last = st.last_run
        out[job] = {"schedule": st.schedule, "runs": {k: int(v) for k, v in counts.items()},
                    "last_run": None if last is None else {
                        "status": last.status, "started_at": iso(as_utc(last.started_at)),
                        "finished_at": iso(as_utc(last.finished_at)), "exit_code": last.exit_code},
                    "due_at": iso(st.due_at), "overdue": st.overdue,
                    "missed": st.missed_output() if st.overdue else "",
                    "silent": job_status.dead_mans_output(st.schedule, last.started_at, w.now)
                    if last is not None and job == job_status.DEAD_MANS_JOB else ""}
    return out


def backups(session, w: Window, settings) -> dict[str, Any]:
    """The store's newest backup, the backups taken in the period, and the test restores."""
    from jobs.backup_catalog import list_backups
    from shared.models import JobRun
    from shared.storage import StoreError, open_store

    try:
        store = open_store(settings.backup_url)
        entries = [e for e in list_backups(store) if e.complete]
        store_error = None
    except StoreError as exc:
        store, entries, store_error = None, [], str(exc)
    newest = entries[-1] if entries else None
    in_period = [e for e in entries if w.start <= e.taken_at < w.end]
    verify = session.scalars(select(JobRun).where(
        JobRun.job == "backup-verify", JobRun.dry_run.is_(False), JobRun.started_at >= w.start,
        JobRun.started_at < w.end).order_by(JobRun.started_at)).all()
    last_ok = session.scalars(select(JobRun).where(
        JobRun.job == "backup-verify", JobRun.dry_run.is_(False), JobRun.status == "ok",
        JobRun.started_at < w.now).order_by(JobRun.started_at.desc()).limit(1)).first()
    failed_backups = session.scalar(select(func.count()).select_from(JobRun).where(
        JobRun.job == "backup", JobRun.dry_run.is_(False), JobRun.status.in_(("problem", "error")),
        JobRun.started_at >= w.start, JobRun.started_at < w.end))
    size = lambda e: sum(o.size for o in e.objects.values())  # noqa: E731
    return {
        "store": store.url if store else settings.backup_url, "store_error": store_error,
        "encrypted": bool(settings.backup_keys), "production": settings.is_production,
        "newest": None if newest is None or store is None else {  # no store: no entries
            "backup_id": newest.id, "taken_at": iso(newest.taken_at), "bytes": size(newest),
            "age_hours": round((w.now - newest.taken_at).total_seconds() / 3600, 2),
            "link": f"{store.url.rstrip('/')}/{newest.key('manifest.json')}"},
        "taken_in_period": len(in_period), "bytes_in_period": [size(e) for e in in_period],
        "failed_backup_runs": int(failed_backups or 0),
        "restore_tests": [{"started_at": iso(r.started_at), "status": r.status,
                           "backup_id": (r.summary or {}).get("backup_id"),
                           "reasons": (r.summary or {}).get("reasons", [])} for r in verify],
        "last_verified_ok": None if last_ok is None else {
            "started_at": iso(last_ok.started_at), "backup_id": (last_ok.summary or {}).get("backup_id")},
    }


def cost(w: Window, settings) -> dict[str, Any]:
    """The cost report's figures for the period's days, and where its files are."""
    from jobs.cost_report.anomalies import inside
    from jobs.cost_report.budgets import budgets
    from jobs.cost_report.options import CostReportOptions
    from jobs.cost_report.report import build_report
    from jobs.cost_report.storage import report_prefix

    first, last = w.start.date(), (w.end - timedelta(days=1)).date()
    report = build_report(first, last, CostReportOptions())
    daily = report.pop("_daily")
    report["budgets"] = budgets(daily, first, last, settings.daily_budget_usd, settings.monthly_budget_usd)
    win = report["windows"]["period"]
    return {"report": report, "spend_usd": win["spend_usd"], "unknown_cost_events": win["unknown_cost_events"],
            "by_provider": win["by_provider"], "by_day": win["by_day"],
            "budgets": {k: v["status"] for k, v in report["budgets"].items()},
            "anomalies": inside(report["anomalies"], first.isoformat(), last.isoformat()),
            "prefix": report_prefix(first, last)}


def audit_counts(session, w: Window, actions) -> dict[str, int]:
    from shared.models import AuditEntry as A

    rows = dict(session.execute(select(A.action, func.coalesce(func.sum(A.count), 0)).where(
        A.action.in_(list(actions)), A.created_at >= w.start, A.created_at < w.end).group_by(A.action)).all())
    return {a: int(rows.get(a, 0)) for a in actions}


def compliance(session, w: Window) -> dict[str, Any]:
    """The data-protection record of the period: counts only, never who."""
    from shared.models import ConsentEvent, Erasure, JobRun

    actions = [a for names in COMPLIANCE_ACTIONS.values() for a in names]
    counts = audit_counts(session, w, actions)
    out: dict[str, Any] = {k: sum(counts[a] for a in names) for k, names in COMPLIANCE_ACTIONS.items()}
    out["erasure_ledger_entries"] = int(session.scalar(select(func.count()).select_from(Erasure).where(
        Erasure.erased_at >= w.start, Erasure.erased_at < w.end)) or 0)
    consents = session.execute(select(ConsentEvent.purpose, ConsentEvent.granted, func.count()).where(
        ConsentEvent.created_at >= w.start, ConsentEvent.created_at < w.end)
        .group_by(ConsentEvent.purpose, ConsentEvent.granted)).all()
    out["consent_events"] = {}
    for purpose, granted, n in consents:
        out["consent_events"].setdefault(purpose, {"granted": 0, "withdrawn": 0})[
            "granted" if granted else "withdrawn"] += int(n)
    runs = session.scalars(select(JobRun).where(
        JobRun.job == "retention-expiry", JobRun.dry_run.is_(False), JobRun.started_at >= w.start,
        JobRun.started_at < w.end).order_by(JobRun.started_at)).all()
    expired: dict[str, int] = {}
    for r in runs:
        for data_class, n in ((r.summary or {}).get("counts") or {}).items():
            expired[data_class] = expired.get(data_class, 0) + int(n)
    out["retention"] = {"runs": len(runs), "ok_runs": sum(r.status == "ok" for r in runs),
                        "rows_expired": expired,
                        "run_days": sorted({as_utc(r.started_at).date().isoformat() for r in runs})}
    return out


def security(session, w: Window) -> dict[str, Any]:
    return {"events": audit_counts(session, w, SECURITY_ACTIONS)}


def capacity(session, w: Window, series: list[dict[str, Any]]) -> dict[str, Any]:
    """Table sizes, database size and the traffic trend over the period."""
    from sqlalchemy import text

    from shared.models import Base

    rows = {}
    for table in Base.metadata.sorted_tables:
        rows[table.name] = int(session.scalar(select(func.count()).select_from(table)) or 0)
    if session.get_bind().dialect.name == "postgresql":
        size = int(session.scalar(text("SELECT pg_database_size(current_database())")))
    else:
        size = int(session.scalar(text("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")))
    counts = [b["count"] for b in series]
    half = len(counts) // 2
    first, second = sum(counts[:half]), sum(counts[half:2 * half])
    return {"rows": rows, "database_bytes": size, "requests_peak_bucket": max(counts, default=0),
            "requests_mean_bucket": round(sum(counts) / len(counts), 2) if counts else 0,
            "growth": round(second / first - 1, 4) if first else None}


def reconciliation(session, w: Window) -> dict[str, Any]:
    """The latest reconcile-spend verdict per provider and day of the period (its runs' summaries)."""
    from shared.models import JobRun

    runs = session.scalars(select(JobRun).where(
        JobRun.job == "reconcile-spend", JobRun.dry_run.is_(False), JobRun.status.in_(("ok", "problem")),
        JobRun.started_at >= w.start, JobRun.started_at < w.now).order_by(JobRun.started_at)).all()
    first, last = w.start.date().isoformat(), (w.end - timedelta(days=1)).date().isoformat()
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        for row in (run.summary or {}).get("rows", []):
            if first <= row["day"] <= last:
                latest[(row["provider"], row["day"])] = {k: row.get(k) for k in (
                    "provider", "day", "status", "ours_usd", "theirs_usd", "drift", "reason")}
    rows = [latest[k] for k in sorted(latest, key=lambda k: (k[1], k[0]))]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {"runs": len(runs), "rows": rows, "statuses": counts}


def database(session, w: Window, settings) -> dict[str, Any]:
    """The database's resources now (shared.db_resources) and the week-over-week query trend."""
    from shared import db_resources as res

    snap = res.snapshot(session, settings, w.now)
    if snap["assessed"]:
        snap["query_trends"] = res.query_trends(session, w.now)
    return snap


def spend_per_user(session, w: Window, settings) -> dict[str, Any]:
    """Cost per active user (per day, per content type), requests per user, the trend over the
    period and its projection for the month of the period's last day (shared.spend_trends)."""
    from shared import spend_trends

    budget = settings.monthly_budget_usd
    return spend_trends.summary(session, w.start.date(), (w.end - timedelta(days=1)).date(),
                                None if budget is None else float(budget))
