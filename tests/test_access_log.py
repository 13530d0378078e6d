"""The access log: one JSON line per request with function, method, route template, status,
latency and request id, and nothing about the caller (no key, email, query string or body)."""

from __future__ import annotations

import json
import logging
import time

import requests

from tests.conftest import auth, make_user

FIELDS = {"function", "method", "route", "status", "latency_ms", "request_id"}


def access_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "lafactoria.access"]


def test_one_line_per_request_with_the_route_template(db, client_for, caplog):
    caplog.set_level(logging.INFO, logger="lafactoria.access")
    _, key = make_user()
    client = client_for("generate")
    client.get("/v1/content/0b7c6f8e-0000-4000-8000-000000000000", headers=auth(key) | {"X-Request-ID": "req-1"})
    client.get("/v1/content?limit=5&content_type=flashcards", headers=auth(key))
    client.get("/no/such/path")
    records = access_lines(caplog)
    assert len(records) == 3
    first = records[0]
    assert {k: getattr(first, k) for k in FIELDS} == {
        "function": "generate", "method": "GET", "route": "/v1/content/<item_id>", "status": 404,
        "latency_ms": first.latency_ms, "request_id": "req-1"}
    assert first.getMessage() == "request" and first.latency_ms >= 0
    assert (records[1].route, records[1].status) == ("/v1/content", 200)
    assert (records[2].route, records[2].status) == ("unmatched", 404)


def test_a_real_server_logs_json_lines_without_the_caller(db, function_server):
    uid, key = make_user("user", email="access.log.person@example.org")
    server = function_server("generate", env={"DATABASE_URL": db.url})
    topic = "The secret garden of Mrs Access-Log"
    r1 = requests.post(server.url + "/v1/content", headers=auth(key),
                       json={"content_type": "flashcards", "topic": topic}, timeout=60)
    r2 = requests.get(server.url + "/v1/content", params={"email": "access.log.person@example.org"},
                      headers=auth(key), timeout=30)
    requests.get(server.url + "/v1/content-types", headers={"Authorization": "Bearer lf_wrongwrongwr_xxxxxxxxxxxxxxxxxxxxxxxx"},
                 timeout=30)
    deadline = time.monotonic() + 10
    while True:  # stderr is line-buffered: the lines are there once each response is out
        lines = [json.loads(line) for line in server.stderr_text().splitlines() if line.startswith("{")]
        access = [line for line in lines if line.get("logger") == "lafactoria.access"]
        if len(access) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [(a["method"], a["route"], a["status"]) for a in access] == [
        ("POST", "/v1/content", r1.status_code), ("GET", "/v1/content", r2.status_code),
        ("GET", "/v1/content-types", 401)]
    assert access[0]["request_id"] == r1.headers["X-Request-ID"]
    for a in access:
        assert FIELDS | {"time", "level", "logger", "message"} == set(a), a
        text = json.dumps(a)
        for secret in (key, uid, "access.log.person", topic, "email=", "lf_wrong"):
            assert secret not in text
