"""OpenAPI 3.1: committed documents match the code, are valid, and cover what handlers return."""

from __future__ import annotations

import json
import uuid

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, ConfigDict

from cli.dev import load_apps
from shared.http import PUBLIC, Route
from shared.openapi import build_document, merge_documents, openapi_path
from cli.openapi_export import OUT_DIR, render
from tests.conftest import auth, function_client

APPS = load_apps()
NAMES = list(APPS)


@pytest.mark.parametrize("name", NAMES)
def test_committed_document_equals_generated(name):
    path = OUT_DIR / f"{name}.json"
    assert path.exists(), f"docs/openapi/{name}.json is missing: run `make openapi`"
    assert path.read_text() == render(APPS[name].openapi_document()), "stale: run `make openapi`"


def test_no_committed_document_for_a_missing_function():
    committed = {p.stem for p in OUT_DIR.glob("*.json")}
    assert committed == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_document_is_valid_openapi_31(name):
    document = APPS[name].openapi_document()
    assert document["openapi"] == "3.1.0"
    validate(document)
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_merged_dev_document_is_valid():
    validate(merge_documents([a.openapi_document() for a in APPS.values()]))


def test_merged_components_mean_one_thing():
    """The merged document keeps one schema per name, so two functions must not give a name two shapes."""
    seen: dict[str, tuple[str, dict]] = {}
    for name, app in APPS.items():
        for component, schema in app.openapi_document()["components"]["schemas"].items():
            first, shape = seen.setdefault(component, (name, schema))
            assert shape == schema, f"{component}: {first} and {name} differ"


@pytest.mark.parametrize("name", NAMES)
def test_served_document_is_public_unlimited_and_current(name, env):
    env(rate_limit_per_minute=1)
    client = function_client(name)
    for _ in range(2):
        resp = client.get("/openapi.json")
        assert resp.status_code == 200 and "RateLimit-Limit" not in resp.headers
    assert resp.get_json() == json.loads(render(APPS[name].openapi_document()))


@pytest.mark.parametrize("name", NAMES)
def test_every_route_is_documented(name):
    document = APPS[name].openapi_document()
    for route in APPS[name].routes:
        ops = document["paths"][openapi_path(route.rule)]
        for method in route.methods:
            op = ops[method.lower()]
            assert op["summary"]
            assert "405" in op["responses"]
            if route.roles is None:
                assert op["security"] == [] and "401" not in op["responses"]
            else:
                assert {"401", "429", "503"} <= set(op["responses"])
                for resp in op["responses"].values():
                    assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(resp["headers"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class _Out(BaseModel):
    id: str


def _noop(ctx, item_id=None):
    return {"id": "x"}


def test_statuses_follow_the_route_shape():
    routes = [
        Route("/open", _noop, roles=PUBLIC),
        Route("/items/<item_id>", _noop, methods=("POST",), roles=frozenset({"admin"}), body=_Body,
              response=_Out, status=201, responses={409: "Duplicate"}),
    ]
    doc = build_document("t", routes)
    validate(doc)
    open_op = doc["paths"]["/open"]["get"]
    assert set(open_op["responses"]) == {"200", "405"}
    assert set(open_op["responses"]["200"]["headers"]) == {"X-Request-ID"}
    op = doc["paths"]["/items/{item_id}"]["post"]
    assert set(op["responses"]) == {"201", "400", "401", "403", "404", "405", "409", "413", "415", "422", "429", "503"}
    assert op["parameters"][0] == {"name": "item_id", "in": "path", "required": True,
                                   "schema": {"type": "string", "format": "uuid"}}
    assert op["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/_Out"}
    assert op["responses"]["422"]["content"]["application/problem+json"]["schema"]["$ref"].endswith("ValidationProblem")
    assert set(op["responses"]["429"]["headers"]) >= {"Retry-After", "RateLimit-Limit"}
    assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
    validation = doc["components"]["schemas"]["ValidationProblem"]
    assert validation["allOf"][0] == {"$ref": "#/components/schemas/Problem"}
    assert validation["allOf"][1]["required"] == ["errors"]
    assert doc["components"]["schemas"]["Problem"]["properties"]["errors"]["items"] == {
        "$ref": "#/components/schemas/FieldError"}


# -- documented statuses cover what the handlers return ---------------------------------------


def _concrete(rule: str) -> str:
    import re

    path = re.sub(r"<(?:[a-z]+:)?purpose>", "analytics", rule)
    return re.sub(r"<(?:[a-z]+:)?[a-zA-Z_]+>", lambda m: str(uuid.uuid4()), path)


def _probes(route, keys):
    """(headers, body) pairs a client might send: no key, a bad key, each role, bad bodies."""
    headers = [{}, auth("lf_0123456789ab_" + "n" * 43)] + [auth(k) for k in keys.values()]
    bodies = [None]
    if route.body is not None:
        bodies = [b"{}", b"{not json", b'{"unknown_field": 1}', b"[]"]
    return [(h, b) for h in headers for b in bodies]


@pytest.mark.parametrize("name", NAMES)
def test_documented_statuses_cover_handler_responses(db, users, env, name):
    env(rate_limit_per_minute=1_000_000)  # many probes per key: see real statuses, not 429s
    app = APPS[name]
    document = app.openapi_document()
    client = function_client(name)
    keys = {role: users(role)[1] for role in ("user", "admin", "ops")}
    seen = set()
    for route in app.routes:
        path = _concrete(route.rule)
        for method in route.methods:
            documented = set(document["paths"][openapi_path(route.rule)][method.lower()]["responses"])
            for headers, body in _probes(route, keys):
                if body is not None:
                    headers = headers | {"Content-Type": "application/json"}
                resp = client.open(path, method=method, headers=headers, data=body)
                seen.add((route.rule, method, resp.status_code))
                assert str(resp.status_code) in documented, (route.rule, method, resp.status_code, sorted(documented))
                assert resp.headers.get("X-Request-ID")
            # A method the route does not take is 405 and documented as such.
            other = next(m for m in ("DELETE", "PATCH", "PUT", "POST", "GET") if m not in route.methods)
            if other not in _methods_of(app, route.rule):
                assert client.open(path, method=other).status_code == 405
    assert seen


def _methods_of(app, rule):
    return {m for r in app.routes if r.rule == rule for m in r.methods}
