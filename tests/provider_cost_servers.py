"""Local stand-ins for the providers' cost reports, speaking their wire formats.

- OpenAI `GET /v1/organization/costs`: `Authorization: Bearer <admin key>`,
  `start_time`/`end_time` Unix seconds, `bucket_width=1d`, `group_by=line_item`,
  `limit`, `page`; answers `{"object": "page", "data": [{"object": "bucket",
  "start_time", "end_time", "results": [{"object": "organization.costs.result",
  "amount": {"value", "currency": "usd"}, "line_item", "project_id"}]}],
  "has_more", "next_page"}`.
- Anthropic `GET /v1/organizations/cost_report`: `x-api-key`, `anthropic-version`,
  `starting_at`/`ending_at` RFC 3339, `bucket_width=1d`, `group_by[]`, `limit`,
  `page`; answers `{"data": [{"starting_at", "ending_at", "results": [{"currency":
  "USD", "amount": "<cents as a decimal string>", "model", "description",
  "cost_type", ...}]}], "has_more", "next_page"}`.

Both serve `page_size` buckets per page (default 1, so every multi-day test pages)
and only the days they hold: a day they do not hold has no bucket (missing data).
A request with a wrong key gets 401; `fail_next` makes the next requests answer
500 (a retry must get through).
"""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

OPENAI_KEY = "sk-admin-openai-test"
ANTHROPIC_KEY = "sk-ant-admin01-test"


class CostServer:
    """`days[date] = [(model, kind, usd), ...]`; `requests` records what was asked."""

    def __init__(self, kind: str, page_size: int = 1) -> None:
        self.kind = kind
        self.page_size = page_size
        self.days: dict[date, list[tuple[str, str, Decimal]]] = {}
        self.requests: list[dict] = []
        self.fail_next = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                server.requests.append({"path": url.path, "query": query, "headers": dict(self.headers)})
                status, body = server.answer(url.path, query, self.headers)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        return base + "/v1" if self.kind == "openai" else base  # each SDK's base-URL convention

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, day: date, model: str, usd: str | Decimal, kind: str = "input") -> None:
        self.days.setdefault(day, []).append((model, kind, Decimal(usd)))

    # -- the two wire formats ------------------------------------------------------------
    def answer(self, path: str, query: dict, headers) -> tuple[int, dict]:
        if self.fail_next:
            self.fail_next -= 1
            return 500, {"error": {"type": "api_error", "message": "try again"}}
        if self.kind == "openai":
            if path != "/v1/organization/costs":
                return 404, {"error": {"message": "not found"}}
            if headers.get("Authorization") != f"Bearer {OPENAI_KEY}":
                return 401, {"error": {"message": "invalid admin key", "type": "invalid_request_error"}}
            start = datetime.fromtimestamp(int(query["start_time"][0]), timezone.utc).date()
            end = datetime.fromtimestamp(int(query["end_time"][0]), timezone.utc).date()
        else:
            if path != "/v1/organizations/cost_report":
                return 404, {"type": "error", "error": {"type": "not_found_error", "message": "not found"}}
            if headers.get("x-api-key") != ANTHROPIC_KEY or headers.get("anthropic-version") != "2023-06-01":
                return 401, {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}
            start = datetime.fromisoformat(query["starting_at"][0].replace("Z", "+00:00")).date()
            end = datetime.fromisoformat(query["ending_at"][0].replace("Z", "+00:00")).date()
        held = sorted(d for d in self.days if start <= d < end)
        offset = int(query.get("page", ["0"])[0].removeprefix("page_") or 0)
        chunk, rest = held[offset:offset + self.page_size], held[offset + self.page_size:]
        next_page = f"page_{offset + self.page_size}" if rest else None
        if self.kind == "openai":
            data = [{"object": "bucket", "start_time": _ts(d), "end_time": _ts(d + timedelta(days=1)),
                     "results": [{"object": "organization.costs.result",
                                  "amount": {"value": float(usd), "currency": "usd"},
                                  "line_item": f"{model}, {kind}", "project_id": None}
                                 for model, kind, usd in self.days[d]]} for d in chunk]
            return 200, {"object": "page", "data": data, "has_more": bool(rest), "next_page": next_page}
        data = [{"starting_at": _iso(d), "ending_at": _iso(d + timedelta(days=1)),
                 "results": [{"currency": "USD", "amount": str(usd * 100), "workspace_id": None,
                              "description": f"{model} {kind}", "cost_type": "tokens", "context_window": "0-200k",
                              "model": model, "service_tier": "standard", "token_type": f"{kind}_tokens"}
                             for model, kind, usd in self.days[d]]} for d in chunk]
        return 200, {"data": data, "has_more": bool(rest), "next_page": next_page}


def _ts(d: date) -> int:
    return int(datetime.combine(d, time.min, tzinfo=timezone.utc).timestamp())


def _iso(d: date) -> str:
    return datetime.combine(d, time.min, tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
