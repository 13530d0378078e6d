"""The alert lifecycle in the database: open, re-notify, acknowledge, escalate, resolve, silence.

One open alert per rule. Raising it again while open refreshes its details and
sends nothing, unless it was never delivered (a channel failed, or a silence
held it back and has expired): then it is delivered now. An acknowledged alert
is never escalated; a critical one still unacknowledged `ALERT_ESCALATE_MINUTES`
after it was notified is notified once more, as an escalation. A silenced rule
(`silence`) still records its alerts but sends nothing until the silence
expires. A resolution is sent only for an alert whose opening was delivered.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.alerts.delivery import DeliveryResult, deliver
from shared.alerts.notification import PUSHED_SEVERITIES, SEVERITIES, Notification, dedup_key
from shared.logs import get_logger
from shared.models import Alert, AlertSilence, utcnow

log = get_logger("lafactoria.alerts")
_LOG_LEVEL = {"critical": "error", "error": "error", "warning": "warning", "info": "info"}


class AlertNotFound(LookupError):
    """No alert has that id."""


class AlertResolved(RuntimeError):
    """The alert is resolved already: nothing left to acknowledge."""


def _log(level_of: str, message: str, **extra: Any) -> None:
    getattr(log, _LOG_LEVEL[level_of])(message, extra=extra)


def active_silences(session: Session, now: datetime | None = None) -> list[AlertSilence]:
    now = now or utcnow()
    return list(session.scalars(select(AlertSilence).where(AlertSilence.expires_at > now)
                                .order_by(AlertSilence.expires_at)))


def silenced_by(rule: str, silences: Sequence[AlertSilence]) -> AlertSilence | None:
    for s in silences:
        if fnmatch.fnmatchcase(rule, s.rule):
            return s
    return None


def _notify(alert: Alert, event: str, summary: str, **kwargs: Any) -> DeliveryResult:
    return deliver(_notification(alert, event, summary), **kwargs)


def _notification(alert: Alert, event: str, summary: str) -> Notification:
    return Notification(rule=alert.rule, severity=alert.severity, event=event, summary=summary,
                        details=dict(alert.details or {}), alert_id=alert.id)


def _queue(session: Session, alert: Alert, event: str, summary: str) -> bool:
    """Record the notification in the outbox (shared.alerts.outbox) instead of sending it now."""
    from shared.alerts.outbox import enqueue

    session.flush()  # the alert's id
    return enqueue(session, _notification(alert, event, summary)) > 0


def _deliver_opening(session: Session, alert: Alert, deliver_now: bool = True) -> None:
    if alert.severity not in PUSHED_SEVERITIES:
        return  # info: collected into the daily ops report
    silence_row = silenced_by(alert.rule, active_silences(session))
    if silence_row is not None:
        log.info("alert silenced; not notified", extra={"rule": alert.rule,
                                                        "until": silence_row.expires_at.isoformat()})
        return
    if deliver_now:
        sent = _notify(alert, "trigger", alert.message).delivered
    else:
        sent = _queue(session, alert, "trigger", alert.message)  # handed to the outbox counts as notified
    if sent:
        alert.notified_at = utcnow()


def raise_alert(session: Session, rule: str, severity: str, message: str,
                details: dict[str, Any] | None = None, *, deliver_now: bool = True) -> Alert:
    """Open an alert for `rule` and notify, unless one is open already (then only update it).

    `deliver_now=False` (requests): the notification goes to the outbox, delivered outside the
    request by `shared.alerts.outbox`; jobs and the CLI deliver at once, as they always did."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    existing = session.scalar(select(Alert).where(Alert.rule == rule, Alert.status == "open").limit(1))
    if existing is not None:
        existing.details = details or {}
        existing.message = message
        _log(severity, "alert still open", rule=rule, severity=severity, alert=message)
        if existing.notified_at is None:
            _deliver_opening(session, existing, deliver_now)
        return existing
    alert = Alert(rule=rule, severity=severity, message=message, details=details or {}, dedup_key=dedup_key(rule))
    session.add(alert)
    session.flush()
    _log(severity, "alert raised", rule=rule, severity=severity, alert=message)
    _deliver_opening(session, alert, deliver_now)
    return alert


def resolve_alert(session: Session, rule: str, message: str | None = None) -> Alert | None:
    """Resolve the open alert for `rule` (one resolution message if it was notified); None if none."""
    alert = session.scalar(select(Alert).where(Alert.rule == rule, Alert.status == "open").limit(1))
    if alert is None:
        return None
    alert.status = "resolved"
    alert.resolved_at = utcnow()
    text = message or f"Resolved: {alert.message}"
    log.info("alert resolved", extra={"rule": rule, "alert": text})
    if alert.notified_at is not None:
        _notify(alert, "resolve", text)
    return alert


def acknowledge(session: Session, alert_id: str, *, user_id: str | None, via: str,
                attempts: int = 1, timeout: float = 3.0, deliver_now: bool = True) -> Alert:
    """Acknowledge an open alert: no escalation follows, and PagerDuty hears `acknowledge`
    (through the outbox with `deliver_now=False`, as the HTTP API does).

    Acknowledging twice keeps the first acknowledgement. Raises AlertNotFound or AlertResolved.
    """
    alert = session.get(Alert, alert_id.lower())
    if alert is None:
        raise AlertNotFound(alert_id)
    if alert.acknowledged_at is not None:
        return alert
    if alert.status != "open":
        raise AlertResolved(alert_id)
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by = user_id
    alert.acknowledged_via = via
    session.flush()
    log.info("alert acknowledged", extra={"rule": alert.rule, "via": via})
    if alert.notified_at is not None:
        if deliver_now:
            _notify(alert, "acknowledge", alert.message, attempts=attempts, timeout=timeout)
        else:
            _queue(session, alert, "acknowledge", alert.message)
    return alert


def silence(session: Session, rule: str, duration: timedelta, *, created_by: str,
            reason: str | None = None) -> AlertSilence:
    """Hold back notifications for `rule` (a name or fnmatch pattern) for `duration`."""
    if duration <= timedelta(0):
        raise ValueError("a silence needs a positive duration")
    now = utcnow()
    row = AlertSilence(rule=rule, created_at=now, expires_at=now + duration, created_by=created_by, reason=reason)
    session.add(row)
    session.flush()
    log.info("alert rule silenced", extra={"rule": rule, "until": row.expires_at.isoformat()})
    return row


def escalate_due(session: Session, minutes: int, now: datetime | None = None) -> list[Alert]:
    """Escalate, once, every open critical alert still unacknowledged `minutes` after it was
    notified (a silence that held it back does not count against the operator); returns them."""
    now = now or utcnow()
    due = session.scalars(select(Alert).where(
        Alert.status == "open", Alert.severity == "critical", Alert.acknowledged_at.is_(None),
        Alert.escalated_at.is_(None), Alert.notified_at.is_not(None),
        Alert.notified_at <= now - timedelta(minutes=minutes),
    ).order_by(Alert.opened_at)).all()
    silences = active_silences(session, now)
    escalated = []
    for alert in due:
        if silenced_by(alert.rule, silences) is not None:
            continue
        if alert.notified_at is None:  # excluded by the query; narrows the type
            continue
        age = int((now - alert.notified_at).total_seconds() // 60)
        summary = f"{alert.message} (unacknowledged for {age} min)"
        if _notify(alert, "escalate", summary).delivered:
            alert.escalated_at = now
            escalated.append(alert)
            log.error("alert escalated", extra={"rule": alert.rule, "minutes": age})
    return escalated
