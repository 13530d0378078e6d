"""What watching the resources costs: a pool checkout with the pool instrumentation, and one
instance sample.

- Checkout + checkin of a pooled PostgreSQL connection through `MeasuredQueuePool` with the
  `checkout` listener (`shared.pool_usage`), against a plain `QueuePool` of the same size in
  the same run (the baseline), interleaved in rounds so load drifts hit both alike.
- One `shared.metrics.instance.sample()` (RSS from /proc, threads, pool counters), taken by
  the metrics writer thread every `METRICS_INSTANCE_SAMPLE_SECONDS`, off the request path.
- One `shared.db_resources.snapshot()` (every database resource query `/health` and
  `/metrics` add), against a bare `SELECT 1` round trip in the same run.

Run: `.venv/bin/python -m bench resources`.
"""

from __future__ import annotations

import os
import statistics
import time

from bench.bench_metrics import _use
from bench.common import row, scratch_postgres

FULL = {"checkouts": 2_000, "rounds": 21, "samples": 2_000, "snapshots": 50}
SMOKE = {"checkouts": 40, "rounds": 1, "samples": 5, "snapshots": 1}


def _per_call_us(call, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - t0) / n * 1e6


def run(sizes: dict[str, int] = FULL) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import QueuePool

    from shared import pool_usage
    from shared.metrics.instance import sample

    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with scratch_postgres("lf_bench_res") as url:
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
        plain = create_engine(url, poolclass=QueuePool, pool_size=5, max_overflow=0)
        measured = create_engine(url, poolclass=pool_usage.MeasuredQueuePool, pool_size=5, max_overflow=0)
        pool_usage.instrument(measured)
        for engine in (plain, measured):  # open the connection once: the loop measures the pool only
            with engine.connect():
                pass

        def checkout(engine):
            def once():
                with engine.connect():
                    pass
            return once

        n, rounds = sizes["checkouts"], sizes["rounds"]
        base, instr = [], []
        for r in range(rounds):  # alternate which goes first, so neither always follows the other
            pair = ((base, plain), (instr, measured)) if r % 2 else ((instr, measured), (base, plain))
            for out, engine in pair:
                out.append(_per_call_us(checkout(engine), n))
        b, m = statistics.median(base), statistics.median(instr)
        print(f"== pool checkout + checkin, PostgreSQL, median of {rounds} interleaved rounds of {n:,}")
        row("plain QueuePool (baseline)", b, "us")
        row("MeasuredQueuePool + checkout listener", m, "us", baseline=b, goal=1.25)
        row("added per checkout", m - b, "us")
        took = _per_call_us(lambda: sample("bench"), sizes["samples"])
        print(f"== one instance sample (every METRICS_INSTANCE_SAMPLE_SECONDS, writer thread), {sizes['samples']:,}")
        row("sample() (RSS, threads, pool counters)", took, "us")
        plain.dispose()
        measured.dispose()
        from sqlalchemy import text

        from shared import db_resources
        from shared.database import session_scope
        from shared.settings import get_settings

        _use(url, METRICS_ENABLED="false")
        settings = get_settings()

        def snapshot():
            with session_scope() as s:
                db_resources.snapshot(s, settings)

        def ping():
            with session_scope() as s:
                s.execute(text("SELECT 1"))

        ping()
        base = statistics.median(_per_call_us(ping, 1) for _ in range(sizes["snapshots"]))
        snap = statistics.median(_per_call_us(snapshot, 1) for _ in range(sizes["snapshots"]))
        print(f"== database resources snapshot (what /health and /metrics add), median of {sizes['snapshots']}")
        row("SELECT 1 in a session (baseline)", base / 1000, "ms")
        row("db_resources.snapshot()", snap / 1000, "ms", baseline=base / 1000)


if __name__ == "__main__":
    run()
