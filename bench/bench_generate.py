"""Generate's hot path over HTTP against a bare functions-framework function, PostgreSQL.

Real functions-framework processes: `generate` on a scratch PostgreSQL
database with the mock provider, and `bench/bare`. Every round sends, over one
keep-alive connection per process, a bare POST, a generate `POST /v1/content`
(flashcards: auth, rate limit and daily quota, validation, prompt, mock
document, quality gate, sanitiser, item and ledger writes), a bare GET, a
`GET /v1/content/{id}` and a `GET /v1/content?limit=100&view=summary`. Rounds interleave, so
load from anything else on the machine hits all of them alike; a request's
overhead is its time minus the bare request of the same round and method.

The mock provider's own time (the ledger's `latency_ms` of each POST) stands in
for the LLM call: it is reported, and subtracted for the "mock excluded"
figure. Goals (p95 of the overhead): POST ≤ 6 ms mock excluded, ≤ 8 ms mock
included; GET item ≤ 2 ms; GET list of 100 ≤ 8 ms. The warm-up POSTs leave
more than 100 items, so every list request returns a full page.

Cold starts are in `bench platform`; many instances in `bench instances`.
"""

from __future__ import annotations

import json
import os
import time

from bench.common import (
    BARE, LIMITS, ONE_ATTEMPT, KeepAlive, function_source, pct, row, running, scratch_postgres, summary,
)

FULL = {"rounds": 300, "warmup": 110}
SMOKE = {"rounds": 3, "warmup": 2}
BODY = json.dumps({"content_type": "flashcards", "topic": "Photosynthesis in green plants",
                   "audience": "high_school", "learning_objectives": ["Explain the light reactions"]}).encode()
LIST_PATH = "/v1/content?limit=100&view=summary"


def _user(url: str) -> dict[str, str]:
    os.environ["DATABASE_URL"] = url
    from shared.database import dispose_engines
    from shared.settings import get_settings

    get_settings.cache_clear()
    dispose_engines()
    from tests.conftest import make_user

    _, key = make_user("user")
    return {"Authorization": f"Bearer {key}"}


def _timed(conn: KeepAlive, method: str, path: str, headers: dict[str, str], expect: int,
           body: bytes | None = None) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    status, data = conn.request(method, path, body, headers)
    elapsed = (time.perf_counter() - t0) * 1000
    assert status == expect, (method, path, status, data[:300])
    return elapsed, data


def _provider_ms(url: str, n: int) -> list[float]:
    """The mock provider's own time per POST (the sum of its ledger rows' latency_ms, every attempt
    of one item), oldest first, last `n`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sum(latency_ms) FROM usage_events WHERE content_id IS NOT NULL "
                                 "GROUP BY content_id ORDER BY min(created_at)")).scalars().all()
    engine.dispose()
    return [float(v) for v in rows[-n:]]


def _overhead(label: str, times: list[float], bare: list[float], goal: float | None) -> None:
    diff = [t - b for t, b in zip(times, bare)]
    s, d = summary(times), summary(diff)
    row(f"{label} p50", s["p50"], "ms", summary(bare)["p50"])
    row(f"{label} p95", s["p95"], "ms", summary(bare)["p95"])
    row("  overhead (- bare, same round) p50", d["p50"], "ms")
    row("  overhead (- bare, same round) p95", d["p95"], "ms", goal=goal)


def _fresh_key_check(header: str, rounds: int) -> None:
    """What the fresh key check of POST /v1/content (and feedback, GDPR writes) costs over a cached
    one: `authenticate` in this process on the same database, the two interleaved."""
    from shared.auth import authenticate
    from shared.settings import get_settings

    os.environ["AUTH_CACHE_SECONDS"] = "30"
    get_settings.cache_clear()
    authenticate(header)
    cached, fresh = [], []
    for _ in range(max(rounds, 10)):
        for out, kwargs in ((cached, {}), (fresh, {"fresh": True})):
            t0 = time.perf_counter()
            authenticate(header, **kwargs)
            out.append((time.perf_counter() - t0) * 1000)
    extra = [f - c for f, c in zip(fresh, cached)]
    row("  of which the fresh key check (a lookup instead of the cache) p50", pct(extra, 50), "ms")
    row("  of which the fresh key check p95", pct(extra, 95), "ms")


def run(sizes: dict[str, int] = FULL) -> None:
    rounds, warmup = sizes["rounds"], sizes["warmup"]
    env = {"AI_PROVIDERS": "mock", "ENVIRONMENT": "development", "LOG_LEVEL": "warning", **LIMITS, **ONE_ATTEMPT}
    with scratch_postgres() as url:
        auth = _user(url)
        post_headers = auth | {"Content-Type": "application/json"}
        json_headers = {"Content-Type": "application/json"}
        print(f"{rounds} interleaved rounds after {warmup} warm-up rounds, PostgreSQL, one keep-alive "
              "connection per process; each round: bare POST, POST /v1/content (mock, flashcards), "
              f"bare GET, GET /v1/content/{{id}}, GET {LIST_PATH}")
        with running(*BARE, env) as bare_port, \
                running(*function_source("generate"), env | {"DATABASE_URL": url}, ready_path="/openapi.json") as port:
            bare, gen = KeepAlive(bare_port), KeepAlive(port)
            _, first = _timed(gen, "POST", "/v1/content", post_headers, 201, BODY)
            item_path = f"/v1/content/{json.loads(first)['id']}"
            t = {k: [] for k in ("bare_post", "post", "bare_get", "item", "list")}
            list_sizes = []
            for i in range(warmup + rounds):
                sample = {
                    "bare_post": _timed(bare, "POST", "/", json_headers, 200, BODY)[0],
                    "post": _timed(gen, "POST", "/v1/content", post_headers, 201, BODY)[0],
                    "bare_get": _timed(bare, "GET", "/", {}, 200)[0],
                    "item": _timed(gen, "GET", item_path, auth, 200)[0],
                }
                sample["list"], page = _timed(gen, "GET", LIST_PATH, auth, 200)
                if i >= warmup:
                    for k, v in sample.items():
                        t[k].append(v)
                    list_sizes.append(len(json.loads(page)["items"]))
            bare.close()
            gen.close()
        provider = _provider_ms(url, rounds)
        platform = [p - b - m for p, b, m in zip(t["post"], t["bare_post"], provider)]
        row("bare POST p50", summary(t["bare_post"])["p50"], "ms")
        row("bare POST p95", summary(t["bare_post"])["p95"], "ms")
        row("bare GET p50", summary(t["bare_get"])["p50"], "ms")
        row("bare GET p95", summary(t["bare_get"])["p95"], "ms")
        print("POST /v1/content")
        _overhead("generate POST", t["post"], t["bare_post"], goal=8)
        row("  mock provider's own time (ledger latency_ms) p50", pct(provider, 50), "ms")
        row("  mock provider's own time (ledger latency_ms) p95", pct(provider, 95), "ms")
        row("  overhead, mock provider's time excluded p50", pct(platform, 50), "ms")
        row("  overhead, mock provider's time excluded p95", pct(platform, 95), "ms", goal=6)
        _fresh_key_check(auth["Authorization"], rounds)
        print("GET /v1/content/{id}")
        _overhead("GET item", t["item"], t["bare_get"], goal=2)
        print(f"GET {LIST_PATH} ({min(list_sizes)}-{max(list_sizes)} items a page)")
        _overhead("GET list", t["list"], t["bare_get"], goal=8)
