"""Each real provider adapter over HTTP against a local server speaking its wire format."""

from __future__ import annotations

import json

import pytest

from tests.conftest import auth
from tests.generate.documents import document
from tests.generate.fake_providers import Reply

PROVIDERS = ["openai", "anthropic", "vertex"]
BODY = {"content_type": "flashcards", "topic": "Photosynthesis", "audience": "high_school",
        "learning_objectives": ["Explain the light reactions"], "language": "en"}


def _events(request_id=None):
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import UsageEvent

    with session_scope() as s:
        stmt = select(UsageEvent).order_by(UsageEvent.attempt)
        if request_id:
            stmt = stmt.where(UsageEvent.request_id == request_id)
        return list(s.execute(stmt).scalars())


def _post(client, key, body=BODY, **headers):
    return client.post("/v1/content", json=body, headers={**auth(key), **headers})


@pytest.mark.parametrize("name", PROVIDERS)
def test_success_uses_wire_format_and_prices_tokens(name, db, users, client_for, use_providers, stub_gate):
    server = use_providers(name)
    server.script(name, Reply(document=document("flashcards"), input_tokens=1000, output_tokens=2000))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()
    assert item["provider"] == name and item["attempts"] == 1
    assert item["usage"]["input_tokens"] == 1000 and item["usage"]["output_tokens"] == 2000
    from functions.generate.ledger import price_table
    from shared.settings import get_settings

    model = {"openai": get_settings().openai_model, "anthropic": get_settings().anthropic_model,
             "vertex": get_settings().vertex_model}[name]
    assert item["model"] == model
    expected = price_table().cost(name, model, 1000, 2000)
    assert expected and item["usage"]["cost_usd"] == pytest.approx(float(expected))
    [call] = server.calls(name)
    sent = call["json"]
    text = json.dumps(sent)
    assert "Photosynthesis" in text and "Explain the light reactions" in text and "high_school" in text
    if name == "openai":
        assert call["path"] == "/v1/chat/completions"
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["max_completion_tokens"] > 0
    elif name == "anthropic":
        assert call["path"] == "/v1/messages"
        assert sent["tool_choice"] == {"type": "tool", "name": "emit_content"}
        assert sent["tools"][0]["input_schema"]["properties"]["items"]["minItems"] == 10
    else:
        # express mode: API key alone, no project or location in the path
        assert call["path"] == f"/v1beta1/publishers/google/models/{model}:generateContent"
        assert call["headers"].get("x-goog-api-key") == "test-google-key"
        assert sent["generationConfig"]["responseMimeType"] == "application/json"
        assert "responseJsonSchema" in sent["generationConfig"]
    [event] = _events()
    assert (event.provider, event.outcome, event.kind, event.cost_known) == (name, "success", "generation", True)
    assert event.content_id == item["id"] and event.price_version == price_table().version


@pytest.mark.parametrize("name", PROVIDERS)
def test_429_with_retry_after_is_retried_after_waiting(name, db, users, client_for, use_providers, stub_gate):
    server = use_providers(name)
    server.script(name, Reply(status=429, headers={"Retry-After": "1"}))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 201, resp.get_json()
    first, second = server.calls(name)
    assert second["at"] - first["at"] >= 0.95  # honoured Retry-After, and the SDK did not retry on its own
    events = _events()
    assert [(e.kind, e.outcome) for e in events] == [("generation", "rate_limited"), ("generation", "success")]
    assert events[0].cost_usd == 0 and events[0].cost_known  # a refused call is billed nothing, knowingly
    assert resp.get_json()["attempts"] == 2


@pytest.mark.parametrize("name", PROVIDERS)
def test_500_retries_are_bounded_then_503(name, db, users, client_for, use_providers, stub_gate):
    server = use_providers(name)
    server.script(name, *[Reply(status=500, headers={"Retry-After": "0"}) for _ in range(5)])
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 503
    assert resp.headers["Content-Type"] == "application/problem+json" and int(resp.headers["Retry-After"]) >= 1
    assert len(server.calls(name)) == 3  # one call + 2 retries, no SDK retries multiplying them
    assert [e.outcome for e in _events()] == ["error"] * 3


@pytest.mark.parametrize("name", PROVIDERS)
def test_timeout_is_recorded_with_unknown_cost(name, db, users, client_for, use_providers, stub_gate):
    server = use_providers(name, PROVIDER_TIMEOUT_SECONDS="0.5")
    server.script(name, Reply(delay=2.0, document={}))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 503
    assert len(server.calls(name)) == 1
    [event] = _events()
    assert event.outcome == "timeout" and event.cost_usd is None and event.cost_known is False
    assert event.input_tokens is None


@pytest.mark.parametrize("name", PROVIDERS)
def test_malformed_json_gets_one_repair(name, db, users, client_for, use_providers, stub_gate):
    server = use_providers(name)
    server.script(name, Reply(text='{"title": "Flashcards", "items": [ {"term": oops'))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 201, resp.get_json()
    first, repair = server.calls(name)
    assert "did not match the schema" in json.dumps(repair["json"])
    assert [(e.kind, e.outcome) for e in _events()] == [("generation", "invalid_output"), ("repair", "success")]
    assert resp.get_json()["attempts"] == 2


@pytest.mark.parametrize("name", PROVIDERS)
def test_truncated_output_twice_moves_on_and_ends_503(name, db, users, client_for, use_providers, stub_gate):
    server = use_providers(name)
    partial = '{"title": "Flashcards", "items": [{"term": "a", "defin'
    server.script(name, Reply(text=partial, truncated=True), Reply(text=partial, truncated=True))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 503
    assert len(server.calls(name)) == 2
    events = _events()
    assert [(e.kind, e.outcome) for e in events] == [("generation", "truncated"), ("repair", "truncated")]
    assert "cut off" in events[0].error
    assert all(e.cost_known and e.cost_usd > 0 for e in events)  # truncated output is still billed


@pytest.mark.parametrize("name", PROVIDERS)
def test_malformed_http_body_is_a_provider_error(name, db, users, client_for, use_providers, stub_gate):
    server = use_providers(name)
    server.script(name, Reply(body=b"{not json at all"))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 503  # a body that is not the provider's format is an error, not retried
    assert len(server.calls(name)) == 1
    [event] = _events()
    assert event.outcome == "error" and "bad response" in event.error


def test_html_and_script_are_stripped_from_output(db, users, client_for, use_providers, stub_gate):
    server = use_providers("openai")
    doc = document("flashcards")
    doc["title"] = "<b>Bold</b> cards<script>alert('x')</script>"
    doc["items"][0]["definition"] = "Use &lt;script&gt;alert(1)&lt;/script&gt; never; 5 < 6 is fine here."
    server.script("openai", Reply(document=doc))
    _, key = users()
    item = _post(client_for("generate"), key).get_json()
    assert item["content"]["title"] == "Bold cards"
    assert item["content"]["items"][0]["definition"] == "Use  never; 5 < 6 is fine here."
    assert "<script" not in json.dumps(item) and "alert" not in json.dumps(item)


def test_vertex_with_a_project_uses_project_and_location(db, users, client_for, use_providers, env, stub_gate,
                                                         monkeypatch):
    """Without an API key, Vertex mode addresses the project and location (credentials from ADC)."""
    import google.auth
    from google.oauth2.credentials import Credentials

    server = use_providers("vertex")
    env(GOOGLE_API_KEY=None, GOOGLE_CLOUD_PROJECT="lf-test-project", GOOGLE_CLOUD_LOCATION="europe-west4")
    adc = Credentials(token="adc-test-token")  # what application default credentials would provide
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (adc, "lf-test-project"))
    _, key = users()
    resp = _post(client_for("generate"), key)
    assert resp.status_code == 201, resp.get_json()
    [call] = server.calls("vertex")
    assert call["path"].startswith("/v1beta1/projects/lf-test-project/locations/europe-west4/publishers/google/models/")
    headers = {k.lower(): v for k, v in call["headers"].items()}
    assert "x-goog-api-key" not in headers and headers["authorization"] == "Bearer adc-test-token"
