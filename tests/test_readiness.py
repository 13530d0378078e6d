"""Readiness per service and a hung database (DESIGN "Readiness per service").

Every function answers its own `/livez` and `/readyz`: gdpr and health need the
database, generate also a provider with credentials and a closed circuit. A
database that accepts connections and never answers gives `/readyz` 503 within
3 s and other endpoints 503 with `Retry-After` within 5 s (fault tests).
"""

import time
from datetime import timedelta

import pytest

from shared.database import session_scope
from shared.models import ProviderCircuit, UsageEvent, utcnow
from tests.conftest import auth
from tests.faults import HungListener

FUNCTIONS = ("generate", "gdpr", "health")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_answers_its_own_probes(db, client_for, name):
    client = client_for(name)
    live = client.get("/livez")
    assert live.status_code == 200 and live.get_json() == {"status": "pass"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert ready.headers["Content-Type"] == "application/health+json"
    keys = set(ready.get_json()["checks"])
    expected = {"database:responseTime", "database:migrations"}
    assert keys == (expected | {"providers:configured"} if name == "generate" else expected)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_with_redis_configured_every_function_needs_it(db, client_for, env, name):
    """The rate limiter refuses every keyed request (503) without its Redis: /readyz must say so."""
    from tests.conftest import REDIS_TEST_URL, free_port

    env(redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    down = client_for(name).get("/readyz")
    assert down.status_code == 503, down.get_json()
    assert down.get_json()["checks"]["ratelimit:redis"][0]["status"] == "fail"
    assert down.get_json()["checks"]["database:responseTime"][0]["status"] == "pass"
    env(redis_url=REDIS_TEST_URL)
    up = client_for(name).get("/readyz")
    assert up.status_code == 200, up.get_json()
    assert up.get_json()["checks"]["ratelimit:redis"][0]["status"] == "pass"


def test_generate_needs_a_provider_with_credentials(db, client_for, env):
    env(ai_providers="openai,anthropic")
    resp = client_for("generate").get("/readyz")
    assert resp.status_code == 503
    providers = resp.get_json()["checks"]["providers:configured"]
    assert [c["componentId"] for c in providers] == ["openai", "anthropic"]
    assert all(c["status"] == "fail" for c in providers)
    assert "output" not in providers[0]  # reasons go to the log, not to an anonymous prober
    for name in ("gdpr", "health"):  # neither holds nor needs provider keys
        assert client_for(name).get("/readyz").status_code == 200
    env(ai_providers="openai,anthropic", openai_api_key="sk-test-not-real")
    assert client_for("generate").get("/readyz").status_code == 200


def test_generate_is_not_ready_while_every_circuit_is_open(db, client_for, env):
    env(ai_providers="openai", openai_api_key="sk-test-not-real")
    with session_scope() as s:
        s.add(ProviderCircuit(provider="openai", failures=3, open_until=utcnow() + timedelta(seconds=30)))
    assert client_for("generate").get("/readyz").status_code == 503
    with session_scope() as s:
        s.get(ProviderCircuit, "openai").open_until = utcnow() - timedelta(seconds=1)
    assert client_for("generate").get("/readyz").status_code == 200


def test_health_reports_providers_from_the_shared_state(db, client_for, env, users):
    """No key in the health process; the report reads circuits and the ledger every instance writes."""
    env(ai_providers="openai,anthropic")
    now = utcnow()
    with session_scope() as s:
        s.add(ProviderCircuit(provider="anthropic", failures=4, open_until=now + timedelta(seconds=30)))
        for outcome in ("success", "success", "error", "timeout"):
            s.add(UsageEvent(provider="openai", model="m", outcome=outcome, created_at=now - timedelta(minutes=5)))
    _, ops = users("ops")
    body = client_for("health").get("/health", headers=auth(ops)).get_json()
    by_name = {c["componentId"]: c for c in body["checks"]["providers:configured"]}
    assert by_name["openai"]["status"] == "pass"
    assert by_name["openai"]["observedValue"] == 0.5 and "lastSuccess" in by_name["openai"]
    assert by_name["anthropic"]["status"] == "warn" and "circuit open" in by_name["anthropic"]["output"]
    with session_scope() as s:
        s.add(ProviderCircuit(provider="openai", failures=3, open_until=now + timedelta(seconds=30)))
    body = client_for("health").get("/health", headers=auth(ops)).get_json()
    assert {c["status"] for c in body["checks"]["providers:configured"]} == {"fail"}


@pytest.fixture
def hung_database(env):
    listener = HungListener()
    env(database_url=f"postgresql://postgres@127.0.0.1:{listener.port}/hung")
    yield listener
    listener.close()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_hung_database_readyz_answers_503_within_3s(hung_database, client_for, name):
    client = client_for(name)
    started = time.monotonic()
    resp = client.get("/readyz")
    elapsed = time.monotonic() - started
    assert resp.status_code == 503 and elapsed < 3.0, elapsed
    assert resp.get_json()["checks"]["database:responseTime"][0]["status"] == "fail"
    assert client.get("/livez").status_code == 200


@pytest.mark.parametrize("name, path", [
    ("generate", "/v1/content"), ("gdpr", "/v1/me/export"), ("health", "/v1/metrics"), ("health", "/health"),
])
def test_hung_database_other_endpoints_503_with_retry_after_within_5s(hung_database, client_for, name, path):
    started = time.monotonic()
    resp = client_for(name).get(path, headers=auth("lf_0123456789ab_" + "x" * 40))
    elapsed = time.monotonic() - started
    assert resp.status_code == 503 and elapsed < 5.0, (resp.status_code, elapsed)
    if path != "/health":
        assert int(resp.headers["Retry-After"]) >= 1
        assert resp.headers["Content-Type"] == "application/problem+json"
