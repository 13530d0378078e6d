"""Alert delivery by severity: PagerDuty Events API v2, the webhook, acknowledge, silence, escalation.

PagerDuty and the webhook are local receivers (tests.alert_receivers); the
PagerDuty one checks each event against the v2 wire format and answers 400 to a
malformed one. Alerts are driven by real `alert-check` runs over seeded request
metrics, and through the HTTP API and the CLI an operator uses.
"""

from __future__ import annotations

import json
import subprocess
import sys
import os
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from jobs.runner import run_job
from shared.database import session_scope
from shared.models import Alert, AlertSilence, AuditEntry, RequestMetric, utcnow
from tests.alert_receivers import Receiver
from tests.conftest import auth, make_user
from tests.test_alert_check import add_requests, clear, healthy_baseline

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
CRIT = "lafactoria/test/error-rate:critical"
WARN_RULE = "error-rate:warning"


@pytest.fixture
def receivers(env):
    pd, hook = Receiver(pagerduty=True), Receiver()
    env(alert_pagerduty_routing_key=ROUTING_KEY, pagerduty_events_url=pd.url, alert_webhook_url=hook.url)
    yield pd, hook
    pd.close()
    hook.close()


def fire_error_rate() -> None:
    healthy_baseline()
    add_requests(90)
    add_requests(10, status=503)  # 10% 5xx: critical and warning rules fire


def check() -> tuple[int, dict]:
    return run_job("alert-check")


def open_alert(rule: str = "error-rate:critical") -> Alert:
    with session_scope() as s:
        alert = s.scalar(select(Alert).where(Alert.rule == rule, Alert.status == "open"))
        s.expunge(alert)
        return alert


def age_alerts(minutes: int) -> None:
    """Move opening and notification `minutes` into the past."""
    then = utcnow() - timedelta(minutes=minutes)
    with session_scope() as s:
        s.execute(update(Alert).values(opened_at=then))
        s.execute(update(Alert).where(Alert.notified_at.is_not(None)).values(notified_at=then))


def test_critical_pages_pagerduty_and_resolves_with_the_same_dedup_key(db, receivers):
    pd, hook = receivers
    fire_error_rate()
    assert check()[0] == 1
    sent = list(pd.messages)
    assert pd.events() == [("trigger", CRIT)]  # the warning is not paged
    assert pd.rejected == []
    event = sent[0]
    assert event["routing_key"] == ROUTING_KEY
    payload = event["payload"]
    assert payload["severity"] == "critical" and payload["source"] == "lafactoria-test"
    assert payload["summary"].startswith("High 5xx error rate: 10.0% of 100 requests")
    assert payload["custom_details"]["error_rate_5xx"] == 0.1
    assert payload["custom_details"]["alert_id"] == open_alert().id
    assert hook.take() == [("open", "critical", "error-rate:critical"), ("open", "warning", WARN_RULE)]
    assert open_alert().dedup_key == CRIT

    assert check()[0] == 1  # still firing: nothing new anywhere
    assert pd.events() == [] and hook.take() == []

    clear(RequestMetric)
    assert check()[0] == 0
    assert pd.events() == [("resolve", CRIT)]
    assert hook.take() == [("resolved", "critical", "error-rate:critical"), ("resolved", "warning", WARN_RULE)]


def test_error_severity_pages_warning_only_webhook_info_nowhere(db, receivers):
    from shared.alerts import raise_alert, resolve_alert

    pd, hook = receivers
    with session_scope() as s:
        for sev in ("error", "warning", "info"):
            raise_alert(s, f"test:{sev}", sev, f"a {sev} alert")
    assert pd.events() == [("trigger", "lafactoria/test/test:error")]
    assert hook.take() == [("open", "error", "test:error"), ("open", "warning", "test:warning")]
    with session_scope() as s:
        for sev in ("error", "warning", "info"):
            resolve_alert(s, f"test:{sev}")
        stored = dict(s.execute(select(Alert.severity, Alert.notified_at)).all())
    assert stored["info"] is None and stored["error"] is not None
    assert pd.events() == [("resolve", "lafactoria/test/test:error")]
    assert hook.take() == [("resolved", "error", "test:error"), ("resolved", "warning", "test:warning")]


def test_without_a_routing_key_nothing_goes_to_pagerduty(db, env):
    pd, hook = Receiver(pagerduty=True), Receiver()
    env(pagerduty_events_url=pd.url, alert_webhook_url=hook.url)
    try:
        fire_error_rate()
        check()
        assert pd.messages == [] and len(hook.take()) == 2
    finally:
        pd.close()
        hook.close()


def test_an_undelivered_alert_is_delivered_on_the_next_run(db, receivers):
    pd, hook = receivers
    pd.status = 503  # PagerDuty down: retried within the run, then given up
    fire_error_rate()
    check()
    assert pd.messages == [] and open_alert().notified_at is None
    hook.take()
    pd.status = 202
    check()
    assert pd.events() == [("trigger", CRIT)]
    assert hook.take() == [("open", "critical", "error-rate:critical")]  # the webhook part re-sent too
    assert open_alert().notified_at is not None
    check()
    assert pd.events() == []


def test_unacknowledged_critical_escalates_once(db, receivers, env):
    pd, hook = receivers
    fire_error_rate()
    check()
    pd.events(), hook.take()
    age_alerts(29)
    assert check()[1]["escalated"] == []
    age_alerts(31)
    code, summary = check()
    assert summary["escalated"] == ["error-rate:critical"]  # warnings never escalate
    events = list(pd.messages)
    assert pd.events() == [("trigger", CRIT)]
    assert events[0]["payload"]["summary"].startswith("ESCALATION (unacknowledged): High 5xx error rate")
    assert events[0]["payload"]["custom_details"]["escalation"] is True
    msg = hook.messages[0]
    assert hook.take() == [("open", "critical", "error-rate:critical")]
    assert msg["escalation"] is True and msg["text"].startswith(":rotating_light: [ESCALATION] [CRITICAL]")
    assert open_alert().escalated_at is not None
    assert check()[1]["escalated"] == []  # once
    assert pd.events() == [] and hook.take() == []


def test_escalation_follows_alert_escalate_minutes(db, receivers, env):
    env(alert_escalate_minutes=5)
    pd, _ = receivers
    fire_error_rate()
    check()
    age_alerts(6)
    assert check()[1]["escalated"] == ["error-rate:critical"]


def test_acknowledged_through_the_api_is_not_escalated(db, receivers, client_for):
    pd, hook = receivers
    fire_error_rate()
    check()
    pd.events(), hook.take()
    ops_id, ops_key = make_user("ops")
    alert = open_alert()
    client = client_for("health")
    resp = client.post(f"/v1/alerts/{alert.id.upper()}/ack", headers=auth(ops_key))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["id"] == alert.id and body["state"] == "open"
    assert body["acknowledged_by"] == ops_id and body["acknowledged_at"]
    assert pd.events() == [] and hook.take() == []  # the request only queued them (the outbox)
    from shared.alerts.outbox import send_due

    assert send_due().delivered == 2
    assert pd.events() == [("acknowledge", CRIT)]
    assert hook.take() == [("acknowledged", "critical", "error-rate:critical")]
    again = client.post(f"/v1/alerts/{alert.id}/ack", headers=auth(ops_key)).get_json()
    assert again["acknowledged_at"] == body["acknowledged_at"]  # the first acknowledgement stands
    assert pd.events() == []
    age_alerts(120)
    assert check()[1]["escalated"] == []
    assert pd.events() == [] and hook.take() == []
    with session_scope() as s:
        row = s.scalar(select(AuditEntry).where(AuditEntry.action == "alert.acknowledged"))
        assert row.details == {"alert_id": alert.id, "rule": "error-rate:critical"}
        assert row.actor != ops_id and row.actor.startswith("p_")  # a pseudonym, as in all audit rows


def test_ack_refusals(db, receivers, client_for):
    from shared.alerts import raise_alert, resolve_alert

    client = client_for("health")
    _, user_key = make_user("user")
    _, admin_key = make_user("admin")
    with session_scope() as s:
        alert_id = raise_alert(s, "test:x", "warning", "x").id
    assert client.post(f"/v1/alerts/{alert_id}/ack").status_code == 401
    assert client.post(f"/v1/alerts/{alert_id}/ack", headers=auth(user_key)).status_code == 403
    assert client.post("/v1/alerts/not-a-uuid/ack", headers=auth(admin_key)).status_code == 404
    missing = "00000000-0000-4000-8000-000000000000"
    resp = client.post(f"/v1/alerts/{missing}/ack", headers=auth(admin_key))
    assert resp.status_code == 404 and resp.content_type == "application/problem+json"
    assert client.get(f"/v1/alerts/{alert_id}/ack", headers=auth(admin_key)).status_code == 405
    with session_scope() as s:
        resolve_alert(s, "test:x")
    resp = client.post(f"/v1/alerts/{alert_id}/ack", headers=auth(admin_key))
    assert resp.status_code == 409 and "resolved" in resp.get_json()["detail"]


def test_list_alerts_by_state_newest_first(db, client_for):
    from shared.alerts import acknowledge, raise_alert, resolve_alert

    client = client_for("health")
    _, ops_key = make_user("ops")
    _, user_key = make_user("user")
    with session_scope() as s:
        for i, rule in enumerate(("a", "b", "c")):
            raise_alert(s, rule, "warning", f"alert {rule}").opened_at = utcnow() + timedelta(seconds=i)
        resolve_alert(s, "a")
        acknowledge(s, s.scalar(select(Alert.id).where(Alert.rule == "b")), user_id=None, via="cli")
    opened = client.get("/v1/alerts", headers=auth(ops_key)).get_json()["alerts"]
    assert [a["rule"] for a in opened] == ["c", "b"]
    assert opened[1]["acknowledged_by"] == "cli" and opened[0]["acknowledged_at"] is None
    assert set(opened[0]) >= {"id", "rule", "severity", "state", "summary", "opened_at", "resolved_at",
                              "acknowledged_at", "acknowledged_by"}
    resolved = client.get("/v1/alerts?state=resolved", headers=auth(ops_key)).get_json()["alerts"]
    assert [(a["rule"], a["state"]) for a in resolved] == [("a", "resolved")] and resolved[0]["resolved_at"]
    everything = client.get("/v1/alerts?state=all&limit=2", headers=auth(ops_key)).get_json()["alerts"]
    assert [a["rule"] for a in everything] == ["c", "b"]
    assert client.get("/v1/alerts?state=closed", headers=auth(ops_key)).status_code == 422
    assert client.get("/v1/alerts", headers=auth(user_key)).status_code == 403
    assert client.get("/v1/alerts").status_code == 401


def factoria(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=120)


def test_cli_silence_records_without_notifying_until_it_expires(db, receivers):
    pd, hook = receivers
    proc = factoria("alerts", "silence", "error-rate:*", "--for", "2h", "--reason", "load test", "--json")
    assert proc.returncode == 0, proc.stderr
    silence = json.loads(proc.stdout)
    assert silence["rule"] == "error-rate:*" and silence["reason"] == "load test"
    fire_error_rate()
    code, summary = check()
    assert code == 1 and sorted(summary["opened"]) == ["error-rate:critical", WARN_RULE]  # recorded
    assert pd.messages == [] and hook.take() == []
    age_alerts(60)
    assert check()[1]["escalated"] == []  # a silenced rule is not escalated either
    assert "error-rate:*" in factoria("alerts", "silences").stdout
    with session_scope() as s:
        s.execute(update(AlertSilence).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert check()[1]["escalated"] == []  # expired: the still-open alerts are notified now, not escalated
    assert pd.events() == [("trigger", CRIT)]
    assert hook.take() == [("open", "critical", "error-rate:critical"), ("open", "warning", WARN_RULE)]


def test_cli_list_and_ack(db, receivers):
    pd, hook = receivers
    fire_error_rate()
    check()
    pd.events()
    listed = json.loads(factoria("alerts", "list", "--json").stdout)["alerts"]
    assert {a["rule"] for a in listed} == {"error-rate:critical", WARN_RULE}
    critical = next(a for a in listed if a["rule"] == "error-rate:critical")
    text = factoria("alerts", "list").stdout
    assert critical["id"] in text and "unacked" in text
    proc = factoria("alerts", "ack", critical["id"])
    assert proc.returncode == 0, proc.stderr
    assert "acknowledged error-rate:critical" in proc.stdout
    assert pd.events() == [("acknowledge", CRIT)]
    assert open_alert().acknowledged_via == "cli"


@pytest.mark.parametrize("args, message", [
    (("alerts", "ack", "nope"), "is not an alert id"),
    (("alerts", "ack", "00000000-0000-4000-8000-000000000000"), "no alert"),
    (("alerts", "silence", "x", "--for", "2 hours"), "bad duration"),
    (("alerts", "silence", "x", "--for", "0h"), "positive"),
    (("alerts", "silence", "x", "--for", "90d"), "at most 30 days"),
])
def test_cli_mistakes_exit_2_with_one_line(db, args, message):
    proc = factoria(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_deliver_needs_no_database(env, tmp_path):
    """The path `database_down` takes: a notification with the database unreachable."""
    from shared.alerts import Notification, deliver

    pd, hook = Receiver(pagerduty=True), Receiver()
    env(alert_pagerduty_routing_key=ROUTING_KEY, pagerduty_events_url=pd.url, alert_webhook_url=hook.url,
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        result = deliver(Notification("database_down", "critical", "trigger", "Database unreachable"))
        assert result.delivered and result.channels == {"pagerduty": True, "webhook": True}
        assert pd.events() == [("trigger", "lafactoria/test/database_down")]
        assert hook.take() == [("open", "critical", "database_down")]
    finally:
        pd.close()
        hook.close()


def test_erasing_the_acknowledging_operator_unlinks_the_alert(db, client_for):
    from shared.alerts import acknowledge, raise_alert

    ops_id, _ = make_user("ops")
    _, admin_key = make_user("admin")
    with session_scope() as s:
        alert_id = raise_alert(s, "test:x", "critical", "x").id
        acknowledge(s, alert_id, user_id=ops_id, via="api")
    resp = client_for("gdpr").delete(f"/v1/users/{ops_id}", headers=auth(admin_key), json={"confirm": "erase my data"})
    assert resp.status_code == 200, resp.get_json()
    with session_scope() as s:
        alert = s.get(Alert, alert_id)
        assert alert.acknowledged_by is None and alert.acknowledged_at is not None


def test_database_down_reaches_pagerduty_and_resolves_with_the_same_key(pg, receivers, env):
    """alert-check's database_down (sent without the database) takes the one delivery path."""
    from tests.faults import TcpProxy

    pd, hook = receivers
    proxy = TcpProxy(target_port=5432)
    try:
        env(database_url=pg.url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
        healthy_baseline()
        check()
        pd.events(), hook.take()
        proxy.cut()
        code, summary = check()
        assert code == 1 and summary["firing"]["critical"] == ["database_down"]
        sent = list(pd.messages)
        assert pd.events() == [("trigger", "lafactoria/test/database_down")] and pd.rejected == []
        assert sent[0]["payload"]["severity"] == "critical"
        assert sent[0]["payload"]["summary"].startswith("Database unreachable")
        assert hook.take() == [("open", "critical", "database_down")]
        proxy.restore()
        check()
        assert ("resolve", "lafactoria/test/database_down") in pd.events()
        with session_scope() as s:
            row = s.scalar(select(Alert).where(Alert.rule == "database_down"))
            assert row.status == "resolved" and row.dedup_key == "lafactoria/test/database_down"
    finally:
        proxy.close()
