"""GDPR rights against data written by the real generate function and middleware."""

import json

from sqlalchemy import func, select

from shared.database import session_scope
from shared.metrics import recorder
from shared.models import ContentItem, RequestMetric, UsageEvent
from tests.conftest import auth
from tests.gdpr_seed import ledger_totals, occurrences

BODY = {"content_type": "flashcards", "topic": "Photosynthesis in plants", "audience": "middle_school"}
CONFIRM = {"confirm": "erase my data"}


def test_restriction_stops_generation_until_lifted(db, users, client_for):
    gdpr, generate = client_for("gdpr"), client_for("generate")
    _, key = users("user")
    assert gdpr.post("/v1/me/restriction", headers=auth(key)).status_code == 204
    refused = generate.post("/v1/content", json=BODY, headers=auth(key))
    assert refused.status_code == 403 and "restricted" in refused.get_json()["detail"].lower()
    assert gdpr.delete("/v1/me/restriction", headers=auth(key)).status_code == 204
    assert generate.post("/v1/content", json=BODY, headers=auth(key)).status_code == 201


def test_admin_restriction_applies_to_the_user(db, users, client_for):
    gdpr, generate = client_for("gdpr"), client_for("generate")
    _, admin_key = users("admin")
    user_id, key = users("user")
    assert gdpr.post(f"/v1/users/{user_id}/restriction", headers=auth(admin_key)).status_code == 204
    assert generate.post("/v1/content", json=BODY, headers=auth(key)).status_code == 403


def test_export_then_erase_what_generate_wrote(db, users, client_for):
    """Consent, generate (with an idempotency key), feedback, metrics: export it all, then erase it all."""
    gdpr, generate = client_for("gdpr"), client_for("generate")
    user_id, key = users("user", "writer@example.org")
    other_id, other_key = users("user")
    recorder.discard()
    assert gdpr.put("/v1/me/consents/analytics", json={"granted": True}, headers=auth(key)).status_code == 200
    items = [generate.post("/v1/content", json=BODY, headers={**auth(key), "Idempotency-Key": "one"}).get_json(),
             generate.post("/v1/content", json={**BODY, "topic": "Volcanoes"}, headers=auth(key)).get_json()]
    assert generate.post(f"/v1/content/{items[0]['id']}/feedback", json={"rating": 5, "comment": "great"},
                         headers=auth(key)).status_code == 201
    assert generate.post("/v1/content", json=BODY, headers=auth(other_key)).status_code == 201
    recorder.flush()
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(RequestMetric).where(RequestMetric.user_id == user_id)) > 0
        assert s.scalar(select(func.count()).select_from(UsageEvent).where(UsageEvent.user_id == user_id)) >= 2

    doc = json.loads(gdpr.get("/v1/me/export", headers=auth(key)).get_data())
    exported = {c["id"]: c for c in doc["content"]}
    for item in items:
        stored = generate.get(f"/v1/content/{item['id']}", headers=auth(key)).get_json()
        assert exported[item["id"]]["content"] == stored["content"]
        assert exported[item["id"]]["quality"]["overall"] == stored["quality"]["overall"]
        assert exported[item["id"]]["provider"] == stored["provider"] == "mock"
    assert [f["rating"] for f in doc["feedback"]] == [5]
    assert {u["content_id"] for u in doc["usage"]} >= set(exported)

    totals = ledger_totals()
    resp = gdpr.delete("/v1/me", json=CONFIRM, headers=auth(key))
    assert resp.status_code == 200, resp.get_json()
    deleted = resp.get_json()["deleted"]
    assert deleted["content_items"] == 2 and deleted["feedback"] == 1 and deleted["idempotency_records"] == 1
    assert deleted["rate_limit_counters"] >= 1 and deleted["consents"] == 1
    recorder.flush()  # records still buffered for the erased user are written unlinked
    assert occurrences(db.url, [user_id, "writer@example.org"]) == {}
    assert ledger_totals() == totals
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(ContentItem).where(ContentItem.user_id == other_id)) == 1
    assert generate.get("/v1/content", headers=auth(key)).status_code == 401
    assert generate.get("/v1/content", headers=auth(other_key)).status_code == 200
