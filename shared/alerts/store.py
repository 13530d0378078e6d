"""Stored alerts: one open per rule, always logged, notified when opened and when resolved.

Raising a rule again while its alert is open updates its details but sends
nothing; resolving it sends one resolution message.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.alerts.delivery import notify
from shared.logs import get_logger
from shared.models import Alert, utcnow

SEVERITIES = ("critical", "warning", "info")
log = get_logger("lafactoria.alerts")


def raise_alert(session: Session, rule: str, severity: str, message: str, details: dict[str, Any] | None = None) -> Alert:
    """Open an alert for `rule` and notify, unless one is already open (then only update it)."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    log_fn = log.error if severity == "critical" else log.warning if severity == "warning" else log.info
    existing = session.scalar(select(Alert).where(Alert.rule == rule, Alert.status == "open").limit(1))
    if existing is not None:
        existing.details = details or {}
        existing.message = message
        log_fn("alert still open", extra={"rule": rule, "severity": severity, "alert": message})
        return existing
    alert = Alert(rule=rule, severity=severity, message=message, details=details or {})
    session.add(alert)
    session.flush()
    log_fn("alert raised", extra={"rule": rule, "severity": severity, "alert": message})
    if notify(severity, message, rule=rule, status="open", details=details):
        alert.notified_at = utcnow()
    return alert


def resolve_alert(session: Session, rule: str, message: str | None = None) -> Alert | None:
    """Resolve the open alert for `rule`, sending one resolution message; None if none was open."""
    alert = session.scalar(select(Alert).where(Alert.rule == rule, Alert.status == "open").limit(1))
    if alert is None:
        return None
    alert.status = "resolved"
    alert.resolved_at = utcnow()
    text = message or f"Resolved: {alert.message}"
    log.info("alert resolved", extra={"rule": rule, "alert": text})
    notify(alert.severity, text, rule=rule, status="resolved")
    return alert
