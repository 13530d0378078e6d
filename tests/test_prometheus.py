"""`GET /metrics`: Prometheus text exposition from the database, read back with prometheus_client's parser.

Counters are platform-wide: two real functions-framework instances answer the
same figures, which only grow, and the retention job deleting old rows does not
make them go down (its rows are folded into rollups first).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from jobs.runner import run_job
from shared.database import session_scope
from shared.models import Alert, ContentItem, JobRun, RequestMetric, UsageEvent
from tests.conftest import auth, make_user


def now() -> datetime:
    return datetime.now(timezone.utc)


def parse(text: str) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label items: value}}"""
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def families(text: str) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def scrape(client, key) -> str:
    resp = client.get("/metrics", headers=auth(key))
    assert resp.status_code == 200, resp.data[:500]
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return resp.get_data(as_text=True)


def seed() -> None:
    uid, _ = make_user()
    t = now() - timedelta(minutes=5)
    with session_scope() as s:
        s.execute(RequestMetric.__table__.insert(), [
            {"function": "generate", "route": "/v1/content", "method": "POST", "status": 201, "latency_ms": 3000.0,
             "created_at": t},
            {"function": "generate", "route": "/v1/content", "method": "POST", "status": 201, "latency_ms": 40.0,
             "created_at": t},
            {"function": "health", "route": "/livez", "method": "GET", "status": 200, "latency_ms": 2.0,
             "created_at": t},
            {"function": "generate", "route": "/v1/content/<item_id>", "method": "GET", "status": 404,
             "latency_ms": 8.0, "created_at": t},
        ])
        s.add_all([
            UsageEvent(provider="openai", model="gpt-4o-mini", outcome="success", input_tokens=1200,
                       output_tokens=300, cached_input_tokens=1024, reasoning_tokens=120,
                       cost_usd=Decimal("0.00036"), latency_ms=2500.0, created_at=t),
            UsageEvent(provider="openai", model="gpt-4o-mini", outcome="timeout", input_tokens=None,
                       output_tokens=None, cost_usd=None, cost_known=False, latency_ms=60000.0, created_at=t),
            UsageEvent(provider="anthropic", model="claude-sonnet-4-5", outcome="success", input_tokens=10,
                       output_tokens=5000, cache_write_tokens=6, cache_write_1h_tokens=2,
                       cost_usd=Decimal("0.075"), latency_ms=900.0, created_at=t),
            UsageEvent(provider="vertex", model="gemini-2.5-flash", outcome="success", input_tokens=40,
                       output_tokens=70, cached_input_tokens=30, reasoning_tokens=50,
                       cost_usd=Decimal("0.001"), latency_ms=700.0, created_at=t),
            UsageEvent(provider="openai", model="gpt-4o-mini", kind="reservation", outcome="reserved",
                       reserved_usd=Decimal("1"), cost_usd=Decimal("5"), created_at=t),
        ])
        s.add_all([ContentItem(user_id=uid, content_type=ct, topic="t", audience="general", content={}, quality={},
                               quality_overall=q, quality_passed=q >= 0.7, provider="mock", model="m",
                               prompt_version="v1", created_at=t)
                   for ct, q in (("flashcards", 0.9), ("flashcards", 0.6), ("study_guide", 0.75))])
        s.add_all([Alert(rule="a", severity="critical", message="m"), Alert(rule="b", severity="warning", message="m"),
                   Alert(rule="c", severity="warning", message="m", status="resolved")])
        s.add(JobRun(job="backup", status="ok", exit_code=0, started_at=t, finished_at=t + timedelta(seconds=30)))
        s.add(JobRun(job="backup", status="problem", exit_code=1, started_at=t + timedelta(minutes=1)))


def test_exposition_parses_and_states_the_platform(db, client_for, tmp_path):
    seed()
    backup_time = now() - timedelta(hours=3)
    folder = tmp_path / "backups" / backup_time.strftime("%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"created_at": backup_time.isoformat()}))
    _, ops_key = make_user("ops")
    text = scrape(client_for("health"), ops_key)
    kinds = families(text)
    assert kinds["http_server_request_duration_seconds"] == "histogram"
    assert kinds["gen_ai_client_token_usage"] == "histogram"
    assert kinds["gen_ai_client_operation_duration_seconds"] == "histogram"
    assert kinds["lafactoria_gen_ai_cost_usd"] == "counter"
    assert kinds["lafactoria_alerts_open"] == "gauge"
    m = parse(text)

    post = (("function", "generate"), ("http_request_method", "POST"), ("http_response_status_code", "201"),
            ("http_route", "/v1/content"))
    assert m["http_server_request_duration_seconds_count"][post] == 2
    assert m["http_server_request_duration_seconds_sum"][post] == pytest.approx(3.04)
    assert m["http_server_request_duration_seconds_bucket"][tuple(sorted(post + (("le", "0.05"),)))] == 1
    assert m["http_server_request_duration_seconds_bucket"][tuple(sorted(post + (("le", "5.0"),)))] == 2
    assert m["http_server_request_duration_seconds_bucket"][tuple(sorted(post + (("le", "+Inf"),)))] == 2
    missing = (("function", "generate"), ("http_request_method", "GET"), ("http_response_status_code", "404"),
               ("http_route", "/v1/content/<item_id>"))
    assert m["http_server_request_duration_seconds_count"][missing] == 1  # the route template, never an id

    def tokens(provider, model, token_type):
        return tuple(sorted({"gen_ai_provider_name": provider, "gen_ai_request_model": model,
                             "gen_ai_token_type": token_type, "gen_ai_operation_name": "chat"}.items()))
    usage = m["gen_ai_client_token_usage_sum"]
    assert usage[tokens("openai", "gpt-4o-mini", "input")] == 1200  # the reservation and timeout bill nothing
    assert usage[tokens("openai", "gpt-4o-mini", "output")] == 300
    assert usage[tokens("anthropic", "claude-sonnet-4-5", "output")] == 5000
    assert m["gen_ai_client_token_usage_count"][tokens("openai", "gpt-4o-mini", "input")] == 1

    cost = m["lafactoria_gen_ai_cost_usd_total"]
    assert cost[(("gen_ai_provider_name", "openai"), ("gen_ai_request_model", "gpt-4o-mini"))] == pytest.approx(0.00036)
    assert cost[(("gen_ai_provider_name", "anthropic"), ("gen_ai_request_model", "claude-sonnet-4-5"))] == \
        pytest.approx(0.075)

    # OTel GenAI usage counters: cache reads/writes are parts of the input, reasoning of the output
    def usage_total(kind):
        return {(dict(k)["gen_ai_provider_name"], dict(k)["gen_ai_request_model"]): v
                for k, v in m[f"gen_ai_client_inference_usage_{kind}_total"].items()
                if dict(k)["gen_ai_operation_name"] == "chat"}
    assert usage_total("input_tokens") == {("openai", "gpt-4o-mini"): 1200, ("anthropic", "claude-sonnet-4-5"): 10,
                                           ("gcp.vertex_ai", "gemini-2.5-flash"): 40}
    assert usage_total("output_tokens")[("anthropic", "claude-sonnet-4-5")] == 5000
    assert usage_total("cache_read_input_tokens") == {("openai", "gpt-4o-mini"): 1024,  # none reported: no series
                                                      ("gcp.vertex_ai", "gemini-2.5-flash"): 30}
    assert usage_total("cache_write_input_tokens")[("anthropic", "claude-sonnet-4-5")] == 8  # 5-minute + 1-hour
    assert usage_total("reasoning_output_tokens")[("gcp.vertex_ai", "gemini-2.5-flash")] == 50
    assert kinds["gen_ai_client_inference_usage_input_tokens"] == "counter"

    durations = m["gen_ai_client_operation_duration_seconds_count"]
    timeout = tuple(sorted({"gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-4o-mini",
                            "error_type": "timeout", "gen_ai_operation_name": "chat"}.items()))
    assert durations[timeout] == 1

    assert kinds["lafactoria_content_quality_items"] == "histogram"  # a gauge histogram, in text format 0.0.4
    quality = m["lafactoria_content_quality_items_bucket"]
    assert quality[(("content_type", "flashcards"), ("le", "0.5"))] == 0
    assert quality[(("content_type", "flashcards"), ("le", "0.7"))] == 1
    assert quality[(("content_type", "flashcards"), ("le", "+Inf"))] == 2
    assert quality[(("content_type", "study_guide"), ("le", "0.85"))] == 1
    assert m["lafactoria_content_quality_items_gcount"][(("content_type", "flashcards"),)] == 2
    assert m["lafactoria_content_quality_items_gsum"][(("content_type", "flashcards"),)] == pytest.approx(1.5)

    alerts = m["lafactoria_alerts_open"]
    assert {dict(k)["severity"]: v for k, v in alerts.items()} == {"critical": 1, "error": 0, "warning": 1, "info": 0}

    success = m["lafactoria_job_last_success_timestamp_seconds"]
    assert success[(("job", "backup"),)] == pytest.approx((now() - timedelta(minutes=5) + timedelta(seconds=30))
                                                          .timestamp(), abs=5)
    assert (("job", "cost-report"),) not in success
    assert m["lafactoria_job_last_run_timestamp_seconds"][(("job", "backup"),)] > success[(("job", "backup"),)]
    assert m["lafactoria_backup_age_seconds"][()] == pytest.approx(3 * 3600, abs=60)
    assert m["lafactoria_backup_store_up"][()] == 1


def test_only_ops_and_admin(db, client_for):
    client = client_for("health")
    _, user_key = make_user("user")
    _, admin_key = make_user("admin")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth(user_key)).status_code == 403
    assert parse(scrape(client, admin_key))["lafactoria_alerts_open"]


def _count(text: str, function: str) -> float:
    counts = parse(text).get("http_server_request_duration_seconds_count", {})
    return sum(v for k, v in counts.items() if dict(k)["function"] == function)


def test_counters_are_platform_wide_and_monotonic_across_instances(pg, function_server):
    _, ops_key = make_user("ops")
    env = {"DATABASE_URL": pg.url, "METRICS_FLUSH_SECONDS": "0.1"}
    a, b = function_server("health", env=env), function_server("health", env=env)

    def scrape_http(server):
        resp = requests.get(f"{server.url}/metrics", headers=auth(ops_key), timeout=10)
        assert resp.status_code == 200
        return resp.text

    seen = []
    for round_ in range(3):
        for server in (a, b):  # traffic to both instances
            for _ in range(5):
                assert requests.get(f"{server.url}/livez", timeout=5).status_code == 200
        deadline = time.monotonic() + 15
        while True:  # each instance flushes its buffer every 0.1 s
            with session_scope() as s:
                rows = s.scalar(select(func.count()).select_from(RequestMetric).where(RequestMetric.route == "/livez"))
            if rows >= 10 * (round_ + 1) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        texts = [scrape_http(a), scrape_http(b)]
        livez = [sum(v for k, v in parse(t)["http_server_request_duration_seconds_count"].items()
                     if dict(k)["http_route"] == "/livez") for t in texts]
        assert livez[0] == livez[1] == 10 * (round_ + 1)  # either instance answers for both
        seen.append(livez[0])
    assert seen == sorted(seen) and seen[0] < seen[-1]


def test_retention_does_not_make_counters_go_down(db, client_for, env):
    env(metrics_enabled="false")  # the scrapes' own request metrics would land (flushed in the background) mid-test
    seed()
    old = now() - timedelta(days=40)
    with session_scope() as s:
        s.execute(RequestMetric.__table__.insert(), [
            {"function": "health", "route": "/livez", "method": "GET", "status": 200, "latency_ms": 1.5,
             "created_at": old} for _ in range(7)])
        s.add(UsageEvent(provider="openai", model="gpt-4o-mini", outcome="success", input_tokens=100,
                         output_tokens=10, cost_usd=Decimal("0.5"), latency_ms=100.0,
                         created_at=now() - timedelta(days=500)))
    _, ops_key = make_user("ops")
    client = client_for("health")
    before = parse(scrape(client, ops_key))
    code, summary = run_job("retention-expiry")
    assert code == 0, summary
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(RequestMetric).where(RequestMetric.created_at < old
                                                                               + timedelta(days=1))) == 0
        assert s.scalar(select(func.count()).select_from(UsageEvent).where(UsageEvent.cost_usd == Decimal("0.5"))) == 0
    after = parse(scrape(client, ops_key))
    for name in ("http_server_request_duration_seconds_count", "http_server_request_duration_seconds_sum",
                 "http_server_request_duration_seconds_bucket", "gen_ai_client_token_usage_sum",
                 "gen_ai_client_token_usage_bucket", "lafactoria_gen_ai_cost_usd_total"):
        assert after[name] == pytest.approx(before[name]), name
    livez = (("function", "health"), ("http_request_method", "GET"), ("http_response_status_code", "200"),
             ("http_route", "/livez"))
    assert after["http_server_request_duration_seconds_count"][livez] == 8
    # New rows add on top of the folded ones.
    with session_scope() as s:
        s.execute(RequestMetric.__table__.insert(), [{"function": "health", "route": "/livez", "method": "GET",
                                                      "status": 200, "latency_ms": 1.0, "created_at": now()}])
    assert parse(scrape(client, ops_key))["http_server_request_duration_seconds_count"][livez] == 9


PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"  # Debian `prometheus` (tests/debian-packages.txt)


def promtool_check(text: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)


def test_promtool_accepts_a_populated_exposition(db, client_for):
    seed()
    _, ops_key = make_user("ops")
    text = scrape(client_for("health"), ops_key)
    samples = parse(text)
    for name in ("http_server_request_duration_seconds_bucket", "gen_ai_client_token_usage_bucket",
                 "gen_ai_client_operation_duration_seconds_bucket", "lafactoria_gen_ai_cost_usd_total",
                 "gen_ai_client_inference_usage_cache_read_input_tokens_total",
                 "gen_ai_client_inference_usage_reasoning_output_tokens_total",
                 "lafactoria_content_quality_items_bucket", "lafactoria_content_quality_items_gcount",
                 "lafactoria_alerts_open", "lafactoria_job_last_run_timestamp_seconds",
                 "lafactoria_job_last_success_timestamp_seconds", "lafactoria_backup_store_up"):
        assert samples.get(name), name  # populated: every kind of family has series
    result = promtool_check(text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


def test_promtool_refuses_what_it_should():
    """The check can fail: a gauge carrying `le`, as the quality gauge once did, is refused."""
    bad = ('# HELP lafactoria_content_quality_items Items.\n# TYPE lafactoria_content_quality_items gauge\n'
           'lafactoria_content_quality_items{content_type="flashcards",le="0.5"} 1\n')
    result = promtool_check(bad)
    assert result.returncode != 0 and 'non-histogram metrics should not have "le" label' in result.stdout + result.stderr


def test_openmetrics_when_the_scraper_asks_for_it(db, client_for):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families

    seed()
    _, ops_key = make_user("ops")
    client = client_for("health")
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"  # Prometheus'
    resp = client.get("/metrics", headers=auth(ops_key) | {"Accept": accept})
    assert resp.status_code == 200 and "Accept" in resp.headers.getlist("Vary")
    assert resp.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    text = resp.get_data(as_text=True)
    assert text.endswith("# EOF\n")
    kinds = {f.name: f.type for f in openmetrics_families(text)}  # the strict OpenMetrics parser
    assert kinds["lafactoria_content_quality_items"] == "gaugehistogram"
    assert kinds["gen_ai_client_inference_usage_cache_read_input_tokens"] == "counter"
    assert kinds["http_server_request_duration_seconds"] == "histogram"
    # Same figures as the text format; a plain scrape still gets text 0.0.4.
    text_samples = parse(scrape(client, ops_key))
    om = {}
    for family in openmetrics_families(text):
        for s in family.samples:
            om.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    for name in ("gen_ai_client_inference_usage_input_tokens_total", "lafactoria_content_quality_items_bucket",
                 "lafactoria_gen_ai_cost_usd_total", "lafactoria_alerts_open"):
        assert om[name] == pytest.approx(text_samples[name]), name


def test_regenerations_and_their_cost_are_counted(db, client_for):
    """A request whose first generation failed the gate: its second generation (and that one's review)
    are a regeneration and its cost; a request that passed first time adds nothing."""
    make_user()
    t = now() - timedelta(minutes=5)

    def row(gen, attempt, kind, outcome, cost, provider="openai", model="gpt-4o-mini"):
        return UsageEvent(generation_id=gen, attempt=attempt, kind=kind, outcome=outcome, provider=provider,
                          model=model, input_tokens=10, output_tokens=10, cost_usd=Decimal(cost), created_at=t)

    with session_scope() as s:
        s.add_all([row("g1", 1, "generation", "low_quality", "0.010"),
                   row("g1", 2, "generation", "success", "0.020", "anthropic", "claude-sonnet-4-5"),
                   row("g1", 3, "judge", "success", "0.005"),
                   row("g2", 1, "generation", "success", "0.030")])
    _, ops_key = make_user("ops")
    m = parse(scrape(client_for("health"), ops_key))
    claude = (("gen_ai_provider_name", "anthropic"), ("gen_ai_request_model", "claude-sonnet-4-5"))
    openai = (("gen_ai_provider_name", "openai"), ("gen_ai_request_model", "gpt-4o-mini"))
    assert m["lafactoria_quality_regenerations_total"] == {claude: 1.0}
    cost = m["lafactoria_quality_regeneration_cost_usd_total"]
    assert cost[claude] == pytest.approx(0.020) and cost[openai] == pytest.approx(0.005)
