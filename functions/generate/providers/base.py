"""The provider interface: one non-streaming call in, one `Completion` or `ProviderError` out.

Adapters make exactly one HTTP request per `complete()` with the SDK's own
retries turned off; retries, failover, budgets and the ledger live in the
pipeline, so retries never multiply and every attempt is accounted for.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from functions.generate.prompts import Prompt


@dataclass(frozen=True)
class Call:
    """Everything one provider call needs."""

    content_type: str
    request: Any  # the validated GenerateRequest
    prompt: Prompt
    schema: dict[str, Any]
    max_output_tokens: int
    generation: int = 1  # 1-based: which generation of this request (regenerations vary the output)
    timeout: float | None = None  # seconds for this call: what the request's deadline leaves (None: the setting)


@dataclass
class Completion:
    """What came back. `data` is set when the provider returned structured JSON directly (tool use).

    Token counts follow one convention whatever the provider's: `input_tokens` is
    every input token (cache reads and writes included), `output_tokens` every
    output token (reasoning/thinking included); the classes below are parts of them.
    `refusal` is the model's refusal text when it declined the request.
    """

    text: str | None
    input_tokens: int | None
    output_tokens: int | None
    model: str
    truncated: bool = False
    data: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0  # 5-minute cache writes
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    refusal: str | None = None

    def token_fields(self) -> dict[str, int | None]:
        """The ledger's token columns for this completion."""
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cached_input_tokens": self.cached_input_tokens, "cache_write_tokens": self.cache_write_tokens,
                "cache_write_1h_tokens": self.cache_write_1h_tokens, "reasoning_tokens": self.reasoning_tokens}


def count(value: Any) -> int:
    """A token count from an SDK usage field that may be absent or None."""
    return int(value) if isinstance(value, int) and value > 0 else 0


class ProviderError(Exception):
    """A failed call. `outcome` is the ledger outcome; `retryable` says whether trying again may help.

    `outage` says whether the failure is the provider's (counts toward its circuit
    breaker): timeouts, broken connections, 5xx, 408, 409 and 429 are; other 4xx mean
    our request was wrong and are not. `misconfigured` marks 401/403: our credentials.
    """

    def __init__(self, message: str, *, outcome: str = "error", retryable: bool = False,
                 retry_after: float | None = None, status: int | None = None,
                 input_tokens: int | None = None, output_tokens: int | None = None,
                 outage: bool = True) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.outage = outage

    @property
    def misconfigured(self) -> bool:
        return self.status in (401, 403)


class Provider(Protocol):  # pragma: no cover - typing only
    name: str
    model: str

    def configured(self) -> bool: ...

    def complete(self, call: Call) -> Completion: ...


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date); None if absent or bad."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
    except Exception:  # noqa: BLE001 - odd header containers
        return None
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_for_status(status: int, headers: Any, message: str) -> ProviderError:
    """Classify an HTTP error response: 429, 5xx, 408 and 409 may be retried and count as an outage;
    other 4xx (our request was wrong, or our key) are neither retried nor held against the provider."""
    retry_after = parse_retry_after(headers)
    if status == 429:
        return ProviderError(message, outcome="rate_limited", retryable=True, retry_after=retry_after, status=status)
    if status >= 500 or status in (408, 409):
        return ProviderError(message, outcome="error", retryable=True, retry_after=retry_after, status=status)
    outcome = "unauthorized" if status in (401, 403) else "rejected"
    return ProviderError(message, outcome=outcome, retryable=False, status=status, outage=False)
