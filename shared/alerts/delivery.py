"""The one delivery path for alert changes: every channel an alert goes to is called here.

Stored alerts (`store.raise_alert`, `store.resolve_alert`) and the database-free
`database_down` alert of alert-check both notify through `notify`, so a new
channel (PagerDuty) is added once and reaches both.
"""

from __future__ import annotations

from typing import Any

from shared.alerts.webhook import send_webhook, webhook_payload


def notify(severity: str, message: str, *, rule: str, status: str, details: dict[str, Any] | None = None) -> bool:
    """Deliver one alert change (`status` open or resolved) to every configured channel;
    True if any took it. Touches no database."""
    return send_webhook(webhook_payload(severity, message, rule=rule, status=status, details=details))
