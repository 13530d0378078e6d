"""Alerts: stored, always logged, and sent to a Slack-compatible webhook.

One open alert per rule: raising it again while open updates its details but
sends nothing; resolving it sends one resolution message. Jobs and the
`alert-check` rules all go through here.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.logs import get_logger
from shared.models import Alert, utcnow
from shared.settings import get_settings

SEVERITIES = ("critical", "warning", "info")
_EMOJI = {"critical": ":red_circle:", "warning": ":warning:", "info": ":information_source:", "resolved": ":white_check_mark:"}
log = get_logger("lafactoria.alerts")


def webhook_payload(level: str, message: str, *, rule: str, status: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Slack-compatible (`text`) with the old plan's fields alongside for other receivers."""
    settings = get_settings()
    return {
        "text": f"{_EMOJI.get(status if status == 'resolved' else level, '')} [{level.upper()}] {message}".strip(),
        "service": "lafactoria",
        "environment": settings.environment,
        "level": level,
        "status": status,
        "rule": rule,
        "message": message,
        "details": details or {},
        "timestamp": datetime.now(timezone.utc).isoformat(),
    }


def send_webhook(payload: dict[str, Any], *, url: str | None = None, attempts: int = 3, timeout: float = 5.0) -> bool:
    """POST the payload with a timeout and bounded retries; False if it never got through."""
    url = url or get_settings().alert_webhook_url
    if not url:
        return False
    data = json.dumps(payload, default=str).encode()
    for attempt in range(1, attempts + 1):
        req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - operator-set URL
                if 200 <= resp.status < 300:
                    return True
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code != 429:
                log.error("alert webhook refused the alert", extra={"status": exc.code})
                return False
        except (urllib.error.URLError, TimeoutError, OSError):
            pass
        if attempt < attempts:
            time.sleep(min(0.5 * 2 ** (attempt - 1), 4))
    log.error("alert webhook unreachable after retries", extra={"attempts": attempts})
    return False


def notify(severity: str, message: str, *, rule: str, status: str, details: dict[str, Any] | None = None) -> bool:
    """Deliver one alert change to every configured channel; True if any took it.

    The one delivery path: stored alerts (`raise_alert`, `resolve_alert`) and the
    database-free `database_down` alert of alert-check both send through here.
    """
    return send_webhook(webhook_payload(severity, message, rule=rule, status=status, details=details))


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
