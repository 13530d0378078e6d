"""This instance's resources, sampled with its request metrics: memory, threads, in-flight
requests and connection-pool usage (`shared.pool_usage`).

The metrics writer thread calls `due_sample` before each periodic flush; every
`METRICS_INSTANCE_SAMPLE_SECONDS` (default 30) it returns one row for
`instance_samples`, written beside the batch, so `/metrics` can show every instance (host:pid) and
alert-check can judge memory growth and pool saturation per instance.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import datetime, timezone
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def instance_id() -> str:
    """host:pid: unique per process, stable for its life, and no person in it."""
    return f"{socket.gethostname()[:150]}:{os.getpid()}"


def rss_bytes() -> int:
    """Resident memory now (Linux /proc); elsewhere the peak from getrusage, the best known."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class InFlight:
    """Requests being handled by this process now (the metrics middleware counts them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def enter(self) -> None:
        with self._lock:
            self.count += 1

    def leave(self) -> None:
        with self._lock:
            self.count -= 1


in_flight = InFlight()


def sample(function: str, now: datetime | None = None) -> dict[str, Any]:
    """One `instance_samples` row for this process."""
    from shared import pool_usage
    from shared.database import cached_engines

    pool = pool_usage.stats(cached_engines())
    return {"at": now or datetime.now(timezone.utc), "instance": instance_id(), "function": function[:32],
            "rss_bytes": rss_bytes(), "threads": threading.active_count(), "in_flight": in_flight.count,
            "pool_size": pool.size, "pool_checked_out": pool.checked_out, "pool_checkouts": pool.checkouts,
            "pool_waits": pool.waits, "pool_timeouts": pool.timeouts}


class Sampler:
    """Decides when the next sample is due (monotonic clock, so a wall-clock jump changes nothing)."""

    def __init__(self) -> None:
        self._last: float | None = None
        self.function: str | None = None  # set from the records: one process serves one function
        self.database_url: str | None = None  # and where its records go

    def due_sample(self, every: float, now_monotonic: float | None = None) -> dict[str, Any] | None:
        if self.function is None:
            return None
        t = time.monotonic() if now_monotonic is None else now_monotonic
        if self._last is not None and t - self._last < every:
            return None
        self._last = t
        return sample(self.function)


def write_sample(url: str, row: dict[str, Any]) -> None:
    from sqlalchemy import insert

    from shared.database import session_scope
    from shared.models import InstanceSample

    with session_scope(url) as session:
        session.execute(insert(InstanceSample), [row])
