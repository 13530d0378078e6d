"""Generate: POST /v1/content overhead with the mock provider, and cold start, against a bare function.

Overhead: sequential POSTs over one keep-alive connection to a real
functions-framework process of `generate` (mock provider, so the figure is the
platform: auth, validation, prompt, mock document, quality gate, sanitiser,
ledger and item writes), minus the same POST to `bench/bare` in the same run.
On SQLite (a file under a temp dir) and on a scratch PostgreSQL database.

Cold start: process spawn to the first 200 of `GET /v1/content-types` with a
key (routing, auth and the database paid for; no provider call), with
`AI_PROVIDERS=openai,anthropic,vertex` configured so a non-lazy SDK import
would show; and to the first 201 of a mock `POST /v1/content`, for reference.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from bench.common import BARE, KeepAlive, function_source, get, latencies, row, running, scratch_postgres, start_server, stop, summary

REQUESTS = 300
COLD_RUNS = 5
BODY = json.dumps({"content_type": "flashcards", "topic": "Photosynthesis in green plants",
                   "audience": "high_school", "learning_objectives": ["Explain the light reactions"]}).encode()


def _median(values):
    return sorted(values)[len(values) // 2]


def _user(url: str) -> dict[str, str]:
    os.environ["DATABASE_URL"] = url
    from shared.database import dispose_engines
    from shared.settings import get_settings

    get_settings.cache_clear()
    dispose_engines()
    from tests.conftest import make_user

    _, key = make_user("user")
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def _post_latencies(port: int, headers: dict[str, str], expect: int) -> list[float]:
    conn = KeepAlive(port)

    def call():
        status, _ = conn.request("POST", "/v1/content", BODY, headers)
        assert status == expect, status

    try:
        return latencies(call, REQUESTS, warmup=20)
    finally:
        conn.close()


def _bare_latencies(port: int) -> list[float]:
    conn = KeepAlive(port)

    def call():
        status, _ = conn.request("POST", "/", BODY, {"Content-Type": "application/json"})
        assert status == 200, status

    try:
        return latencies(call, REQUESTS, warmup=20)
    finally:
        conn.close()


def _provider_ms(url: str, n: int) -> list[float]:
    """The mock provider's own time per request (the ledger's latency_ms), oldest first, last `n`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT latency_ms FROM usage_events ORDER BY created_at")).scalars().all()
    engine.dispose()
    return [float(v) for v in rows[-n:]]


def _gate_ms() -> dict[str, float]:
    from functions.generate import mock_content
    from functions.generate.quality import assess

    doc = mock_content.build("flashcards", topic="Photosynthesis in green plants", audience="high_school",
                             learning_objectives=["Explain the light reactions"], language="en", attempt=1)
    return summary(latencies(lambda: assess("flashcards", doc, topic="Photosynthesis in green plants",
                                            audience="high_school",
                                            learning_objectives=["Explain the light reactions"]), 200))


def _cold(source: str, target: str, env: dict[str, str], method: str, path: str, headers, ok: int) -> float:
    import http.client

    t0 = time.perf_counter()
    proc, port = start_server(source, target, env)
    try:
        while time.perf_counter() - t0 < 30:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request(method, path, body=BODY if method == "POST" else None, headers=headers or {})
                status = conn.getresponse().status
                conn.close()
                if status == ok:
                    return time.perf_counter() - t0
            except OSError:
                pass
            time.sleep(0.003)
        raise RuntimeError(f"{target} gave no {ok} on {path}")
    finally:
        stop(proc)


def run() -> None:
    base_env = {"AI_PROVIDERS": "mock", "ENVIRONMENT": "development", "LOG_LEVEL": "warning"}
    with tempfile.TemporaryDirectory() as tmp, scratch_postgres() as pg_url:
        from shared import migrations

        sqlite_url = f"sqlite:///{tmp}/bench.db"
        migrations.upgrade(sqlite_url)
        results = {}
        print(f"POST /v1/content (mock, flashcards), {REQUESTS} sequential requests over one keep-alive connection")
        with running(*BARE, base_env) as port:
            bare = summary(_bare_latencies(port))
        row("bare POST p50", bare["p50"], "ms")
        row("bare POST p95", bare["p95"], "ms")
        for label, url in (("SQLite", sqlite_url), ("PostgreSQL", pg_url)):
            headers = _user(url)
            env = base_env | {"DATABASE_URL": url}
            with running(*function_source("generate"), env, ready_path="/openapi.json") as port:
                totals = _post_latencies(port, headers, 201)
            s = summary(totals)
            provider = _provider_ms(url, len(totals))
            platform = summary([t - p - bare["p50"] for t, p in zip(totals, provider)])
            results[label] = s
            row(f"generate {label} p50", s["p50"], "ms", bare["p50"])
            row(f"generate {label} p95", s["p95"], "ms", bare["p95"])
            row(f"  generate - bare, p50", s["p50"] - bare["p50"], "ms")
            row(f"  generate - bare, p95", s["p95"] - bare["p95"], "ms")
            row(f"  of which mock provider (document building), p50", summary(provider)["p50"], "ms")
            row(f"  platform overhead (minus provider, minus bare) p50", platform["p50"], "ms")
            row(f"  platform overhead (minus provider, minus bare) p95 (goal <= 8)", platform["p95"], "ms")
        gate = _gate_ms()
        row("quality gate alone (in-process, flashcards) p50", gate["p50"], "ms")
        row("quality gate alone (in-process, flashcards) p95", gate["p95"], "ms")

        print(f"\ncold start: spawn to first response, median of {COLD_RUNS} (PostgreSQL)")
        headers = _user(pg_url)
        env = base_env | {"DATABASE_URL": pg_url}
        bare_cold = _median([_cold(*BARE, env, "GET", "/", None, 200) for _ in range(COLD_RUNS)]) * 1000
        row("bare functions-framework", bare_cold, "ms")
        providers_env = env | {"AI_PROVIDERS": "openai,anthropic,vertex", "OPENAI_API_KEY": "sk-bench-unused",
                               "ANTHROPIC_API_KEY": "bench-unused", "GOOGLE_API_KEY": "bench-unused"}
        types_cold = _median([_cold(*function_source("generate"), providers_env, "GET", "/v1/content-types",
                                    headers, 200) for _ in range(COLD_RUNS)]) * 1000
        row("generate GET /v1/content-types (real providers set; goal <= 1.5x)", types_cold, "ms", bare_cold)
        post_cold = _median([_cold(*function_source("generate"), env, "POST", "/v1/content", headers, 201)
                             for _ in range(COLD_RUNS)]) * 1000
        row("generate first mock POST /v1/content (reference)", post_cold, "ms", bare_cold)
