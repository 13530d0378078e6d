"""HTTP for browsers: exposed CORS headers, gzip, summaries, feedback read/replace, UUID case, strict paths."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import auth, function_client

ORIGIN = {"Origin": "http://localhost:3000"}
CONTRACT_EXPOSED = {"X-Request-ID", "Retry-After", "Idempotent-Replayed", "Content-Disposition", "RateLimit-Limit",
                    "RateLimit-Remaining", "RateLimit-Reset"}


def _create(client, key, topic="The water cycle", **headers):
    resp = client.post("/v1/content", json={"content_type": "flashcards", "topic": topic},
                       headers=auth(key) | headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp


def test_cors_exposes_the_contract_headers_on_every_function(db, users):
    _, key = users("admin")
    for name, path in (("generate", "/v1/content-types"), ("gdpr", "/v1/me"), ("health", "/livez")):
        resp = function_client(name).get(path, headers=auth(key) | ORIGIN)
        exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
        assert CONTRACT_EXPOSED <= exposed, name
    assert "Access-Control-Expose-Headers" not in function_client("health").get(
        "/livez", headers={"Origin": "https://evil.example"}).headers


def test_in_flight_idempotent_request_is_409_with_retry_after(db, users):
    _, key = users("user")
    body = {"content_type": "flashcards", "topic": "Volcanoes"}
    client = function_client("generate")
    # the first request's record is put back to in-progress: as if it were still generating
    first = client.post("/v1/content", json=body, headers=auth(key) | {"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    from sqlalchemy import update

    from shared.database import session_scope
    from shared.models import IdempotencyRecord

    with session_scope() as s:
        s.execute(update(IdempotencyRecord).values(status="in_progress"))
    again = client.post("/v1/content", json=body, headers=auth(key) | {"Idempotency-Key": "k-1"} | ORIGIN)
    assert again.status_code == 409 and again.headers["Content-Type"] == "application/problem+json"
    assert int(again.headers["Retry-After"]) >= 1
    assert "Retry-After" in again.headers["Access-Control-Expose-Headers"]


def test_large_responses_are_gzipped_when_accepted(db, users):
    _, key = users("user")
    client = function_client("generate")
    for n in range(3):
        _create(client, key, f"Topic number {n}")
    plain = client.get("/v1/content", headers=auth(key))
    assert "Content-Encoding" not in plain.headers and len(plain.get_data()) > 1024
    zipped = client.get("/v1/content", headers=auth(key) | {"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers.getlist("Vary")
    raw = zipped.get_data()
    assert len(raw) < len(plain.get_data()) / 3
    assert json.loads(gzip.decompress(raw)) == plain.get_json()
    assert int(zipped.headers["Content-Length"]) == len(raw)
    # small bodies stay as they are; so does a client that refuses gzip
    small = function_client("health").get("/livez", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers
    refused = client.get("/v1/content", headers=auth(key) | {"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers


def test_list_view_summary_drops_content_only(db, users):
    _, key = users("user")
    client = function_client("generate")
    _create(client, key)
    full = client.get("/v1/content", headers=auth(key)).get_json()["items"][0]
    summary = client.get("/v1/content?view=summary", headers=auth(key)).get_json()["items"][0]
    assert "content" in full and "content" not in summary
    assert set(full) - set(summary) == {"content"}
    assert all(summary[k] == full[k] for k in summary)
    bad = client.get("/v1/content?view=tiny", headers=auth(key))
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "view"


def test_feedback_read_and_replace(db, users):
    _, key = users("user")
    _, other = users("user")
    _, admin = users("admin")
    client = function_client("generate")
    item = _create(client, key).get_json()["id"]
    path = f"/v1/content/{item}/feedback"
    assert client.get(path, headers=auth(key)).status_code == 404  # not rated yet
    created = client.put(path, json={"rating": 3, "comment": "ok"}, headers=auth(key))
    assert created.status_code == 201
    assert client.get(path, headers=auth(key)).get_json()["rating"] == 3
    replaced = client.put(path, json={"rating": 5}, headers=auth(key))
    assert replaced.status_code == 200 and replaced.get_json()["comment"] is None
    got = client.get(path, headers=auth(key)).get_json()
    assert got["rating"] == 5 and got["id"] == replaced.get_json()["id"]
    from sqlalchemy import func, select

    from shared.database import session_scope
    from shared.models import Feedback

    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Feedback)) == 1  # replaced, not added
    for who in (other, admin):  # the owner's alone
        assert client.get(path, headers=auth(who)).status_code == 404
        assert client.put(path, json={"rating": 1}, headers=auth(who)).status_code == 404
    assert client.put(path, json={"rating": 9}, headers=auth(key)).status_code == 422


def test_uppercase_uuid_addresses_the_same_object(db, users):
    user_id, key = users("user")
    _, admin = users("admin")
    client = function_client("generate")
    item = _create(client, key).get_json()["id"]
    assert client.get(f"/v1/content/{item.upper()}", headers=auth(key)).get_json()["id"] == item
    assert client.post(f"/v1/content/{item.upper()}/feedback", json={"rating": 4},
                       headers=auth(key)).status_code == 201
    gdpr = function_client("gdpr")
    assert gdpr.get(f"/v1/users/{user_id.upper()}", headers=auth(admin)).get_json()["id"] == user_id
    assert client.delete(f"/v1/content/{item.upper()}", headers=auth(key)).status_code == 204
    assert client.get(f"/v1/content/{item}", headers=auth(key)).status_code == 404


@pytest.mark.parametrize("name,path", [("generate", "/v1/content-types/"), ("generate", "//v1/content-types"),
                                       ("generate", "/v1//content-types"), ("health", "/livez/"),
                                       ("gdpr", "/v1/me/"), ("health", "/v1/metrics/")])
def test_trailing_or_doubled_slash_is_404(db, users, name, path):
    _, key = users("admin")
    resp = function_client(name).get(path, headers=auth(key))
    assert resp.status_code == 404 and resp.headers["Content-Type"] == "application/problem+json"


def test_dev_server_answers_unknown_methods_with_problem_json(db):
    from cli.dev import create_dev_app

    client = create_dev_app().test_client()
    for method in ("TRACE", "PROPFIND", "BREW"):
        resp = client.open("/v1/content-types", method=method)
        assert resp.status_code == 405 and resp.headers["Content-Type"] == "application/problem+json", method
        assert resp.get_json()["status"] == 405 and "GET" in resp.headers["Allow"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["X-Request-ID"]
    missing = client.open("/nowhere", method="BREW")
    assert missing.headers["Content-Type"] == "application/problem+json"
