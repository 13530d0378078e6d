"""`providers/sdk_errors.py`: each SDK's real exceptions, built around real HTTP responses, map to the
same provider errors (kind, retryability, outage, message) whichever provider raised them. No network."""

from __future__ import annotations

import httpx
import httpx2
import pytest

from functions.generate.providers.sdk_errors import provider_error

URL = "https://provider.test/v1/call"


def _kind(err) -> tuple:
    return (str(err), err.outcome, err.retryable, err.outage, err.status, err.retry_after)


def _openai_like(sdk):
    """The openai and anthropic SDKs share their exception families (both on httpx2)."""
    request = httpx2.Request("POST", URL)

    def status(cls, code: int, headers: dict | None = None):
        return cls("failed", response=httpx2.Response(code, headers=headers or {}, request=request), body=None)

    return {
        "rate limited": status(sdk.RateLimitError, 429, {"retry-after": "7"}),
        "server error": status(sdk.InternalServerError, 503),
        "conflict": status(sdk.ConflictError, 409),
        "bad key": status(sdk.AuthenticationError, 401),
        "forbidden": status(sdk.PermissionDeniedError, 403),
        "bad request": status(sdk.BadRequestError, 400),
        "timeout": sdk.APITimeoutError(request=request),
        "connection": sdk.APIConnectionError(request=request),
        "malformed": ValueError("not JSON"),
    }


def _genai():
    from google.genai import errors

    def status(cls, code: int, headers: dict | None = None):
        body = {"error": {"code": code, "message": "failed", "status": "X"}}
        return cls(code, body, httpx.Response(code, headers=headers or {}, request=httpx.Request("POST", URL)))

    return {
        "rate limited": status(errors.ClientError, 429, {"retry-after": "7"}),
        "server error": status(errors.ServerError, 503),
        "conflict": status(errors.ClientError, 409),
        "bad key": status(errors.ClientError, 401),
        "forbidden": status(errors.ClientError, 403),
        "bad request": status(errors.ClientError, 400),
        "timeout": httpx.ReadTimeout("read timed out"),
        "connection": httpx.ConnectError("refused"),
        "malformed": ValueError("not JSON"),
    }


def _expected(provider: str) -> dict[str, tuple]:
    return {
        "rate limited": (f"{provider}: HTTP 429", "rate_limited", True, True, 429, 7.0),
        "server error": (f"{provider}: HTTP 503", "error", True, True, 503, None),
        "conflict": (f"{provider}: HTTP 409", "error", True, True, 409, None),
        "bad key": (f"{provider}: HTTP 401", "unauthorized", False, False, 401, None),
        "forbidden": (f"{provider}: HTTP 403", "unauthorized", False, False, 403, None),
        "bad request": (f"{provider}: HTTP 400", "rejected", False, False, 400, None),
        "timeout": (f"{provider}: request timed out", "timeout", False, True, None, None),
        "connection": (f"{provider}: connection failed", "error", True, True, None, None),
        "malformed": (f"{provider}: bad response (ValueError)", "error", False, True, None, None),
    }


def _cases(provider: str):
    import anthropic
    import openai

    raised = {"openai": lambda: _openai_like(openai), "anthropic": lambda: _openai_like(anthropic),
              "vertex": _genai}[provider]()
    return [(exc, _expected(provider)[case]) for case, exc in raised.items()]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "vertex"])
def test_each_sdks_exceptions_map_to_the_same_provider_errors(provider):
    for exc, expected in _cases(provider):
        assert _kind(provider_error(provider, exc)) == expected, type(exc).__name__


def test_the_sdks_base_error_is_not_taken_for_an_http_response():
    """openai's and anthropic's `APIError` is the base of their connection errors too: those carry
    no status and must not read as an HTTP 500."""
    import openai

    err = provider_error("openai", openai.APIConnectionError(request=httpx2.Request("POST", URL)))
    assert err.status is None and str(err) == "openai: connection failed"


def test_genai_without_a_code_is_a_server_error():
    """google-genai may leave the code unset: it counts as a 500 (retried, an outage), as the SDK's
    message says."""
    from google.genai import errors

    err = provider_error("vertex", errors.ServerError(0, {"error": {"message": "?"}}, None))
    assert (err.status, err.retryable, err.outage) == (500, True, True)
