"""Alert delivery never runs inside a request: a hanging webhook costs generations nothing.

The primary provider rejects our key (a credentials alert) while the webhook accepts
connections and never answers. Six generations in a row are served by the fallback
without one connection to the webhook (the request only writes the outbox); the
outbox sender then fails against the hanging webhook, and delivers once it answers.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shared.database import session_scope
from shared.models import Alert, AlertOutbox, utcnow
from tests.alert_receivers import Receiver
from tests.conftest import auth
from tests.faults import HungListener
from tests.generate.fake_providers import Reply

BODY = {"content_type": "flashcards", "topic": "Photosynthesis", "audience": "high_school"}


def test_a_hanging_webhook_adds_nothing_to_requests_and_gets_the_alert_later(db, users, client_for, use_providers,
                                                                             stub_gate, env, monkeypatch):
    from shared.alerts import outbox

    hung = HungListener()
    receiver = Receiver()
    try:
        server = use_providers("openai,anthropic", ALERT_WEBHOOK_URL=f"http://127.0.0.1:{hung.port}/hook")
        server.script("openai", *[Reply(status=401)] * 6)
        _, key = users()
        client = client_for("generate")
        for i in range(6):
            resp = client.post("/v1/content", json=BODY | {"topic": f"Photosynthesis {i}"}, headers=auth(key))
            assert resp.status_code == 201 and resp.get_json()["provider"] == "anthropic"
        assert hung._conns == []  # no request ever connected to the webhook
        with session_scope() as s:
            [alert] = s.scalars(select(Alert).where(Alert.rule == "provider_credentials:openai"))
            [row] = s.scalars(select(AlertOutbox))  # queued once, not once per request
            assert alert.notified_at is not None and row.channel == "webhook" and row.delivered_at is None

        monkeypatch.setattr(outbox, "SEND_TIMEOUT_SECONDS", 0.2)
        monkeypatch.setattr(outbox, "SEND_ATTEMPTS", 1)
        report = outbox.send_due()
        assert (report.delivered, report.retrying) == (0, 1) and len(hung._conns) == 1
        assert outbox.send_due().retrying == 0  # backing off: not due again yet

        env(alert_webhook_url=receiver.url)  # the webhook answers again
        report = outbox.send_due(now=utcnow() + timedelta(seconds=outbox.BACKOFF_BASE_SECONDS + 1))
        assert report.delivered == 1
        assert receiver.take() == [("open", "warning", "provider_credentials:openai")]
        with session_scope() as s:
            row = s.scalar(select(AlertOutbox))
            assert row.delivered_at is not None and row.attempts == 2
    finally:
        hung.close()
        receiver.close()
