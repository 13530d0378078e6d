"""The per-process key cache: a warm request skips the key lookup, and a revoked key, a changed
role, a restriction or an erased user are refused at once in the same process and within
AUTH_CACHE_SECONDS from any other."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, text

from shared.auth import key_cache
from shared.database import get_engine, session_scope
from shared.identity import revoke_key
from shared.models import User
from tests.conftest import auth, function_client


@contextmanager
def key_lookups():
    """Collects the key lookups (verify_key's statement) on the process's engine."""
    seen = []

    def before(conn, cursor, statement, params, context, executemany):
        if "FROM api_keys JOIN users" in statement:  # verify_key's lookup
            seen.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(key_cache, "clock", fake)
    return fake


def _elsewhere(db_url: str, sql: str, **params) -> None:
    """A change made by another process: plain SQL on its own engine, no ORM events here."""
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(sql), params)
    engine.dispose()


def test_a_warm_request_skips_the_key_lookup(db, users, clock):
    _, key = users("user")
    client = function_client("gdpr")
    with key_lookups() as lookups:
        assert client.get("/v1/me/consents", headers=auth(key)).status_code == 200
        assert len(lookups) == 1
        clock.now += 1.9
        assert client.get("/v1/me/consents", headers=auth(key)).status_code == 200
        assert len(lookups) == 1
        clock.now += 0.2  # past AUTH_CACHE_SECONDS (2 s by default): looked up again
        assert client.get("/v1/me/consents", headers=auth(key)).status_code == 200
        assert len(lookups) == 2


def test_cache_off_looks_up_every_request(db, users, env):
    env(auth_cache_seconds="0")
    _, key = users("user")
    client = function_client("gdpr")
    with key_lookups() as lookups:
        for _ in range(3):
            assert client.get("/v1/me/consents", headers=auth(key)).status_code == 200
    assert len(lookups) == 3


def test_bad_keys_are_never_cached(db, users):
    _, key = users("user")
    client = function_client("gdpr")
    wrong = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    with key_lookups() as lookups:
        for _ in range(2):
            assert client.get("/v1/me/consents", headers=auth(wrong)).status_code == 401
    assert len(lookups) == 2


def test_revocation_in_this_process_is_seen_at_once(db, users, clock):
    _, key = users("user")
    client = function_client("gdpr")
    assert client.get("/v1/me/consents", headers=auth(key)).status_code == 200
    with session_scope() as s:
        revoke_key(s, key.split("_")[1])
    assert client.get("/v1/me/consents", headers=auth(key)).status_code == 401


def test_role_change_and_restriction_in_this_process_are_seen_at_once(db, users, clock):
    user_id, key = users("admin")
    client = function_client("gdpr")
    assert client.get("/v1/me/consents", headers=auth(key)).status_code == 200
    from shared.auth import authenticate

    assert authenticate(f"Bearer {key}").role == "admin"
    with session_scope() as s:
        s.get(User, user_id).role = "user"
    assert authenticate(f"Bearer {key}").role == "user"
    assert client.post("/v1/me/restriction", headers=auth(key)).status_code == 204
    assert authenticate(f"Bearer {key}").restricted_at is not None


def test_erasure_in_this_process_is_seen_at_once(db, users, clock):
    _, key = users("user")
    client = function_client("gdpr")
    assert client.get("/v1/me/consents", headers=auth(key)).status_code == 200
    resp = client.delete("/v1/me", json={"confirm": "erase my data"}, headers=auth(key))
    assert resp.status_code == 200, resp.get_json()
    assert client.get("/v1/me/consents", headers=auth(key)).status_code == 401


def test_revocation_by_another_process_is_seen_within_the_cache_time(db, users, clock):
    _, key = users("user")
    client = function_client("gdpr")
    assert client.get("/v1/me/consents", headers=auth(key)).status_code == 200
    _elsewhere(db.url, "UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE prefix = :p", p=key.split("_")[1])
    clock.now += 2.01
    assert client.get("/v1/me/consents", headers=auth(key)).status_code == 401


def test_a_lookup_racing_a_revocation_is_not_stored(db, users, clock):
    _, key = users("user")
    from shared.auth import authenticate

    original = key_cache.put

    def revoke_meanwhile(*args, **kwargs):  # the revocation commits between lookup and store
        with session_scope() as s:
            revoke_key(s, key.split("_")[1])
        return original(*args, **kwargs)

    key_cache.put = revoke_meanwhile
    try:
        authenticate(f"Bearer {key}")
    finally:
        key_cache.put = original
    with pytest.raises(Exception, match="invalid or revoked"):
        authenticate(f"Bearer {key}")
