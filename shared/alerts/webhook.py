"""Slack-compatible webhook channel: `text` for Slack, the old plan's fields beside it."""

from __future__ import annotations

from typing import Any

from shared.alerts.delivery import PUSHED_SEVERITIES, Notification
from shared.alerts.transport import post_json

_EMOJI = {"critical": ":red_circle:", "error": ":large_orange_circle:", "warning": ":warning:",
          "info": ":information_source:"}
_STATUS = {"trigger": "open", "escalate": "open", "acknowledge": "acknowledged", "resolve": "resolved"}


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, environment: str) -> None:
        self.url = url
        self.environment = environment

    def accepts(self, n: Notification) -> bool:
        return n.severity in PUSHED_SEVERITIES

    def payload(self, n: Notification) -> dict[str, Any]:
        level = n.severity.upper()
        if n.event == "resolve":
            text = f":white_check_mark: [{level}] {n.summary}"
        elif n.event == "acknowledge":
            text = f":eyes: [ACKNOWLEDGED] [{level}] {n.summary}"
        elif n.event == "escalate":
            text = f":rotating_light: [ESCALATION] [{level}] {n.summary}"
        else:
            text = f"{_EMOJI[n.severity]} [{level}] {n.summary}"
        return {
            "text": text,
            "service": "lafactoria",
            "environment": self.environment,
            "level": n.severity,
            "status": _STATUS[n.event],
            "event": n.event,
            "escalation": n.event == "escalate",
            "rule": n.rule,
            "alert_id": n.alert_id,
            "message": n.summary,
            "details": n.details,
            "timestamp": n.timestamp.isoformat(),
        }

    def send(self, n: Notification, *, attempts: int = 3, timeout: float = 5.0) -> bool:
        return post_json(self.url, self.payload(n), channel=self.name, attempts=attempts, timeout=timeout)
