"""Many instances on one PostgreSQL: 4 generate processes × 16 concurrent clients each.

Four functions-framework processes of `generate` (mock provider,
`DB_POOL_SIZE` 5) share one scratch PostgreSQL database, directly and then
through PgBouncer in transaction mode (`DB_PGBOUNCER=true`), when the
`pgbouncer` program is installed (Debian package `pgbouncer`). Each process
gets 16 client connections (keep-alive, in 4 client processes of 16 threads,
one per instance, so the client side is not one GIL) that send
`POST /v1/content` for a fixed time. Baseline: the same load against 4 bare
functions-framework processes in the same run.

Reported: requests per second, p50/p95 latency, errors, and the most
PostgreSQL server connections to the database seen at once (sampled from
`pg_stat_activity` every 20 ms), which must stay ≤ 4 × `DB_POOL_SIZE`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from contextlib import ExitStack, contextmanager

from bench.common import (
    BARE, LIMITS, ONE_ATTEMPT, KeepAlive, function_source, pct, pgbouncer, pgbouncer_program, row, running, scratch_postgres,
)

FULL = {"instances": 4, "clients": 16, "duration_ms": 5000}
SMOKE = {"instances": 2, "clients": 2, "duration_ms": 300}
POOL_SIZE = 5
BODY = json.dumps({"content_type": "flashcards", "topic": "Photosynthesis in green plants",
                   "audience": "high_school", "learning_objectives": ["Explain the light reactions"]}).encode()


def _client_process(port: int, path: str, headers: dict[str, str], clients: int, seconds: float,
                    expect: int, out) -> None:
    """`clients` threads on `port`, each on its own keep-alive connection; sends back latencies."""
    start_at = time.perf_counter()
    stop_at = start_at + seconds
    results: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def worker(i: int) -> None:
        conn = KeepAlive(port)
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                status, _ = conn.request("POST", path, BODY, headers)
            except OSError:
                errors[i] += 1
                conn.close()
                conn = KeepAlive(port)
                continue
            if status == expect:
                results[i].append((time.perf_counter() - t0) * 1000)
            else:
                errors[i] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.send(([v for r in results for v in r], sum(errors), time.perf_counter() - start_at))
    out.close()


def _load(ports: list[int], path: str, headers: dict[str, str], clients: int, seconds: float,
          expect: int) -> tuple[float, list[float], int]:
    """Requests per second, latencies and errors of `clients` per port for `seconds`."""
    ctx = multiprocessing.get_context("spawn")
    pipes, procs = [], []
    for port in ports:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_client_process, args=(port, path, headers, clients, seconds, expect, child))
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    latencies, errors, took = [], 0, seconds
    for pipe in pipes:
        values, errs, elapsed = pipe.recv()
        latencies += values
        errors += errs
        took = max(took, elapsed)
    for proc in procs:
        proc.join()
    return len(latencies) / took, latencies, errors


@contextmanager
def _connection_sampler(url: str):
    """Samples the number of server connections to the database; yields a dict with 'max'."""
    import psycopg

    dbname = url.rsplit("/", 1)[1].split("?")[0]
    seen = {"max": 0}
    stop = threading.Event()
    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)

    def sample() -> None:
        while not stop.is_set():
            n = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                             (dbname,)).fetchone()[0]
            seen["max"] = max(seen["max"], n)
            stop.wait(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
        conn.close()


def _measure(label: str, sources: list[tuple[str, str, str]], env: dict[str, str], headers: dict[str, str],
             sizes: dict[str, int], expect: int, sampler_url: str | None, baseline: dict | None) -> dict:
    seconds = sizes["duration_ms"] / 1000
    with ExitStack() as stack:
        ports = [stack.enter_context(running(source, target, env, ready_path=ready)) for source, target, ready in sources]
        path = "/v1/content" if expect == 201 else "/"
        _load(ports, path, headers, 1, min(seconds, 0.5), expect)  # warm each instance's pool and imports
        seen = stack.enter_context(_connection_sampler(sampler_url)) if sampler_url else {"max": 0}
        rate, latencies, errors = _load(ports, path, headers, sizes["clients"], seconds, expect)
    result = {"rate": rate, "p50": pct(latencies, 50) if latencies else 0.0,
              "p95": pct(latencies, 95) if latencies else 0.0, "errors": errors, "connections": seen["max"]}
    print(label)
    row("throughput", rate, "req/s", baseline and baseline["rate"])
    row("latency p50", result["p50"], "ms", baseline and baseline["p50"])
    row("latency p95", result["p95"], "ms", baseline and baseline["p95"])
    print(f"  errors: {errors}")
    if sampler_url:
        cap = sizes["instances"] * POOL_SIZE
        verdict = "met" if seen["max"] <= cap else "MISSED"
        print(f"  most PostgreSQL connections at once: {seen['max']} "
              f"(goal <= {sizes['instances']} x DB_POOL_SIZE {POOL_SIZE} = {cap}: {verdict})")
    return result


def run(sizes: dict[str, int] = FULL) -> None:
    from shared.database import dispose_engines
    from shared.settings import get_settings

    n, clients = sizes["instances"], sizes["clients"]
    print(f"{n} instances x {clients} concurrent keep-alive clients each, POST for {sizes['duration_ms'] / 1000:g} s")
    with scratch_postgres("lf_bench_inst") as url:
        os.environ["DATABASE_URL"] = url
        get_settings.cache_clear()
        dispose_engines()
        from tests.conftest import make_user

        _, key = make_user("user")
        dispose_engines()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        env = {"AI_PROVIDERS": "mock", "ENVIRONMENT": "development", "LOG_LEVEL": "error",
               "DB_POOL_SIZE": str(POOL_SIZE), **LIMITS, **ONE_ATTEMPT}
        gen = function_source("generate")
        base = _measure(f"bare functions-framework x {n} (baseline)", [(*BARE, "/")] * n, env,
                        {"Content-Type": "application/json"}, sizes, 200, None, None)
        _measure(f"generate x {n}, PostgreSQL direct", [(*gen, "/openapi.json")] * n, env | {"DATABASE_URL": url},
                 headers, sizes, 201, url, base)
        if pgbouncer_program() is None:
            print("generate through PgBouncer: not measured, `pgbouncer` is not installed (apt-get install pgbouncer)")
            return
        with pgbouncer(url, pool_size=20) as bouncer_url:
            _measure(f"generate x {n}, through PgBouncer (transaction mode, DB_PGBOUNCER=true)",
                     [(*gen, "/openapi.json")] * n, env | {"DATABASE_URL": bouncer_url, "DB_PGBOUNCER": "true"},
                     headers, sizes, 201, url, base)
