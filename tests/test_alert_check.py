"""alert-check: each rule fires once, stays quiet while open, and resolves once.

A local HTTP receiver (http.server in a thread) stands in for the Slack
webhook and records exactly what was sent. Synthetic data for each rule is
written straight into the tables the rules read.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from shared.job_schedule import JOBS
from jobs.runner import run_job
from shared.database import session_scope
from shared.models import Alert, ContentItem, JobRun, RequestMetric, UsageEvent
from tests.alert_receivers import Receiver
from tests.conftest import auth, make_user


@pytest.fixture
def hook(env):
    receiver = Receiver()
    env(alert_webhook_url=receiver.url)
    yield receiver
    receiver.close()


def now() -> datetime:
    return datetime.now(timezone.utc)


def healthy_baseline() -> None:
    """Every job ran recently and the backup was verified: no alert should fire."""
    with session_scope() as s:
        for job in JOBS:
            s.add(JobRun(job=job, status="ok", exit_code=0, started_at=now(), finished_at=now()))


def add_requests(n: int, *, status: int = 200, latency: float = 20.0, ago: timedelta = timedelta(minutes=1),
                 function: str = "health", route: str = "/livez", method: str = "GET") -> None:
    with session_scope() as s:
        s.execute(RequestMetric.__table__.insert(), [
            {"function": function, "route": route, "method": method, "status": status, "latency_ms": latency,
             "created_at": now() - ago} for _ in range(n)])


def add_items(scores: list[float]) -> None:
    uid, _ = make_user()
    with session_scope() as s:
        s.add_all([ContentItem(user_id=uid, content_type="flashcards", topic="t", audience="general", content={},
                               quality={}, quality_overall=q, quality_passed=q >= 0.7, provider="mock",
                               model="m", prompt_version="v1", created_at=now() - timedelta(minutes=5))
                   for q in scores])


def add_usage(outcomes: list[str], cost: str | None = None) -> None:
    with session_scope() as s:
        s.add_all([UsageEvent(request_id=f"r{i}", provider="mock", model="m", outcome=o,
                              cost_usd=Decimal(cost) if cost else None, cost_known=cost is not None,
                              created_at=_recent()) for i, o in enumerate(outcomes)])


def _recent() -> datetime:
    """Two minutes ago, but never before today's midnight: spend seeded just after midnight on the
    1st still belongs to this day and month."""
    t = now()
    return max(t - timedelta(minutes=2), t.replace(hour=0, minute=0, second=0, microsecond=0))


def clear(*models) -> None:
    with session_scope() as s:
        for model in models:
            s.execute(delete(model))


def check() -> tuple[int, dict]:
    return run_job("alert-check")


def scenario(hook, inject, heal, expected: set[tuple[str, str]], *, exit_while_firing: int) -> None:
    """Inject the condition: the expected alerts open once; again: silence; heal: one resolution each.

    Info alerts are stored but never pushed (they go into the daily ops report)."""
    pushed = {(level, rule) for level, rule in expected if level != "info"}
    healthy_baseline()
    code, summary = check()
    assert code == 0, summary
    assert hook.take() == []

    inject()
    code, summary = check()
    assert code == exit_while_firing, summary
    assert hook.take() == sorted(("open", level, rule) for level, rule in pushed)
    assert sorted(summary["opened"]) == sorted(rule for _, rule in expected)

    code, summary = check()  # still firing: nothing re-sent
    assert code == exit_while_firing
    assert hook.take() == []
    assert sorted(summary["still_open"]) == sorted(rule for _, rule in expected)
    with session_scope() as s:
        stored = s.execute(select(Alert.rule, Alert.severity, Alert.status, Alert.notified_at)).all()
    assert sorted((sev, rule) for rule, sev, status, notified in stored) == sorted(expected)
    assert all(status == "open" and (notified is not None) == (sev != "info") for _, sev, status, notified in stored)

    heal()
    code, summary = check()
    assert code == 0, summary
    assert hook.take() == sorted(("resolved", level, rule) for level, rule in pushed)
    assert sorted(summary["resolved"]) == sorted(rule for _, rule in expected)

    code, summary = check()
    assert code == 0
    assert hook.take() == []
    with session_scope() as s:
        assert s.scalar(select(Alert).where(Alert.status == "open")) is None


def test_error_rate_critical_and_warning(db, hook):
    scenario(hook, lambda: add_requests(90) or add_requests(10, status=503), lambda: clear(RequestMetric),
             {("critical", "error-rate:critical"), ("warning", "error-rate:warning")}, exit_while_firing=1)


def test_error_rate_warning_only_outside_the_critical_window(db, hook):
    def inject():
        add_requests(97, ago=timedelta(minutes=10))
        add_requests(3, status=500, ago=timedelta(minutes=10))  # 3%: above 1%, and older than 3 min

    scenario(hook, inject, lambda: clear(RequestMetric), {("warning", "error-rate:warning")}, exit_while_firing=0)


def test_too_few_requests_never_alert(db, hook):
    healthy_baseline()
    add_requests(5, status=500)  # 100% errors, but below ALERT_MIN_REQUESTS
    assert check()[0] == 0
    assert hook.take() == []


def test_api_p95_latency_excludes_generation(db, hook):
    def inject():
        add_requests(40, latency=600.0, ago=timedelta(minutes=2))
        add_requests(10, latency=30_000.0, function="generate", route="/v1/content", method="POST", status=201)

    def heal():
        clear(RequestMetric)
        add_requests(10, latency=30_000.0, function="generate", route="/v1/content", method="POST", status=201)

    scenario(hook, inject, heal, {("critical", "latency:p95")}, exit_while_firing=1)


def test_generation_p95(db, hook):
    scenario(hook, lambda: add_requests(10, latency=50_000.0, function="generate", route="/v1/content",
                                        method="POST", status=201),
             lambda: clear(RequestMetric), {("warning", "generation:p95")}, exit_while_firing=0)


def test_mean_quality_critical_and_warning(db, hook):
    scenario(hook, lambda: add_items([0.6] * 6), lambda: clear(ContentItem),
             {("critical", "quality:critical"), ("warning", "quality:warning")}, exit_while_firing=1)


def test_mean_quality_warning_only(db, hook):
    scenario(hook, lambda: add_items([0.68] * 6), lambda: add_items([0.9] * 6),
             {("warning", "quality:warning")}, exit_while_firing=0)


def test_generation_success_rate(db, hook):
    scenario(hook, lambda: add_usage(["success"] * 8 + ["error"] * 2), lambda: clear(UsageEvent),
             {("warning", "generation:success")}, exit_while_firing=0)


def test_backup_verification_failed(db, hook):
    def inject():
        with session_scope() as s:
            s.add(JobRun(job="backup-verify", status="problem", exit_code=1, started_at=now() + timedelta(seconds=1)))

    def heal():
        later = now() + timedelta(seconds=5)
        with session_scope() as s:
            s.add(JobRun(job="backup-verify", status="ok", exit_code=0, started_at=later, finished_at=later))

    scenario(hook, inject, heal, {("critical", "backup:unverified")}, exit_while_firing=1)


def test_no_verified_backup_within_26_hours(db, hook):
    def inject():
        with session_scope() as s:
            s.execute(delete(JobRun).where(JobRun.job == "backup-verify"))
            old = now() - timedelta(hours=30)
            s.add(JobRun(job="backup-verify", status="ok", exit_code=0, started_at=old, finished_at=old))
            dry = now()  # a dry run verifies nothing
            s.add(JobRun(job="backup-verify", status="ok", exit_code=0, dry_run=True, started_at=dry,
                         finished_at=dry))

    def heal():
        with session_scope() as s:
            s.add(JobRun(job="backup-verify", status="ok", exit_code=0, started_at=now(), finished_at=now()))

    # A verification 30 h old also means the daily job missed its schedule.
    scenario(hook, inject, heal, {("critical", "backup:unverified"), ("warning", "job:backup-verify:missed")},
             exit_while_firing=1)


def test_missed_job_schedule(db, hook):
    def inject():
        with session_scope() as s:
            s.execute(delete(JobRun).where(JobRun.job == "cost-report"))
            s.add(JobRun(job="cost-report", status="ok", started_at=now() - timedelta(days=2)))

    def heal():
        with session_scope() as s:
            s.add(JobRun(job="cost-report", status="ok", started_at=now()))

    scenario(hook, inject, heal, {("warning", "job:cost-report:missed")}, exit_while_firing=0)


def test_readiness_failing(db, hook, env):
    """The readiness the services report (database and schema), not provider keys: the
    alert-check container holds none."""
    from sqlalchemy import text

    def set_revision(sql):
        with session_scope() as s:
            s.execute(text(sql))

    with session_scope() as s:
        head = s.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    env(ai_providers="openai")  # no key here: must not fire
    scenario(hook, lambda: set_revision("DELETE FROM alembic_version"),
             lambda: set_revision(f"INSERT INTO alembic_version (version_num) VALUES ('{head}')"),
             {("critical", "readiness")}, exit_while_firing=1)


def test_monthly_budget(db, hook, env):
    def inject():
        env(monthly_budget_usd="10")
        add_usage(["success"] * 9, cost="1.0")  # $9 of $10

    scenario(hook, inject, lambda: env(monthly_budget_usd="100"), {("info", "budget:monthly")},
             exit_while_firing=0)


def test_webhook_payload_is_slack_compatible_and_states_the_figures(db, hook):
    healthy_baseline()
    add_requests(90)
    add_requests(10, status=503)
    check()
    sent = {m["rule"]: m for m in hook.messages}
    msg = sent["error-rate:critical"]
    assert msg["text"].startswith(":red_circle: [CRITICAL] High 5xx error rate: 10.0% of 100 requests")
    assert msg["details"]["error_rate_5xx"] == 0.1 and msg["details"]["threshold"] == 0.05
    assert {"service", "environment", "level", "message", "timestamp"} <= set(msg)
    hook.take()
    clear(RequestMetric)
    check()
    resolved = {m["rule"]: m for m in hook.messages}["error-rate:critical"]
    assert resolved["status"] == "resolved" and resolved["text"].startswith(":white_check_mark:")
    assert "Resolved: High 5xx error rate (now 0.0% of 0 requests" in resolved["message"]


def test_fresh_install_reports_unverified_backup_but_no_job_that_was_never_due(db, hook):
    """Jobs are due from the install's first sighting (shared/job_status.py; the clock-injected
    cases across every surface are in tests/test_job_truth.py)."""
    code, summary = check()
    assert code == 1
    assert summary["firing"]["critical"] == ["backup:unverified"]
    assert summary["firing"].get("warning", []) == []


def test_dry_run_changes_nothing(db, hook):
    add_requests(90)
    add_requests(10, status=503)
    code, summary = run_job("alert-check", dry_run=True)
    assert "error-rate:critical" in summary["opened"] and code == 1
    assert hook.take() == []
    with session_scope() as s:
        assert s.scalar(select(Alert)) is None


def test_a_broken_rule_is_reported_and_the_others_still_run(db, hook, monkeypatch):
    from jobs import alert_rules

    def broken(ev):
        raise RuntimeError("boom")

    rules = tuple(alert_rules.Rule(r.name, r.severity, broken) if r.name == "latency:p95" else r
                  for r in alert_rules.RULES)
    monkeypatch.setattr("jobs.alert_check.RULES", rules)
    healthy_baseline()
    add_requests(90)
    add_requests(10, status=503)
    code, summary = check()
    assert code == 1
    assert summary["errors"] == [{"rule": "latency:p95", "error": "RuntimeError"}]
    assert ("open", "critical", "error-rate:critical") in hook.take()


def test_health_report_shows_open_critical_alerts(db, hook, client_for):
    healthy_baseline()
    add_requests(90)
    add_requests(10, status=503)
    check()
    _, ops_key = make_user("ops")
    resp = client_for("health").get("/health", headers=auth(ops_key))
    assert resp.status_code == 503
    alerts = resp.get_json()["checks"]["alerts:open"][0]
    assert alerts["status"] == "fail"
    assert "error-rate:critical" in alerts["output"]
    clear(RequestMetric)
    check()
    alerts = client_for("health").get("/health", headers=auth(ops_key)).get_json()["checks"]["alerts:open"][0]
    assert alerts["status"] == "pass"


def test_cli_summary_line_and_exit_code(db, hook):
    import os
    import subprocess
    import sys

    healthy_baseline()
    add_requests(90)
    add_requests(10, status=503)
    proc = subprocess.run([sys.executable, "-m", "jobs", "alert-check"], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["job"] == "alert-check" and summary["status"] == "problem"
    assert summary["firing"]["critical"] == ["error-rate:critical"]
    assert hook.take() == [("open", "critical", "error-rate:critical"), ("open", "warning", "error-rate:warning")]
    with session_scope() as s:
        run = s.scalars(select(JobRun).where(JobRun.job == "alert-check").order_by(JobRun.started_at.desc())).first()
        assert run.status == "problem" and run.exit_code == 1
