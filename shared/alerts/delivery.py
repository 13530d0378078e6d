"""The one delivery path: a `Notification` to every channel that takes its severity.

No database here: `alert-check` delivers `database_down` through `deliver`
while the database is unreachable. Channels are built from the settings; each
has `accepts(notification)` and `send(notification) -> bool`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from shared.alerts.notification import Notification
from shared.alerts.pagerduty import PagerDutyChannel
from shared.alerts.webhook import WebhookChannel
from shared.logs import get_logger

if TYPE_CHECKING:
    from shared.settings import Settings

log = get_logger("lafactoria.alerts")


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


def channels(settings: "Settings") -> list[Channel]:
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
