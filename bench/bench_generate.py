"""Generate: POST /v1/content overhead with the mock provider, and cold start, against a bare function.

Overhead: POSTs over keep-alive connections to real functions-framework
processes of `generate` (mock provider: auth, validation, prompt, mock
document, quality gate, sanitiser, item and ledger writes) on SQLite and on a
scratch PostgreSQL database, and the same POST to `bench/bare`. The three are
interleaved request by request, so load from anything else on the machine hits
all of them alike; each request's overhead is its time minus the bare request
of the same round. The mock provider's own time (its ledger `latency_ms`) is
reported and also subtracted for the platform-only figure.

Cold start: process spawn to the first 200 of `GET /openapi.json` (the
function's own code, no database), and of `GET /v1/content-types` with a
key (routing, auth and the database paid for; no provider call), with
`AI_PROVIDERS=openai,anthropic,vertex` configured so a non-lazy SDK import
would show; and to the first 201 of a mock `POST /v1/content`. Bare and
generate spawns alternate.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from bench.common import BARE, KeepAlive, cold_start, function_source, row, running, scratch_postgres, summary

ROUNDS = 300
WARMUP = 20
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


def _timed_post(conn: KeepAlive, headers: dict[str, str], expect: int) -> float:
    t0 = time.perf_counter()
    status, _ = conn.request("POST", "/v1/content" if expect == 201 else "/", BODY, headers)
    elapsed = (time.perf_counter() - t0) * 1000
    assert status == expect, status
    return elapsed


def _provider_ms(url: str, n: int) -> list[float]:
    """The mock provider's own time per request (the ledger's latency_ms), oldest first, last `n`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT latency_ms FROM usage_events ORDER BY created_at")).scalars().all()
    engine.dispose()
    return [float(v) for v in rows[-n:]]


def _cold(source: str, target: str, env: dict[str, str], method: str, path: str, headers, ok: int) -> float:
    return cold_start(source, target, path, env, (ok,), method=method,
                      body=BODY if method == "POST" else None, headers=headers)


def run() -> None:
    base_env = {"AI_PROVIDERS": "mock", "ENVIRONMENT": "development", "LOG_LEVEL": "warning"}
    with tempfile.TemporaryDirectory() as tmp, scratch_postgres() as pg_url:
        from shared import migrations

        sqlite_url = f"sqlite:///{tmp}/bench.db"
        migrations.upgrade(sqlite_url)
        targets = {"SQLite": sqlite_url, "PostgreSQL": pg_url}
        headers = {label: _user(url) for label, url in targets.items()}
        print(f"POST /v1/content (mock, flashcards): {ROUNDS} interleaved rounds (bare, SQLite, PostgreSQL), "
              "one keep-alive connection each")
        gen = function_source("generate")
        with running(*BARE, base_env) as bare_port, \
                running(*gen, base_env | {"DATABASE_URL": sqlite_url}, ready_path="/openapi.json") as sq_port, \
                running(*gen, base_env | {"DATABASE_URL": pg_url}, ready_path="/openapi.json") as pg_port:
            conns = {"bare": KeepAlive(bare_port), "SQLite": KeepAlive(sq_port), "PostgreSQL": KeepAlive(pg_port)}
            times = {name: [] for name in conns}
            for i in range(WARMUP + ROUNDS):
                b = _timed_post(conns["bare"], {"Content-Type": "application/json"}, 200)
                s = _timed_post(conns["SQLite"], headers["SQLite"], 201)
                p = _timed_post(conns["PostgreSQL"], headers["PostgreSQL"], 201)
                if i >= WARMUP:
                    times["bare"].append(b)
                    times["SQLite"].append(s)
                    times["PostgreSQL"].append(p)
            for c in conns.values():
                c.close()
        bare = summary(times["bare"])
        row("bare POST p50", bare["p50"], "ms")
        row("bare POST p95", bare["p95"], "ms")
        for label, url in targets.items():
            totals = times[label]
            s = summary(totals)
            provider = _provider_ms(url, len(totals))
            minus_bare = summary([t - b for t, b in zip(totals, times["bare"])])
            platform = summary([t - b - p for t, b, p in zip(totals, times["bare"], provider)])
            row(f"generate {label} p50", s["p50"], "ms", bare["p50"])
            row(f"generate {label} p95", s["p95"], "ms", bare["p95"])
            row("  overhead (generate - bare, same round) p50", minus_bare["p50"], "ms")
            row("  overhead (generate - bare, same round) p95 (goal <= 8)", minus_bare["p95"], "ms")
            row("  of which mock provider (document building) p50", summary(provider)["p50"], "ms")
            row("  platform only (- bare - provider) p50", platform["p50"], "ms")
            row("  platform only (- bare - provider) p95", platform["p95"], "ms")

        print(f"\ncold start: spawn to first response, median of {COLD_RUNS}, PostgreSQL, bare and generate alternating")
        env = base_env | {"DATABASE_URL": pg_url}
        providers_env = env | {"AI_PROVIDERS": "openai,anthropic,vertex", "OPENAI_API_KEY": "sk-bench-unused",
                               "ANTHROPIC_API_KEY": "bench-unused", "GOOGLE_API_KEY": "bench-unused"}
        cold = {"bare": [], "openapi": [], "types": [], "post": []}
        for _ in range(COLD_RUNS):
            cold["bare"].append(_cold(*BARE, env, "GET", "/", None, 200) * 1000)
            cold["openapi"].append(_cold(*gen, providers_env, "GET", "/openapi.json", None, 200) * 1000)
            cold["types"].append(_cold(*gen, providers_env, "GET", "/v1/content-types",
                                       headers["PostgreSQL"], 200) * 1000)
            cold["post"].append(_cold(*gen, env, "POST", "/v1/content", headers["PostgreSQL"], 201) * 1000)
        bare_cold = _median(cold["bare"])
        row("bare functions-framework", bare_cold, "ms")
        row("generate GET /openapi.json (no key, no database)", _median(cold["openapi"]), "ms", bare_cold)
        row("generate GET /v1/content-types, providers set (goal <= 1.5x)", _median(cold["types"]), "ms", bare_cold)
        row("generate first mock POST /v1/content", _median(cold["post"]), "ms", bare_cold)
