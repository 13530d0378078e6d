"""What a channel is told: a `Notification`, the severities and the stable PagerDuty key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

SEVERITIES = ("critical", "error", "warning", "info")
PAGED_SEVERITIES = frozenset({"critical", "error"})  # PagerDuty and the webhook
PUSHED_SEVERITIES = frozenset({"critical", "error", "warning"})  # the webhook; info goes to the daily report
EVENTS = ("trigger", "escalate", "acknowledge", "resolve")


@dataclass(frozen=True)
class Notification:
    """One thing to tell operators about one alert (`event` is one of EVENTS)."""

    rule: str
    severity: str
    event: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    alert_id: str | None = None
    timestamp: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if self.event not in EVENTS:
            raise ValueError(f"unknown event {self.event!r}")



def dedup_key(rule: str, environment: str | None = None) -> str:
    """Stable per rule and environment (its scope), so trigger, acknowledge and resolve meet
    in one PagerDuty incident; hashed when longer than PagerDuty's 255 characters."""
    if environment is None:
        from shared.settings import get_settings

        environment = get_settings().environment
    key = f"lafactoria/{environment}/{rule}"
    if len(key) > 255:
        key = key[:190] + "#" + hashlib.sha256(key.encode()).hexdigest()
    return key
