"""The Slack-compatible alert webhook (`ALERT_WEBHOOK_URL`): payload and delivery with retries."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any

from shared.logs import get_logger
from shared.settings import get_settings

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
