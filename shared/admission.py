"""Admission control: an instance admits `WEB_MAX_IN_FLIGHT` requests at once and refuses
the next one at once (503 `at-capacity` with `Retry-After`), so nobody waits in a hidden queue.

The gate sits in the HTTP layer after routing and before authentication, so a refusal
costs no database round trip. The liveness and readiness probes bypass it: an instance
at capacity is busy, not dead, and the platform must not restart it for that. Refusals
are counted as request metrics under the route `(shed)`, which the `capacity_shedding`
alert rule reads.
"""

from __future__ import annotations

import threading

SHED_ROUTE = "(shed)"  # the route template shed requests are recorded under


class Gate:
    """A counter of requests in flight with a ceiling (`limit`, default WEB_MAX_IN_FLIGHT)."""

    def __init__(self, limit: int | None = None) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self.in_flight = 0

    @property
    def limit(self) -> int:
        if self._limit is not None:
            return self._limit
        from shared.settings import get_settings

        return get_settings().web_max_in_flight

    def enter(self) -> bool:
        """Admit one request (True) or refuse it (False)."""
        limit = self.limit
        with self._lock:
            if self.in_flight >= limit:
                return False
            self.in_flight += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


gate = Gate()
