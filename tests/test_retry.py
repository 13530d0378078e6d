"""The one retry policy (shared.retry) and the alert transport that uses it; no sleeps (injected)."""

from __future__ import annotations

import pytest

from shared.retry import GaveUp, RetryPolicy
from tests.alert_receivers import Receiver


class Flaky(Exception):
    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("flaky")
        self.retry_after = retry_after


def run(policy: RetryPolicy, outcomes: list, **kw):
    """Apply `policy` to an operation that raises each of `outcomes` in turn, then returns "done"."""
    slept: list[float] = []
    calls = []

    def operation():
        calls.append(1)
        if outcomes:
            raise outcomes.pop(0)
        return "done"

    retrying = policy.retrying(lambda e: isinstance(e, Flaky), sleep=slept.append,
                               retry_after=lambda e: getattr(e, "retry_after", None), **kw)
    for attempt in retrying:
        with attempt:
            result = operation()
    return result, slept, len(calls)


def test_retryable_errors_are_retried_with_capped_exponential_backoff():
    policy = RetryPolicy(attempts=5, first=0.5, longest_backoff=1.5)
    assert run(policy, [Flaky(), Flaky(), Flaky(), Flaky()]) == ("done", [0.5, 1.0, 1.5, 1.5], 5)


def test_jitter_stays_within_its_bound():
    policy = RetryPolicy(attempts=2, first=0.25, longest_backoff=10, jitter=0.1)
    _, [wait], _ = run(policy, [Flaky()])
    assert 0.25 <= wait <= 0.35


def test_a_retry_after_is_waited_instead_of_the_backoff():
    policy = RetryPolicy(attempts=3, first=0.5, longest_backoff=4)
    assert run(policy, [Flaky(retry_after=3)]) == ("done", [3.0], 2)


def test_other_errors_propagate_at_once_unchanged():
    policy = RetryPolicy(attempts=3, first=0.5, longest_backoff=4)
    with pytest.raises(KeyError):
        run(policy, [KeyError("x")])


def test_used_up_tries_give_up_with_the_last_error():
    last = Flaky()
    with pytest.raises(GaveUp) as gave_up:
        run(RetryPolicy(attempts=2, first=0.5, longest_backoff=4), [Flaky(), last])
    assert gave_up.value.last is last and gave_up.value.refused_wait is None


def test_a_wait_longer_than_allowed_or_than_the_budget_is_refused_not_slept():
    with pytest.raises(GaveUp) as gave_up:
        run(RetryPolicy(attempts=3, first=0.5, longest_backoff=4, longest_wait=10), [Flaky(retry_after=30)])
    assert gave_up.value.refused_wait == 30
    with pytest.raises(GaveUp) as gave_up:
        run(RetryPolicy(attempts=3, first=0.5, longest_backoff=4), [Flaky(retry_after=5)], budget=lambda: 4.0)
    assert gave_up.value.refused_wait == 5
    assert run(RetryPolicy(attempts=3, first=0.5, longest_backoff=4), [Flaky(retry_after=3)],
               budget=lambda: 4.0) == ("done", [3.0], 2)


@pytest.mark.parametrize("status, delivered, slept", [
    (200, True, []),
    (503, False, [0.5, 1.0]),  # three tries in all, a wait between each
    (429, False, [0.5, 1.0]),
    (400, False, []),  # refused: final at once
])
def test_alert_transport_retries_what_may_pass_and_stops_on_a_refusal(status, delivered, slept):
    from shared.alerts.transport import post_json

    receiver = Receiver(status=status)
    waits: list[float] = []
    try:
        assert post_json(receiver.url, {"text": "hi"}, channel="webhook", attempts=3, sleep=waits.append) is delivered
        assert waits == slept and len(receiver.messages) == (1 if delivered else 0)
    finally:
        receiver.close()


def test_alert_transport_retries_an_unreachable_receiver():
    from shared.alerts.transport import post_json
    from tests.conftest import free_port

    waits: list[float] = []
    assert post_json(f"http://127.0.0.1:{free_port()}/", {}, channel="webhook", attempts=2, timeout=1,
                     sleep=waits.append) is False
    assert waits == [0.5]


def test_run_returns_the_result_after_retrying_and_raises_the_last_error_itself_when_spent():
    waits: list[float] = []
    policy = RetryPolicy(attempts=3, first=0.5, longest_backoff=4)
    calls = iter([OSError("first"), OSError("second"), "done"])

    def flaky() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert policy.run(flaky, lambda e: isinstance(e, OSError), sleep=waits.append) == "done"
    assert waits == [0.5, 1.0]

    def always() -> None:
        raise OSError("still down")

    with pytest.raises(OSError, match="still down"):
        policy.run(always, lambda e: isinstance(e, OSError), sleep=waits.append)
    with pytest.raises(ValueError):  # not retryable: raised at once, not retried
        policy.run(lambda: int("x"), lambda e: isinstance(e, OSError), sleep=waits.append)
    assert waits == [0.5, 1.0, 0.5, 1.0]
