"""The generate function's HTTP contract with the mock provider: types, storage, access, idempotency."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from functions.generate import content_types
from tests.conftest import auth

BODY = {"content_type": "study_guide", "topic": "Photosynthesis in plants", "audience": "middle_school",
        "learning_objectives": ["Explain the light reactions"], "additional_requirements": "Use one diagram idea.",
        "language": "en"}


def _post(client, key, body=BODY, **headers):
    return client.post("/v1/content", json=body, headers={**auth(key), **headers})


def _check_schema(instance, schema):
    """A small JSON Schema check for what pydantic emits: types, required, enums, counts, patterns, $refs."""
    import re

    defs = schema.get("$defs", {})

    def check(value, node, path):
        if "$ref" in node:
            return check(value, defs[node["$ref"].rsplit("/", 1)[1]], path)
        kind = node.get("type")
        if kind == "object":
            assert isinstance(value, dict), path
            for name in node.get("required", []):
                assert name in value, f"{path}.{name} missing"
            if node.get("additionalProperties") is False:
                assert set(value) <= set(node["properties"]), path
            for name, sub in node.get("properties", {}).items():
                if name in value:
                    check(value[name], sub, f"{path}.{name}")
        elif kind == "array":
            assert isinstance(value, list), path
            assert node.get("minItems", 0) <= len(value) <= node.get("maxItems", 10**9), path
            for i, v in enumerate(value):
                check(v, node["items"], f"{path}[{i}]")
        elif kind == "string":
            assert isinstance(value, str) and node.get("minLength", 0) <= len(value) <= node.get("maxLength", 10**9), path
            if "pattern" in node:
                assert re.search(node["pattern"], value), path
            if "enum" in node:
                assert value in node["enum"], path
        elif kind == "integer":
            assert isinstance(value, int), path
        elif kind == "number":
            assert isinstance(value, (int, float)), path
            if "exclusiveMinimum" in node:
                assert value > node["exclusiveMinimum"], path
        if "enum" in node:
            assert value in node["enum"], path

    check(instance, schema, "$")


def test_content_types_lists_the_eight_with_schemas(db, users, client_for):
    _, key = users("ops")
    resp = client_for("generate").get("/v1/content-types", headers=auth(key))
    assert resp.status_code == 200
    listed = resp.get_json()["content_types"]
    assert [t["id"] for t in listed] == list(content_types.CONTENT_TYPES)
    assert all(t["name"] and t["description"] and t["schema"]["type"] == "object" for t in listed)
    outline = next(t for t in listed if t["id"] == "master_content_outline")["schema"]
    assert outline["properties"]["sections"]["minItems"] == 3 and outline["properties"]["sections"]["maxItems"] == 15
    assert client_for("generate").get("/v1/content-types").status_code == 401


@pytest.mark.parametrize("ctype", list(content_types.CONTENT_TYPES))
def test_every_type_with_mock_matches_its_published_schema_and_is_scored_honestly(ctype, db, users, client_for):
    _, key = users()
    client = client_for("generate")
    schema = next(t for t in client.get("/v1/content-types", headers=auth(key)).get_json()["content_types"]
                  if t["id"] == ctype)["schema"]
    resp = _post(client, key, {**BODY, "content_type": ctype})
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()
    _check_schema(item["content"], schema)
    # The mock's template text is scored like any provider's (it does not know the gate): a document
    # failing confidently is regenerated, at most 3 generations, and the best one is returned with its
    # real score and the reasons it failed.
    quality = item["quality"]
    assert set(quality) == {"overall", "passed", "dimensions", "thresholds", "factual_verified", "not_assessed",
                            "judge", "reasons"}
    failing = {k for k, v in quality["dimensions"].items()
               if v < quality["thresholds"].get(k, quality["thresholds"]["overall"])}
    assert bool(quality["reasons"]) == (not quality["passed"])
    assert failing <= {r["dimension"] for r in quality["reasons"]} or quality["passed"]
    assert all(set(r) == {"dimension", "finding"} and r["finding"] for r in quality["reasons"])
    assert {"structure", "readability", "coverage", "educational_value", "engagement", "factual"} <= set(
        quality["dimensions"])
    assert quality["passed"] == (quality["overall"] >= quality["thresholds"]["overall"]
                                 and quality["dimensions"]["educational_value"] >= quality["thresholds"]["educational_value"]
                                 and quality["dimensions"]["factual"] >= quality["thresholds"]["factual"])
    assert quality["factual_verified"] is False and quality["judge"] is None  # the mock is never a judge
    assert item["provider"] == "mock" and item["model"] == "mock-1"
    assert item["attempts"] == 1 if quality["passed"] else 1 <= item["attempts"] <= 3
    assert item["usage"]["cost_usd"] == 0 and item["usage"]["input_tokens"] > 0
    assert set(item) == {"id", "content_type", "topic", "audience", "content", "quality", "provider", "model",
                         "usage", "attempts", "cached", "created_at"}
    assert resp.headers["Location"] == f"/v1/content/{item['id']}"
    assert client.get(f"/v1/content/{item['id']}", headers=auth(key)).get_json() == item


def test_item_and_ledger_are_stored_with_prompt_version(db, users, client_for):
    from sqlalchemy import select

    from functions.generate.prompts import PROMPT_VERSION
    from shared.database import session_scope
    from shared.models import ContentItem, UsageEvent

    uid, key = users()
    item = _post(client_for("generate"), key).get_json()
    with session_scope() as s:
        row = s.get(ContentItem, item["id"])
        assert row.prompt_version == PROMPT_VERSION and row.user_id == uid
        assert row.quality_passed == item["quality"]["passed"] and row.quality == item["quality"]
        events = list(s.execute(select(UsageEvent).order_by(UsageEvent.attempt)).scalars())
        assert len(events) == item["attempts"]
        expected = ["success"] if item["quality"]["passed"] else ["low_quality"] * 3
        assert [(e.user_id, e.provider, e.outcome) for e in events] == [(uid, "mock", o) for o in expected]
        assert events[-1].content_id == item["id"]
        assert all(e.cost_known and e.cost_usd == 0 for e in events)


@pytest.mark.parametrize("body, field", [
    ({**BODY, "content_type": "poem"}, "content_type"),
    ({**BODY, "topic": "ab"}, "topic"),
    ({**BODY, "topic": "x" * 501}, "topic"),
    ({**BODY, "topic": "bad\x00topic"}, "topic"),
    ({**BODY, "audience": "toddlers"}, "audience"),
    ({**BODY, "learning_objectives": ["o"] * 11}, "learning_objectives"),
    ({**BODY, "additional_requirements": "r" * 1001}, "additional_requirements"),
    ({**BODY, "language": "english!"}, "language"),
    ({**BODY, "surprise": 1}, "surprise"),
])
def test_bad_requests_are_422_listing_the_field(body, field, db, users, client_for):
    _, key = users()
    resp = _post(client_for("generate"), key, body)
    assert resp.status_code == 422
    assert any(e["field"].startswith(field) for e in resp.get_json()["errors"])


def test_malformed_json_is_400_and_roles(db, users, client_for):
    client = client_for("generate")
    _, key = users()
    resp = client.post("/v1/content", data="{nope", headers={**auth(key), "Content-Type": "application/json"})
    assert resp.status_code == 400
    assert client.post("/v1/content", json=BODY).status_code == 401
    _, ops = users("ops")
    assert _post(client, ops).status_code == 403
    assert client.get("/v1/content", headers=auth(ops)).status_code == 403


def test_restricted_user_gets_403_with_reason(db, users, client_for):
    from shared.database import session_scope
    from shared.models import User, utcnow

    uid, key = users()
    with session_scope() as s:
        s.get(User, uid).restricted_at = utcnow()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 403 and "restricted" in resp.get_json()["detail"]


def test_access_other_users_content_is_404(db, users, client_for):
    client = client_for("generate")
    _, a = users()
    _, b = users()
    _, admin = users("admin")
    item = _post(client, a).get_json()
    path = f"/v1/content/{item['id']}"
    assert client.get(path, headers=auth(b)).status_code == 404
    assert client.delete(path, headers=auth(b)).status_code == 404
    assert client.post(path + "/feedback", json={"rating": 5}, headers=auth(b)).status_code == 404
    assert client.get("/v1/content", headers=auth(b)).get_json() == {"items": [], "next_cursor": None}
    assert client.post(path + "/feedback", json={"rating": 5}, headers=auth(admin)).status_code == 404  # owner only
    assert client.get(path, headers=auth(admin)).status_code == 200
    assert client.get(f"/v1/content/{uuid.uuid4()}", headers=auth(a)).status_code == 404
    assert client.get("/v1/content/not-a-uuid", headers=auth(a)).status_code == 404
    assert client.get(path, headers=auth(a)).status_code == 200


def test_delete_by_owner_and_admin(db, users, client_for):
    client = client_for("generate")
    _, a = users()
    _, admin = users("admin")
    first = _post(client, a).get_json()
    second = _post(client, a).get_json()
    client.post(f"/v1/content/{first['id']}/feedback", json={"rating": 4}, headers=auth(a))
    assert client.delete(f"/v1/content/{first['id']}", headers=auth(a)).status_code == 204
    assert client.get(f"/v1/content/{first['id']}", headers=auth(a)).status_code == 404
    assert client.delete(f"/v1/content/{second['id']}", headers=auth(admin)).status_code == 204
    assert client.delete(f"/v1/content/{second['id']}", headers=auth(a)).status_code == 404


def test_feedback(db, users, client_for):
    client = client_for("generate")
    _, a = users()
    item = _post(client, a).get_json()
    path = f"/v1/content/{item['id']}/feedback"
    resp = client.post(path, json={"rating": 5, "comment": "Clear and useful."}, headers=auth(a))
    assert resp.status_code == 201
    assert {k: resp.get_json()[k] for k in ("rating", "comment")} == {"rating": 5, "comment": "Clear and useful."}
    assert client.post(path, json={"rating": 2}, headers=auth(a)).get_json()["comment"] is None
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": 3, "comment": "x\x00"}, {"rating": 3, "x": 1}):
        assert client.post(path, json=bad, headers=auth(a)).status_code == 422


def test_list_is_newest_first_with_opaque_cursor_and_filter(db, users, client_for):
    client = client_for("generate")
    _, a = users()
    _, b = users()
    made = [_post(client, a, {**BODY, "content_type": ct}).get_json()["id"]
            for ct in ("flashcards", "faq_collection", "flashcards", "flashcards", "faq_collection")]
    _post(client, b)
    seen, cursor = [], None
    while True:
        url = "/v1/content?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=auth(a)).get_json()
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert all(c.isalnum() or c in "-_" for c in cursor)
    assert seen == list(reversed(made))
    only = client.get("/v1/content?content_type=flashcards", headers=auth(a)).get_json()
    assert [i["id"] for i in only["items"]] == [made[3], made[2], made[0]] and only["next_cursor"] is None
    assert len(client.get("/v1/content", headers=auth(a)).get_json()["items"]) == 5


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "cursor=%%%", "cursor=bm9wZQ",
                                   "content_type=poem", "unknown=1"])
def test_list_bad_parameters_are_422(query, db, users, client_for):
    _, a = users()
    resp = client_for("generate").get(f"/v1/content?{query}", headers=auth(a))
    assert resp.status_code == 422 and resp.get_json()["errors"]


# --- Idempotency-Key -----------------------------------------------------------------------------


def _count_items():
    from sqlalchemy import func, select

    from shared.database import session_scope
    from shared.models import ContentItem

    with session_scope() as s:
        return s.execute(select(func.count()).select_from(ContentItem)).scalar_one()


def test_idempotent_replay_returns_the_same_response(db, users, client_for):
    client = client_for("generate")
    _, a = users()
    first = _post(client, a, **{"Idempotency-Key": "order-1"})
    again = _post(client, a, **{"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert _count_items() == 1
    other = _post(client, a, {**BODY, "topic": "Volcanoes"}, **{"Idempotency-Key": "order-1"})
    assert other.status_code == 422 and other.get_json()["errors"][0]["field"] == "Idempotency-Key"
    _, b = users()  # keys are per user
    assert _post(client, b, **{"Idempotency-Key": "order-1"}).get_json()["id"] != first.get_json()["id"]
    assert _post(client, a, **{"Idempotency-Key": "bad key with spaces"}).status_code == 422


def test_expired_record_is_replaced(db, users, client_for):
    from datetime import timedelta

    from sqlalchemy import update

    from shared.database import session_scope
    from shared.models import IdempotencyRecord, utcnow

    client = client_for("generate")
    _, a = users()
    first = _post(client, a, **{"Idempotency-Key": "k"}).get_json()
    with session_scope() as s:
        s.execute(update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1)))
    second = _post(client, a, {**BODY, "topic": "Volcanoes"}, **{"Idempotency-Key": "k"})
    assert second.status_code == 201 and second.get_json()["id"] != first["id"]


def test_duplicate_while_in_flight_is_409(db, users, client_for, monkeypatch):
    from functions.generate import pipeline

    entered, release = threading.Event(), threading.Event()
    real = pipeline.generate

    def slow(*args, **kwargs):
        entered.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "generate", slow)
    _, a = users()
    results = {}

    def first():
        results["first"] = _post(client_for("generate"), a, **{"Idempotency-Key": "same"})

    t = threading.Thread(target=first)
    t.start()
    assert entered.wait(10)
    dup = _post(client_for("generate"), a, **{"Idempotency-Key": "same"})
    release.set()
    t.join()
    assert dup.status_code == 409
    assert results["first"].status_code == 201
    assert _post(client_for("generate"), a, **{"Idempotency-Key": "same"}).get_json() == results["first"].get_json()


def test_failed_request_releases_its_key(db, users, client_for, monkeypatch):
    from functions.generate import pipeline
    from shared import errors

    def down(*args, **kwargs):
        raise errors.ServiceUnavailable("No AI provider could serve this request.", retry_after=5)

    _, a = users()
    monkeypatch.setattr(pipeline, "generate", down)
    assert _post(client_for("generate"), a, **{"Idempotency-Key": "retry-me"}).status_code == 503
    monkeypatch.undo()
    assert _post(client_for("generate"), a, **{"Idempotency-Key": "retry-me"}).status_code == 201


def test_no_llm_sdk_imported_on_the_mock_path(db, users):
    import subprocess
    import sys

    code = (
        "import sys, json\n"
        "from tests.conftest import function_client, auth, make_user\n"
        "uid, key = make_user()\n"
        f"r = function_client('generate').post('/v1/content', json={json.dumps(BODY)}, headers=auth(key))\n"
        "assert r.status_code == 201, r.get_json()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'anthropic') "
        "or m.startswith('google.genai'))))\n"
    )
    import os

    from tests.conftest import ROOT

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                         cwd=str(ROOT), timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_openapi_document_is_committed_and_served(client_for):
    from functions.generate.main import app
    from cli.openapi_export import OUT_DIR, render

    assert (OUT_DIR / "generate.json").read_text() == render(app.openapi_document())
    served = client_for("generate").get("/openapi.json").get_json()
    assert served == app.openapi_document()
    post = served["paths"]["/v1/content"]["post"]
    assert {"201", "403", "409", "422", "429", "503"} <= set(post["responses"])


def test_daily_generation_cap_is_enforced_per_user(db, users, client_for, env):
    """GENERATIONS_PER_DAY: the (N+1)th generation of the day is 429; another user is unaffected."""
    env(generations_per_day="2")
    client = client_for("generate")
    _, key = users("user")
    _, other = users("user")
    assert _post(client, key).status_code == 201
    assert _post(client, key).status_code == 201
    refused = _post(client, key)
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert _post(client, other).status_code == 201


def test_admin_access_to_another_users_item_is_audited_with_pseudonyms(db, users, client_for):
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import AuditEntry
    from shared.pseudonyms import pseudonym

    client = client_for("generate")
    owner_id, a = users()
    admin_id, admin = users("admin")
    item = _post(client, a).get_json()
    assert client.get(f"/v1/content/{item['id']}", headers=auth(a)).status_code == 200  # own read: not audited
    assert client.get(f"/v1/content/{item['id']}", headers=auth(admin)).status_code == 200
    assert client.delete(f"/v1/content/{item['id']}", headers=auth(admin)).status_code == 204
    with session_scope() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action.like("admin.content.%"))
                         .order_by(AuditEntry.created_at)).all()
        entries = [(r.action, r.actor, r.subject, r.details.get("content_id")) for r in rows]
    assert entries == [
        ("admin.content.read", pseudonym(admin_id), pseudonym(owner_id), item["id"]),
        ("admin.content.delete", pseudonym(admin_id), pseudonym(owner_id), item["id"]),
    ]


def test_the_readme_example_request_returns_a_passing_item_on_the_embedded_default(db, users, client_for):
    _, key = users()
    resp = _post(client_for("generate"), key,
                 {"content_type": "flashcards", "topic": "The water cycle", "audience": "middle_school"})
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()
    assert item["provider"] == "mock" and item["attempts"] == 1
    assert item["quality"]["passed"] is True and item["quality"]["reasons"] == []
    assert item["quality"]["factual_verified"] is False
