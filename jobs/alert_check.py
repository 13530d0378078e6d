"""`alert-check` (every 5 minutes): evaluate the alert rules and notify on changes.

For every finding of every rule in `jobs.alert_rules.RULES`:
- firing and not open: opened (stored, logged, sent to the webhook once);
- firing and already open: stays open, details refreshed, nothing sent;
- not firing but open: resolved, one resolution message sent;
- otherwise nothing.
Then every open critical alert still unacknowledged after ALERT_ESCALATE_MINUTES
is notified once more as an escalation (`shared.alerts.escalate_due`).

With the database unreachable the job still speaks (DESIGN "Operators' exits"):
the runner hands the failure to `database_unreachable`, which sends a critical
`database_down` alert without touching the database, deduplicated through Redis
(`REDIS_URL`) so an outage notifies once, else at most once per run; the first
run that reaches the database again records the outage in the alerts table and
sends its resolution.

Exit code (DESIGN "1 the job ran and found a problem"): 1 while any critical
rule of this job is firing, or when a rule could not be evaluated; 0 when only
warnings or information are firing (they are notified, not a failed check).
`--dry-run` evaluates and reports without opening, resolving or sending.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jobs.alert_rules import RULES, Evaluation, Finding
from jobs.runner import JobContext, JobResult
from shared.alerts.notification import SEVERITIES

if TYPE_CHECKING:
    import logging
    from pathlib import Path

    import redis

    from shared.settings import Settings


def open_rules() -> set[str]:
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import Alert

    with session_scope() as session:
        return set(session.scalars(select(Alert.rule).where(Alert.status == "open")))


def evaluate_all(ctx: JobContext, now: datetime) -> tuple[list[Finding], list[dict[str, str]]]:
    """Every rule's findings; a rule that raises is reported, the others still run."""
    from shared.database import session_scope

    findings: list[Finding] = []
    errors: list[dict[str, str]] = []
    for rule in RULES:
        try:
            with session_scope() as session:
                findings.extend(rule.evaluate(Evaluation(session, now, ctx.settings)))
        except Exception as exc:  # noqa: BLE001 - one broken rule must not silence the others
            ctx.log.exception("alert rule failed", extra={"rule": rule.name})
            errors.append({"rule": rule.name, "error": type(exc).__name__})
    return findings, errors


def sample_database(ctx: JobContext, now: datetime) -> None:
    """The database's size and connections (hourly) and query totals (daily), for the growth
    and week-over-week rules; old samples are pruned. A failure costs only this sample."""
    from shared.database import session_scope
    from shared.db_resources import record_sample

    try:
        with session_scope() as session:
            record_sample(session, now)
    except Exception as exc:  # noqa: BLE001 - the rules still run on the samples there are
        ctx.log.warning("database sample failed", extra={"error": type(exc).__name__})


def escalate(ctx: JobContext) -> list[str]:
    from shared.alerts import escalate_due
    from shared.database import session_scope

    with session_scope() as session:
        rules = [a.rule for a in escalate_due(session, ctx.settings.alert_escalate_minutes)]
    for rule in rules:
        ctx.emit({"rule": rule, "severity": "critical", "change": "escalated"})
    return rules


def deliver_outbox(ctx: JobContext) -> dict[str, int]:
    """Deliver what requests queued (shared.alerts.outbox), in case no instance's sender did."""
    from shared.alerts.outbox import BATCH, send_due

    total = {"delivered": 0, "retrying": 0, "refused": 0}
    while True:
        report = send_due(ctx.settings)
        for key in total:
            total[key] += getattr(report, key)
        if report.delivered + report.retrying + report.refused < BATCH:
            return total


DATABASE_DOWN = "database_down"
_OUTAGE_KEY = "lafactoria:alert:database_down"


class OutageMarker:
    """Where an open `database_down` lives while the database cannot hold it: Redis when
    configured (shared by every cron container), else a file beside the embedded data
    (survives between runs on one host only)."""

    def __init__(self, settings: Settings) -> None:
        import hashlib

        self.redis_url = settings.redis_url
        # One Redis may serve several environments: each database has its own outage.
        self.key = f"{_OUTAGE_KEY}:{hashlib.sha256(settings.database_url.encode()).hexdigest()[:16]}"

    def _client(self, url: str) -> redis.Redis:
        import redis

        return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def _path(self) -> Path:
        from shared.settings import VAR_DIR

        return VAR_DIR / f".alert-database_down-{self.key.rsplit(':', 1)[1]}.json"

    def open(self, record: dict[str, Any]) -> bool:
        """Store `record` unless an outage is already open; True if this call opened it."""
        if self.redis_url:
            return bool(self._client(self.redis_url).set(self.key, json.dumps(record), nx=True))
        path = self._path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record))
        return True  # no shared store: notify on every run (at most once per run)

    def pop(self) -> dict[str, Any] | None:
        if self.redis_url:
            raw = self._client(self.redis_url).getdel(self.key)
        else:
            path = self._path()
            raw = path.read_text() if path.exists() else None
            path.unlink(missing_ok=True)
        return json.loads(raw) if raw else None


def database_unreachable(reason: str, *, dry_run: bool, log: logging.Logger) -> JobResult:
    """The finding when the database cannot be reached: a critical alert, no database needed."""
    from shared.alerts import Notification, deliver
    from shared.settings import get_settings

    settings = get_settings()
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    message = f"Database unreachable: {reason.removeprefix('database unreachable: ')}"
    marker = OutageMarker(settings)
    summary: dict[str, Any] = {"rules": 1, "firing": {"critical": [DATABASE_DOWN], "error": [], "warning": [],
                                                      "info": []},
                               "database": "unreachable", "error": reason}
    log.error("alert", extra={"rule": DATABASE_DOWN, "severity": "critical", "alert": message})
    if dry_run:
        return JobResult.problem(**summary, opened=[], still_open=[], resolved=[], notified=False)
    try:
        first = marker.open({"opened_at": now, "message": message})
    except Exception as exc:  # noqa: BLE001 - Redis down as well: still say it, once this run
        log.warning("outage marker unavailable; notifying anyway", extra={"error": type(exc).__name__})
        first = True
    notified = False
    if first:
        notified = deliver(Notification(DATABASE_DOWN, "critical", "trigger", message,
                                        {"reason": reason, "opened_at": now})).delivered
        if not notified and settings.redis_url:
            with contextlib.suppress(Exception):  # undelivered: let the next run try again
                marker.pop()
    change = "opened" if first else "still_open"
    return JobResult.problem(**summary, opened=[DATABASE_DOWN] if first else [],
                             still_open=[] if first else [DATABASE_DOWN], resolved=[], notified=notified,
                             change=change)


def resolve_database_down(ctx: JobContext) -> bool:
    """The database answers: close an outage opened while it did not (alerts table + notice)."""
    from shared.alerts import Notification, dedup_key, deliver
    from shared.database import session_scope
    from shared.models import Alert, utcnow

    try:
        outage = OutageMarker(ctx.settings).pop()
    except Exception as exc:  # noqa: BLE001 - Redis down: try again next run
        ctx.log.warning("outage marker unavailable", extra={"error": type(exc).__name__})
        return False
    if outage is None:
        return False
    opened = datetime.fromisoformat(outage["opened_at"])
    text = f"Resolved: the database answers again (unreachable since {outage['opened_at']})"
    with session_scope() as session:  # the outage enters the alert history once it can
        session.add(Alert(rule=DATABASE_DOWN, severity="critical", status="resolved", message=outage["message"],
                          details={"opened_while": "database unreachable"}, opened_at=opened,
                          resolved_at=utcnow(), notified_at=opened, dedup_key=dedup_key(DATABASE_DOWN)))
    deliver(Notification(DATABASE_DOWN, "critical", "resolve", text))
    ctx.emit({"rule": DATABASE_DOWN, "severity": "critical", "change": "resolved", "message": text})
    return True


def run(ctx: JobContext) -> JobResult:
    now = datetime.now(timezone.utc)
    recovered = False if ctx.dry_run else resolve_database_down(ctx)
    already_open = open_rules()
    if not ctx.dry_run:
        sample_database(ctx, now)
    findings, errors = evaluate_all(ctx, now)
    changes: dict[str, list[str]] = {"opened": [], "still_open": [], "resolved": [DATABASE_DOWN] if recovered else []}
    for f in findings:
        if f.firing:
            change = "still_open" if f.rule in already_open else "opened"
            if not ctx.dry_run:
                ctx.alert(f.rule, f.severity, f.message, f.details)
        elif f.rule in already_open:
            change = "resolved"
            if not ctx.dry_run:
                ctx.resolve(f.rule, f.resolution)
        else:
            continue
        changes[change].append(f.rule)
        ctx.emit({"rule": f.rule, "severity": f.severity, "change": change,
                  "message": f.resolution if change == "resolved" else f.message})
    escalated = [] if ctx.dry_run else escalate(ctx)
    outbox = None if ctx.dry_run else deliver_outbox(ctx)
    firing = [f for f in findings if f.firing]
    critical = sorted(f.rule for f in firing if f.severity == "critical")
    summary: dict[str, Any] = {
        "rules": len(findings),
        "firing": {sev: sorted(f.rule for f in firing if f.severity == sev) for sev in SEVERITIES},
        **changes,
        "escalated": escalated,
    }
    if outbox is not None:
        summary["outbox"] = outbox
    if errors:
        summary["errors"] = errors
    return JobResult.problem(**summary) if critical or errors else JobResult.ok(**summary)
