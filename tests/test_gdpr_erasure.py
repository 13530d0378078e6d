"""Erasure (Art. 17): everything about the person goes, provably, in one transaction."""

import pytest
from sqlalchemy import func, select

from shared.audit import auth_failures
from shared import erasure as erasure_ledger
from shared.erasure import rows as erasure_rows
from shared.database import session_scope
from shared.models import Alert, ApiKey, AuditEntry, ContentItem, Erasure, RateLimitCounter, UsageEvent, User
from shared.pseudonyms import pseudonym
from tests.conftest import auth
from tests.gdpr_seed import ledger_totals, occurrences, seed_person, seed_unrelated, table_counts

CONFIRM = {"confirm": "erase my data"}


@pytest.fixture
def two_people(db, users):
    alice_id, alice_key = users("user", "alice@example.org")
    bob_id, bob_key = users("user", "bob.alice@example.org")  # contains alice's address as a substring
    alice = seed_person(alice_id, "alice")
    bob = seed_person(bob_id, "bob")
    seed_unrelated()
    return {"alice": (alice_id, alice_key, alice), "bob": (bob_id, bob_key, bob)}


def _terms(person) -> list[str]:
    user_id, _, seeded = person
    return [user_id, *seeded["key_ids"]]


def test_erasure_removes_every_trace_and_keeps_ledger_totals(db, two_people, client_for):
    client = client_for("gdpr")
    alice_id, alice_key, alice = two_people["alice"]
    bob_id, bob_key, bob = two_people["bob"]
    totals_before = ledger_totals()
    assert occurrences(db.url, _terms(two_people["alice"]))  # the scan does see the data before
    bob_before = occurrences(db.url, _terms(two_people["bob"]))
    counts_before = table_counts(db.url)

    resp = client.delete("/v1/me", json=CONFIRM, headers=auth(alice_key))
    assert resp.status_code == 200, resp.get_json()
    receipt = resp.get_json()
    assert set(receipt) == {"erasure_id", "erased_at", "deleted", "verified"}
    assert receipt["verified"] is True
    assert receipt["deleted"] == {
        "feedback": 1, "content_items": 3, "consent_events": 1, "consents": 1, "idempotency_records": 1,
        # 4 seeded + the minute counter the rate limiter kept for this very request
        "rate_limit_counters": 5, "spend_totals": 0, "api_keys": 2, "users": 1,
    }

    # SQL proof over every column of every table in the database, not just the models.
    assert occurrences(db.url, _terms(two_people["alice"]) + ["alice@example.org"]) == {
        # bob's address contains alice's as a substring: the only hit, and it is bob's row
        "users.email": 1,
    }
    with session_scope() as s:
        assert s.scalar(select(User.email).where(User.email.like("%alice@example.org"))) == "bob.alice@example.org"
    assert ledger_totals() == totals_before
    with session_scope() as s:
        assert s.scalar(select(func.count()).where(UsageEvent.user_id.is_(None))) == 4
        ledger = s.scalar(select(Erasure))
        assert ledger.subject == pseudonym(alice_id) and ledger.id == receipt["erasure_id"]
        assert ledger.deleted == receipt["deleted"] and ledger.requested_by == "self"
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "gdpr.erasure"))
        assert entry.subject == pseudonym(alice_id) and entry.actor == pseudonym(alice_id)
        assert "@" not in str(entry.details) and entry.details["anonymised"]["usage_events"] == 4
    # bob untouched
    assert occurrences(db.url, _terms(two_people["bob"])) == bob_before
    counts_after = table_counts(db.url)
    assert counts_after["users"] == counts_before["users"] - 1
    assert counts_after["usage_events"] == counts_before["usage_events"]
    assert client.get("/v1/me", headers=auth(bob_key)).status_code == 200
    # alice's keys are dead, a second erasure cannot find her
    assert client.get("/v1/me/export", headers=auth(alice_key)).status_code == 401
    again = client.delete("/v1/me", json=CONFIRM, headers=auth(alice_key))
    assert again.status_code == 401 and "WWW-Authenticate" in again.headers


def test_admin_erases_on_behalf_and_second_time_is_404(db, two_people, users, client_for):
    client = client_for("gdpr")
    admin_id, admin_key = users("admin")
    alice_id = two_people["alice"][0]
    resp = client.delete(f"/v1/users/{alice_id}", json=CONFIRM, headers=auth(admin_key))
    assert resp.status_code == 200 and resp.get_json()["verified"] is True
    with session_scope() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "gdpr.erasure"))
        assert entry.actor == pseudonym(admin_id) and entry.subject == pseudonym(alice_id)
        assert entry.actor_role == "admin" and entry.details["requested_by"] == "admin"
        assert s.scalar(select(Erasure.requested_by)) == "admin"
    again = client.delete(f"/v1/users/{alice_id}", json=CONFIRM, headers=auth(admin_key))
    assert again.status_code == 404
    assert again.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("body", [None, {}, {"confirm": "yes"}, {"confirm": "erase my data", "x": 1},
                                  {"confirm": "ERASE MY DATA"}])
def test_erasure_needs_the_exact_confirmation(db, two_people, client_for, body):
    client = client_for("gdpr")
    _, key, _ = two_people["alice"]
    resp = client.delete("/v1/me", json=body, headers=auth(key)) if body is not None else \
        client.delete("/v1/me", headers=auth(key))
    assert resp.status_code == 422
    assert resp.get_json()["errors"]
    assert client.get("/v1/me", headers=auth(key)).status_code == 200


def test_malformed_body_is_400(db, two_people, client_for):
    _, key, _ = two_people["alice"]
    resp = client_for("gdpr").delete("/v1/me", data="{nope", content_type="application/json", headers=auth(key))
    assert resp.status_code == 400


# Every request is counted by the rate limiter (and may be measured), and the metrics writer
# samples the instance whenever it is due: those rows are the middleware's and the writer's,
# not the erasure's, so the all-or-nothing comparisons leave them out.
_PER_REQUEST = ("rate_limit_counters", "request_metrics", "instance_samples")


def _snapshot(url):
    counts = {t: n for t, n in table_counts(url).items() if t not in _PER_REQUEST}
    return counts, ledger_totals()


def _counters_of(person):
    user_id, _, seeded = person
    with session_scope() as s:
        buckets = list(s.scalars(select(RateLimitCounter.bucket)))
    return sorted(b for b in buckets if any(t in b for t in [user_id, *seeded["key_ids"]]))


def test_failure_halfway_changes_nothing(db, two_people, client_for, monkeypatch):
    """Force an error after the first deletes (feedback, content...): all or nothing."""
    client = client_for("gdpr")
    alice_id, alice_key, alice = two_people["alice"]
    before = _snapshot(db.url)
    alice_before = occurrences(db.url, _terms(two_people["alice"]), exclude=_PER_REQUEST)
    counters_before = _counters_of(two_people["alice"])
    calls = []

    def broken(session, user_id):
        # the earlier deletes really ran inside the transaction
        calls.append(session.scalar(select(func.count()).select_from(ContentItem).where(ContentItem.user_id == alice_id)))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(erasure_rows, "_unlink_usage", broken)
    resp = client.delete("/v1/me", json=CONFIRM, headers=auth(alice_key))
    assert resp.status_code == 500
    body = resp.get_json()
    assert "erasure_id" not in body and "disk on fire" not in resp.get_data(as_text=True)
    assert calls == [0]  # content was already deleted inside the transaction when it failed
    assert _snapshot(db.url) == before
    assert occurrences(db.url, _terms(two_people["alice"]), exclude=_PER_REQUEST) == alice_before
    assert set(counters_before) <= set(_counters_of(two_people["alice"]))  # plus this request's
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Erasure)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "gdpr.erasure")) == 0
    assert client.get("/v1/me", headers=auth(alice_key)).status_code == 200


def test_unverifiable_erasure_rolls_back_with_500(db, two_people, client_for):
    """Personal data the erasure does not know about (here in an alert) blocks it: nothing changes."""
    client = client_for("gdpr")
    alice_id, alice_key, _ = two_people["alice"]
    with session_scope() as s:
        s.add(Alert(rule="budget", severity="info", message="over budget", details={"user": alice_id}))
    before = _snapshot(db.url)
    resp = client.delete("/v1/me", json=CONFIRM, headers=auth(alice_key))
    assert resp.status_code == 500
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert alice_id not in resp.get_data(as_text=True)
    counts, totals = _snapshot(db.url)
    assert totals == before[1]
    assert counts == before[0] | {"audit_log": before[0]["audit_log"] + 1}
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Erasure)) == 0
        refusal = s.scalar(select(AuditEntry).where(AuditEntry.action == "gdpr.erasure.unverified"))
        assert refusal.details["columns"] == ["alerts.details"] and refusal.subject == pseudonym(alice_id)


def test_residue_scan_matches_whole_identifiers_only(db, users):
    alice_id, _ = users("user", "ann@example.org")
    users("user", "joann@example.org")
    with session_scope() as s:
        ids = erasure_ledger.identifiers(s, alice_id)
        assert [str(r) for r in erasure_ledger.find_residue(s, ids)] == [
            "api_keys.id", "api_keys.user_id", "users.email", "users.id"]
        erasure_ledger.erase_rows(s, ids)
        assert erasure_ledger.find_residue(s, ids) == []
        s.add(Alert(rule="r", severity="info", message="mail ANN@example.org now", details={}))
        assert [str(r) for r in erasure_ledger.find_residue(s, ids)] == ["alerts.message"]
        s.rollback()


def test_reapply_erasures_on_a_restored_database(db, two_people, client_for):
    """A backup older than the erasure still holds the person: the ledger re-applies it."""
    alice_id, alice_key, _ = two_people["alice"]
    bob_id = two_people["bob"][0]
    subject = pseudonym(alice_id)
    with session_scope() as s:  # nothing to do while nobody erased is present
        assert erasure_ledger.replay_erasures(s).subjects == []
    with session_scope() as s:  # pseudonyms are keyed: under another secret nobody here is erased
        assert erasure_ledger.replay_erasures(s, [subject], secret="another-secret").subjects == []
        assert s.get(User, alice_id) is not None
        s.rollback()
    with session_scope() as s:  # the live ledger says alice was erased; this "restored" db still has her
        replay = erasure_ledger.replay_erasures(s, [subject])
        assert replay.subjects == [subject] and replay.residue == []
    with session_scope() as s:
        assert s.get(User, alice_id) is None and s.get(User, bob_id) is not None
        assert s.scalar(select(Erasure.requested_by).where(Erasure.subject == subject)) == "restore"
        assert erasure_ledger.replay_erasures(s).subjects == []
    assert occurrences(db.url, _terms(two_people["alice"])) == {}


def test_erasure_also_drops_redis_counters(db, users, client_for, env):
    import redis

    from shared.models import utcnow
    from shared.ratelimit import daily_generation_bucket, minute_bucket
    from tests.conftest import REDIS_TEST_URL

    alice_id, alice_key = users("user")
    bob_id, _ = users("user")
    with session_scope() as s:
        key_id = s.scalar(select(ApiKey.id).where(ApiKey.user_id == alice_id))
    r = redis.Redis.from_url(REDIS_TEST_URL)
    now = utcnow()
    mine = [minute_bucket(alice_id, key_id, "generate", now)[0], daily_generation_bucket(alice_id, now)[0]]
    other = daily_generation_bucket(bob_id, now)[0]
    for k in mine + [other]:
        r.set(k, 1, ex=120)
    try:
        env(redis_url=REDIS_TEST_URL)
        resp = client_for("gdpr").delete("/v1/me", json=CONFIRM, headers=auth(alice_key))
        assert resp.status_code == 200
        assert [r.exists(k) for k in mine] == [0, 0] and r.exists(other) == 1
    finally:
        r.delete(*mine, other)


def test_erasure_over_a_real_server(db, users, function_server):
    import requests

    _, key = users("user")
    server = function_server("gdpr", env={"DATABASE_URL": db.url})
    resp = requests.delete(server.url + "/v1/me", json=CONFIRM, headers=auth(key), timeout=20)
    assert resp.status_code == 200 and resp.json()["verified"] is True
    assert requests.get(server.url + "/v1/me", headers=auth(key), timeout=20).status_code == 401


def test_failed_logins_recorded_by_key_prefix_do_not_block_erasure(db, users, client_for):
    """Auth failures are audited as `key:<prefix>`: a public handle, not the person; erasure proceeds."""
    client = client_for("gdpr")
    user_id, key = users("user")
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert client.get("/v1/me", headers=auth(wrong)).status_code == 401
    auth_failures.flush()  # what the writer thread does within seconds
    with session_scope() as s:
        assert s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "auth.failed")).startswith("key:")
    resp = client.delete("/v1/me", json=CONFIRM, headers=auth(key))
    assert resp.status_code == 200 and resp.get_json()["verified"] is True
