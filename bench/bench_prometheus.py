"""`GET /metrics` scrape cost on PostgreSQL: the exposition over all retained rows.

`/metrics` is cumulative (live rows + rollups), so every scrape aggregates the
whole retained `request_metrics` table (30 days) and the usage ledger, unlike
`/v1/metrics`, which reads one window. Seeded like bench_metrics (rows spread
over 30 days), the scrape's render time is printed beside two baselines
measured in the same run: `/v1/metrics?window=7d` (the widest window) and a
bare `COUNT(*)` over the table.

Run: `.venv/bin/python -m bench prometheus` (BENCH_METRIC_ROWS, default 1,000,000).
"""

from __future__ import annotations

import os
import statistics
import time

from bench.bench_metrics import _use, seed
from bench.common import scratch_postgres

FULL = {"rows": int(os.environ.get("BENCH_METRIC_ROWS", "1000000")), "repeats": 5}
SMOKE = {"rows": 2000, "repeats": 1}


def _median_ms(call, repeats: int) -> tuple[float, float]:
    samples = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        call()
        if i:  # the first run warms the cache
            samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), min(samples)


def run(sizes: dict[str, int] = FULL) -> None:
    rows, repeats = sizes["rows"], sizes["repeats"]
    from sqlalchemy import text

    from functions.health.metrics import build_report
    from functions.health.prometheus import render
    from shared.database import session_scope

    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with scratch_postgres("lf_bench_prom") as url:
        _use(url, METRICS_ENABLED="false")
        took = seed(url, "30 days", rows)
        print(f"== GET /metrics on PostgreSQL, {rows:,} request_metrics rows over 30 days "
              f"(+{rows // 20:,} content, {rows // 10:,} usage; seeded in {took:.1f} s), median of {repeats}")

        def scrape():
            with session_scope() as s:
                body, _ = render(s)  # text format 0.0.4, what a plain scrape gets
                return body

        def window_7d():
            with session_scope() as s:
                build_report(s, "7d")

        def count():
            with session_scope() as s:
                s.execute(text("SELECT count(*) FROM request_metrics")).scalar()

        size = len(scrape())
        prom, prom_best = _median_ms(scrape, repeats)
        week, _ = _median_ms(window_7d, repeats)
        base, _ = _median_ms(count, repeats)
        print(f"render /metrics:        median {prom:8.1f} ms, best {prom_best:8.1f} ms, {size:,} bytes")
        print(f"/v1/metrics window 7d:  median {week:8.1f} ms  (scrape / 7d report = {prom / week:.2f}x)")
        print(f"COUNT(*) request_metrics: median {base:6.1f} ms  (scrape / count = {prom / base:.1f}x)")


if __name__ == "__main__":
    run()
