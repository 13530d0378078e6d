"""Rate limits: per key, per function, weighted, daily generation cap; DB and Redis alike.

Every test runs against the database backend (PostgreSQL and SQLite) and the
Redis backend, through a test-only FunctionApp whose clock the test controls.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from shared.database import session_scope
from shared.http import PUBLIC, FunctionApp, Route
from shared.middleware import standard_middleware
from shared.models import RateLimitCounter, User
from shared.ratelimit import (
    Charge,
    DatabaseBackend,
    RateLimitConfig,
    RateLimitMiddleware,
    RedisBackend,
    forget_user,
    get_backend,
    user_bucket_prefix,
)
from tests.conftest import REDIS_TEST_URL, auth

T0 = datetime(2026, 3, 1, 12, 0, 10, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


def _ok(ctx):
    return {"ok": True}


def _fails(ctx):
    from shared.errors import ValidationFailed

    raise ValidationFailed([{"field": "topic", "message": "bad"}])


def _weight_from_query(ctx):
    return int(ctx.request.args.get("w", "1"))


ROUTES = [
    Route("/public", _ok, roles=PUBLIC),
    Route("/thing", _ok),
    Route("/heavy", _ok, options={"rate_weight": 4}),
    Route("/weighted", _ok, options={"rate_weight": _weight_from_query}),
    Route("/generate", _ok, methods=("POST",), options={"daily_generation": True, "rate_weight": 2}),
    Route("/generate-fails", _fails, methods=("POST",), options={"daily_generation": True}),
]


def make_client(clock: Clock, name: str = "limited", routes=ROUTES):
    return FunctionApp(name, routes, middleware=[RateLimitMiddleware(name, clock=clock)]).test_client()


@pytest.fixture(params=["database", "redis"])
def backend(request, db, env):
    """The counter store under test; Redis DB 15 is cleaned of this test's users after it."""
    if request.param == "redis":
        env(redis_url=REDIS_TEST_URL)
        if "PYTEST_XDIST_WORKER" not in os.environ:  # parallel workers share DB 15: bucket names are unique per user
            import redis

            redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    yield request.param
    if request.param == "redis":
        with session_scope() as s:
            ids = list(s.scalars(select(User.id)))
        for user_id in ids:
            RedisBackend(REDIS_TEST_URL).forget_user(user_id)


def _config():
    """The limiter's configuration from the test's settings (`env`)."""
    from shared.settings import get_settings

    return RateLimitConfig.of(get_settings())


def _headers(resp):
    return {k: resp.headers.get(k) for k in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")}


def test_backend_follows_settings(backend):
    assert get_backend(_config()).name == backend


def test_n_requests_then_429_with_headers(backend, users, env):
    env(rate_limit_per_minute=3)
    clock = Clock()
    client = make_client(clock)
    _, key = users("user")
    for i in range(3):
        resp = client.get("/thing", headers=auth(key))
        assert resp.status_code == 200
        assert _headers(resp) == {"RateLimit-Limit": "3", "RateLimit-Remaining": str(2 - i), "RateLimit-Reset": "50"}
    resp = client.get("/thing", headers=auth(key))
    assert resp.status_code == 429
    assert resp.headers["Content-Type"] == "application/problem+json"
    body = resp.get_json(force=True)
    assert body["status"] == 429 and "per minute" in body["detail"]
    assert resp.headers["Retry-After"] == "50"
    assert _headers(resp) == {"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "50"}
    assert key not in resp.get_data(as_text=True)
    clock.advance(seconds=50)  # the next window
    resp = client.get("/thing", headers=auth(key))
    assert resp.status_code == 200 and resp.headers["RateLimit-Remaining"] == "2"
    assert resp.headers["RateLimit-Reset"] == "60"


def test_rejected_request_consumes_nothing(backend, users, env):
    env(rate_limit_per_minute=10)
    client = make_client(Clock())
    _, key = users("user")
    assert [client.get("/heavy", headers=auth(key)).status_code for _ in range(3)] == [200, 200, 429]
    # 8 used: the refused third (would be 12) took nothing, so two single requests still fit.
    resp = client.get("/thing", headers=auth(key))
    assert resp.status_code == 200 and resp.headers["RateLimit-Remaining"] == "1"
    assert client.get("/thing", headers=auth(key)).headers["RateLimit-Remaining"] == "0"
    assert client.get("/thing", headers=auth(key)).status_code == 429


def test_limits_are_per_key_never_per_ip(backend, users, env):
    env(rate_limit_per_minute=2)
    client = make_client(Clock())
    _, key_a = users("user")
    _, key_b = users("user")
    for ip in ("10.0.0.1", "10.0.0.2"):
        assert client.get("/thing", headers=auth(key_a) | {"X-Forwarded-For": ip}).status_code == 200
    assert client.get("/thing", headers=auth(key_a) | {"X-Forwarded-For": "10.0.0.3"}).status_code == 429
    # Same client address, another key: its own budget.
    assert client.get("/thing", headers=auth(key_b) | {"X-Forwarded-For": "10.0.0.1"}).status_code == 200


def test_limits_are_per_function(backend, users, env):
    env(rate_limit_per_minute=1)
    clock = Clock()
    one, two = make_client(clock, "one"), make_client(clock, "two")
    _, key = users("user")
    assert one.get("/thing", headers=auth(key)).status_code == 200
    assert one.get("/thing", headers=auth(key)).status_code == 429
    assert two.get("/thing", headers=auth(key)).status_code == 200


def test_public_routes_are_not_limited(backend, users, env):
    env(rate_limit_per_minute=1)
    client = make_client(Clock())
    for _ in range(3):
        resp = client.get("/public")
        assert resp.status_code == 200 and "RateLimit-Limit" not in resp.headers


def test_unauthenticated_requests_get_401_not_429(backend, env):
    env(rate_limit_per_minute=1)
    client = make_client(Clock())
    for _ in range(3):
        assert client.get("/thing").status_code == 401


def test_weight_callable(backend, users, env):
    env(rate_limit_per_minute=10)
    client = make_client(Clock())
    _, key = users("user")
    resp = client.get("/weighted?w=7", headers=auth(key))
    assert resp.status_code == 200 and resp.headers["RateLimit-Remaining"] == "3"
    assert client.get("/weighted?w=4", headers=auth(key)).status_code == 429
    # A weight that cannot be computed counts as 1, never as free and never as a 500.
    resp = client.get("/weighted?w=nonsense", headers=auth(key))
    assert resp.status_code == 200 and resp.headers["RateLimit-Remaining"] == "2"


def test_daily_generation_cap_per_user(backend, users, env):
    env(rate_limit_per_minute=100, generations_per_day=2)
    clock = Clock()
    client = make_client(clock)
    user_id, key = users("user")
    with session_scope() as s:
        from shared.identity import create_key

        second_key = create_key(s, user_id).api_key
    assert client.post("/generate", headers=auth(key)).status_code == 200
    assert client.post("/generate", headers=auth(second_key)).status_code == 200  # same user, other key
    resp = client.post("/generate", headers=auth(key))
    assert resp.status_code == 429 and "Daily limit" in resp.get_json(force=True)["detail"]
    midnight = datetime(2026, 3, 2, tzinfo=timezone.utc)
    assert int(resp.headers["Retry-After"]) == int((midnight - clock.now).total_seconds())
    # The refused generation consumed neither its daily unit nor its per-minute weight.
    assert resp.headers["RateLimit-Remaining"] == "98"
    assert client.get("/thing", headers=auth(key)).headers["RateLimit-Remaining"] == "97"
    clock.now = midnight + timedelta(seconds=1)
    assert client.post("/generate", headers=auth(key)).status_code == 200


def test_failed_generation_gives_its_daily_unit_back(backend, users, env):
    env(rate_limit_per_minute=100, generations_per_day=1)
    client = make_client(Clock())
    _, key = users("user")
    for _ in range(3):
        assert client.post("/generate-fails", headers=auth(key)).status_code == 422
    assert client.post("/generate", headers=auth(key)).status_code == 200
    assert client.post("/generate", headers=auth(key)).status_code == 429


def test_concurrent_requests_admit_exactly_the_limit(backend, users, env):
    env(rate_limit_per_minute=25)
    clock = Clock()
    _, key = users("user")
    statuses: list[int] = []
    lock = threading.Lock()

    def worker():
        client = make_client(clock)
        for _ in range(10):
            status = client.get("/thing", headers=auth(key)).status_code
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(statuses)) == [200, 429]
    assert statuses.count(200) == 25 and statuses.count(429) == 25


def test_buckets_name_the_user_and_erasure_forgets_them(backend, users, env):
    env(rate_limit_per_minute=5, generations_per_day=5)
    client = make_client(Clock())
    user_id, key = users("user")
    other_id, other_key = users("user")
    client.get("/thing", headers=auth(key))
    client.post("/generate", headers=auth(key))
    client.get("/thing", headers=auth(other_key))
    assert forget_user(user_id, _config()) == 2
    assert forget_user(user_id, _config()) == 0
    # The other user's counter is untouched.
    assert client.get("/thing", headers=auth(other_key)).headers["RateLimit-Remaining"] == "3"
    assert client.get("/thing", headers=auth(key)).headers["RateLimit-Remaining"] == "4"


def test_database_counters_expire_one_minute_after_their_window(db, users, env):
    env(rate_limit_per_minute=5)
    clock = Clock()
    client = make_client(clock)
    user_id, key = users("user")
    client.get("/thing", headers=auth(key))
    with session_scope() as s:
        row = s.scalar(select(RateLimitCounter))
        assert row.bucket.startswith(user_bucket_prefix(user_id)) and ":f:limited:m:202603011200" in row.bucket
        assert row.count == 1
        assert row.expires_at == datetime(2026, 3, 1, 12, 2, tzinfo=timezone.utc)


def test_forget_user_in_callers_transaction_rolls_back_with_it(db, users, env):
    client = make_client(Clock())
    user_id, key = users("user")
    client.get("/thing", headers=auth(key))
    with pytest.raises(RuntimeError):
        with session_scope() as s:
            assert DatabaseBackend().forget_user(user_id, s) == 1
            raise RuntimeError("erasure failed half way")
    with session_scope() as s:
        assert s.scalar(select(RateLimitCounter.count)) == 1


def test_redis_counters_expire_after_window(users, db, env):
    import redis

    env(redis_url=REDIS_TEST_URL)
    client = make_client(Clock(datetime.now(timezone.utc)))
    user_id, key = users("user")
    client.get("/thing", headers=auth(key))
    r = redis.Redis.from_url(REDIS_TEST_URL)
    keys = list(r.scan_iter(match=user_bucket_prefix(user_id) + "*"))
    assert len(keys) == 1 and 60 <= r.ttl(keys[0]) <= 120
    forget_user(user_id, _config())


def test_redis_unreachable_fails_closed_with_503(db, users, env):
    env(redis_url="redis://127.0.0.1:1/0")
    client = make_client(Clock())
    _, key = users("user")
    resp = client.get("/thing", headers=auth(key))
    assert resp.status_code == 503 and "Retry-After" in resp.headers
    assert "127.0.0.1" not in resp.get_data(as_text=True)


def test_every_function_gets_the_limiter():
    assert any(isinstance(m, RateLimitMiddleware) for m in standard_middleware("health"))
    from cli.dev import load_apps

    for name, app in load_apps().items():
        assert any(isinstance(m, RateLimitMiddleware) and m.function_name == name for m in app.middleware)


def test_postgres_counter_commits_skip_the_wal_flush_at_no_extra_statement(pg):
    """The first upsert relaxes its own transaction (`synchronous_commit` off, local): one statement per charge."""
    from sqlalchemy import event

    from shared.database import get_engine

    seen: list[tuple[str, str]] = []

    def after(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith(("WITH", "INSERT", "SET", "SELECT")):
            setting = cursor.connection.execute("SELECT current_setting('synchronous_commit')").fetchone()[0]
            seen.append((statement.split()[0].upper(), setting))

    engine = get_engine()
    event.listen(engine, "after_cursor_execute", after)
    try:
        now = datetime.now(timezone.utc)
        charges = [Charge(f"rl:test:{n}", 1, 10, now + timedelta(minutes=1)) for n in ("minute", "day")]
        assert DatabaseBackend().consume(charges, now).allowed
    finally:
        event.remove(engine, "after_cursor_execute", after)
    # no SET statement: the first upsert (`WITH relaxed AS (SELECT set_config(...)) INSERT ...`) relaxes the transaction
    assert seen == [("WITH", "off"), ("INSERT", "off")]
    with engine.connect() as conn:  # local to that transaction: the pooled connection is back to the default
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


def test_two_apps_with_different_limits_side_by_side(db, users, env):
    """Each middleware follows the RateLimitConfig it was built with, not the environment's limit."""
    env(rate_limit_per_minute=100)
    clock = Clock()
    tight = FunctionApp("tight", ROUTES, middleware=[
        RateLimitMiddleware("tight", config=RateLimitConfig(per_minute=2), clock=clock)]).test_client()
    loose = FunctionApp("loose", ROUTES, middleware=[
        RateLimitMiddleware("loose", config=RateLimitConfig(per_minute=5), clock=clock)]).test_client()
    _, key = users("user")
    assert [tight.get("/thing", headers=auth(key)).status_code for _ in range(3)] == [200, 200, 429]
    resp = loose.get("/thing", headers=auth(key))
    assert resp.status_code == 200 and resp.headers["RateLimit-Limit"] == "5"


def test_without_a_config_the_limiter_reads_the_app_settings(db, users, env):
    """Built before the settings loaded (config None): the request's settings decide."""
    env(rate_limit_per_minute=1)
    client = make_client(Clock())
    _, key = users("user")
    assert [client.get("/thing", headers=auth(key)).status_code for _ in range(2)] == [200, 429]


def test_rate_limit_config_of_the_settings():
    from shared.settings import Settings

    config = RateLimitConfig.of(Settings(rate_limit_per_minute=7, generations_per_day=9, redis_url=""))
    assert config == RateLimitConfig(7, 9, None)
