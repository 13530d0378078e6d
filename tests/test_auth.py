"""API keys: random, prefixed, shown once, hashed, revocable; auth fails closed."""

from sqlalchemy import select

from shared.database import session_scope
from shared.identity import create_key, create_user, revoke_key, verify_key
from shared.models import ApiKey
from tests.conftest import auth


def test_key_is_stored_only_as_hash(db, users):
    user_id, key = users("user")
    assert key.startswith("lf_") and len(key) > 50
    with session_scope() as s:
        row = s.scalar(select(ApiKey).where(ApiKey.user_id == user_id))
        stored = [str(v) for v in (row.prefix, row.key_hash, row.name, row.id)]
    assert all(key not in v for v in stored) and key.split("_", 2)[2] not in row.key_hash
    assert len(row.key_hash) == 64


def test_verify_revoke_and_last_used(db, users):
    user_id, key = users("user")
    with session_scope() as s:
        found = verify_key(s, key)
        assert found is not None and found[1].id == user_id
        assert found[0].last_used_at is not None
        assert verify_key(s, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        assert verify_key(s, "lf_nothex______" + "x" * 40) is None
        assert verify_key(s, "") is None
    with session_scope() as s:
        revoke_key(s, found[0].prefix)
    with session_scope() as s:
        assert verify_key(s, key) is None


def test_two_keys_for_one_user_are_distinct(db):
    with session_scope() as s:
        user = create_user(s, "Two.Keys@Example.org")
        assert user.email == "two.keys@example.org"
        a, b = create_key(s, user.id), create_key(s, user.id)
    assert a.api_key != b.api_key and a.prefix != b.prefix


def test_health_details_need_ops_or_admin_key(db, users, client_for):
    client = client_for("health")
    _, user_key = users("user")
    _, ops_key = users("ops")
    anon = client.get("/health").get_json()
    as_user = client.get("/health", headers=auth(user_key)).get_json()
    as_ops = client.get("/health", headers=auth(ops_key)).get_json()
    db_check = lambda body: body["checks"]["database:responseTime"][0]  # noqa: E731
    assert "observedValue" not in db_check(anon) and "observedValue" not in db_check(as_user)
    assert "observedValue" in db_check(as_ops)
    assert "output" in as_ops["checks"]["backups:age"][0]
    assert "output" not in anon["checks"]["backups:age"][0]
