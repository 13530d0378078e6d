"""The one retry policy for outbound calls: bounded attempts, exponential backoff, Retry-After honoured.

Why one module: the provider calls of a generation (`functions.generate.attempts`)
and the alert channels' POSTs (`shared.alerts.transport`) used to carry their own
hand-written backoff loops, each with its own reading of "which errors retry,
how long to wait, when to give up". Both now build a tenacity `Retrying` here,
so the rules live in one place:

- at most `attempts` tries in all; only errors `retryable` accepts are retried,
  any other one propagates at once, unchanged;
- the wait before a retry is the error's own Retry-After (`retry_after`) when it
  gives one, else `first * 2**(n-1)` seconds capped at `longest_backoff`, plus up
  to `jitter` seconds of random jitter;
- a wait longer than `longest_wait` (or than the caller's `budget()` of seconds
  still available, e.g. what a request's deadline leaves) is not waited: the
  caller gets `GaveUp` at once and can go elsewhere (another provider) instead;
- `sleep` is injectable, so tests never wait on the wall clock.

When the tries are used up, or a wait is too long, `GaveUp` carries the last
error and, in the second case, the wait that was refused (a hint for the
client's own Retry-After).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception


T = TypeVar("T")


class GaveUp(Exception):
    """No further try: `last` is the final error; `refused_wait` the too-long wait, when that was why."""

    def __init__(self, last: BaseException, refused_wait: float | None = None) -> None:
        super().__init__(str(last))
        self.last = last
        self.refused_wait = refused_wait


def _no_retry_after(exc: BaseException) -> float | None:
    return None


def _unbounded() -> float:
    return math.inf


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries and how long between them; `retrying` applies it to one operation."""

    attempts: int
    first: float
    longest_backoff: float
    jitter: float = 0.0
    longest_wait: float = math.inf  # a longer Retry-After is not waited for

    def backoff(self, attempt_number: int) -> float:
        """The wait after failed try `attempt_number` (1-based) when the error names none."""
        base: float = min(self.longest_backoff, self.first * 2.0 ** (attempt_number - 1))
        return base + (random.random() * self.jitter if self.jitter else 0.0)

    def retrying(self, retryable: Callable[[BaseException], bool], *,
                 retry_after: Callable[[BaseException], float | None] = _no_retry_after,
                 budget: Callable[[], float] = _unbounded,
                 sleep: Callable[[float], None] = time.sleep,
                 before_sleep: Callable[[RetryCallState], None] | None = None) -> Retrying:
        """A tenacity `Retrying` for one operation: `for attempt in it: with attempt: ...`.

        Raises the error itself when `retryable` rejects it, `GaveUp` when the
        tries are used up or the next wait exceeds `longest_wait` or `budget()`.
        """

        def wait(state: RetryCallState) -> float:
            exc = _error(state)
            hinted = retry_after(exc)
            return float(hinted) if hinted is not None else self.backoff(state.attempt_number)

        def stop(state: RetryCallState) -> bool:
            # tenacity computes the wait before asking whether to stop: a too-long wait stops here.
            return state.attempt_number >= self.attempts or self._too_long(state.upcoming_sleep, budget)

        def gave_up(state: RetryCallState) -> None:
            refused = None if state.attempt_number >= self.attempts else state.upcoming_sleep
            raise GaveUp(_error(state), refused)

        return Retrying(retry=retry_if_exception(retryable), wait=wait, stop=stop, sleep=sleep,
                        retry_error_callback=gave_up, before_sleep=before_sleep)

    def run(self, operation: Callable[[], T], retryable: Callable[[BaseException], bool], *,
            sleep: Callable[[float], None] = time.sleep) -> T:
        """`operation()` under this policy, for callers with no other place to go: when the tries
        are used up its last error is raised as itself (not `GaveUp`)."""
        try:
            for attempt in self.retrying(retryable, sleep=sleep):
                with attempt:
                    return operation()
        except GaveUp as gave_up:
            raise gave_up.last from None
        raise AssertionError("unreachable: tenacity either returns, raises or gives up")

    def _too_long(self, wait: float, budget: Callable[[], float]) -> bool:
        return wait > self.longest_wait or wait > budget()


def _error(state: RetryCallState) -> BaseException:
    exc = state.outcome.exception() if state.outcome is not None else None
    if exc is None:  # only failed tries are retried, so a retry state always holds an error
        raise RuntimeError("retry state without an error")
    return exc
