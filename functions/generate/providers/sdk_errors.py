"""One mapping from an SDK's exception to the pipeline's `ProviderError`, shared by every adapter.

The three SDKs (openai, anthropic, google-genai) raise exceptions of the same
few families, so a failed call is classified the same way whichever provider
made it:

- an HTTP error response (`APIStatusError` in openai and anthropic, `APIError`
  in google-genai): by its status code and `Retry-After` (`error_for_status`);
- a timeout (the SDKs' `APITimeoutError`, or the HTTP library's timeouts that
  google-genai lets through): outcome `timeout`, not retried by itself;
- a broken connection (`APIConnectionError`, or the HTTP library's `ConnectError`):
  retryable;
- anything else (a malformed body, an SDK surprise): a provider error naming the
  exception's class.

The families are recognised by class name along the exception's MRO, so this
module imports no SDK: each SDK stays on its own provider's call path.
"""

from __future__ import annotations

from typing import Any

from functions.generate.providers.base import ProviderError, error_for_status

_TIMEOUTS = frozenset({"APITimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout", "TimeoutError"})
_CONNECTION = frozenset({"APIConnectionError", "ConnectError"})


def _family(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _is_response(cls: type) -> bool:
    """An HTTP error response's class. openai's and anthropic's `APIError` is the base of every
    error they raise, connection failures included; google-genai's is its HTTP error."""
    return cls.__name__ == "APIStatusError" or (cls.__name__ == "APIError" and cls.__module__.startswith("google."))


def _status(exc: BaseException) -> tuple[int, Any] | None:
    """(status, the code as the SDK gave it) of an HTTP error response; None for any other failure."""
    if not any(_is_response(cls) for cls in type(exc).__mro__):
        return None
    code = getattr(exc, "status_code", None)
    if code is None:  # google-genai names it `code` and may leave it unset
        code = getattr(exc, "code", None)
        return int(code or 500), code
    return int(code), code


def provider_error(provider: str, exc: BaseException) -> ProviderError:
    """The `ProviderError` for `exc`, raised by `provider`'s SDK (messages start with the provider's name)."""
    status = _status(exc)
    if status is not None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return error_for_status(status[0], headers, f"{provider}: HTTP {status[1]}")
    names = _family(exc)
    if names & _TIMEOUTS:
        return ProviderError(f"{provider}: request timed out", outcome="timeout")
    if names & _CONNECTION or "Connect" in type(exc).__name__:
        return ProviderError(f"{provider}: connection failed", retryable=True)
    return ProviderError(f"{provider}: bad response ({type(exc).__name__})")
