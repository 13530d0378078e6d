"""Cold start and warm latency of each function against a bare functions-framework function.

Cold start: process spawn to the first 200 (health `/livez`; gdpr and generate
an authenticated read, so the database, auth and routing are all paid for).
Warm: sequential requests over one keep-alive connection, then throughput with
4 concurrent clients for a few seconds. Runs against a scratch PostgreSQL
database with the mock provider; ratios are against `bench/bare` measured in
the same run.
"""

from __future__ import annotations

import os
import threading
import time

from bench.common import (
    BARE, KeepAlive, cold_start, function_source, latencies, row, running, scratch_postgres, summary,
)

COLD_RUNS = 5
WARM_REQUESTS = 1000
THROUGHPUT_SECONDS = 3.0
PROBES = {  # function -> (path, needs key)
    "health": ("/livez", False),
    "gdpr": ("/v1/me/consents", True),
    "generate": ("/v1/content-types", True),
}


def _median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _throughput(port: int, path: str, headers: dict[str, str] | None = None, clients: int = 4) -> float:
    stop_at = time.perf_counter() + THROUGHPUT_SECONDS
    counts = [0] * clients

    def worker(i: int) -> None:
        conn = KeepAlive(port)
        while time.perf_counter() < stop_at:
            conn.get(path, headers)
            counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / THROUGHPUT_SECONDS


def run() -> None:
    from cli.dev import load_apps
    from shared.settings import get_settings

    present = [name for name in PROBES if name in load_apps()]
    with scratch_postgres() as url:
        env = {"DATABASE_URL": url, "AI_PROVIDERS": "mock", "ENVIRONMENT": "development", "LOG_LEVEL": "warning"}
        os.environ.update(env)
        get_settings.cache_clear()
        from tests.conftest import make_user

        _, key = make_user("admin")
        auth = {"Authorization": f"Bearer {key}"}

        print(f"cold start: spawn to first 200, median of {COLD_RUNS}")
        bare = _median([cold_start(*BARE, "/", env) for _ in range(COLD_RUNS)]) * 1000
        row("bare functions-framework", bare, "ms")
        for name in present:
            path, needs_key = PROBES[name]
            source, target = function_source(name)
            if not needs_key:
                t = _median([cold_start(source, target, path, env) for _ in range(COLD_RUNS)])
                row(f"{name} first response ({path} 200)", t * 1000, "ms", bare)
                continue
            # First response of any kind: routing, auth refusal and problem+json, no database yet.
            t = _median([cold_start(source, target, path, env, ok=(401,)) for _ in range(COLD_RUNS)])
            row(f"{name} first response ({path} 401)", t * 1000, "ms", bare)
            # First authenticated 200: adds SQLAlchemy, the models and the first connection.
            t = _median([cold_start(source, target, path, env, headers=auth) for _ in range(COLD_RUNS)])
            row(f"{name} first authenticated 200 ({path})", t * 1000, "ms", bare)

        print(f"\nwarm latency over one keep-alive connection, {WARM_REQUESTS} requests")
        with running(*BARE, env) as port:
            conn = KeepAlive(port)
            base = summary(latencies(lambda: conn.get("/"), WARM_REQUESTS))
            conn.close()
            base_tp = _throughput(port, "/")
        row("bare p50", base["p50"], "ms")
        row("bare p95", base["p95"], "ms")
        with running(*function_source("health"), env, ready_path="/livez") as port:
            for path, headers in (("/livez", None), ("/health", None), ("/health", auth)):
                conn = KeepAlive(port)
                s = summary(latencies(lambda: conn.get(path, headers), WARM_REQUESTS))
                conn.close()
                label = f"health {path}{' (ops details)' if headers else ''}"
                row(f"{label} p50", s["p50"], "ms", base["p50"])
                row(f"{label} p95", s["p95"], "ms", base["p95"])
            print(f"\nthroughput, 4 keep-alive clients, {THROUGHPUT_SECONDS:.0f} s")
            row("bare", base_tp, "req/s")
            row("health /livez", _throughput(port, "/livez"), "req/s", base_tp)
            row("health /health", _throughput(port, "/health"), "req/s", base_tp)

