"""OpenTelemetry tracing: off (not even imported) without OTEL_EXPORTER_OTLP_ENDPOINT; with it,
spans for requests, provider calls and database statements, checked with the SDK's in-memory
exporter, and exported over OTLP/HTTP to a local collector stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.settings.environment import OTLP_ENDPOINT
from tests.conftest import ROOT, auth, make_user

BODY = {"content_type": "flashcards", "topic": "Photosynthesis in plants", "audience": "high_school"}

_NO_IMPORT = r"""
import json, sys
from functions_framework import create_app
from shared.database import session_scope
from shared.identity import create_key, create_user
with session_scope() as s:
    key = create_key(s, create_user(s, "tracing-probe@example.org", "admin").id).api_key
h = {"Authorization": "Bearer " + key}
for name, calls in {
    "health": [("get", "/livez", None), ("get", "/health", None), ("get", "/metrics", None)],
    "gdpr": [("get", "/v1/me/export", None)],
    "generate": [("post", "/v1/content", %r), ("get", "/v1/content", None)],
}.items():
    client = create_app(name, f"functions/{name}/main.py").test_client()
    for method, path, body in calls:
        r = getattr(client, method)(path, headers=h, json=body)
        assert r.status_code < 400, (name, path, r.status_code, r.data[:300])
print(json.dumps(sorted(m for m in sys.modules if m.startswith("opentelemetry"))))
""" % (BODY,)


def test_without_an_endpoint_opentelemetry_is_never_imported(db):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    proc = subprocess.run([sys.executable, "-c", _NO_IMPORT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


@pytest.fixture
def spans(env, monkeypatch):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from shared import tracing

    monkeypatch.setenv(OTLP_ENDPOINT, "http://127.0.0.1:9/unused")  # on; the exporter below replaces OTLP
    exporter = InMemorySpanExporter()
    tracing.reset()
    tracing.configure(exporter, service_name="lafactoria-test", simple=True)
    env()  # fresh engines: instrumented now that tracing is on
    yield exporter
    tracing.reset()


def test_request_provider_and_database_spans(db, spans, client_for):
    from opentelemetry.trace import SpanKind, StatusCode

    _, key = make_user()
    resp = client_for("generate").post("/v1/content", json=BODY, headers=auth(key))
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()
    finished = spans.get_finished_spans()
    server = [s for s in finished if s.kind == SpanKind.SERVER]
    assert [s.name for s in server] == ["POST /v1/content"]
    root = server[0]
    assert root.attributes["http.request.method"] == "POST"
    assert root.attributes["http.route"] == "/v1/content"
    assert root.attributes["http.response.status_code"] == 201
    assert root.resource.attributes["service.name"] == "lafactoria-test"

    calls = [s for s in finished if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert calls, [s.name for s in finished]
    call = calls[0]
    assert call.kind == SpanKind.CLIENT and call.name == f"chat {call.attributes['gen_ai.request.model']}"
    assert call.attributes["gen_ai.provider.name"] == "mock" and "gen_ai.system" not in call.attributes
    assert call.attributes["gen_ai.usage.input_tokens"] == sum(
        c.attributes["gen_ai.usage.input_tokens"] for c in calls[:1])
    assert item["usage"]["input_tokens"] == sum(c.attributes["gen_ai.usage.input_tokens"] for c in calls)
    assert item["usage"]["output_tokens"] == sum(c.attributes["gen_ai.usage.output_tokens"] for c in calls)
    assert item["usage"]["cached_input_tokens"] == sum(c.attributes["gen_ai.usage.cache_read.input_tokens"]
                                                       for c in calls)
    assert item["usage"]["reasoning_tokens"] == sum(c.attributes["gen_ai.usage.reasoning.output_tokens"]
                                                    for c in calls)

    statements = [s for s in finished if "db.system.name" in s.attributes]
    assert statements and all(s.kind == SpanKind.CLIENT for s in statements)
    assert {s.attributes["db.system.name"] for s in statements} == {db.backend}
    assert "INSERT" in {s.attributes["db.operation.name"] for s in statements}
    trace_id = root.context.trace_id
    assert all(s.context.trace_id == trace_id for s in calls + statements)  # one trace per request
    assert all(s.parent is not None for s in calls + statements)
    texts = " ".join(s.attributes["db.query.text"] for s in statements)
    assert BODY["topic"] not in texts and key not in texts  # statements are parameterised

    spans.clear()
    assert client_for("generate").get("/v1/content/nope", headers=auth(key)).status_code == 404
    (span,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert span.name == "GET /v1/content/<item_id>" and span.attributes["http.response.status_code"] == 404
    assert span.status.status_code != StatusCode.ERROR  # a 4xx is the client's


def test_a_5xx_is_an_error_span_and_traceparent_is_continued(db, spans, client_for, monkeypatch):
    from opentelemetry.trace import SpanKind, StatusCode

    _, key = make_user("ops")
    monkeypatch.setattr("functions.health.jobs_status.jobs_report", lambda session: 1 / 0)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    resp = client_for("health").get("/v1/jobs", headers=auth(key) | {"traceparent": parent})
    assert resp.status_code == 500
    (span,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert span.status.status_code == StatusCode.ERROR and span.attributes["error.type"] == "500"
    assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert format(span.parent.span_id, "016x") == "b7ad6b7169203331"


def test_spans_reach_an_otlp_http_collector(db, env, monkeypatch, client_for):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from shared import tracing

    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append((self.path, self.headers.get("Content-Type", ""), body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv(OTLP_ENDPOINT, f"http://127.0.0.1:{server.server_address[1]}")
        tracing.reset()
        env()
        assert client_for("health").get("/livez").status_code == 200
        tracing.reset()  # shutdown flushes the batch processor
    finally:
        server.shutdown()
        server.server_close()
    assert received, "nothing exported"
    path, content_type, body = received[0]
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    request = ExportTraceServiceRequest.FromString(body)
    names = [s.name for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert "GET /livez" in names


def test_provider_span_names_the_otel_provider_and_token_parts(spans):
    from shared import tracing

    with tracing.genai_call("vertex", "gemini-2.5-flash") as span:
        span.usage(1200, 300, "gemini-2.5-flash-001", cache_read_tokens=1024, cache_write_tokens=0,
                   reasoning_tokens=120)
    with tracing.genai_call("anthropic", "claude-sonnet-4-5") as span:
        span.usage(None, None)  # a call that reported no usage records none
    vertex, anthropic = spans.get_finished_spans()
    assert {k: v for k, v in vertex.attributes.items() if k.startswith("gen_ai.")} == {
        "gen_ai.provider.name": "gcp.vertex_ai", "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gemini-2.5-flash", "gen_ai.response.model": "gemini-2.5-flash-001",
        "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 1024, "gen_ai.usage.cache_creation.input_tokens": 0,
        "gen_ai.usage.reasoning.output_tokens": 120}
    assert anthropic.attributes["gen_ai.provider.name"] == "anthropic"
    assert not [k for k in anthropic.attributes if k.startswith("gen_ai.usage.")]


@pytest.fixture
def exporter(monkeypatch):
    """An in-memory provider for this process, with the endpoint variable unset."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from shared import tracing

    monkeypatch.delenv(OTLP_ENDPOINT, raising=False)
    memory = InMemorySpanExporter()
    tracing.reset()
    tracing.configure(memory, simple=True)
    yield memory
    tracing.reset()


def test_two_apps_with_different_tracing_config_side_by_side(exporter):
    """Each app's TracingConfig decides, not the environment (the endpoint variable is unset)."""
    from opentelemetry.trace import SpanKind

    from shared.http import PUBLIC, FunctionApp, Route, TracingMiddleware
    from shared.tracing import TracingConfig

    def app(name, config):
        return FunctionApp(name, [Route("/ping", lambda ctx: {"ok": True}, roles=PUBLIC)],
                           middleware=[TracingMiddleware(name, config)]).test_client()

    traced, untraced = app("traced", TracingConfig("http://collector:4318")), app("untraced", TracingConfig())
    assert untraced.get("/ping").status_code == 200 and traced.get("/ping").status_code == 200
    server = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert [(s.name, s.attributes["lafactoria.function"]) for s in server] == [("GET /ping", "traced")]


def test_tracing_config_of_the_environment():
    from shared.settings.environment import read_environment
    from shared.tracing import TracingConfig

    assert TracingConfig.of(read_environment({OTLP_ENDPOINT: "http://c:4318"})).enabled
    assert not TracingConfig.of(read_environment({})).enabled
