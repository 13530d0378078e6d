"""PagerDuty Events API v2 channel, for `critical` and `error` alerts.

Every event of one rule carries the same `dedup_key` (`delivery.dedup_key`), so
PagerDuty keeps one incident per open alert: `trigger` opens it, `acknowledge`
and `resolve` close the loop. An escalation is a second `trigger` under the same
key, marked in the summary and `custom_details`: PagerDuty adds it to the open
incident (whose own escalation policy takes over) instead of paging a new one.
"""

from __future__ import annotations

from typing import Any

from shared.alerts.delivery import PAGED_SEVERITIES, Notification, dedup_key
from shared.alerts.transport import post_json

_ACTION = {"trigger": "trigger", "escalate": "trigger", "acknowledge": "acknowledge", "resolve": "resolve"}
SUMMARY_MAX = 1024


class PagerDutyChannel:
    name = "pagerduty"

    def __init__(self, url: str, routing_key: str, environment: str) -> None:
        self.url = url
        self.routing_key = routing_key
        self.environment = environment

    def accepts(self, n: Notification) -> bool:
        return n.severity in PAGED_SEVERITIES

    def event(self, n: Notification) -> dict[str, Any]:
        body: dict[str, Any] = {
            "routing_key": self.routing_key,
            "event_action": _ACTION[n.event],
            "dedup_key": dedup_key(n.rule, self.environment),
        }
        if body["event_action"] == "trigger":
            summary = ("ESCALATION (unacknowledged): " if n.event == "escalate" else "") + n.summary
            body["payload"] = {
                "summary": summary[:SUMMARY_MAX],
                "source": f"lafactoria-{self.environment}",
                "severity": n.severity,
                "timestamp": n.timestamp.isoformat(),
                "component": "lafactoria",
                "group": n.rule.split(":", 1)[0],
                "class": n.rule,
                "custom_details": {**n.details, "rule": n.rule, "alert_id": n.alert_id,
                                   "escalation": n.event == "escalate"},
            }
        return body

    def send(self, n: Notification, *, attempts: int = 3, timeout: float = 5.0) -> bool:
        return post_json(self.url, self.event(n), channel=self.name, attempts=attempts, timeout=timeout)
