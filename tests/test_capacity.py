"""Admission control, pool exhaustion, failed-key throttling and fresh authorization, in process.

Process-level checks of the served shape (slow clients, limits, many at once) are in
tests/test_front_door.py; the capacity figures in `python -m bench capacity`.
"""

from __future__ import annotations

import threading

import pytest

from shared.admission import SHED_ROUTE, Gate, gate
from shared.auth_throttle import FailureThrottle, client_address
from shared.errors import TooManyRequests
from shared.http import FunctionApp, Route
from shared.middleware import standard_middleware
from shared.readiness import readiness_routes
from tests.conftest import auth


def test_gate_admits_up_to_its_limit_and_refuses_the_next():
    g = Gate(limit=2)
    assert g.enter() and g.enter() and not g.enter()
    assert g.in_flight == 2
    g.leave()
    assert g.enter() and not g.enter() and g.in_flight == 2


def _blocking_app(release: threading.Event, entered: threading.Event) -> FunctionApp:
    def slow(ctx):
        entered.set()
        release.wait(30)
        return {"ok": True}

    return FunctionApp("cap", readiness_routes() + [Route("/slow", slow, roles=None)],
                       middleware=standard_middleware("cap"))


def test_past_capacity_a_request_is_refused_at_once_and_probes_still_answer(db, env):
    env(web_max_in_flight=1)
    release, entered = threading.Event(), threading.Event()
    client = _blocking_app(release, entered).test_client()
    first: dict = {}
    holder = threading.Thread(target=lambda: first.setdefault("resp", client.get("/slow")))
    holder.start()
    try:
        assert entered.wait(10)
        resp = client.get("/slow")
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "2"
        assert resp.content_type == "application/problem+json"
        assert resp.get_json()["type"].endswith("/at-capacity")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert client.get("/livez").status_code == 200  # busy is not dead
    finally:
        release.set()
        holder.join(10)
    assert first["resp"].status_code == 200
    assert client.get("/slow").status_code == 200 and gate.in_flight == 0


def test_shed_requests_are_measured_and_open_capacity_shedding(db):
    from datetime import datetime, timedelta, timezone

    from jobs.alert_rules import Evaluation, capacity_shedding
    from shared.database import session_scope
    from shared.models import RequestMetric
    from shared.settings import get_settings

    now = datetime.now(timezone.utc)
    with session_scope() as s:
        [quiet] = capacity_shedding(Evaluation(s, now, get_settings()))
        assert not quiet.firing
        s.add(RequestMetric(created_at=now - timedelta(minutes=1), function="generate", route=SHED_ROUTE,
                            method="POST", status=503, latency_ms=0.3))
        s.add(RequestMetric(created_at=now - timedelta(minutes=20), function="gdpr", route=SHED_ROUTE,
                            method="GET", status=503, latency_ms=0.3))  # outside the window
    with session_scope() as s:
        [finding] = capacity_shedding(Evaluation(s, now, get_settings()))
    assert finding.firing and finding.severity == "warning" and finding.details["by_function"] == {"generate": 1}


def test_shed_metric_is_recorded_under_the_shed_route(db, env):
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.metrics import recorder
    from shared.models import RequestMetric

    env(web_max_in_flight=1)
    release, entered = threading.Event(), threading.Event()
    client = _blocking_app(release, entered).test_client()
    holder = threading.Thread(target=lambda: client.get("/slow"))
    holder.start()
    try:
        assert entered.wait(10)
        assert client.get("/slow").status_code == 503
    finally:
        release.set()
        holder.join(10)
    recorder.flush()
    with session_scope() as s:
        routes = [m.route for m in s.scalars(select(RequestMetric).where(RequestMetric.status == 503))]
    assert routes == [SHED_ROUTE]


def test_an_exhausted_pool_is_503_with_retry_after_not_500(pg, env, client_for):
    """Every pooled connection busy for DB_CONNECT_TIMEOUT_SECONDS: 503 + Retry-After, wherever it happens."""
    from shared.database import get_engine

    from tests.conftest import make_user

    env(db_pool_size=1, db_connect_timeout_seconds=1, auth_cache_seconds=0)
    _, key = make_user()
    client = client_for("generate")
    held = get_engine().connect()  # the pool's only connection
    try:
        resp = client.get("/v1/content", headers=auth(key))
    finally:
        held.close()
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    assert resp.content_type == "application/problem+json"
    assert client.get("/v1/content", headers=auth(key)).status_code == 200


def test_failed_keys_are_throttled_per_address_before_any_lookup(db, env, monkeypatch, client_for):
    from shared import identity

    env(auth_failures_per_minute=3)
    lookups = []
    real = identity.check_key
    monkeypatch.setattr(identity, "check_key", lambda c, t: lookups.append(1) or real(c, t))
    client = client_for("generate")
    wrong = {"Authorization": "Bearer lf_0123456789ab_" + "x" * 43}
    assert [client.get("/v1/content", headers=wrong).status_code for _ in range(3)] == [401, 401, 401]
    flood = [client.get("/v1/content", headers=wrong) for _ in range(20)]
    assert {r.status_code for r in flood} == {429} and all(r.headers["Retry-After"] for r in flood)
    assert len(lookups) == 3  # the flood cost no database work
    other = {"X-Forwarded-For": "198.51.100.7"}  # another client (the proxy's last entry) is unaffected
    assert client.get("/v1/content", headers=wrong | other).status_code == 401
    assert client.get("/v1/content").status_code == 401  # no key at all: a plain 401, never counted


def _throttled_server(env, address: str):
    """The served wrapper (shared.serving) around an app that records what reaches it, with
    `address` already throttled."""
    from werkzeug.test import Client

    from shared.auth_throttle import throttle
    from shared.serving import ThrottledAddresses

    env(auth_failures_per_minute=2, allowed_origins="https://app.example.org")
    reached = []

    def app(environ, start_response):
        reached.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"served"]

    throttle.failed(address)
    throttle.failed(address)
    return Client(ThrottledAddresses(app)), reached


def test_a_throttled_address_is_refused_before_the_app(env):
    client, reached = _throttled_server(env, "203.0.113.66")
    wrong = {"Authorization": "Bearer lf_0123456789ab_" + "x" * 43, "X-Forwarded-For": "203.0.113.66",
             "X-Request-ID": "req-42", "Origin": "https://app.example.org"}
    resp = client.get("/v1/content", headers=wrong)
    assert reached == []  # neither Flask nor routing nor the key lookup ran
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert resp.content_type == "application/problem+json"
    assert resp.get_json()["type"].endswith("/rate-limited") and resp.get_json()["status"] == 429
    assert resp.headers["X-Request-ID"] == "req-42" and resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and "Strict-Transport-Security" in resp.headers
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.org"
    assert int(resp.headers["Content-Length"]) == len(resp.data)
    bad_id = client.get("/v1/content", headers=wrong | {"X-Request-ID": "no spaces allowed",
                                                         "Origin": "https://evil.example"})
    assert bad_id.status_code == 429 and bad_id.headers["X-Request-ID"] != "no spaces allowed"
    assert "Access-Control-Allow-Origin" not in bad_id.headers


def test_the_throttle_wrapper_passes_other_addresses_keyless_requests_and_probes(env):
    client, reached = _throttled_server(env, "203.0.113.66")
    key = {"Authorization": "Bearer lf_0123456789ab_" + "x" * 43}
    assert client.get("/v1/content", headers=key | {"X-Forwarded-For": "198.51.100.7"}).status_code == 200
    assert client.get("/livez", headers={"X-Forwarded-For": "203.0.113.66"}).status_code == 200  # no key
    assert client.get("/v1/content", headers={"X-Forwarded-For": "203.0.113.66",
                                              "Authorization": "Basic abc"}).status_code == 200  # not a bearer key
    assert reached == ["/v1/content", "/livez", "/v1/content"]


def test_the_worker_serves_its_app_through_the_throttle_wrapper(monkeypatch):
    from shared import serving
    from shared.alerts import outbox

    monkeypatch.setattr(outbox, "start_sender", lambda: None)

    class Worker:
        wsgi = object()

    worker = Worker()
    app = worker.wsgi
    serving.post_worker_init(worker)
    assert isinstance(worker.wsgi, serving.ThrottledAddresses) and worker.wsgi.app is app


def test_throttle_window_and_address():
    now = [0.0]
    t = FailureThrottle(limit=2, clock=lambda: now[0])
    t.failed("a")
    t.check("a")
    t.failed("a")
    with pytest.raises(TooManyRequests) as refused:
        t.check("a")
    assert refused.value.headers["Retry-After"] == "61"
    t.check("b")
    now[0] = 60.0
    t.check("a")  # a new window

    class Request:
        remote_addr = "10.0.0.1"
        headers = {"X-Forwarded-For": "203.0.113.9, 192.0.2.1"}

    assert client_address(Request()) == "192.0.2.1"  # the proxy's entry, not the client's claim


def test_restriction_and_revocation_apply_at_once_on_another_instance(pg, function_server):
    """Another process (the test itself, like a second instance) restricts, then revokes: the server,
    whose key cache holds the caller, refuses the very next generation; a cheap read may still be cached."""
    import json
    import urllib.error
    import urllib.request

    from shared.database import session_scope
    from shared.identity import revoke_key
    from shared.models import ApiKey, User, utcnow
    from tests.conftest import make_user

    user_id, key = make_user()
    server = function_server("generate", env={"DATABASE_URL": pg.url, "AI_PROVIDERS": "mock",
                                              "AUTH_CACHE_SECONDS": "30", "QUALITY_THRESHOLD_OVERALL": "0",
                                              "QUALITY_THRESHOLD_EDUCATIONAL": "0", "QUALITY_THRESHOLD_FACTUAL": "0"})

    def post(key: str = key) -> int:
        body = json.dumps({"content_type": "flashcards", "topic": "Photosynthesis", "audience": "high_school"})
        req = urllib.request.Request(server.url + "/v1/content", data=body.encode(), method="POST",
                                     headers=auth(key) | {"Content-Type": "application/json",
                                                          "Cache-Control": "no-cache"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert post() == 201  # the key is now in the server's cache for 30 s
    with session_scope() as s:
        s.get(User, user_id).restricted_at = utcnow()
    assert post() == 403
    with session_scope() as s:
        s.get(User, user_id).restricted_at = None
    assert post() == 201
    with session_scope() as s:
        key_id = s.query(ApiKey.id).filter(ApiKey.user_id == user_id).scalar()
        revoke_key(s, key_id)
    assert post() == 401

    make_user("admin")  # erasure refuses to remove the last admin; this person is a user
    _, leaving = make_user()
    assert post(leaving) == 201
    from tests.conftest import function_client

    erased = function_client("gdpr").delete("/v1/me", json={"confirm": "erase my data"}, headers=auth(leaving))
    assert erased.status_code == 200  # answered by another instance (this process's gdpr)
    assert post(leaving) == 401
    from functions.gdpr.erasure import wait_for_disk_work

    wait_for_disk_work()
