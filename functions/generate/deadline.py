"""The request's deadline across every attempt and provider (`GENERATION_DEADLINE_SECONDS`).

One `Deadline` per generation request, on a monotonic clock: each provider call
gets what remains (never more than `PROVIDER_TIMEOUT_SECONDS`), retries never
wait past it, and once less than `MIN_ATTEMPT_SECONDS` remain no new call starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MIN_ATTEMPT_SECONDS = 1.0  # a call given less than this cannot finish a document: do not start it


class Deadline:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        """Seconds left (0 when passed)."""
        return max(0.0, self._end - self._clock())

    def exhausted(self) -> bool:
        """True when too little time is left to start another provider call."""
        return self.remaining() < MIN_ATTEMPT_SECONDS

    def timeout(self, limit: float) -> float:
        """The timeout for the next call: `limit` or what remains, whichever is shorter."""
        return min(limit, self.remaining())
