"""The alert outbox: requests record notifications; a sender outside any request delivers them.

A request that raises or acknowledges an alert adds one `alert_outbox` row per
channel that takes the notification, in its own short transaction, and returns:
a webhook that hangs or a PagerDuty that throttles adds nothing to the request.

`send_due()` delivers what is due. It runs in two places:
- each served instance's background thread (`start_sender`, started by the
  gunicorn configuration in every worker, shared/serving.py), woken every
  `POLL_SECONDS` and at once when this process queued something;
- the `alert-check` job, every five minutes, so nothing waits for ever when no
  instance is up.

Each row is claimed first (its `next_attempt_at` moved `CLAIM_SECONDS` ahead, in a
transaction of its own with `SKIP LOCKED` on PostgreSQL), then sent with no database
connection held, then marked delivered or rescheduled. A send is tried up to
`SEND_ATTEMPTS` times at once for network errors and 5xx (`shared.retry`, exponential
backoff with jitter); still failing, the row is due again after an exponential delay
(`BACKOFF_BASE_SECONDS` x 2^attempts, at most `BACKOFF_MAX_SECONDS`). PagerDuty's
429 is never retried at once: the row waits `Retry-After` (or a minute), and every
process sends at most `PAGERDUTY_PER_MINUTE` events per routing key (PagerDuty
allows about 120 a minute per key). A 4xx other than 429 is final (logged, kept
undelivered with its status as `last_error` for the operator).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.alerts.delivery import Channel, channels
from shared.alerts.notification import Notification
from shared.alerts.pagerduty import PagerDutyChannel
from shared.alerts.webhook import WebhookChannel
from shared.logs import get_logger
from shared.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from shared.settings import Settings

log = get_logger("lafactoria.alerts")

POLL_SECONDS = 5.0
CLAIM_SECONDS = 120
SEND_TIMEOUT_SECONDS = 5.0
SEND_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 15
BACKOFF_MAX_SECONDS = 900
PAGERDUTY_PER_MINUTE = 100  # under PagerDuty's ~120 events per minute per routing key
BATCH = 50
FINAL = datetime(9999, 1, 1)  # next_attempt_at of a row refused for good (kept for the operator)


class Transient(Exception):
    """Worth another try: a network error, a timeout, a 5xx, or 429 (with its Retry-After)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Refused(Exception):
    """The receiver refused the notification for good (4xx but 429)."""


def enqueue(session: "Session", notification: Notification, settings: "Settings | None" = None) -> int:
    """Add one outbox row per configured channel that takes `notification`; returns how many."""
    from shared.models import AlertOutbox

    settings = settings or _settings()
    n = 0
    for channel in channels(settings):
        if channel.accepts(notification):
            session.add(AlertOutbox(channel=channel.name, alert_id=notification.alert_id, rule=notification.rule,
                                    severity=notification.severity, event=notification.event,
                                    summary=notification.summary, details=dict(notification.details),
                                    created_at=notification.timestamp))
            n += 1
    if n:
        # Woken once the rows are committed: woken now, the sender would find nothing due yet and
        # sleep a whole POLL_SECONDS before its next look.
        from sqlalchemy import event

        event.listen(session, "after_commit", lambda _session: _sender.wake(), once=True)
    return n


def post_once(url: str, payload: dict[str, Any], timeout: float) -> None:
    """POST `payload` once: returns on 2xx, raises Transient or Refused."""
    data = json.dumps(payload, default=str).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - operator-set URL
            if 200 <= resp.status < 300:
                return
            raise Transient(f"HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        if exc.code == 429:
            raise Transient("HTTP 429", retry_after=_retry_after(exc.headers.get("Retry-After"))) from None
        if 400 <= exc.code < 500:
            raise Refused(f"HTTP {exc.code}") from None
        raise Transient(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise Transient(type(exc).__name__) from None


def _retry_after(value: str | None) -> float:
    try:
        return max(1.0, float(value)) if value else 60.0
    except ValueError:
        return 60.0


def _send(channel: Channel, notification: Notification) -> None:
    """One notification to one channel, retried at once for transient failures but 429."""
    if isinstance(channel, PagerDutyChannel):
        url, body = channel.url, channel.event(notification)
    elif isinstance(channel, WebhookChannel):
        url, body = channel.url, channel.payload(notification)
    else:  # delivery.channels builds only those two
        raise Refused(f"no outbox format for channel {channel.name!r}")
    policy = RetryPolicy(attempts=SEND_ATTEMPTS, first=0.5, longest_backoff=4, jitter=1.0)  # read per send
    policy.run(lambda: post_once(url, body, SEND_TIMEOUT_SECONDS),
               lambda e: isinstance(e, Transient) and e.retry_after is None)


class RateLimiter:
    """At most `per_minute` sends per key per process (a sliding one-minute window)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._sent: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_time(self, key: str) -> float:
        """0 and the send is counted, or the seconds until one is allowed."""
        now = self.clock()
        with self._lock:
            recent = [t for t in self._sent.get(key, []) if now - t < 60]
            if len(recent) >= self.per_minute:
                self._sent[key] = recent
                return 60 - (now - recent[0])
            recent.append(now)
            self._sent[key] = recent
            return 0.0


pagerduty_limit = RateLimiter(PAGERDUTY_PER_MINUTE)


@dataclass
class SendReport:
    delivered: int = 0
    retrying: int = 0
    refused: int = 0


def send_due(settings: "Settings | None" = None, now: datetime | None = None, limit: int = BATCH) -> SendReport:
    """Deliver the outbox rows due now (at most `limit`); never raises for a channel's failure."""
    from shared.models import utcnow

    settings = settings or _settings()
    now = now or utcnow()
    report = SendReport()
    by_name = {c.name: c for c in channels(settings)}
    for row in _claim(now, limit):
        channel = by_name.get(row["channel"])
        if channel is None:  # the channel was unconfigured since: nothing to send it to
            _mark(row["id"], delivered=False, error="channel not configured", due=FINAL)
            report.refused += 1
            continue
        if channel.name == "pagerduty":
            wait = pagerduty_limit.wait_time(settings.alert_pagerduty_routing_key or "")
            if wait > 0:
                _mark(row["id"], delivered=False, error="rate limited here", due=now + timedelta(seconds=wait),
                      count_attempt=False)
                report.retrying += 1
                continue
        notification = Notification(rule=row["rule"], severity=row["severity"], event=row["event"],
                                    summary=row["summary"], details=row["details"] or {}, alert_id=row["alert_id"],
                                    timestamp=row["created_at"])
        try:
            _send(channel, notification)
        except Transient as exc:
            delay = exc.retry_after or min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** row["attempts"])
            _mark(row["id"], delivered=False, error=exc.reason, due=now + timedelta(seconds=delay))
            log.warning("alert delivery failed; will retry", extra={"channel": channel.name, "rule": row["rule"],
                                                                    "error": exc.reason, "retry_in_s": delay})
            report.retrying += 1
        except Refused as exc:
            _mark(row["id"], delivered=False, error=str(exc), due=FINAL)
            log.error("alert receiver refused the alert", extra={"channel": channel.name, "rule": row["rule"],
                                                                 "error": str(exc)})
            report.refused += 1
        else:
            _mark(row["id"], delivered=True)
            log.info("alert delivered", extra={"channel": channel.name, "rule": row["rule"], "event": row["event"]})
            report.delivered += 1
    return report


def _claim(now: datetime, limit: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import AlertOutbox

    with session_scope() as session:
        stmt = (select(AlertOutbox).where(AlertOutbox.delivered_at.is_(None), AlertOutbox.next_attempt_at <= now)
                .order_by(AlertOutbox.next_attempt_at).limit(limit))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.scalars(stmt))
        claimed = []
        for row in rows:
            row.next_attempt_at = now + timedelta(seconds=CLAIM_SECONDS)
            claimed.append({c: getattr(row, c) for c in ("id", "channel", "alert_id", "rule", "severity", "event",
                                                         "summary", "details", "created_at", "attempts")})
    return claimed


def _mark(row_id: str, *, delivered: bool, error: str | None = None, due: datetime | None = None,
          count_attempt: bool = True) -> None:
    from shared.database import session_scope
    from shared.models import AlertOutbox, utcnow

    with session_scope() as session:
        row = session.get(AlertOutbox, row_id)
        if row is None:
            return
        if count_attempt:
            row.attempts += 1
        if delivered:
            row.delivered_at, row.last_error = utcnow(), None
        else:
            row.last_error, row.next_attempt_at = (error or "")[:64], due or utcnow()


class Sender:
    """The per-process background sender: `send_due()` every POLL_SECONDS, or at once when woken."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="alert-sender", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        self._event.set()

    def _loop(self) -> None:
        while True:
            self._event.wait(POLL_SECONDS)
            self._event.clear()
            try:
                while send_due().delivered == BATCH:  # a full batch: more may be due
                    pass
            except Exception as exc:  # noqa: BLE001 - the next round tries again (database down, ...)
                log.warning("alert sender round failed", extra={"error": type(exc).__name__})


_sender = Sender()
start_sender = _sender.start


def _settings() -> "Settings":
    from shared.settings import get_settings

    return get_settings()
