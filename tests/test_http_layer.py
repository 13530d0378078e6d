"""The shared HTTP layer: problem+json for every error, headers, CORS, body limits."""

import json

import pytest
from pydantic import BaseModel, ConfigDict, Field

from shared.http import PUBLIC, FunctionApp, Route


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=20)
    count: int = Field(ge=0)


def _echo(ctx):
    return ctx.body().model_dump()


def _boom(ctx):
    raise RuntimeError("secret internals: password=hunter2")


def _item(ctx, item_id):
    return {"id": item_id}


ROUTES = [
    Route("/echo", _echo, methods=("POST",), roles=PUBLIC, body=Echo),
    Route("/boom", _boom, roles=PUBLIC),
    Route("/items/<item_id>", _item),
    Route("/admin", _item, roles=frozenset({"admin"})),
]


@pytest.fixture
def client():
    return FunctionApp("test", ROUTES).test_client()


def assert_problem(resp, status):
    assert resp.status_code == status
    assert resp.headers["Content-Type"] == "application/problem+json"
    body = resp.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


def test_valid_body_echoes(client):
    resp = client.post("/echo", json={"name": "ada", "count": 2})
    assert resp.status_code == 200 and resp.get_json() == {"name": "ada", "count": 2}


def test_malformed_json_is_400(client):
    assert_problem(client.post("/echo", data="{not json", content_type="application/json"), 400)


def test_empty_body_is_400(client):
    assert_problem(client.post("/echo", data="", content_type="application/json"), 400)


def test_non_json_media_type_is_415(client):
    assert_problem(client.post("/echo", data="name=x", content_type="application/x-www-form-urlencoded"), 415)


def test_unknown_and_invalid_fields_are_422_per_field(client):
    body = assert_problem(client.post("/echo", json={"name": "", "count": -1, "extra": 1}), 422)
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"name", "count", "extra"}
    assert all(e["message"] for e in body["errors"])


def test_oversized_body_is_413(client):
    big = json.dumps({"name": "x" * 70000, "count": 1})
    assert_problem(client.post("/echo", data=big, content_type="application/json"), 413)


def test_unknown_path_404_and_wrong_method_405(client):
    assert_problem(client.get("/nowhere"), 404)
    resp = client.get("/echo")
    assert_problem(resp, 405)
    assert "POST" in resp.headers["Allow"]


def test_unhandled_error_is_bare_500_without_internals(client):
    body = assert_problem(client.get("/boom"), 500)
    assert "hunter2" not in json.dumps(body) and "RuntimeError" not in json.dumps(body)


def test_security_headers_and_request_id(client):
    resp = client.get("/nowhere", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "max-age" in resp.headers["Strict-Transport-Security"]
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    generated = client.get("/nowhere", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert generated != "bad id <script>" and len(generated) == 32


def test_cors_only_for_allowed_origins(client):
    ok = client.options("/echo", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
    evil = client.options("/echo", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in evil.headers
    simple = client.post("/echo", json={"name": "a", "count": 1}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in simple.headers
    assert client.options("/nowhere", headers={"Origin": "http://localhost:3000"}).status_code == 404


def test_auth_required_routes_fail_closed_without_database_reachable(client, env, tmp_path):
    # No key at all: 401 before any database work.
    resp = client.get("/items/1")
    body = assert_problem(resp, 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "API key" in body["detail"] or "Bearer" in body["detail"]


def test_database_down_is_503_not_500(client, env):
    env(database_url="postgresql://postgres@127.0.0.1:1/none")
    resp = client.get("/items/1", headers={"Authorization": "Bearer lf_0123456789ab_" + "x" * 43})
    body = assert_problem(resp, 503)
    assert "Retry-After" in resp.headers and "database" in body["detail"].lower()


def test_plain_http_refused_in_production(client, env):
    env(environment="production", secret_key="p" * 40, database_url="postgresql://u@h/db",
        ai_providers="openai", openai_api_key="sk-test-not-real", allowed_origins="https://app.example")
    resp = client.get("/nowhere", headers={"X-Forwarded-Proto": "http"})
    assert_problem(resp, 403)
