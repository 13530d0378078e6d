"""Local stand-ins for the alert receivers: a Slack-style webhook and PagerDuty Events API v2.

Each is an http.server on 127.0.0.1 (an ephemeral port) in a thread, recording
what it was sent. The PagerDuty receiver checks every event against the v2
wire format and answers as PagerDuty does: 202 with a JSON status, or 400 for
an invalid event, so a malformed event fails the test that sent it.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PD_ACTIONS = {"trigger", "acknowledge", "resolve"}
PD_SEVERITIES = {"critical", "error", "warning", "info"}


def pagerduty_errors(event: dict) -> list[str]:
    """What is wrong with `event` as a PagerDuty Events API v2 event (empty: valid)."""
    problems = []
    allowed = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client", "client_url"}
    if set(event) - allowed:
        problems.append(f"unknown fields {sorted(set(event) - allowed)}")
    if not isinstance(event.get("routing_key"), str) or len(event.get("routing_key", "")) != 32:
        problems.append("routing_key must be a 32-character integration key")
    action = event.get("event_action")
    if action not in PD_ACTIONS:
        problems.append(f"event_action {action!r}")
    key = event.get("dedup_key")
    if action in ("acknowledge", "resolve") and not key:
        problems.append("acknowledge/resolve need a dedup_key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 255):
        problems.append("dedup_key must be a string of at most 255 characters")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return problems + ["trigger needs a payload"]
        for name in ("summary", "source", "severity"):
            if not isinstance(payload.get(name), str) or not payload.get(name):
                problems.append(f"payload.{name} is required")
        if len(payload.get("summary", "")) > 1024:
            problems.append("payload.summary over 1024 characters")
        if payload.get("severity") not in PD_SEVERITIES:
            problems.append(f"payload.severity {payload.get('severity')!r}")
        if "timestamp" in payload:
            try:
                datetime.fromisoformat(payload["timestamp"])
            except (TypeError, ValueError):
                problems.append("payload.timestamp is not ISO 8601")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            problems.append("payload.custom_details must be an object")
    return problems


class Receiver:
    """Records each JSON body; `status` is what it answers (change it to simulate an outage)."""

    def __init__(self, *, pagerduty: bool = False, status: int | None = None) -> None:
        self.messages: list[dict] = []
        self.rejected: list[tuple[dict, list[str]]] = []
        self.status = status or (202 if pagerduty else 200)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                problems = pagerduty_errors(body) if pagerduty else []
                if problems:
                    owner.rejected.append((body, problems))
                    reply, code = {"status": "invalid event", "errors": problems}, 400
                elif owner.status >= 300:
                    reply, code = {"status": "unavailable"}, owner.status
                else:
                    owner.messages.append(body)
                    reply, code = {"status": "success", "message": "Event processed",
                                   "dedup_key": body.get("dedup_key")}, owner.status
                data = json.dumps(reply).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/" + ("v2/enqueue" if pagerduty else "hook")
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take(self) -> list[tuple[str, str, str]]:
        """(status, level, rule) of the webhook messages received since the last call, sorted."""
        out = sorted((m["status"], m["level"], m["rule"]) for m in self.messages)
        self.messages.clear()
        return out

    def events(self) -> list[tuple[str, str]]:
        """(event_action, dedup_key) of the PagerDuty events received since the last call, in order."""
        out = [(m["event_action"], m["dedup_key"]) for m in self.messages]
        self.messages.clear()
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
