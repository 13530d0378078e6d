"""Fault tests: alert-check with the database unreachable (DESIGN "Operators' exits").

It exits 1 and sends a critical `database_down` alert without the database,
deduplicated through Redis when `REDIS_URL` is set (else at most once per run),
and resolves it, into the alert history, on the first run that reaches the
database again.
"""

import pytest
from sqlalchemy import select

from jobs.runner import run_job
from shared.database import session_scope
from shared.models import Alert
from tests.conftest import REDIS_TEST_URL
from tests.faults import HungListener, TcpProxy
from tests import test_alert_check
from tests.test_alert_check import healthy_baseline

hook = test_alert_check.hook  # the webhook receiver fixture, shared


@pytest.fixture
def proxied(pg, env):
    proxy = TcpProxy(target_port=5432)
    env(database_url=pg.url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
    yield proxy
    proxy.close()


def _history():
    with session_scope() as s:
        return [(a.rule, a.severity, a.status) for a in s.scalars(select(Alert).where(Alert.rule == "database_down"))]


def _outage(sent):
    return [n for n in sent if n[2] == "database_down"]


@pytest.mark.parametrize("store", ["redis", "none"])
def test_outage_alerts_once_and_resolves(proxied, hook, env, store):
    if store == "redis":
        env(redis_url=REDIS_TEST_URL)
    healthy_baseline()
    code, summary = run_job("alert-check")
    assert code == 0, summary
    assert hook.take() == []

    proxied.cut()
    code, summary = run_job("alert-check")
    assert code == 1, summary
    assert summary["firing"]["critical"] == ["database_down"] and summary["opened"] == ["database_down"]
    assert hook.take() == [("open", "critical", "database_down")]
    code, summary = run_job("alert-check")
    assert code == 1
    if store == "redis":  # shared store: the outage is notified once
        assert hook.take() == [] and summary["still_open"] == ["database_down"]
    else:  # no shared store: at most once per run
        assert hook.take() == [("open", "critical", "database_down")]

    proxied.restore()
    code, summary = run_job("alert-check")
    assert code == 0, summary
    assert "database_down" in summary["resolved"]
    # Only this rule's notifications: the outage also made this very process's pool wait, and whether its
    # metrics writer sampled that (a pool_saturation warning) depends on the machine's timing.
    assert _outage(hook.take()) == [("resolved", "critical", "database_down")]
    assert _history() == [("database_down", "critical", "resolved")]
    code, summary = run_job("alert-check")
    assert _outage(hook.take()) == [] and "database_down" not in summary["resolved"]


def test_hung_database_is_an_outage_too(pg, hook, env):
    listener = HungListener()
    try:
        env(database_url=f"postgresql://postgres@127.0.0.1:{listener.port}/hung")
        code, summary = run_job("alert-check")
        assert code == 1 and summary["firing"]["critical"] == ["database_down"]
        assert hook.take() == [("open", "critical", "database_down")]
    finally:
        listener.close()


def test_dry_run_sends_nothing(proxied, hook):
    proxied.cut()
    code, summary = run_job("alert-check", dry_run=True)
    assert code == 1 and summary["firing"]["critical"] == ["database_down"]
    assert hook.take() == []
