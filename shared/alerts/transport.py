"""POST JSON with a timeout and bounded retries, shared by the alert channels."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from shared.logs import get_logger
from shared.retry import GaveUp, RetryPolicy

log = get_logger("lafactoria.alerts")


class _Refused(Exception):
    """The receiver answered 4xx (not 429): sending again will not help."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class _NotDelivered(Exception):
    """429, 5xx, a non-2xx answer or a network error: worth another try."""


def policy(attempts: int) -> RetryPolicy:
    """`attempts` tries in all, 0.5 s then doubling up to 4 s between them (shared.retry)."""
    return RetryPolicy(attempts=attempts, first=0.5, longest_backoff=4)


def post_json(url: str, payload: dict[str, Any], *, channel: str, attempts: int = 3, timeout: float = 5.0,
              sleep: Callable[[float], None] = time.sleep) -> bool:
    """True once the receiver answers 2xx. 4xx (but 429) is final; 429, 5xx and network errors
    are retried with exponential backoff, `attempts` times in all."""
    data = json.dumps(payload, default=str).encode()
    try:
        for attempt in policy(attempts).retrying(lambda exc: isinstance(exc, _NotDelivered), sleep=sleep):
            with attempt:
                _post_once(url, data, timeout)
    except _Refused as refused:
        log.error("alert receiver refused the alert", extra={"channel": channel, "status": refused.status})
        return False
    except GaveUp:
        log.error("alert receiver unreachable after retries", extra={"channel": channel, "attempts": attempts})
        return False
    return True


def _post_once(url: str, data: bytes, timeout: float) -> None:
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - operator-set URL
            if 200 <= resp.status < 300:
                return
            raise _NotDelivered(f"HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code != 429:
            raise _Refused(exc.code) from None
        raise _NotDelivered(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise _NotDelivered(type(exc).__name__) from None
