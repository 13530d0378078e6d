"""GET /v1/metrics: figures against hand-computed values on a seeded data set, and access rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.conftest import auth, travel_to

NOW = datetime(2026, 6, 17, 10, 30, tzinfo=timezone.utc)  # each test runs at this instant
_clock = travel_to(NOW)
IN = NOW - timedelta(minutes=10)  # inside every window
OUT = NOW - timedelta(hours=2)  # outside 15m and 1h, inside 24h and 7d


def seed(user_id: str) -> None:
    from shared.database import session_scope
    from shared.models import ContentItem, Feedback, RequestMetric, UsageEvent

    def metric(fn, latency, status, at=IN, route="/x", method="GET"):
        return RequestMetric(function=fn, route=route, method=method, status=status, latency_ms=latency,
                             created_at=at)

    def item(ctype, score, passed, at=IN):
        return ContentItem(user_id=user_id, content_type=ctype, topic="t", audience="general", content={},
                           quality={}, quality_overall=score, quality_passed=passed, provider="mock",
                           model="mock-1", prompt_version="v1", created_at=at)

    def usage(req, outcome, cost, *, kind="generation", known=True, at=IN, reserved=None, generation_id=None,
              attempt=1):
        return UsageEvent(user_id=user_id, request_id=req, provider="mock", model="mock-1", kind=kind,
                          outcome=outcome, cost_usd=None if cost is None else Decimal(cost), cost_known=known,
                          reserved_usd=reserved, created_at=at, generation_id=generation_id, attempt=attempt)

    with session_scope() as s:
        s.add_all([metric("health", v, st) for v, st in [(10, 200), (20, 200), (30, 404), (40, 500)]])
        s.add_all([metric("generate", v, st, route="/v1/content", method="POST")
                   for v, st in [(100, 201), (200, 201), (300, 201), (400, 422), (1000, 503)]])
        s.add(metric("health", 5000, 500, at=OUT))
        items = [item("flashcards", 0.4, False), item("flashcards", 0.6, False), item("faq_collection", 0.75, True),
                 item("flashcards", 0.9, True), item("faq_collection", 1.0, True), item("study_guide", 0.2, False, OUT)]
        s.add_all(items)
        s.add_all([
            usage("A", "success", "0.01"),
            usage("B", "error", None, known=False), usage("B", "success", "0.02", kind="generation"),
            usage("C", "timeout", None, known=False), usage("C", "error", "0.005", kind="generation"),
            usage("D", "reserved", None, kind="reservation", reserved=Decimal("1.0")),
            # E: the first generation failed the gate, the regeneration (and its review) passed.
            usage("E", "low_quality", "0.003", generation_id="gen-E", attempt=1),
            usage("E", "success", "0.004", kind="generation", generation_id="gen-E", attempt=2),
            usage("E", "success", "0.001", kind="judge", generation_id="gen-E", attempt=3),
            usage("F", "success", None, known=False),
            usage("G", "success", "5.0", at=OUT),
        ])
        s.flush()
        s.add_all([Feedback(content_id=items[i].id, user_id=user_id, rating=r, created_at=IN)
                   for i, r in [(0, 5), (1, 4), (2, 2)]])
        s.add(Feedback(content_id=items[5].id, user_id=user_id, rating=1, created_at=OUT))


def test_metrics_figures_match_hand_computed_values(db, users, client_for, env):
    env(metrics_enabled="false")  # the figures, not the capture, are under test
    owner, _ = users("user")
    _, ops_key = users("ops")
    seed(owner)
    client = client_for("health")

    resp = client.get("/v1/metrics", headers=auth(ops_key))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"window", "from", "to", "requests", "generation", "cost_usd", "feedback"}
    from functions.health.metrics import MetricsReport

    assert MetricsReport.model_validate(body).model_dump(mode="json", by_alias=True) == body  # the documented schema
    assert body["window"] == "1h"
    span = datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"])
    assert span == timedelta(hours=1)

    req = body["requests"]
    assert req["total"] == 9
    assert req["per_minute"] == pytest.approx(9 / 60, abs=1e-4)
    health, generate = req["functions"]["health"], req["functions"]["generate"]
    assert set(req["functions"]) == {"health", "generate"}
    assert health == {"count": 4, "error_rate_4xx": 0.25, "error_rate_5xx": 0.25,
                      "latency_ms": {"p50": 25.0, "p95": 38.5, "p99": 39.7}}
    assert generate == {"count": 5, "error_rate_4xx": 0.2, "error_rate_5xx": 0.2,
                        "latency_ms": {"p50": 300.0, "p95": 880.0, "p99": 976.0}}

    gen = body["generation"]
    assert gen["count"] == 5
    assert gen["success_rate"] == 0.8  # A, B, E, F of A, B, C, E, F (reservation D excluded)
    assert gen["quality"] == {"mean": 0.73, "passed_share": 0.6,
                              "histogram": {"0.0-0.5": 1, "0.5-0.7": 1, "0.7-0.85": 1, "0.85-1.0": 2}}
    assert gen["content_types"] == {"flashcards": 3, "faq_collection": 2}
    assert list(gen["content_types"]) == ["flashcards", "faq_collection"]  # most popular first
    # One regeneration in 5 requests (A, B, C, E, F), costing its generation and its review.
    assert gen["regenerations"] == {"count": 1, "per_100_requests": 20.0, "cost_usd": 0.005}
    assert body["cost_usd"] == pytest.approx(0.043)  # unknown costs and the reservation excluded
    assert body["feedback"] == {"count": 3, "mean_rating": 3.667}

    wide = client.get("/v1/metrics?window=24h", headers=auth(ops_key)).get_json()
    assert wide["requests"]["total"] == 10
    assert wide["requests"]["per_minute"] == pytest.approx(10 / 1440, abs=1e-4)
    # health latencies 10, 20, 30, 40, 5000: p50 = 30, p95 = 40 + 0.8 * 4960, p99 = 40 + 0.96 * 4960
    assert wide["requests"]["functions"]["health"]["latency_ms"] == {"p50": 30.0, "p95": 4008.0, "p99": 4801.6}
    assert wide["requests"]["functions"]["health"]["error_rate_5xx"] == 0.4
    assert wide["generation"]["count"] == 6
    assert wide["generation"]["quality"]["histogram"]["0.0-0.5"] == 2
    assert wide["generation"]["success_rate"] == pytest.approx(5 / 6, abs=1e-4)
    assert wide["cost_usd"] == pytest.approx(5.043)
    assert wide["feedback"] == {"count": 4, "mean_rating": 3.0}


def test_metrics_empty_window_has_nulls_not_errors(db, users, client_for):
    _, admin_key = users("admin")
    body = client_for("health").get("/v1/metrics?window=15m", headers=auth(admin_key)).get_json()
    assert body["requests"] == {"total": 0, "per_minute": 0.0, "functions": {}}
    assert body["generation"]["success_rate"] is None
    assert body["generation"]["quality"]["mean"] is None
    assert body["cost_usd"] == 0.0
    assert body["feedback"] == {"count": 0, "mean_rating": None}


def test_metrics_access_and_validation(db, users, client_for):
    _, user_key = users("user")
    _, ops_key = users("ops")
    client = client_for("health")
    resp = client.get("/v1/metrics", headers=auth(user_key))
    assert resp.status_code == 403
    assert resp.headers["Content-Type"] == "application/problem+json"
    resp = client.get("/v1/metrics")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    for bad in ("2h", "", "1H", "7d;drop"):
        resp = client.get(f"/v1/metrics?window={bad}", headers=auth(ops_key))
        assert resp.status_code == 422, bad
        assert [e["field"] for e in resp.get_json()["errors"]] == ["window"]
    assert client.get("/v1/metrics?window=7d&extra=1", headers=auth(ops_key)).status_code == 422
    for window in ("15m", "1h", "24h", "7d"):
        resp = client.get(f"/v1/metrics?window={window}", headers=auth(ops_key))
        assert resp.status_code == 200 and resp.get_json()["window"] == window
        assert resp.headers["Cache-Control"] == "no-store"


def test_sqlite_percentiles_equal_postgres_percentile_cont(pg, tmp_path):
    """The SQLite fallback reproduces percentile_cont on awkward sizes and ties."""
    import random

    from sqlalchemy.orm import Session

    from shared.window_stats import request_stats
    from shared import migrations
    from shared.database import get_engine
    from shared.models import RequestMetric

    sqlite_url = f"sqlite:///{tmp_path / 'p.db'}"
    migrations.upgrade(sqlite_url)
    rnd = random.Random(7)
    rows = []
    for fn, n in (("a", 1), ("b", 2), ("c", 7), ("d", 101), ("e", 333)):
        rows += [dict(function=fn, route="/r", method="GET", status=200, created_at=IN,
                      latency_ms=float(rnd.choice([rnd.random() * 900, 5.0, 5.0]))) for _ in range(n)]
    results = []
    for url in (pg.url, sqlite_url):
        with Session(get_engine(url)) as s:
            s.execute(RequestMetric.__table__.insert(), rows)
            s.commit()
            results.append(request_stats(s, NOW - timedelta(hours=1), NOW))
    on_pg, on_sqlite = results
    assert set(on_pg) == set(on_sqlite) == {"a", "b", "c", "d", "e"}
    for fn in on_pg:
        for attr in ("count", "p50", "p95", "p99"):
            assert getattr(on_sqlite[fn], attr) == pytest.approx(getattr(on_pg[fn], attr), rel=1e-9), (fn, attr)
