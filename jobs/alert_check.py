"""`alert-check` (every 5 minutes): evaluate the alert rules and notify on changes.

For every finding of every rule in `jobs.alert_rules.RULES`:
- firing and not open: opened (stored, logged, sent to the webhook once);
- firing and already open: stays open, details refreshed, nothing sent;
- not firing but open: resolved, one resolution message sent;
- otherwise nothing.
Then every open critical alert still unacknowledged after ALERT_ESCALATE_MINUTES
is notified once more as an escalation (`shared.alerts.escalate_due`).

Exit code (DESIGN "1 the job ran and found a problem"): 1 while any critical
rule of this job is firing, or when a rule could not be evaluated; 0 when only
warnings or information are firing (they are notified, not a failed check).
`--dry-run` evaluates and reports without opening, resolving or sending.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from jobs.alert_rules import RULES, Evaluation, Finding
from jobs.runner import JobContext, JobResult
from shared.alerts.delivery import SEVERITIES


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


def escalate(ctx: JobContext) -> list[str]:
    from shared.alerts import escalate_due
    from shared.database import session_scope

    with session_scope() as session:
        rules = [a.rule for a in escalate_due(session, ctx.settings.alert_escalate_minutes)]
    for rule in rules:
        ctx.emit({"rule": rule, "severity": "critical", "change": "escalated"})
    return rules


def run(ctx: JobContext) -> JobResult:
    now = datetime.now(timezone.utc)
    already_open = open_rules()
    findings, errors = evaluate_all(ctx, now)
    changes: dict[str, list[str]] = {"opened": [], "still_open": [], "resolved": []}
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
    firing = [f for f in findings if f.firing]
    critical = sorted(f.rule for f in firing if f.severity == "critical")
    summary: dict[str, Any] = {
        "rules": len(findings),
        "firing": {sev: sorted(f.rule for f in firing if f.severity == sev) for sev in SEVERITIES},
        **changes,
        "escalated": escalated,
    }
    if errors:
        summary["errors"] = errors
    return JobResult.problem(**summary) if critical or errors else JobResult.ok(**summary)
