"""The alert rules evaluated by `alert-check`, with thresholds from settings (ALERT_*).

Each rule reads the database (request metrics, content, usage ledger, job
ledger) or the readiness checks and returns findings: for each alert rule
name, whether it is firing now, the message and the observed figures. Opening,
not re-sending and resolving is `shared.alerts`' job; this module only judges.

"For N minutes" is judged as the aggregate over the trailing N-minute window
(the job runs every 5 minutes, so a condition must hold across the window, not
at one instant). Windows with too few samples (ALERT_MIN_REQUESTS,
ALERT_MIN_GENERATIONS) are treated as healthy so that one failed request at
night does not page anyone. The rule names are the ones in docs/RUNBOOK.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from shared.settings import Settings
from shared.timestamps import as_utc
from shared.window_stats import GENERATION_ROUTE, generation_stats, known_cost, request_stats


@dataclass(frozen=True)
class Finding:
    """`title` names the problem; `observed` states the figures now (true whether firing or not)."""

    rule: str
    severity: str
    firing: bool
    title: str
    observed: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return f"{self.title}: {self.observed}"

    @property
    def resolution(self) -> str:
        return f"Resolved: {self.title} (now {self.observed})"


@dataclass(frozen=True)
class Evaluation:
    """What a rule sees: a read-only session, the evaluation time and the settings."""

    session: Session
    now: datetime
    settings: Settings


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    evaluate: Callable[[Evaluation], list[Finding]]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _generation_route():
    from sqlalchemy import and_

    from shared.models import RequestMetric as M

    fn, method, route = GENERATION_ROUTE
    return and_(M.function == fn, M.method == method, M.route == route)


# -- requests -------------------------------------------------------------------------
def _error_rate(name: str, severity: str, threshold: float, minutes: int) -> Callable[[Evaluation], list[Finding]]:
    def evaluate(ev: Evaluation) -> list[Finding]:
        stats = request_stats(ev.session, ev.now - timedelta(minutes=minutes), ev.now, by_function=False).get(None)
        count = stats.count if stats else 0
        rate = stats.error_rate_5xx if stats else 0.0
        firing = count >= ev.settings.alert_min_requests and rate > threshold
        details = {"error_rate_5xx": round(rate, 4), "requests": count, "threshold": threshold,
                   "window_minutes": minutes}
        return [Finding(name, severity, firing, "High 5xx error rate",
                        f"{_pct(rate)} of {count} requests over the last {minutes} min "
                        f"(threshold {_pct(threshold)})", details)]
    return evaluate


def error_rate_critical(ev: Evaluation) -> list[Finding]:
    s = ev.settings
    return _error_rate("error-rate:critical", "critical", s.alert_error_rate_critical,
                       s.alert_error_rate_critical_minutes)(ev)


def error_rate_warning(ev: Evaluation) -> list[Finding]:
    s = ev.settings
    return _error_rate("error-rate:warning", "warning", s.alert_error_rate_warning,
                       s.alert_error_rate_warning_minutes)(ev)


def latency_p95(ev: Evaluation) -> list[Finding]:
    """API p95 over all functions, generation requests excluded (they have their own rule)."""
    from sqlalchemy import not_

    s = ev.settings
    minutes, limit = s.alert_latency_p95_minutes, s.alert_latency_p95_ms
    stats = request_stats(ev.session, ev.now - timedelta(minutes=minutes), ev.now,
                          where=(not_(_generation_route()),), by_function=False).get(None)
    count = stats.count if stats else 0
    p95 = stats.p95 if stats and stats.p95 is not None else 0.0
    firing = count >= s.alert_min_requests and p95 > limit
    return [Finding("latency:p95", "critical", firing, "Slow API responses",
                    f"p95 {p95:.0f} ms over the last {minutes} min, {count} requests (threshold {limit:g} ms)",
                    {"p95_ms": round(p95, 2), "requests": count, "threshold_ms": limit, "window_minutes": minutes})]


SHED_WINDOW_MINUTES = 5  # alert-check's own interval: any refusal since the last run fires


def capacity_shedding(ev: Evaluation) -> list[Finding]:
    """Requests an instance refused because it held WEB_MAX_IN_FLIGHT already (shared.admission
    records them under the route `(shed)`): any at all means demand met the declared capacity."""
    from sqlalchemy import func, select

    from shared.admission import SHED_ROUTE
    from shared.models import RequestMetric

    since = ev.now - timedelta(minutes=SHED_WINDOW_MINUTES)
    rows = ev.session.execute(
        select(RequestMetric.function, func.count()).where(RequestMetric.route == SHED_ROUTE,
                                                           RequestMetric.created_at >= since)
        .group_by(RequestMetric.function)).all()
    shed = {function: n for function, n in rows}
    total = sum(shed.values())
    where = ", ".join(f"{f} {n}" for f, n in sorted(shed.items())) or "none"
    return [Finding("capacity_shedding", "warning", total > 0, "Instances refusing requests at capacity",
                    f"{total} requests shed over the last {SHED_WINDOW_MINUTES} min ({where})",
                    {"shed": total, "by_function": shed, "window_minutes": SHED_WINDOW_MINUTES})]


def generation_p95(ev: Evaluation) -> list[Finding]:
    """End-to-end p95 of generation requests that reached a provider (4xx rejections excluded)."""
    from sqlalchemy import or_

    from shared.models import RequestMetric as M

    s = ev.settings
    minutes, limit = s.alert_generation_p95_minutes, s.alert_generation_p95_seconds
    stats = request_stats(ev.session, ev.now - timedelta(minutes=minutes), ev.now,
                          where=(_generation_route(), or_(M.status < 400, M.status >= 500)),
                          by_function=False).get(None)
    count = stats.count if stats else 0
    p95_s = (stats.p95 or 0.0) / 1000 if stats else 0.0
    firing = count >= s.alert_min_generations and p95_s > limit
    return [Finding("generation:p95", "warning", firing, "Slow generation",
                    f"p95 {p95_s:.1f} s over the last {minutes} min, {count} generations (threshold {limit:g} s)",
                    {"p95_seconds": round(p95_s, 3), "generations": count, "threshold_seconds": limit,
                     "window_minutes": minutes})]


# -- generation -----------------------------------------------------------------------
def _quality(name: str, severity: str, threshold: float, minutes: int) -> Callable[[Evaluation], list[Finding]]:
    def evaluate(ev: Evaluation) -> list[Finding]:
        stats = generation_stats(ev.session, ev.now - timedelta(minutes=minutes), ev.now)
        mean = stats.quality_mean if stats.quality_mean is not None else 1.0
        firing = stats.count >= ev.settings.alert_min_generations and mean < threshold
        return [Finding(name, severity, firing, "Low content quality",
                        f"mean score {mean:.3f} of {stats.count} items over the last {minutes} min "
                        f"(threshold {threshold:g})",
                        {"quality_mean": round(mean, 4), "items": stats.count, "threshold": threshold,
                         "window_minutes": minutes})]
    return evaluate


def quality_critical(ev: Evaluation) -> list[Finding]:
    s = ev.settings
    return _quality("quality:critical", "critical", s.alert_quality_critical, s.alert_quality_critical_minutes)(ev)


def quality_warning(ev: Evaluation) -> list[Finding]:
    s = ev.settings
    return _quality("quality:warning", "warning", s.alert_quality_warning, s.alert_quality_warning_minutes)(ev)


def generation_success(ev: Evaluation) -> list[Finding]:
    s = ev.settings
    minutes, threshold = s.alert_generation_success_minutes, s.alert_generation_success
    stats = generation_stats(ev.session, ev.now - timedelta(minutes=minutes), ev.now)
    rate = stats.success_rate if stats.success_rate is not None else 1.0
    firing = stats.requests >= s.alert_min_generations and rate < threshold
    return [Finding("generation:success", "warning", firing, "Generation failing",
                    f"{stats.succeeded} of {stats.requests} generation requests succeeded ({_pct(rate)}) "
                    f"over the last {minutes} min (threshold {_pct(threshold)})",
                    {"success_rate": round(rate, 4), "requests": stats.requests, "succeeded": stats.succeeded,
                     "threshold": threshold, "window_minutes": minutes})]


# -- platform ---------------------------------------------------------------------------
def readiness(ev: Evaluation) -> list[Finding]:
    """The same checks as GET /readyz (database, migrations, providers)."""
    from shared import health_checks as checks

    results = checks.run(checks.READINESS_KEYS)
    failing = {key: [item.get("output", "") for item in items if item["status"] == "fail"]
               for key, items in results.items()}
    failing = {k: v for k, v in failing.items() if v}
    firing = checks.overall(results) == "fail"
    reasons = "; ".join(f"{k}: {', '.join(filter(None, v)) or 'fail'}" for k, v in failing.items())
    observed = reasons if firing else "all readiness checks pass"
    return [Finding("readiness", "critical", firing, "Readiness failing", observed, {"failing": failing})]


def backup_verified(ev: Evaluation) -> list[Finding]:
    """Critical when the newest backup verification failed or none succeeded within the limit."""
    from sqlalchemy import func, select

    from shared.models import JobRun

    hours = ev.settings.alert_backup_verified_hours
    real = (JobRun.job == "backup-verify", JobRun.dry_run.is_(False))
    latest = ev.session.scalars(select(JobRun).where(*real, JobRun.status.in_(("ok", "problem", "error")))
                                .order_by(JobRun.started_at.desc()).limit(1)).first()
    last_ok = ev.session.scalar(select(func.max(func.coalesce(JobRun.finished_at, JobRun.started_at)))
                                .where(*real, JobRun.status == "ok"))
    last_ok = as_utc(last_ok)
    details: dict[str, Any] = {"last_verified_at": last_ok.isoformat() if last_ok else None,
                               "limit_hours": hours}
    if latest is not None and latest.status != "ok":
        details["latest_run"] = {"id": latest.id, "status": latest.status,
                                 "started_at": latest.started_at.isoformat()}
        observed = f"latest backup-verify run ended '{latest.status}' ({latest.started_at:%Y-%m-%d %H:%M} UTC)"
        return [Finding("backup:unverified", "critical", True, "Backup not verified", observed, details)]
    if last_ok is None or last_ok < ev.now - timedelta(hours=hours):
        when = f"last verified {last_ok:%Y-%m-%d %H:%M} UTC" if last_ok else "never verified"
        return [Finding("backup:unverified", "critical", True, "Backup not verified",
                        f"no successful verification within {hours:g} h ({when})", details)]
    return [Finding("backup:unverified", "critical", False, "Backup not verified",
                    f"last verified {last_ok:%Y-%m-%d %H:%M} UTC", details)]


def wal_archive_stale(ev: Evaluation) -> list[Finding]:
    """Error when the newest archived WAL is older than the RPO while newer WAL waits (shared/wal_archive.py):
    a database lost now would lose more than PITR_RPO_SECONDS of writes. Silent without PITR_STANZA
    (`/health` says so) and on SQLite."""
    from shared.wal_archive import read_state

    if not ev.settings.pitr_stanza or ev.settings.is_sqlite:
        return []
    rpo = ev.settings.pitr_rpo_seconds
    state = read_state(ev.session.connection())
    details = {"age_seconds": state.age_seconds, "pending_bytes": state.pending_bytes, "rpo_seconds": rpo,
               "failing": state.failing}
    return [Finding("wal_archive_stale", "error", state.stale(rpo), "WAL archive stale", state.describe(rpo),
                    details)]


def missed_jobs(ev: Evaluation) -> list[Finding]:
    """One finding per job, firing when `shared.job_status` finds it overdue: a scheduled time more
    than ALERT_JOB_GRACE_MINUTES old passed with no counted run (dry runs and skips do not count)
    since. Times before the install was first seen are never due."""
    from shared import job_status

    findings = []
    for job, st in job_status.assess(ev.session, ev.now, job_status.grace(ev.settings)).items():
        last = st.last_started
        if st.overdue:
            observed = st.missed_output()
        elif last is None:
            observed = f"'{st.schedule}' not due yet since install"
        else:
            observed = f"'{st.schedule}' last started {last:%Y-%m-%d %H:%M} UTC"
        findings.append(Finding(f"job:{job}:missed", "warning", st.overdue, f"Job {job} missed its schedule",
                                observed,
                                {"job": job, "schedule": st.schedule,
                                 "due": st.due_at.isoformat() if st.due_at else None,
                                 "last_started": last.isoformat() if last else None}))
    return findings


def budget(ev: Evaluation) -> list[Finding]:
    s = ev.settings
    if s.monthly_budget_usd is None:
        return [Finding("budget:monthly", "info", False, "Monthly budget nearly spent", "no monthly budget set")]
    month_start = ev.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spent = known_cost(ev.session, month_start, ev.now)
    limit = float(s.monthly_budget_usd)
    share = spent / limit if limit > 0 else float("inf")
    firing = share > s.alert_budget_share
    return [Finding("budget:monthly", "info", firing, "Monthly budget nearly spent",
                    f"${spent:.2f} spent this month, {_pct(share)} of ${limit:.2f} "
                    f"(threshold {_pct(s.alert_budget_share)})",
                    {"spent_usd": round(spent, 6), "budget_usd": limit, "share": round(share, 4),
                     "threshold_share": s.alert_budget_share, "since": month_start.isoformat()})]


# -- resources (DESIGN "Resources and reconciliation") -------------------------------------
def _not_assessed(rule: str, severity: str, title: str) -> Finding:
    from shared.db_resources import NOT_ASSESSED

    return Finding(rule, severity, False, title, NOT_ASSESSED, {"assessed": False})


def db_connections(ev: Evaluation) -> list[Finding]:
    """Client connections against max_connections: warning from ALERT_DB_CONNECTIONS_WARNING,
    error (`db_connections:error`) from ALERT_DB_CONNECTIONS_ERROR."""
    from shared import db_resources as res

    title = "Database connections near the limit"
    if not res.is_postgres(ev.session):
        return [_not_assessed("db_connections", "warning", title), _not_assessed("db_connections:error", "error",
                                                                                 title)]
    c = res.connections(ev.session)
    s = ev.settings
    observed = f"{c['in_use']} of max_connections {c['max_connections']} in use ({_pct(c['share'])})"
    out = []
    for rule, severity, threshold in (("db_connections", "warning", s.alert_db_connections_warning),
                                      ("db_connections:error", "error", s.alert_db_connections_error)):
        out.append(Finding(rule, severity, c["share"] >= threshold, title,
                           f"{observed}; threshold {_pct(threshold)}", c | {"threshold": threshold}))
    return out


def db_size(ev: Evaluation) -> list[Finding]:
    """Days until the database fills DB_SIZE_LIMIT_GB at its growth of the last days."""
    from shared import db_resources as res

    title = "Database disk filling up"
    if not res.is_postgres(ev.session):
        return [_not_assessed("db_size", "warning", title)]
    g = res.growth(ev.session, ev.now, res.size_bytes(ev.session), ev.settings.db_size_limit_gb).as_dict()
    days = ev.settings.alert_db_size_days
    size = f"{g['size_bytes'] / 1e6:.1f} MB"
    if g["limit_bytes"] is None:
        return [Finding("db_size", "warning", False, title, f"{size}; DB_SIZE_LIMIT_GB not set: days until full "
                                                             "unknown", g)]
    if g["growth_bytes_per_day"] is None:
        firing = g["size_bytes"] >= g["limit_bytes"]
        return [Finding("db_size", "warning", firing, title,
                        f"{size} of {g['limit_bytes'] / 1e9:.1f} GB; growth unknown (less than 6 h of samples)", g)]
    left = g["days_until_full"]
    firing = left is not None and left < days
    when = "not growing" if left is None else f"full in {left:.1f} days"
    return [Finding("db_size", "warning", firing, title,
                    f"{size} of {g['limit_bytes'] / 1e9:.1f} GB, growing {g['growth_bytes_per_day'] / 1e6:.1f} MB/day: "
                    f"{when} (threshold {days:g} days)", g | {"threshold_days": days})]


def slow_queries(ev: Evaluation) -> list[Finding]:
    """A query whose mean time doubled week over week (pg_stat_statements' daily totals)."""
    from shared import db_resources as res

    title = "Query got slower"
    if not res.is_postgres(ev.session):
        return [_not_assessed("slow_queries", "warning", title)]
    trends = res.query_trends(ev.session, ev.now)
    if not trends["assessed"]:
        return [Finding("slow_queries", "warning", False, title, f"not assessed: {trends['reason']}", trends)]
    doubled = trends["doubled"]
    if not doubled:
        return [Finding("slow_queries", "warning", False, title, "no query's mean doubled week over week", trends)]
    worst = doubled[0]
    return [Finding("slow_queries", "warning", True, title,
                    f"{len(doubled)} query(ies) doubled their mean week over week; worst {worst['fingerprint']} "
                    f"{worst['mean_ms_previous_week']:.1f} -> {worst['mean_ms_week']:.1f} ms: {worst['query'][:120]}",
                    {"doubled": doubled[:10]})]


def long_transactions(ev: Evaluation) -> list[Finding]:
    """Transactions open longer than ALERT_LONG_TRANSACTION_MINUTES, by fingerprint (never parameters)."""
    from shared import db_resources as res

    title = "Long-running transaction"
    if not res.is_postgres(ev.session):
        return [_not_assessed("long_transactions", "warning", title)]
    minutes = ev.settings.alert_long_transaction_minutes
    found = res.long_transactions(ev.session, timedelta(minutes=minutes))
    waits = res.lock_waits(ev.session)
    details = {"transactions": found[:10], "lock_waits": waits, "threshold_minutes": minutes}
    if not found:
        return [Finding("long_transactions", "warning", False, title,
                        f"none open longer than {minutes:g} min; {waits['waiting']} waiting on locks", details)]
    oldest = found[0]
    return [Finding("long_transactions", "warning", True, title,
                    f"{len(found)} transaction(s) open longer than {minutes:g} min; oldest {oldest['age_s'] / 60:.1f} "
                    f"min ({oldest['state']}), query {oldest['fingerprint']}: {oldest['query'][:120]}; "
                    f"{waits['waiting']} waiting on locks", details)]


def _instances(ev: Evaluation, since: datetime):
    from sqlalchemy import select

    from shared.models import InstanceSample as S

    rows = ev.session.scalars(select(S).where(S.at >= since, S.at <= ev.now).order_by(S.instance, S.at)).all()
    by: dict[str, list] = {}
    for row in rows:
        by.setdefault(row.instance, []).append(row)
    return by


def instance_memory(ev: Evaluation) -> list[Finding]:
    """An instance whose RSS grew by more than ALERT_INSTANCE_MEMORY_GROWTH within the last hour
    (against its earliest sample of the hour, when that is at least 30 minutes old)."""
    share = ev.settings.alert_instance_memory_growth
    grown = []
    for instance, samples in _instances(ev, ev.now - timedelta(hours=1)).items():
        first, last = samples[0], samples[-1]
        if last.at < ev.now - timedelta(minutes=10) or last.at - first.at < timedelta(minutes=30):
            continue  # gone, or too young to judge (start-up is not growth)
        growth = last.rss_bytes / first.rss_bytes - 1 if first.rss_bytes else 0.0
        if growth > share:
            grown.append({"instance": instance, "function": last.function, "rss_bytes": last.rss_bytes,
                          "rss_bytes_hour_ago": first.rss_bytes, "growth": round(growth, 4)})
    title = "Instance memory growing"
    if not grown:
        return [Finding("instance_memory", "warning", False, title,
                        f"no instance's RSS grew more than {_pct(share)} in the last hour", {"threshold": share})]
    worst = max(grown, key=lambda g: g["growth"])
    return [Finding("instance_memory", "warning", True, title,
                    f"{len(grown)} instance(s) grew more than {_pct(share)} in an hour; {worst['function']} "
                    f"{worst['instance']} {worst['rss_bytes_hour_ago'] / 1e6:.0f} -> {worst['rss_bytes'] / 1e6:.0f} MB",
                    {"instances": grown, "threshold": share})]


POOL_WINDOW = timedelta(minutes=5)


def pool_saturation(ev: Evaluation) -> list[Finding]:
    """Any instance whose connection pool made a request wait, or time out, in the last 5 minutes
    (the increase of its cumulative counters since its last sample before the window)."""
    from sqlalchemy import func, select

    from shared.models import InstanceSample as S

    start = ev.now - POOL_WINDOW
    recent = _instances(ev, start)
    before = {}
    if recent:
        latest_before = (select(S.instance, func.max(S.at).label("at"))
                         .where(S.instance.in_(list(recent)), S.at < start).group_by(S.instance).subquery())
        before = {row.instance: row for row in ev.session.scalars(select(S).join(
            latest_before, (S.instance == latest_before.c.instance) & (S.at == latest_before.c.at)))}
    saturated = []
    for instance, samples in recent.items():
        last, base = samples[-1], before.get(instance)
        waits = last.pool_waits - (base.pool_waits if base else 0)
        timeouts = last.pool_timeouts - (base.pool_timeouts if base else 0)
        if waits > 0 or timeouts > 0:
            saturated.append({"instance": instance, "function": last.function, "waits": waits,
                              "timeouts": timeouts, "pool_size": last.pool_size,
                              "checked_out": last.pool_checked_out})
    title = "Connection pool saturated"
    if not saturated:
        return [Finding("pool_saturation", "warning", False, title,
                        f"no pool waits or timeouts in the last {int(POOL_WINDOW.total_seconds() // 60)} min "
                        f"({len(recent)} instance(s) reporting)", {"instances": len(recent)})]
    waits, timeouts = sum(x["waits"] for x in saturated), sum(x["timeouts"] for x in saturated)
    return [Finding("pool_saturation", "warning", True, title,
                    f"{waits} wait(s) and {timeouts} timeout(s) for a database connection in the last "
                    f"{int(POOL_WINDOW.total_seconds() // 60)} min on {len(saturated)} instance(s)",
                    {"instances": saturated})]


RULES: tuple[Rule, ...] = (
    Rule("readiness", "critical", readiness),
    Rule("error-rate:critical", "critical", error_rate_critical),
    Rule("latency:p95", "critical", latency_p95),
    Rule("quality:critical", "critical", quality_critical),
    Rule("backup:unverified", "critical", backup_verified),
    Rule("wal_archive_stale", "error", wal_archive_stale),
    Rule("error-rate:warning", "warning", error_rate_warning),
    Rule("generation:success", "warning", generation_success),
    Rule("quality:warning", "warning", quality_warning),
    Rule("generation:p95", "warning", generation_p95),
    Rule("capacity_shedding", "warning", capacity_shedding),
    Rule("job:*:missed", "warning", missed_jobs),
    Rule("budget:monthly", "info", budget),
    Rule("db_connections", "warning", db_connections),
    Rule("db_size", "warning", db_size),
    Rule("slow_queries", "warning", slow_queries),
    Rule("long_transactions", "warning", long_transactions),
    Rule("instance_memory", "warning", instance_memory),
    Rule("pool_saturation", "warning", pool_saturation),
)
