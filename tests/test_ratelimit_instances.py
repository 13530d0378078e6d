"""Two functions-framework instances, one store: a key allowed N per minute gets N in total.

Runs against the test-only `limited` function, `generate` (GET
/v1/content-types) and health's keyed metrics route; each backend (PostgreSQL,
Redis) in turn. A missing function or route fails the test, never skips it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.conftest import REDIS_TEST_URL, ROOT, auth, make_user

N = 5
TARGETS = [
    pytest.param("limited", "/v1/ping", "user", ROOT / "tests" / "fixtures" / "limited_function.py", id="test-only"),
    pytest.param("generate", "/v1/content-types", "user", None, id="generate"),
    pytest.param("health", "/v1/metrics", "ops", None, id="health-metrics"),
]


def _assert_present(name: str, path: str, source: Path | None) -> None:
    if source is not None:
        return
    from cli.dev import load_apps

    assert load_apps()[name].matches(path), f"{name} has no {path} route"


def _wait_for_fresh_window(margin: float = 8.0) -> None:
    """Fixed windows: start well inside a minute so the test never straddles two."""
    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60 - into + 0.2)


@pytest.mark.parametrize("store", ["database", "redis"])
@pytest.mark.parametrize("name,path,role,source", TARGETS)
def test_two_instances_share_one_limit(pg, function_server, name, path, role, source, store):
    _assert_present(name, path, source)
    env = {"DATABASE_URL": pg.url, "RATE_LIMIT_PER_MINUTE": str(N)}
    if store == "redis":
        env["REDIS_URL"] = REDIS_TEST_URL
    one = function_server(name, env=env, source=source)
    two = function_server(name, env=env, source=source)
    user_id, key = make_user(role)
    _wait_for_fresh_window()
    # A new connection per request: alternating instances leaves each kept-alive connection idle while
    # the other answers, and on a loaded machine that can outlast WEB_KEEPALIVE_SECONDS, so reusing it
    # races the server's close ("Remote end closed connection without response").
    session = requests.Session()
    session.headers["Connection"] = "close"
    statuses = []
    for i in range(N):
        resp = session.get((one if i % 2 == 0 else two).url + path, headers=auth(key), timeout=30)
        statuses.append(resp.status_code)
        assert resp.headers["RateLimit-Limit"] == str(N)
        assert resp.headers["RateLimit-Remaining"] == str(N - 1 - i)
    assert statuses == [200] * N
    for server in (two, one):  # the (N+1)th on either instance
        resp = session.get(server.url + path, headers=auth(key), timeout=30)
        assert resp.status_code == 429
        assert resp.headers["Content-Type"] == "application/problem+json"
        assert resp.json()["status"] == 429
        retry_after = int(resp.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        assert resp.headers["RateLimit-Limit"] == str(N)
        assert resp.headers["RateLimit-Remaining"] == "0"
        assert resp.headers["RateLimit-Reset"] == resp.headers["Retry-After"]
    if store == "redis":
        from shared.ratelimit import RedisBackend

        RedisBackend(REDIS_TEST_URL).forget_user(user_id)
