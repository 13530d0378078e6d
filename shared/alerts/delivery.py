"""The one delivery path: a `Notification` to every channel that takes its severity.

No database here: `alert-check` delivers `database_down` through `deliver`
while the database is unreachable. Channels are built from the settings; each
has `accepts(notification)` and `send(notification) -> bool`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from shared.logs import get_logger

if TYPE_CHECKING:
    from shared.settings import Settings

SEVERITIES = ("critical", "error", "warning", "info")
PAGED_SEVERITIES = frozenset({"critical", "error"})  # PagerDuty and the webhook
PUSHED_SEVERITIES = frozenset({"critical", "error", "warning"})  # the webhook; info goes to the daily report
EVENTS = ("trigger", "escalate", "acknowledge", "resolve")
log = get_logger("lafactoria.alerts")


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


class Channel(Protocol):
    name: str

    def accepts(self, notification: Notification) -> bool: ...

    def send(self, notification: Notification, *, attempts: int, timeout: float) -> bool: ...


@dataclass
class DeliveryResult:
    """Per channel: whether it accepted the notification. Empty when no channel takes it."""

    channels: dict[str, bool] = field(default_factory=dict)

    @property
    def delivered(self) -> bool:
        """At least one channel took it and none failed."""
        return bool(self.channels) and all(self.channels.values())

    @property
    def failed(self) -> list[str]:
        return [name for name, ok in self.channels.items() if not ok]


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


def channels(settings: "Settings") -> list[Channel]:
    from shared.alerts.pagerduty import PagerDutyChannel
    from shared.alerts.webhook import WebhookChannel

    out: list[Channel] = []
    if settings.alert_pagerduty_routing_key:
        out.append(PagerDutyChannel(settings.pagerduty_events_url, settings.alert_pagerduty_routing_key,
                                    settings.environment))
    if settings.alert_webhook_url:
        out.append(WebhookChannel(settings.alert_webhook_url, settings.environment))
    return out


def deliver(notification: Notification, *, settings: "Settings | None" = None, attempts: int = 3,
            timeout: float = 5.0) -> DeliveryResult:
    """Send `notification` to every configured channel that takes its severity; never raises."""
    if settings is None:
        from shared.settings import get_settings

        settings = get_settings()
    result = DeliveryResult()
    for channel in channels(settings):
        if not channel.accepts(notification):
            continue
        try:
            ok = channel.send(notification, attempts=attempts, timeout=timeout)
        except Exception:  # noqa: BLE001 - one broken channel must not silence the others
            log.exception("alert channel failed", extra={"channel": channel.name, "rule": notification.rule})
            ok = False
        result.channels[channel.name] = ok
    if result.channels:
        log.info("alert delivered" if result.delivered else "alert delivery failed",
                 extra={"rule": notification.rule, "event": notification.event,
                        "severity": notification.severity, "channels": result.channels})
    return result
