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
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection


@dataclass
class PoolCounters:
    size: int = 0  # connections the pools may hold (DB_POOL_SIZE per engine)
    checked_out: int = 0
    checkouts: int = 0
    waits: int = 0
    timeouts: int = 0


# SQLAlchemy names a pool's logger after its class's module: keep it at the library's WARN
# default, as `sqlalchemy.pool` is (no "Pool disposed" lines in the JSON logs).
logging.getLogger(f"{__name__}.MeasuredQueuePool").setLevel(logging.WARNING)
_lock = threading.Lock()
_counters = PoolCounters()


def _waited(*, timed_out: bool) -> None:
    with _lock:
        if timed_out:
            _counters.timeouts += 1
        else:
            _counters.waits += 1


class MeasuredQueuePool(QueuePool):
    """A QueuePool that counts how often getting a connection had to wait, or timed out."""

    def _do_get(self) -> ConnectionPoolEntry:
        # every connection open (no room to open another) and none idle: this checkout waits
        full = self._overflow >= self._max_overflow > -1 and self._pool.qsize() == 0
        try:
            record = super()._do_get()
        except PoolTimeout:
            _waited(timed_out=True)
            raise
        if full:
            _waited(timed_out=False)
        return record


def instrument(engine: "Engine") -> None:
    """Count checkouts of `engine`'s pool (a pool listener: it carries over a recreate). Only pool
    events: an engine-level listener would put every connection on SQLAlchemy's slower
    event-dispatching path."""
    from sqlalchemy import event

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(_dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry,
                     _proxy: PoolProxiedConnection) -> None:
        with _lock:
            _counters.checkouts += 1


def stats(engines: "list[Engine]") -> PoolCounters:
    """This process's pool figures now, sized and counted over `engines` (the ones it holds:
    `shared.database.cached_engines()`)."""
    pools = [e.pool for e in engines if isinstance(e.pool, QueuePool)]
    live = {"size": sum(p.size() for p in pools), "checked_out": sum(p.checkedout() for p in pools)}
    with _lock:
        return PoolCounters(**(asdict(_counters) | live))
