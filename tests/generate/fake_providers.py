"""A local HTTP server that speaks the wire formats of OpenAI, Anthropic and Vertex AI (google-genai).

Tests script its replies (status, headers, body, delay, raw bytes) in order;
once the script is used up it answers with a valid document. Every request is
recorded, so a test can assert how many calls reached "the provider".
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    document: dict[str, Any] | None = None  # the content document to wrap in the wire format
    text: str | None = None  # raw model text instead of a document (malformed JSON etc.)
    truncated: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # the whole HTTP body, verbatim (malformed responses)
    delay: float = 0.0
    gate: threading.Event | None = None  # the reply waits until the test sets it (a provider that is slow)
    input_tokens: int = 120  # every input token, in our convention (cache reads and writes included)
    output_tokens: int = 480  # every output token (reasoning included)
    cached_tokens: int = 0  # cache reads
    cache_write_5m: int = 0  # Anthropic cache writes
    cache_write_1h: int = 0
    reasoning_tokens: int = 0  # OpenAI reasoning / Anthropic thinking / Gemini thoughts
    refusal: str | None = None


def wire(path: str) -> str:
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/messages"):
        return "anthropic"
    if ":generateContent" in path:
        return "vertex"
    return "unknown"


def render(kind: str, reply: Reply) -> bytes:
    if reply.body is not None:
        return reply.body
    if reply.status >= 400:
        if kind == "anthropic":
            return json.dumps({"type": "error", "error": {"type": "api_error", "message": "scripted failure"}}).encode()
        return json.dumps({"error": {"code": reply.status, "message": "scripted failure", "status": "UNAVAILABLE"}}).encode()
    text = reply.text if reply.text is not None else json.dumps(reply.document)
    if kind == "openai":
        # Each provider's own convention: OpenAI counts cached inside prompt_tokens, reasoning inside completion.
        message = {"role": "assistant", "content": None if reply.refusal else text, "refusal": reply.refusal}
        return json.dumps({
            "id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini-2024",
            "choices": [{"index": 0, "message": message, "finish_reason": "length" if reply.truncated else "stop"}],
            "usage": {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
                      "total_tokens": reply.input_tokens + reply.output_tokens,
                      "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens, "audio_tokens": 0}},
        }).encode()
    if kind == "anthropic":
        if reply.refusal is not None:
            content = [{"type": "text", "text": reply.refusal}]
        elif reply.text is not None:
            content = [{"type": "text", "text": reply.text}]
        else:
            content = [{"type": "tool_use", "id": "toolu_test", "name": "emit_content",
                        "input": {} if reply.truncated else reply.document}]
        return json.dumps({
            "id": "msg_test", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": content,
            "stop_reason": "refusal" if reply.refusal else "max_tokens" if reply.truncated else "tool_use",
            "stop_sequence": None,
            # Anthropic reports input_tokens beside (not including) cache reads and writes.
            "usage": {"input_tokens": reply.input_tokens - reply.cached_tokens - reply.cache_write_5m
                      - reply.cache_write_1h,
                      "cache_read_input_tokens": reply.cached_tokens,
                      "cache_creation_input_tokens": reply.cache_write_5m + reply.cache_write_1h,
                      "cache_creation": {"ephemeral_5m_input_tokens": reply.cache_write_5m,
                                         "ephemeral_1h_input_tokens": reply.cache_write_1h},
                      "output_tokens": reply.output_tokens,
                      "output_tokens_details": {"thinking_tokens": reply.reasoning_tokens}},
        }).encode()
    if kind == "vertex":
        # Gemini: promptTokenCount includes cached content; thoughts are NOT inside candidatesTokenCount.
        usage = {"promptTokenCount": reply.input_tokens,
                 "candidatesTokenCount": reply.output_tokens - reply.reasoning_tokens,
                 "totalTokenCount": reply.input_tokens + reply.output_tokens}
        if reply.reasoning_tokens:
            usage["thoughtsTokenCount"] = reply.reasoning_tokens
        if reply.cached_tokens:
            usage["cachedContentTokenCount"] = reply.cached_tokens
        if reply.refusal:
            candidate = {"content": {"role": "model", "parts": []}, "finishReason": "SAFETY"}
        else:
            candidate = {"content": {"role": "model", "parts": [{"text": text}]},
                         "finishReason": "MAX_TOKENS" if reply.truncated else "STOP"}
        return json.dumps({"candidates": [candidate], "usageMetadata": usage,
                           "modelVersion": "gemini-2.5-flash"}).encode()
    raise ValueError(kind)


class FakeProviderServer:
    """`server.script("openai", Reply(...), ...)`; `server.calls("openai")` lists recorded requests."""

    def __init__(self, default_document=None) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, list[Reply]] = {"openai": [], "anthropic": [], "vertex": []}
        self.requests: list[dict[str, Any]] = []
        self.default_document = default_document  # callable(request_json, kind) -> document
        self.usage = None  # callable(request_json, kind) -> (input_tokens, output_tokens) for every reply
        self.arrived = threading.Event()  # set when any request has been received
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    payload = json.loads(raw or b"{}")
                except ValueError:
                    payload = None
                kind = wire(self.path)
                with outer._lock:
                    outer.requests.append({"kind": kind, "path": self.path, "headers": dict(self.headers),
                                           "json": payload, "at": time.monotonic()})
                    script = outer._scripts.get(kind, [])
                    reply = script.pop(0) if script else None
                outer.arrived.set()
                if reply is None:
                    reply = Reply(document=outer.default_document(payload, kind) if outer.default_document else {})
                if outer.usage is not None:
                    reply.input_tokens, reply.output_tokens = outer.usage(payload, kind)
                if reply.gate is not None:
                    reply.gate.wait(timeout=60)
                if reply.delay:
                    time.sleep(reply.delay)
                body = render(kind, reply)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def script(self, kind: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[kind].extend(replies)

    def calls(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if kind is None or r["kind"] == kind]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
