"""A client generated from our OpenAPI documents by a tool nobody here wrote works as is.

`openapi-python-client` generates each function's client and the merged one
(`factoria dev`'s `/openapi.json`) with zero warnings; the generated clients
then call real functions: ids come back as `UUID`, times as `datetime`, every
documented error as the typed `Problem` / `ValidationProblem`, and the export
parses into typed sections with no key left over.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from cli.dev import create_dev_app, load_apps
from cli.openapi_export import OUT_DIR, render
from shared.openapi import merge_documents
from tests.conftest import make_user

GENERATOR = Path(sys.executable).parent / "openapi-python-client"


def _generate(document: dict, out: Path) -> tuple[str, str]:
    """Run the generator on `document`; (package name, everything it printed)."""
    spec = out.with_suffix(".json")
    spec.write_text(render(document))
    env = dict(os.environ, PATH=f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}")  # its ruff hook
    proc = subprocess.run([str(GENERATOR), "generate", "--path", str(spec), "--output-path", str(out), "--overwrite"],
                          capture_output=True, text=True, env=env, timeout=300)
    printed = proc.stdout + proc.stderr
    assert proc.returncode == 0, printed
    package = next(p.name for p in out.iterdir() if (p / "client.py").exists())
    return package, printed


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    """{document name: generated package}, every package importable in this process."""
    root = tmp_path_factory.mktemp("clients")
    documents = {name: json.loads((OUT_DIR / f"{name}.json").read_text()) for name in load_apps()}
    documents["merged"] = merge_documents([app.openapi_document() for app in load_apps().values()])
    packages, outputs = {}, {}
    for name, document in documents.items():
        packages[name], outputs[name] = _generate(document, root / name)
    for name in documents:
        sys.path.insert(0, str(root / name))
    yield {name: importlib.import_module(package) for name, package in packages.items()}, outputs
    for name in documents:
        sys.path.remove(str(root / name))
    for module in [m for m in sys.modules if m.split(".")[0] in packages.values()]:
        del sys.modules[module]


@pytest.mark.parametrize("name", ["generate", "gdpr", "health", "merged"])
def test_every_document_generates_without_a_warning(clients, name):
    _, outputs = clients
    text = outputs[name]
    assert "warning" not in text.lower() and "unable to" not in text.lower(), text
    assert "ruff is not in PATH" not in text


def _module(package, dotted: str):
    return importlib.import_module(f"{package.__name__}.{dotted}")


def test_generated_clients_against_running_functions(clients, pg, function_server):
    packages, _ = clients
    gen, gdpr = packages["generate"], packages["gdpr"]
    _, key = make_user("user")
    generate_server = function_server("generate", env={"DATABASE_URL": pg.url})
    gdpr_server = function_server("gdpr", env={"DATABASE_URL": pg.url})
    api = lambda pkg, op: _module(pkg, f"api.default.{op}")  # noqa: E731
    models = lambda pkg: _module(pkg, "models")  # noqa: E731
    g = models(gen)
    client = gen.AuthenticatedClient(base_url=generate_server.url, token=key, timeout=httpx.Timeout(60.0))

    created = api(gen, "generate_create_content_post").sync_detailed(
        client=client, body=g.GenerateRequest(content_type=g.GenerateRequestContentType.FLASHCARDS,
                                              topic="Photosynthesis in leaves"))
    assert created.status_code == 201 and isinstance(created.parsed, g.Item), created.content
    item = created.parsed
    assert isinstance(item.id, uuid.UUID) and isinstance(item.created_at, datetime)
    assert item.created_at.tzinfo is not None and item.provider == "mock"
    assert isinstance(item.usage.cost_usd, float) and item.quality.passed in (True, False)

    read = api(gen, "generate_get_content_get").sync(item_id=item.id, client=client)
    assert isinstance(read, g.Item) and read.id == item.id and read.created_at == item.created_at

    page = api(gen, "generate_list_content_get").sync(client=client, limit=10)
    assert isinstance(page, g.ItemPage) and [i.id for i in page.items] == [item.id]
    assert page.next_cursor is None

    invalid = api(gen, "generate_create_content_post").sync_detailed(
        client=client, body=g.GenerateRequest(content_type=g.GenerateRequestContentType.FLASHCARDS, topic="x"))
    assert invalid.status_code == 422 and isinstance(invalid.parsed, g.ValidationProblem)
    assert [(e.field, type(e).__name__) for e in invalid.parsed.errors] == [("topic", "FieldError")]
    assert invalid.parsed.status == 422 and invalid.parsed.type_.endswith("/validation")

    # the export, while the item exists: every section typed, no key the document does not describe
    d = models(gdpr)
    gdpr_client = gdpr.AuthenticatedClient(base_url=gdpr_server.url, token=key, timeout=httpx.Timeout(60.0))
    export = api(gdpr, "gdpr_export_get").sync(client=gdpr_client)
    assert isinstance(export, d.ExportDocument) and isinstance(export.exported_at, datetime)
    assert isinstance(export.user, d.ExportUser) and isinstance(export.user.id, uuid.UUID)
    assert isinstance(export.user.api_keys[0], d.ExportApiKey)
    [content] = export.content
    assert content.id == item.id and isinstance(content.usage, d.ExportContentUsage)
    assert export.usage and all(isinstance(u.created_at, datetime) for u in export.usage)
    assert isinstance(export.consents, d.ExportConsents) and export.consents.current.additional_properties
    for model in [export, export.user, *export.user.api_keys, content, content.usage, *export.usage,
                  export.consents, *export.consents.history, *export.audit]:
        assert model.additional_properties == {}, type(model).__name__

    deleted = api(gen, "generate_delete_content_delete").sync_detailed(item_id=item.id, client=client)
    assert deleted.status_code == 204
    gone = api(gen, "generate_get_content_get").sync_detailed(item_id=item.id, client=client)
    assert gone.status_code == 404 and isinstance(gone.parsed, g.Problem)
    assert gone.parsed.status == 404 and gone.parsed.title == "Not Found"

    denied = api(gen, "generate_list_content_get").sync_detailed(
        client=gen.AuthenticatedClient(base_url=generate_server.url, token="lf_0123456789ab_" + "n" * 43))
    assert denied.status_code == 401 and isinstance(denied.parsed, g.Problem)


def test_the_merged_client_against_the_dev_server(clients, pg, env):
    packages, _ = clients
    merged = packages["merged"]
    m = _module(merged, "models")
    _, key = make_user("user")
    transport = httpx.WSGITransport(app=create_dev_app())
    client = merged.AuthenticatedClient(base_url="http://dev", token=key, httpx_args={"transport": transport})
    ops = lambda op: _module(merged, f"api.default.{op}")  # noqa: E731

    me = ops("gdpr_show_get").sync(client=client)
    assert isinstance(me, m.UserOut) and isinstance(me.id, uuid.UUID) and isinstance(me.created_at, datetime)
    missing = ops("generate_get_content_get").sync(item_id=uuid.uuid4(), client=client)
    assert isinstance(missing, m.Problem) and missing.status == 404
    bad = ops("gdpr_rectify_patch").sync(client=client, body=m.Rectification(email="not an email"))
    assert isinstance(bad, m.ValidationProblem) and bad.errors[0].field == "email"
