"""docs/API.md is generated from the OpenAPI documents and stays equal to them; the docs stand alone."""

from __future__ import annotations

import json
import re

from cli import api_reference
from cli.openapi_export import OUT_DIR
from tests.conftest import ROOT


def _documents() -> dict:
    return {p.stem: json.loads(p.read_text()) for p in sorted(OUT_DIR.glob("*.json"), key=lambda p: p.stem)}


def test_committed_reference_equals_generated():
    from cli.dev import load_apps

    names = list(load_apps())
    documents = _documents()
    committed = (ROOT / "docs" / api_reference.API_MD).read_text()
    assert committed == api_reference.render({n: documents[n] for n in names}), "run `make openapi`"


def test_reference_lists_every_operation_and_the_rules():
    text = (ROOT / "docs" / api_reference.API_MD).read_text()
    for doc in _documents().values():
        for path, item in doc["paths"].items():
            for method in item:
                if method in ("get", "post", "put", "patch", "delete"):
                    assert f"### `{method.upper()} {path}`" in text
    for rule in ("application/problem+json", "WWW-Authenticate: Bearer", "Retry-After", "Idempotent-Replayed",
                 "Accept-Encoding: gzip", "uppercase UUID", "trailing or doubled slash", "visible"):
        assert rule in text, rule


def test_a_schema_renders_types_bounds_and_required():
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/x": {"get": {
        "summary": "X", "security": [], "parameters": [{"name": "limit", "in": "query", "schema": {
            "type": "integer", "minimum": 1, "maximum": 100, "description": "page size"}}],
        "responses": {"200": {"description": "ok", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Page"}}}}}}}},
        "components": {"schemas": {"Page": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": {"type": "string", "maxLength": 5}, "maxItems": 3},
            "next": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}}}}}}
    text = api_reference.render({"fn": doc})
    assert "| `limit` | query | integer 1..100 | no | page size |" in text
    assert "Authentication: none." in text and "[Page](#page)" in text
    assert "| `items` | [string 0..5 chars] 0..3 | yes |" in text
    assert "| `next` | string \\| null | no | Default `null`. |" in text


def test_readme_and_docs_stand_alone():
    """A clone has no ../shared/: nothing a user reads may point there."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    offenders = [p.name for p in pages if re.search(r"\.\./shared|shared/DESIGN\.md|REFERENCE\.md", p.read_text())]
    assert offenders == []
