"""Export (Art. 15, 20): one streamed JSON document that matches what is stored."""

import json

from sqlalchemy import select

from shared.database import session_scope
from shared.models import AuditEntry, ContentItem, Feedback, UsageEvent
from shared.pseudonyms import pseudonym
from tests.conftest import auth
from tests.gdpr_seed import seed_person, seed_unrelated

KEYS = {"format_version", "exported_at", "user", "content", "feedback", "usage", "consents", "audit"}


def test_export_matches_what_is_stored(db, users, client_for):
    client = client_for("gdpr")
    alice_id, alice_key = users("user", "alice@example.org")
    bob_id, _ = users("user", "bob@example.org")
    alice = seed_person(alice_id, "alice")
    seed_person(bob_id, "bob")
    seed_unrelated()

    resp = client.get("/v1/me/export", headers=auth(alice_key))
    assert resp.status_code == 200
    assert resp.is_streamed
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Cache-Control"] == "no-store" and "X-Request-ID" in resp.headers
    doc = json.loads(resp.get_data())
    assert set(doc) == KEYS
    assert doc["user"]["id"] == alice_id and doc["user"]["email"] == "alice@example.org"
    assert sorted(k["id"] for k in doc["user"]["api_keys"]) == sorted(alice["key_ids"])
    assert all("hash" not in k and "key_hash" not in k for k in doc["user"]["api_keys"])
    assert "bob" not in json.dumps(doc)

    with session_scope() as s:
        stored = {c.id: c for c in s.scalars(select(ContentItem).where(ContentItem.user_id == alice_id))}
        feedback = list(s.scalars(select(Feedback).where(Feedback.user_id == alice_id)))
        usage = list(s.scalars(select(UsageEvent).where(UsageEvent.user_id == alice_id)))
        audit_n = len(list(s.scalars(select(AuditEntry).where(AuditEntry.subject == pseudonym(alice_id)))))
    assert {c["id"] for c in doc["content"]} == set(stored) == set(alice["content_ids"])
    for item in doc["content"]:
        row = stored[item["id"]]
        assert item["topic"] == row.topic and item["content"] == row.content and item["quality"] == row.quality
        assert item["request"] == row.request and item["provider"] == row.provider
        assert item["usage"] == {"input_tokens": row.input_tokens, "output_tokens": row.output_tokens,
                                 "cached_input_tokens": row.cached_input_tokens,
                                 "reasoning_tokens": row.reasoning_tokens, "cost_usd": float(row.cost_usd)}
        assert item["cached"] is row.cached
        assert item["created_at"] == row.created_at.isoformat()
    assert [f["comment"] for f in doc["feedback"]] == [f.comment for f in feedback] == ["useful (alice)"]
    assert sorted(u["id"] for u in doc["usage"]) == sorted(u.id for u in usage) and len(usage) == 4
    assert sum(u["cost_usd"] or 0 for u in doc["usage"]) == float(sum(u.cost_usd or 0 for u in usage))
    assert doc["consents"]["current"]["analytics"]["granted"] is True
    assert doc["consents"]["current"]["marketing"] == {"granted": False, "updated_at": None}
    assert [(e["purpose"], e["granted"], e["actor_role"]) for e in doc["consents"]["history"]] == [
        ("analytics", True, "self")]
    # the seeded entry plus the audit entry of this very export
    assert len(doc["audit"]) == audit_n == 2
    assert {a["action"] for a in doc["audit"]} == {"auth.key_created", "gdpr.export"}
    assert all(a["actor"] == "self" for a in doc["audit"])


def test_export_of_a_user_without_data_is_valid(db, users, client_for):
    _, key = users("ops")
    doc = client_for("gdpr").get("/v1/me/export", headers=auth(key)).get_json()
    assert doc["content"] == doc["feedback"] == doc["usage"] == []
    assert set(doc["consents"]["current"]) >= {"analytics"}


def test_large_export_streams_in_chunks(db, users, client_for):
    alice_id, key = users("user")
    from tests.gdpr_seed import content_row

    with session_scope() as s:
        s.add_all(content_row(alice_id, i) for i in range(1200))
    resp = client_for("gdpr").get("/v1/me/export", headers=auth(key), buffered=False)
    chunks = list(resp.response)
    resp.close()
    assert len(chunks) > 5  # written incrementally, not as one string
    doc = json.loads(b"".join(chunks))
    assert len(doc["content"]) == 1200 and len({c["id"] for c in doc["content"]}) == 1200


def test_admin_exports_on_behalf_and_is_audited(db, users, client_for):
    client = client_for("gdpr")
    admin_id, admin_key = users("admin")
    alice_id, _ = users("user")
    doc = client.get(f"/v1/users/{alice_id}/export", headers=auth(admin_key)).get_json()
    assert doc["user"]["id"] == alice_id
    assert doc["audit"][0]["actor"] == "admin" and pseudonym(admin_id) not in json.dumps(doc)
    with session_scope() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "gdpr.export"))
        assert entry.actor == pseudonym(admin_id) and entry.subject == pseudonym(alice_id)


def test_export_over_a_real_server(db, users, function_server):
    import requests

    _, key = users("user")
    server = function_server("gdpr", env={"DATABASE_URL": db.url})
    resp = requests.get(server.url + "/v1/me/export", headers=auth(key), timeout=20)
    assert resp.status_code == 200 and set(resp.json()) == KEYS
    bad = requests.get(server.url + "/v1/me/export", headers=auth(key + "x"), timeout=20)
    assert bad.status_code == 401 and bad.headers["Content-Type"] == "application/problem+json"


def test_database_failure_before_streaming_is_a_clean_problem(db, users, client_for, monkeypatch):
    import psycopg
    from sqlalchemy.exc import OperationalError

    from functions.gdpr import export

    _, key = users("user")

    def down():  # what the driver raises when no server answers (no SQLSTATE: shared.database.is_outage)
        raise OperationalError("connect", {}, psycopg.OperationalError("connection failed: connection refused"))

    monkeypatch.setattr(export, "_open_snapshot", down)
    resp = client_for("gdpr").get("/v1/me/export", headers=auth(key))
    assert resp.status_code == 503 and resp.headers["Content-Type"] == "application/problem+json"
    assert "Retry-After" in resp.headers


def test_failure_mid_stream_never_yields_a_valid_document(db, users, client_for, monkeypatch):
    import pytest

    from functions.gdpr import export

    alice_id, key = users("user")
    seed_person(alice_id, "alice")

    def broken(row):
        raise RuntimeError("bad row")

    monkeypatch.setattr(export, "render_feedback", broken)
    resp = client_for("gdpr").get("/v1/me/export", headers=auth(key), buffered=False)
    assert resp.status_code == 200  # already committed to the status when the failure happens
    received = b""
    with pytest.raises(RuntimeError):
        for chunk in resp.response:
            received += chunk
    resp.close()
    with pytest.raises(ValueError):
        json.loads(received)
