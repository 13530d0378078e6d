"""RFC 9457 problem details: the one error shape every endpoint returns.

Handlers raise a `Problem` (or a subclass); the HTTP layer renders it as
`application/problem+json`. Unexpected exceptions become a bare 500 problem
with no exception text, so nothing internal leaks to a client.
"""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://lafactoria.dev/problems/"


class Problem(Exception):
    status = 500
    title = "Internal Server Error"
    slug = "internal"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = dict(headers or {})
        self.errors = errors
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class BadRequest(Problem):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(Problem):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str = "A valid API key is required.", **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.headers.setdefault("WWW-Authenticate", 'Bearer realm="lafactoria"')


class Forbidden(Problem):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(Problem):
    status, title, slug = 404, "Not Found", "not-found"


class MethodNotAllowed(Problem):
    status, title, slug = 405, "Method Not Allowed", "method-not-allowed"


class Conflict(Problem):
    status, title, slug = 409, "Conflict", "conflict"


class Gone(Problem):
    status, title, slug = 410, "Gone", "gone"


class PayloadTooLarge(Problem):
    status, title, slug = 413, "Content Too Large", "payload-too-large"


class RequestTimeout(Problem):
    status, title, slug = 408, "Request Timeout", "request-timeout"

    def __init__(self, detail: str = "The request was not sent in the time allowed.", **kw: Any) -> None:
        super().__init__(detail, **kw)


class UnsupportedMediaType(Problem):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


class ValidationFailed(Problem):
    status, title, slug = 422, "Unprocessable Content", "validation"

    def __init__(self, errors: list[dict[str, str]], detail: str | None = None, **kw: Any) -> None:
        super().__init__(detail or "The request has invalid fields.", errors=errors, **kw)


class TooManyRequests(Problem):
    status, title, slug = 429, "Too Many Requests", "rate-limited"

    def __init__(self, detail: str, *, retry_after: int, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.headers.setdefault("Retry-After", str(max(1, int(retry_after))))


class ServiceUnavailable(Problem):
    status, title, slug = 503, "Service Unavailable", "unavailable"

    def __init__(self, detail: str, *, retry_after: int = 30, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.headers.setdefault("Retry-After", str(max(1, int(retry_after))))


class AtCapacity(ServiceUnavailable):
    """The instance holds as many requests as it admits (shared.admission): refused at once."""

    slug = "at-capacity"

    def __init__(self, detail: str = "The service is at capacity; retry shortly.", *, retry_after: int = 2,
                 **kw: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **kw)


def pydantic_errors(exc: Any) -> list[dict[str, str]]:
    """Per-field messages from a pydantic ValidationError, without echoing input values."""
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query")) or "body"
        out.append({"field": field, "message": err.get("msg", "invalid value")})
    return out
