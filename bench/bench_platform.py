"""Cold start and warm latency of each function against a bare functions-framework function.

Cold start: process spawn to the first response of each kind, bare and the
functions' spawns alternating run by run so machine load hits them alike:
health's `/livez`; gdpr and generate unauthenticated (401: routing and
problem+json, no database) and with a key (the first authenticated 200: the
data layer, the first pooled connection and the key lookup are paid for);
generate with openai, anthropic and vertex configured, so a non-lazy SDK
import would show; and generate's first mock `POST /v1/content` 201 (DESIGN's
generate budget runs "until its first provider call").

Warm: sequential requests over one keep-alive connection to `/livez` and
`/health`, anonymous and with ops details, both behind the check cache
(`HEALTH_CACHE_SECONDS`, default 5 s: mostly cache hits) and with the cache
off (every request runs every check), then throughput with 4 clients.
Scratch PostgreSQL database, mock provider; ratios against `bench/bare`.
"""

from __future__ import annotations

import json
import os
import threading
import time

from bench.common import (
    BARE, LIMITS, ONE_ATTEMPT, KeepAlive, cold_start, function_source, latencies, row, running, scratch_postgres, summary,
)

FULL = {"cold_runs": 5, "warm_requests": 1000, "throughput_ms": 3000}
SMOKE = {"cold_runs": 1, "warm_requests": 5, "throughput_ms": 100}
POST_BODY = json.dumps({"content_type": "flashcards", "topic": "Photosynthesis in green plants",
                        "audience": "high_school", "learning_objectives": ["Explain the light reactions"]}).encode()
PROVIDERS = {"AI_PROVIDERS": "openai,anthropic,vertex", "OPENAI_API_KEY": "sk-bench-unused",
             "ANTHROPIC_API_KEY": "bench-unused", "GOOGLE_API_KEY": "bench-unused"}


def _median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _throughput(port: int, path: str, seconds: float, headers: dict[str, str] | None = None,
                clients: int = 4) -> float:
    stop_at = time.perf_counter() + seconds
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
    return sum(counts) / seconds


def _probes(env: dict[str, str], auth: dict[str, str]) -> list[tuple[str, tuple, dict]]:
    """(label, (source, target, path), cold_start keyword arguments), bare first."""
    post_headers = auth | {"Content-Type": "application/json"}
    gdpr, generate = function_source("gdpr"), function_source("generate")
    return [
        ("bare functions-framework", (*BARE, "/"), {"env": env}),
        ("health first response (/livez 200)", (*function_source("health"), "/livez"), {"env": env}),
        ("gdpr first response (/v1/me/consents 401)", (*gdpr, "/v1/me/consents"), {"env": env, "ok": (401,)}),
        ("gdpr first authenticated 200 (/v1/me/consents)", (*gdpr, "/v1/me/consents"),
         {"env": env, "headers": auth, "goal": 1.5}),
        ("generate first response (/v1/content-types 401)", (*generate, "/v1/content-types"),
         {"env": env | PROVIDERS, "ok": (401,)}),
        ("generate first authenticated 200 (/v1/content-types)",
         (*generate, "/v1/content-types"), {"env": env | PROVIDERS, "headers": auth, "goal": 1.5}),
        ("generate first mock POST /v1/content 201", (*generate, "/v1/content"),
         {"env": env, "headers": post_headers, "ok": (201,), "method": "POST", "body": POST_BODY, "goal": 2.0}),
    ]


def run(sizes: dict[str, int] = FULL) -> None:
    from shared.settings import get_settings

    with scratch_postgres() as url:
        env = {"DATABASE_URL": url, "AI_PROVIDERS": "mock", "ENVIRONMENT": "development", "LOG_LEVEL": "warning",
               **LIMITS, **ONE_ATTEMPT}
        os.environ.update(env)
        get_settings.cache_clear()
        from tests.conftest import make_user

        _, key = make_user("admin")
        auth = {"Authorization": f"Bearer {key}"}

        probes = _probes(env, auth)
        print(f"cold start: spawn to first response, median of {sizes['cold_runs']}, spawns alternating")
        times: dict[str, list[float]] = {label: [] for label, _, _ in probes}
        for _ in range(sizes["cold_runs"]):
            for label, (source, target, path), kwargs in probes:
                kwargs = {k: v for k, v in kwargs.items() if k != "goal"}
                times[label].append(cold_start(source, target, path, **kwargs) * 1000)
        bare = _median(times[probes[0][0]])
        row(probes[0][0], bare, "ms")
        for label, _, kwargs in probes[1:]:
            row(label, _median(times[label]), "ms", bare, goal=kwargs.get("goal"))

        n = sizes["warm_requests"]
        seconds = sizes["throughput_ms"] / 1000
        print(f"\nwarm latency over one keep-alive connection, {n} requests")
        with running(*BARE, env) as port:
            conn = KeepAlive(port)
            base = summary(latencies(lambda: conn.get("/"), n))
            conn.close()
            base_tp = _throughput(port, "/", seconds)
        row("bare p50", base["p50"], "ms")
        row("bare p95", base["p95"], "ms")
        health = function_source("health")
        tps = {}
        for cache_label, cache_env in (("cached", {}), ("no cache", {"HEALTH_CACHE_SECONDS": "0"})):
            with running(*health, env | cache_env, ready_path="/livez") as port:
                probes_warm = [("/livez", None)] if not cache_env else []
                probes_warm += [("/health", None), ("/health", auth)]
                for path, headers in probes_warm:
                    conn = KeepAlive(port)
                    s = summary(latencies(lambda: conn.get(path, headers), n))
                    conn.close()
                    label = f"health {path}{' (ops details)' if headers else ''}"
                    label += "" if path == "/livez" else f", {cache_label}"
                    row(f"{label} p50", s["p50"], "ms", base["p50"])
                    row(f"{label} p95", s["p95"], "ms", base["p95"])
                if not cache_env:
                    tps["health /livez"] = _throughput(port, "/livez", seconds)
                tps[f"health /health, {cache_label}"] = _throughput(port, "/health", seconds)
        print(f"\nthroughput, 4 keep-alive clients, {seconds:g} s")
        row("bare", base_tp, "req/s")
        for label, value in tps.items():
            row(label, value, "req/s", base_tp)
