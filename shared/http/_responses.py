"""Building responses: JSON, problem+json (RFC 9457) and empty ones."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from shared import errors


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> Response:
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json")
    body = json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False)
    return Response(body, status=status, headers=headers, content_type=content_type)


def problem_response(problem: errors.Problem) -> Response:
    return json_response(problem.body(), problem.status, problem.headers, "application/problem+json")


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(status=status, headers=headers)


def to_response(result: Any, status: int) -> Response:
    """What a handler returned as a response: a Response as is, None 204, `(body, status)`, or a body."""
    if isinstance(result, Response):
        return result
    if result is None:
        return empty_response(204)
    if isinstance(result, tuple):
        body, status = result
        return json_response(body, status)
    return json_response(result, status)
