"""The alert outbox's sender: PagerDuty's 429 and rate limit respected, refusals final, rows claimed once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from shared.alerts import Notification
from shared.alerts.outbox import RateLimiter, enqueue, send_due
from shared.database import session_scope
from shared.models import AlertOutbox, utcnow
from tests.alert_receivers import Receiver

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def _queue(severity: str = "critical") -> None:
    with session_scope() as s:
        enqueue(s, Notification(rule="error-rate:critical", severity=severity, event="trigger", summary="High 5xx"))


def _rows() -> list[AlertOutbox]:
    with session_scope() as s:
        return list(s.scalars(select(AlertOutbox).order_by(AlertOutbox.channel)))


def test_pagerduty_429_waits_its_retry_after_and_is_not_retried_at_once(db, env):
    pd = Receiver(pagerduty=True, status=429)
    try:
        env(alert_pagerduty_routing_key=ROUTING_KEY, pagerduty_events_url=pd.url)
        _queue()
        before = utcnow()
        report = send_due()
        assert (report.delivered, report.retrying) == (0, 1)
        [row] = _rows()
        assert row.attempts == 1 and row.last_error == "HTTP 429"
        assert row.next_attempt_at >= before + timedelta(seconds=59)  # no Retry-After: a minute
        assert send_due().retrying == 0  # not due before then
        pd.status = 202
        assert send_due(now=row.next_attempt_at + timedelta(seconds=1)).delivered == 1
        assert [e[0] for e in pd.events()] == ["trigger"]
    finally:
        pd.close()


def test_a_refusal_is_final_and_kept_for_the_operator(db, env):
    hook = Receiver(status=404)
    try:
        env(alert_webhook_url=hook.url)
        _queue("warning")
        assert send_due().refused == 1
        [row] = _rows()
        assert row.delivered_at is None and row.last_error == "HTTP 404"
        assert send_due(now=utcnow() + timedelta(days=365)).refused == 0  # never again
    finally:
        hook.close()


def test_only_channels_that_take_the_severity_get_rows(db, env):
    env(alert_pagerduty_routing_key=ROUTING_KEY, alert_webhook_url="http://127.0.0.1:9/hook")
    _queue("warning")  # webhook only
    _queue("info")  # nowhere: the daily report
    assert [r.channel for r in _rows()] == ["webhook"]


def test_pagerduty_rate_limit_per_key():
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.wait_time("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_time("k") == pytest.approx(60.0)
    assert limiter.wait_time("other") == 0.0  # per routing key
    now[0] = 30.0
    assert limiter.wait_time("k") == pytest.approx(30.0)
    now[0] = 60.5
    assert limiter.wait_time("k") == 0.0


def test_a_claimed_row_is_not_sent_twice(db, env):
    """The claim moves `next_attempt_at` ahead, so a second sender (another instance) skips the row."""
    from shared.alerts import outbox

    env(alert_webhook_url="http://127.0.0.1:9/hook")
    _queue("warning")
    claimed = outbox._claim(utcnow(), 10)
    assert len(claimed) == 1
    assert outbox._claim(utcnow(), 10) == []
