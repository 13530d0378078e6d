"""POST JSON with a timeout and bounded retries, shared by the alert channels."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from shared.logs import get_logger

log = get_logger("lafactoria.alerts")


def post_json(url: str, payload: dict[str, Any], *, channel: str, attempts: int = 3, timeout: float = 5.0) -> bool:
    """True once the receiver answers 2xx. 4xx (but 429) is final; 429, 5xx and network errors
    are retried with exponential backoff, `attempts` times in all."""
    data = json.dumps(payload, default=str).encode()
    for attempt in range(1, attempts + 1):
        req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - operator-set URL
                if 200 <= resp.status < 300:
                    return True
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code != 429:
                log.error("alert receiver refused the alert", extra={"channel": channel, "status": exc.code})
                return False
        except (urllib.error.URLError, TimeoutError, OSError):
            pass
        if attempt < attempts:
            time.sleep(min(0.5 * 2 ** (attempt - 1), 4))
    log.error("alert receiver unreachable after retries", extra={"channel": channel, "attempts": attempts})
    return False
