"""Alerts: stored, always logged, and delivered by severity.

Public API:
- `raise_alert`, `resolve_alert`, `acknowledge`, `silence`, `escalate_due`: the
  alert lifecycle in the database (`store`), used by jobs, the health API and the CLI;
- `deliver(Notification)`: the one delivery path (`delivery`), which needs no
  database, so `alert-check` can report `database_down` with the database gone;
- `dedup_key(rule)`: the stable key PagerDuty groups one rule's events under.

Routing: `critical` and `error` go to PagerDuty Events API v2 (when
`ALERT_PAGERDUTY_ROUTING_KEY` is set) and to the webhook (`ALERT_WEBHOOK_URL`),
`warning` to the webhook only, `info` nowhere: info alerts are stored and
collected into the daily ops report.
"""

from shared.alerts.delivery import DeliveryResult, deliver
from shared.alerts.notification import PAGED_SEVERITIES, PUSHED_SEVERITIES, SEVERITIES, Notification, dedup_key
from shared.alerts.store import (
    AlertNotFound,
    AlertResolved,
    acknowledge,
    active_silences,
    escalate_due,
    raise_alert,
    resolve_alert,
    silence,
)

__all__ = [
    "PAGED_SEVERITIES", "PUSHED_SEVERITIES", "SEVERITIES", "AlertNotFound", "AlertResolved", "DeliveryResult",
    "Notification", "acknowledge", "active_silences", "dedup_key", "deliver", "escalate_due", "raise_alert",
    "resolve_alert", "silence",
]
