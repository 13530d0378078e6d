"""Cost of the rate limiter: per-request latency with no limiter, the database and Redis.

In-process (a Flask test client over a FunctionApp with one keyed route) on a
scratch PostgreSQL database, so the figures isolate the limiter: the baseline
is the same route with authentication but no limiter, measured in the same
run. Also the raw `consume` call of each backend, and the same with 4 threads
hitting one bucket (row-lock contention on PostgreSQL).
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta, timezone

from bench.common import latencies, row, scratch_postgres, summary

FULL = {"requests": 400, "per_thread": 100}
SMOKE = {"requests": 5, "per_thread": 3}
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def _client(middleware):
    from shared.http import FunctionApp, Route

    return FunctionApp("bench", [Route("/thing", lambda ctx: {"ok": True})], middleware=middleware).test_client()


def _settings(**env) -> None:
    from shared.database import dispose_engines
    from shared.settings import get_settings

    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()
    dispose_engines()


def _contended(consume, per_thread: int, threads: int = 4) -> float:
    """Charges per second with `threads` threads on one bucket."""
    def work():
        for _ in range(per_thread):
            consume()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return threads * per_thread / (time.perf_counter() - t0)


def run(sizes: dict[str, int] = FULL) -> None:
    n = sizes["requests"]
    from shared.ratelimit import Charge, DatabaseBackend, RateLimitConfig, RateLimitMiddleware, RedisBackend, forget_user
    from shared.settings import get_settings
    from tests.conftest import auth, make_user

    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL", "RATE_LIMIT_PER_MINUTE", "ENVIRONMENT")}
    with scratch_postgres("lf_bench_rl") as url:
        _settings(DATABASE_URL=url, REDIS_URL=None, RATE_LIMIT_PER_MINUTE="100000000", ENVIRONMENT="test")
        user_id, key = make_user("user", "bench-ratelimit@example.org")
        headers = auth(key)
        try:
            base_client = _client([])
            base = summary(latencies(lambda: base_client.get("/thing", headers=headers), n))
            db_client = _client([RateLimitMiddleware("bench")])
            db = summary(latencies(lambda: db_client.get("/thing", headers=headers), n))
            _settings(REDIS_URL=REDIS_URL)
            redis_client = _client([RateLimitMiddleware("bench")])
            red = summary(latencies(lambda: redis_client.get("/thing", headers=headers), n))
            print(f"  request through a FunctionApp (auth + route), PostgreSQL, {n} sequential requests")
            for label, s in (("no limiter (baseline)", base), ("database limiter", db), ("Redis limiter", red)):
                row(f"{label} p50", s["p50"], "ms", base["p50"])
                row(f"{label} p95", s["p95"], "ms", base["p95"])

            now = datetime.now(timezone.utc)
            charge = [Charge(f"rl:u:{user_id}:k:bench:f:bench:m:x", 1, 10**9, now + timedelta(minutes=1))]
            db_backend, redis_backend = DatabaseBackend(), RedisBackend(REDIS_URL)
            db_op = summary(latencies(lambda: db_backend.consume(charge, now), n))
            redis_op = summary(latencies(lambda: redis_backend.consume(charge, now), n))
            print("  one consume() call (the limiter's own work)")
            row("database consume p50", db_op["p50"], "ms", redis_op["p50"])
            row("database consume p95", db_op["p95"], "ms", redis_op["p95"])
            row("Redis consume p50 (baseline)", redis_op["p50"], "ms", redis_op["p50"])
            db_rate = _contended(lambda: db_backend.consume(charge, now), sizes["per_thread"])
            redis_rate = _contended(lambda: redis_backend.consume(charge, now), sizes["per_thread"])
            print("  4 threads on one bucket (contention)")
            row("database charges/s", db_rate, "/s", redis_rate)
            row("Redis charges/s (baseline)", redis_rate, "/s", redis_rate)
            forget_user(user_id, RateLimitConfig.of(get_settings()))
        finally:
            _settings(**saved)
