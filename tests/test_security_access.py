"""Access control across functions (DESIGN.md roles): users see only their own data.

User B gets 404 on A's content (read, delete, feedback) and 403 on admin
paths; ops sees metrics but no user content. Each test needs the function it
exercises; a missing function or route fails the test (never a skip).
"""

from __future__ import annotations

import json
import uuid

import pytest

from cli.dev import load_apps
from tests.conftest import auth, function_client

APPS = load_apps()
TOPIC = "Secret topic of user A about tide pools"


def need(name: str, path: str | None = None):
    assert name in APPS, f"functions/{name} is missing"
    assert path is None or APPS[name].matches(path), f"{name} has no {path} route"
    return function_client(name)


def _content_of(user_id: str) -> str:
    """A stored item owned by `user_id`, written directly so the test does not depend on generation."""
    from shared.database import session_scope
    from shared.models import ContentItem

    with session_scope() as s:
        item = ContentItem(user_id=user_id, content_type="one_pager_summary", topic=TOPIC, audience="general",
                           content={"title": TOPIC, "executive_summary": "x", "key_takeaways": ["a", "b", "c"],
                                    "main_content": "y"},
                           quality={"overall": 0.9, "passed": True, "dimensions": {}, "thresholds": {}},
                           quality_overall=0.9, quality_passed=True, provider="mock", model="mock",
                           prompt_version="test", input_tokens=1, output_tokens=1, attempts=1)
        s.add(item)
        s.flush()
        return item.id


@pytest.fixture
def people(users):
    a_id, a_key = users("user")
    b_id, b_key = users("user")
    _, admin_key = users("admin")
    _, ops_key = users("ops")
    return {"a_id": a_id, "a": a_key, "b_id": b_id, "b": b_key, "admin": admin_key, "ops": ops_key}


def test_user_b_gets_404_on_user_a_content(db, people):
    client = need("generate", "/v1/content/x")
    item = _content_of(people["a_id"])
    assert client.get(f"/v1/content/{item}", headers=auth(people["a"])).status_code == 200
    as_b = client.get(f"/v1/content/{item}", headers=auth(people["b"]))
    missing = client.get(f"/v1/content/{uuid.uuid4()}", headers=auth(people["b"]))
    assert as_b.status_code == missing.status_code == 404
    assert as_b.get_json(force=True)["detail"] == missing.get_json(force=True)["detail"]  # existence not revealed
    assert client.post(f"/v1/content/{item}/feedback", json={"rating": 1, "comment": None},
                       headers=auth(people["b"])).status_code == 404
    assert client.delete(f"/v1/content/{item}", headers=auth(people["b"])).status_code == 404
    listed = client.get("/v1/content", headers=auth(people["b"])).get_json()
    assert all(i["id"] != item for i in listed["items"])
    # Still there for its owner and for an admin.
    assert client.get(f"/v1/content/{item}", headers=auth(people["a"])).status_code == 200
    assert client.get(f"/v1/content/{item}", headers=auth(people["admin"])).status_code == 200


def test_feedback_only_by_the_owner(db, people):
    client = need("generate", "/v1/content/x/feedback")
    item = _content_of(people["a_id"])
    admin = client.post(f"/v1/content/{item}/feedback", json={"rating": 5, "comment": None},
                        headers=auth(people["admin"]))
    assert admin.status_code in (403, 404)
    assert client.post(f"/v1/content/{item}/feedback", json={"rating": 5, "comment": "good"},
                       headers=auth(people["a"])).status_code == 201


def test_ops_sees_no_user_content(db, people):
    client = need("generate", "/v1/content/x")
    item = _content_of(people["a_id"])
    assert client.get(f"/v1/content/{item}", headers=auth(people["ops"])).status_code in (403, 404)
    assert client.delete(f"/v1/content/{item}", headers=auth(people["ops"])).status_code in (403, 404)
    listed = client.get("/v1/content", headers=auth(people["ops"]))
    assert listed.status_code == 403 or all(i["id"] != item for i in listed.get_json()["items"])
    assert client.get(f"/v1/content/{item}", headers=auth(people["a"])).status_code == 200


def test_ops_sees_metrics_without_personal_data(db, people):
    client = need("health", "/v1/metrics")
    _content_of(people["a_id"])
    resp = client.get("/v1/metrics?window=1h", headers=auth(people["ops"]))
    assert resp.status_code == 200
    text = json.dumps(resp.get_json())
    for private in (TOPIC, people["a_id"], people["b_id"], "@example.org"):
        assert private not in text
    assert client.get("/v1/metrics", headers=auth(people["admin"])).status_code == 200
    assert client.get("/v1/metrics", headers=auth(people["a"])).status_code == 403


ADMIN_PATHS = [("GET", "/v1/users/{uid}/export", None), ("PATCH", "/v1/users/{uid}", {"display_name": "x"}),
               ("GET", "/v1/users/{uid}/consents", None), ("POST", "/v1/users/{uid}/restriction", None),
               ("DELETE", "/v1/users/{uid}", {"confirm": "erase my data"})]


@pytest.mark.parametrize("method,path,body", ADMIN_PATHS, ids=[f"{m} {p}" for m, p, _ in ADMIN_PATHS])
def test_admin_paths_are_403_for_users_and_ops(db, people, method, path, body):
    client = need("gdpr", path.format(uid="x"))
    target = path.format(uid=people["a_id"])
    for who in ("b", "a", "ops"):  # not even on one's own id through the admin path
        resp = client.open(target, method=method, json=body, headers=auth(people[who]))
        assert resp.status_code == 403, (who, resp.status_code)
    # The target is untouched: A's key still works and A's data is still there.
    assert client.get("/v1/me/consents", headers=auth(people["a"])).status_code == 200


def test_admin_reaches_users_and_unknown_user_is_404(db, people):
    client = need("gdpr", "/v1/users/x/export")
    ok = client.get(f"/v1/users/{people['a_id']}/export", headers=auth(people["admin"]))
    assert ok.status_code == 200
    assert client.get(f"/v1/users/{uuid.uuid4()}/export", headers=auth(people["admin"])).status_code == 404


def test_gdpr_self_service_sees_only_self(db, people):
    client = need("gdpr", "/v1/me/export")
    _content_of(people["a_id"])
    export_b = client.get("/v1/me/export", headers=auth(people["b"]))
    assert export_b.status_code == 200
    text = json.dumps(export_b.get_json())
    assert TOPIC not in text and people["a_id"] not in text
