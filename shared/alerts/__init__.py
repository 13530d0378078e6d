"""Alerts: stored, always logged, and sent to a Slack-compatible webhook.

Jobs (the runner and the `alert-check` rules) go through `raise_alert` and
`resolve_alert` (`store.py`), which keep one open alert per rule and notify
through `delivery.notify`, the one delivery path (also used without the database
by alert-check's `database_down`).
"""

from shared.alerts.delivery import notify
from shared.alerts.store import SEVERITIES, raise_alert, resolve_alert
from shared.alerts.webhook import send_webhook, webhook_payload

__all__ = ["SEVERITIES", "notify", "raise_alert", "resolve_alert", "send_webhook", "webhook_payload"]
