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


@dataclass
class Completion:
    """What came back. `data` is set when the provider returned structured JSON directly (tool use)."""

    text: str | None
    input_tokens: int | None
    output_tokens: int | None
    model: str
    truncated: bool = False
    data: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ProviderError(Exception):
    """A failed call. `outcome` is the ledger outcome; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, outcome: str = "error", retryable: bool = False,
                 retry_after: float | None = None, status: int | None = None,
                 input_tokens: int | None = None, output_tokens: int | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens


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
    """Classify an HTTP error response: 429 and 5xx (and 408) may be retried, other 4xx not."""
    retry_after = parse_retry_after(headers)
    if status == 429:
        return ProviderError(message, outcome="rate_limited", retryable=True, retry_after=retry_after, status=status)
    if status >= 500 or status == 408:
        return ProviderError(message, outcome="error", retryable=True, retry_after=retry_after, status=status)
    return ProviderError(message, outcome="error", retryable=False, status=status)
