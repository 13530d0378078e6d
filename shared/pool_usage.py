"""Connection-pool usage of this process: checked out now, checkouts, waits and timeouts.

Kept apart from `shared.database` so the engine's policy and its
instrumentation change independently: `make_engine` calls `instrument(engine)`
and passes `poolclass=MeasuredQueuePool`, nothing else.

- A SQLAlchemy pool event listener (`checkout`) counts checkouts; the pools'
  own `checkedout()` says how many connections are held now.
- Waiting and timing out happen before any pool event fires (SQLAlchemy has no
  "checkout requested" event), so `MeasuredQueuePool` wraps `_do_get`, the
  hook SQLAlchemy's pool classes implement: a checkout that found every
  connection held (none idle, no room to open another) is a wait, however short;
  one that gave up after `pool_timeout` (sqlalchemy.exc.TimeoutError) is a
  timeout. `pool.recreate()` (dispose, invalidation) reuses the class.

Counters are per process and cumulative; the request-metrics writer samples
them with the instance's memory into `instance_samples`.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@dataclass
class PoolCounters:
    size: int = 0  # connections the pools may hold (DB_POOL_SIZE per engine)
    checked_out: int = 0
    checkouts: int = 0
    waits: int = 0
    timeouts: int = 0
    wait_seconds: float = 0.0


# SQLAlchemy names a pool's logger after its class's module: keep it at the library's WARN
# default, as `sqlalchemy.pool` is (no "Pool disposed" lines in the JSON logs).
logging.getLogger(f"{__name__}.MeasuredQueuePool").setLevel(logging.WARNING)
_lock = threading.Lock()
_counters = PoolCounters()
_engines: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def _add(**deltas: Any) -> None:
    with _lock:
        for name, delta in deltas.items():
            setattr(_counters, name, getattr(_counters, name) + delta)


class MeasuredQueuePool(QueuePool):
    """A QueuePool that counts how often getting a connection had to wait, or timed out."""

    def _do_get(self):
        from sqlalchemy.exc import TimeoutError as PoolTimeout

        full = self.checkedin() == 0 and self.checkedout() >= self.size() + max(self._max_overflow, 0)
        started = time.perf_counter()
        try:
            record = super()._do_get()
        except PoolTimeout:
            _add(timeouts=1, wait_seconds=time.perf_counter() - started)
            raise
        if full:
            _add(waits=1, wait_seconds=time.perf_counter() - started)
        return record


def instrument(engine: "Engine") -> None:
    """Count checkouts of `engine`'s pool (listeners carry over a recreate) and report its size."""
    from sqlalchemy import event

    _engines.add(engine)

    @event.listens_for(engine, "checkout")
    def _checked_out(_dbapi_conn, _record, _proxy):
        _add(checkouts=1)

    @event.listens_for(engine, "engine_disposed")
    def _disposed(_engine):
        _engines.discard(engine)  # dropped by dispose_engines(); a new engine instruments itself


def stats() -> PoolCounters:
    """This process's pool figures now (all live engines together)."""
    pools = [e.pool for e in list(_engines) if isinstance(e.pool, QueuePool)]
    live = {"size": sum(p.size() for p in pools), "checked_out": sum(p.checkedout() for p in pools)}
    with _lock:
        return PoolCounters(**(asdict(_counters) | live))
