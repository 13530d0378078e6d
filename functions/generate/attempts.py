"""The attempt policy: one provider call with its reservation, bounded retries and a ledger row per try.

Each HTTP call gets at most `MAX_RETRIES` retries on 429/5xx/connection errors
(`ProviderError.retryable`), waiting the provider's Retry-After when it sends
one, else a short exponential backoff with jitter (the one policy of
`shared.retry`). A wait longer than `MAX_RETRY_WAIT_SECONDS`, or than the
request's deadline leaves, is not waited: the provider is left for the next
one and the wait becomes a hint for the client's Retry-After. No call starts
once the deadline is (nearly) used up, and each gets what the deadline leaves,
never more than `PROVIDER_TIMEOUT_SECONDS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from functions.generate import budget
from functions.generate.deadline import Deadline
from functions.generate.providers import Call, Completion, Provider, ProviderError
from functions.generate.spend import Spend
from shared import tracing
from shared.logs import get_logger
from shared.retry import GaveUp, RetryPolicy

log = get_logger("lafactoria.generate")

MAX_RETRIES = 2  # per HTTP call, on 429/5xx/connection errors
MAX_RETRY_WAIT_SECONDS = 10.0  # a longer Retry-After means: go to the next provider instead
DEADLINE_MARGIN_SECONDS = 1.0  # a retry must leave at least this much of the deadline for its call
POLICY = RetryPolicy(attempts=MAX_RETRIES + 1, first=0.25, longest_backoff=MAX_RETRY_WAIT_SECONDS, jitter=0.1,
                     longest_wait=MAX_RETRY_WAIT_SECONDS)
CREDENTIALS_ALERT_RULE = "provider_credentials"


class ProviderFailed(Exception):
    """This provider cannot serve this request now; try the next one."""

    def __init__(self, reason: str, *, outage: bool) -> None:
        super().__init__(reason)
        self.outage = outage  # counts against the circuit breaker (invalid output does not)


class DeadlineReached(Exception):
    """`GENERATION_DEADLINE_SECONDS` is (nearly) used up: start no further call."""


class _TryFailed(Exception):
    """One try failed (already in the ledger); `outage` as it counts for the circuit."""

    def __init__(self, error: ProviderError, outage: bool) -> None:
        super().__init__(str(error))
        self.error, self.outage = error, outage


@dataclass
class RetryHint:
    """The shortest wait any provider asked for: the client's Retry-After when nothing could serve."""

    seconds: float | None = None

    def offer(self, seconds: float) -> None:
        self.seconds = seconds if self.seconds is None else min(self.seconds, seconds)


@dataclass(frozen=True)
class Answer:
    """A completed call: its reply, the reservation its ledger row settles, and how long it took."""

    completion: Completion
    reservation: str | None
    latency_ms: float


def alert_credentials(provider: Provider, exc: ProviderError) -> None:
    """A 401/403 means our key is wrong or lacks access: a configuration problem for an operator."""
    from shared.alerts import raise_alert
    from shared.database import session_scope

    try:
        with session_scope() as session:
            raise_alert(session, f"{CREDENTIALS_ALERT_RULE}:{provider.name}", "warning",
                        f"{provider.name} rejected our credentials (HTTP {exc.status}); check its API key "
                        f"and access to {provider.model}",
                        {"provider": provider.name, "model": provider.model, "status": exc.status},
                        deliver_now=False)  # the outbox: delivered outside this request
    except Exception:  # noqa: BLE001 - alerting must not turn a failover into a 500
        log.exception("could not record the provider credentials alert", extra={"provider": provider.name})


@dataclass
class Attempts:
    """Calls providers for one request; the judge calls through here too."""

    spend: Spend
    deadline: Deadline
    timeout_limit: float  # PROVIDER_TIMEOUT_SECONDS
    sleep: Callable[[float], None] = time.sleep
    alert: Callable[[Provider, ProviderError], None] = alert_credentials
    hint: RetryHint = field(default_factory=RetryHint)
    policy: RetryPolicy = POLICY

    def call(self, provider: Provider, call: Call, kind: str) -> Answer:
        """One provider call with retries. Raises `ProviderFailed` when this provider cannot serve,
        `DeadlineReached`, or a `SpendRefused` from the budget."""
        retrying = self.policy.retrying(
            lambda exc: isinstance(exc, _TryFailed) and exc.error.retryable,
            retry_after=lambda exc: exc.error.retry_after if isinstance(exc, _TryFailed) else None,
            budget=lambda: self.deadline.remaining() - DEADLINE_MARGIN_SECONDS, sleep=self.sleep)
        try:
            for attempt in retrying:
                with attempt:
                    return self._try(provider, call, kind, retry=attempt.retry_state.attempt_number - 1)
        except GaveUp as gave_up:  # only a `_TryFailed` is retried, so it is the last error
            raise self._give_up(cast(_TryFailed, gave_up.last), gave_up.refused_wait) from None
        except _TryFailed as failed:  # not worth another try
            raise self._give_up(failed, None) from None
        raise AssertionError("tenacity ends with a result or an error")  # pragma: no cover

    def _try(self, provider: Provider, call: Call, kind: str, *, retry: int) -> Answer:
        if self.deadline.exhausted():
            raise DeadlineReached()
        timeout = self.deadline.timeout(self.timeout_limit)
        try:
            reservation = self.spend.reserve(provider, call)
        except budget.Unpriceable:
            log.warning("provider skipped: no price for its model under a budget cap",
                        extra={"provider": provider.name})
            raise ProviderFailed("unpriceable model under a budget cap", outage=False) from None
        started = time.perf_counter()
        try:
            completion = _complete(provider, call, timeout)
        except ProviderError as exc:
            latency = (time.perf_counter() - started) * 1000
            self.spend.settle(reservation, self.spend.fields(provider, kind, exc.outcome, error=exc,
                                                             latency_ms=latency))
            log.warning("provider call failed", extra={"provider": provider.name, "outcome": exc.outcome,
                                                       "status": exc.status, "retry": retry})
            if exc.misconfigured:
                self.alert(provider, exc)
            # A call we cut short to fit the deadline says nothing about the provider's health.
            outage = exc.outage and not (exc.outcome == "timeout" and timeout < self.timeout_limit)
            raise _TryFailed(exc, outage) from None
        return Answer(completion, reservation, (time.perf_counter() - started) * 1000)

    def _give_up(self, last: _TryFailed, refused_wait: float | None) -> ProviderFailed:
        if refused_wait is not None:
            self.hint.offer(refused_wait)
            return ProviderFailed(f"Retry-After {refused_wait:.0f}s is too long", outage=last.outage)
        if last.error.retry_after:
            self.hint.offer(last.error.retry_after)
        return ProviderFailed(str(last.error), outage=last.outage)


def _complete(provider: Provider, call: Call, timeout: float) -> Completion:
    with tracing.genai_call(provider.name, provider.model) as span:
        completion = provider.complete(Call(call.content_type, call.request, call.prompt, call.schema,
                                            call.max_output_tokens, call.generation, timeout))
        span.usage(completion.input_tokens, completion.output_tokens, completion.model,
                   cache_read_tokens=completion.cached_input_tokens,
                   cache_write_tokens=completion.cache_write_tokens + completion.cache_write_1h_tokens,
                   reasoning_tokens=completion.reasoning_tokens)
    return completion

