"""Failed authentication throttled per client address, before it costs a database round trip.

A client address that presented `AUTH_FAILURES_PER_MINUTE` wrong keys within a minute is
refused with 429 and `Retry-After` for the rest of that minute without looking its key up
or writing the audit log: a flood of random keys from one address costs a dictionary
lookup per request. Requests without any key never reach the database either (shared.auth),
so they are not counted here. State is per process (each instance throttles on its own;
N instances let N x the limit through, each failure still audited in its per-minute row).

The address is the last `X-Forwarded-For` entry, the one Railway's edge proxy appends (the
entries before it are the client's to write), else the peer address. It is kept in memory
only, for at most a minute, and never logged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from shared.errors import TooManyRequests

if TYPE_CHECKING:
    from flask import Request

WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 100_000  # past it, finished windows are dropped (then all, at worst)
REFUSAL = "Too many failed authentications from your address; retry later."


def client_address(request: Request) -> str:
    return address_of(request.headers.get("X-Forwarded-For", ""), request.remote_addr)


def address_of(forwarded: str, peer: str | None) -> str:
    """The client address from an `X-Forwarded-For` value and the peer address (see above)."""
    last = forwarded.rsplit(",", 1)[-1].strip()
    return last or peer or "unknown"


class FailureThrottle:
    """Failures per address in fixed one-minute windows."""

    def __init__(self, limit: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # address -> (window start, failures)

    @property
    def limit(self) -> int:
        if self._limit is not None:
            return self._limit
        from shared.settings import get_settings

        return get_settings().auth_failures_per_minute

    def clear(self) -> None:
        with self._lock:
            self._windows = {}

    def check(self, address: str) -> None:
        """Raise 429 when `address` used up its failures for this window."""
        retry_after = self.retry_after(address)
        if retry_after is not None:
            raise TooManyRequests(REFUSAL, retry_after=retry_after)

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try a key again, or None when it may now."""
        entry = self._windows.get(address)
        if entry is None:
            return None
        started, failures = entry
        left = started + WINDOW_SECONDS - self.clock()
        if left > 0 and failures >= self.limit:
            return int(left) + 1
        return None

    def failed(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            started, failures = self._windows.get(address, (now, 0))
            if now - started >= WINDOW_SECONDS:
                started, failures = now, 0
            if address not in self._windows and len(self._windows) >= MAX_ADDRESSES:
                self._windows = {a: w for a, w in self._windows.items() if now - w[0] < WINDOW_SECONDS}
                if len(self._windows) >= MAX_ADDRESSES:
                    self._windows.clear()
            self._windows[address] = (started, failures + 1)


throttle = FailureThrottle()
