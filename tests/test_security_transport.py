"""Transport and browser safety on every function: headers, CORS allowlist, HTTPS in production."""

from __future__ import annotations

import re

import pytest
import requests

from cli.dev import load_apps
from shared.http import SECURITY_HEADERS
from tests.conftest import auth, function_client

APPS = load_apps()
NAMES = list(APPS)
ORIGIN = "http://localhost:3000"
PROD = dict(environment="production", secret_key="p" * 40, ai_providers="openai",
            allowed_origins="https://app.example")


def _paths(name):
    """(path, needs a key) for every GET route, with path parameters filled in."""
    out = []
    for route in APPS[name].routes:
        if "GET" in route.methods:
            path = re.sub(r"<(?:[a-z]+:)?[a-zA-Z_]+>", "00000000-0000-4000-8000-000000000000", route.rule)
            out.append((path, route.roles is not None))
    return out


def assert_secure_headers(resp, path: str = ""):
    for header, value in SECURITY_HEADERS.items():
        if header == "Content-Security-Policy" and path.startswith("/console") and resp.status_code < 400:
            # The ops console's page and assets: scripts, styles and fetches from this origin only.
            from functions.health.console import CSP

            value = CSP
            assert "unsafe" not in value and "script-src 'self';" in value
        assert resp.headers.get(header) == value, header
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers.get("X-Request-ID")
    assert resp.headers.get("Access-Control-Allow-Origin") != "*"


@pytest.mark.parametrize("name", NAMES)
def test_every_response_carries_security_headers(db, users, env, name):
    env(rate_limit_per_minute=2)
    client = function_client(name)
    _, key = users("admin")
    for path, keyed in _paths(name):
        for headers in ({}, auth(key), auth(key), auth(key)):  # the last one may be a 429
            assert_secure_headers(client.get(path, headers=headers), path)
    for path in ("/nowhere", "/robots.txt", "/favicon.ico"):
        resp = client.get(path)
        assert resp.status_code == 404 and resp.headers["Content-Type"] == "application/problem+json"
        assert_secure_headers(resp)
    assert_secure_headers(client.delete("/openapi.json"))
    assert_secure_headers(client.get("/openapi.json", headers={"Origin": ORIGIN}))


@pytest.mark.parametrize("name", NAMES)
def test_keyed_responses_are_not_cached(db, users, name):
    client = function_client(name)
    _, key = users("admin")
    for path, keyed in _paths(name):
        if keyed:
            assert "no-store" in client.get(path, headers=auth(key)).headers.get("Cache-Control", "")


@pytest.mark.parametrize("name", NAMES)
def test_cors_allowlist_only(db, env, name):
    client = function_client(name)
    for path, _ in _paths(name):
        ok = client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
                                           "Access-Control-Request-Headers": "Authorization"})
        assert ok.status_code == 204  # preflight needs no key
        assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
        assert "Origin" in ok.headers.get("Vary", "")
        for evil in ("https://evil.example", "null", ORIGIN + ".evil.example", "http://localhost:3001"):
            resp = client.options(path, headers={"Origin": evil, "Access-Control-Request-Method": "GET"})
            assert "Access-Control-Allow-Origin" not in resp.headers
            assert "Access-Control-Allow-Origin" not in client.get(path, headers={"Origin": evil}).headers
        simple = client.get(path, headers={"Origin": ORIGIN})
        assert simple.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "RateLimit-Remaining" in simple.headers["Access-Control-Expose-Headers"]
        assert simple.headers.get("Access-Control-Allow-Credentials") != "true" or \
            simple.headers["Access-Control-Allow-Origin"] != "*"
    # Even a wildcard in development never becomes `*` on the wire.
    env(allowed_origins="*")
    resp = function_client(name).get("/openapi.json", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_production_refuses_wildcard_cors(env):
    from shared.settings import UnsafeSettingsError, get_settings

    env(**(PROD | {"database_url": "postgresql://u@h/db", "allowed_origins": "https://app.example,*"}))
    with pytest.raises(UnsafeSettingsError):
        get_settings()


@pytest.mark.parametrize("name", NAMES)
def test_production_refuses_plain_http(pg, env, name):
    env(**(PROD | {"database_url": pg.url}))  # production refuses SQLite
    client = function_client(name)
    for path, _ in _paths(name):
        plain = client.get(path, headers={"X-Forwarded-Proto": "http"})
        if path in ("/livez", "/readyz"):  # platform probes come over plain HTTP inside the network
            assert plain.status_code != 403
            continue
        assert plain.status_code == 403 and plain.headers["Content-Type"] == "application/problem+json"
        assert "HTTPS" in plain.get_json(force=True)["detail"]
        assert_secure_headers(plain)
        secure = client.get(path, headers={"X-Forwarded-Proto": "https"})
        assert secure.status_code != 403 or "HTTPS" not in secure.get_data(as_text=True)
        # A spoofed list keeps the first (client-facing) hop.
        assert client.get(path, headers={"X-Forwarded-Proto": "http, https"}).status_code == 403


@pytest.mark.parametrize("name", NAMES)
def test_headers_on_the_real_server(pg, function_server, name):
    server = function_server(name, env={"DATABASE_URL": pg.url})
    for path in ("/openapi.json", "/robots.txt", "/favicon.ico", "/nowhere"):
        resp = requests.get(server.url + path, timeout=10)
        assert_secure_headers(resp)
        assert resp.headers["Content-Type"].startswith(("application/json", "application/problem+json"))
    resp = requests.request("TRACE", server.url + "/openapi.json", timeout=10)
    assert resp.status_code == 405 and "TRACE" not in resp.headers["Allow"]
    assert_secure_headers(resp)
