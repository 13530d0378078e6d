"""retention-expiry: each data class at its period, bounded batches, dry run, crash resumption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select

from tests.conftest import ROOT, make_user

def days_ago(n: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(days=n)


def seed(user_id: str, *, old: int, young: int) -> dict[str, int]:
    """`old` rows past every period and `young` rows inside it, per class; returns expected counts."""
    from shared.database import session_scope
    from shared.models import (AuditEntry, ContentItem, Feedback, IdempotencyRecord, JobRun, RateLimitCounter,
                               RequestMetric, SpendTotal, UsageEvent)

    NOW = datetime.now(timezone.utc)  # noqa: N806 - seeded relative to the moment of seeding

    def content(at):
        return {"id": str(uuid.uuid4()), "user_id": user_id, "content_type": "flashcards", "topic": "t",
                "audience": "general", "request": {}, "content": {}, "quality": {}, "quality_overall": 0.9,
                "quality_passed": True, "provider": "mock", "model": "m", "prompt_version": "v1", "attempts": 1,
                "language": "en", "created_at": at}

    def usage(at):
        return {"id": str(uuid.uuid4()), "user_id": user_id, "provider": "mock", "model": "m", "attempt": 1,
                "kind": "generation", "outcome": "success", "cost_known": True, "created_at": at}

    with session_scope() as s:
        old_content = [content(days_ago(400 + i / 1000)) for i in range(old)]
        s.execute(insert(ContentItem), old_content + [content(days_ago(10)) for _ in range(young)])
        s.execute(insert(Feedback), [{"id": str(uuid.uuid4()), "content_id": c["id"], "user_id": user_id,
                                      "rating": 4, "created_at": c["created_at"]} for c in old_content])
        s.execute(insert(UsageEvent), [usage(days_ago(500 + i / 1000)) for i in range(old)]
                  + [usage(days_ago(200)) for _ in range(old)] + [usage(days_ago(5)) for _ in range(young)])
        s.execute(insert(IdempotencyRecord), [
            {"id": str(uuid.uuid4()), "user_id": user_id, "key": f"k{i}", "request_hash": "h", "status": "completed",
             "created_at": NOW - timedelta(hours=30), "expires_at": NOW - timedelta(hours=6, seconds=i)}
            for i in range(old)] + [
            {"id": str(uuid.uuid4()), "user_id": user_id, "key": f"a{i}", "request_hash": "h", "status": "in_progress",
             "created_at": NOW - timedelta(hours=25), "expires_at": NOW + timedelta(hours=1)} for i in range(old)] + [
            {"id": str(uuid.uuid4()), "user_id": user_id, "key": f"y{i}", "request_hash": "h", "status": "completed",
             "created_at": NOW, "expires_at": NOW + timedelta(hours=24)} for i in range(young)])
        s.execute(insert(RateLimitCounter), [{"bucket": f"old:{i}", "count": 1,
                                              "expires_at": NOW - timedelta(minutes=5, seconds=i)} for i in range(old)]
                  + [{"bucket": f"new:{i}", "count": 1, "expires_at": NOW + timedelta(minutes=10)}
                     for i in range(young)])
        s.execute(insert(SpendTotal), [{"bucket": f"day:old{i}", "total_usd": 1, "period_end": days_ago(2 + i),
                                        "updated_at": days_ago(2 + i)} for i in range(old)]
                  + [{"bucket": f"day:young{i}", "total_usd": 1, "period_end": days_ago(0.5),
                      "updated_at": NOW} for i in range(young)])
        s.execute(insert(RequestMetric), [{"function": "generate", "route": "/x", "method": "GET", "status": 200,
                                           "latency_ms": 1.0, "created_at": days_ago(31 + i / 1000)}
                                          for i in range(old)]
                  + [{"function": "generate", "route": "/x", "method": "GET", "status": 200, "latency_ms": 1.0,
                      "created_at": days_ago(1)} for _ in range(young)])
        s.execute(insert(AuditEntry), [{"id": str(uuid.uuid4()), "action": "x", "count": 1, "details": {},
                                        "created_at": days_ago(6 * 365 + 5)} for _ in range(old)]
                  + [{"id": str(uuid.uuid4()), "action": "x", "count": 1, "details": {},
                      "created_at": days_ago(100)} for _ in range(young)])
        s.execute(insert(JobRun), [{"id": str(uuid.uuid4()), "job": "backup", "status": "ok", "dry_run": False,
                                    "summary": {}, "started_at": days_ago(401)} for _ in range(old)])
    return {"content": old, "usage": old, "usage_user_link": old, "idempotency": old, "idempotency_age": old,
            "rate_limit_counters": old, "spend_totals": old,
            "request_metrics": old, "audit_log": old, "job_runs": old}


def run_job(name: str, **kw):
    from jobs.runner import run_job as _run

    return _run(name, **kw)


def table_counts() -> dict[str, int]:
    from shared.database import session_scope
    from shared.models import (AuditEntry, ContentItem, Feedback, IdempotencyRecord, JobCheckpoint,
                               RateLimitCounter, RequestMetric, UsageEvent)

    with session_scope() as s:
        c = lambda m, *w: s.scalar(select(func.count()).select_from(m).where(*w))  # noqa: E731
        return {"content": c(ContentItem), "feedback": c(Feedback), "usage": c(UsageEvent),
                "usage_linked": c(UsageEvent, UsageEvent.user_id.is_not(None)),
                "idempotency": c(IdempotencyRecord), "counters": c(RateLimitCounter),
                "metrics": c(RequestMetric), "audit": c(AuditEntry, AuditEntry.action == "x"),
                "checkpoints": c(JobCheckpoint, JobCheckpoint.key == "progress")}


def retention_audit() -> list:
    from shared.database import session_scope
    from shared.models import AuditEntry

    with session_scope() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "retention.expiry")))


def test_expires_each_class_at_its_period_and_audits_counts(db, env):
    env(retention_batch_size=7)
    user_id, _ = make_user()
    expected = seed(user_id, old=20, young=5)
    code, summary = run_job("retention-expiry")
    assert code == 0, summary
    assert summary["counts"] == expected and summary["total"] == sum(expected.values())
    assert summary["batches"] >= 20 // 7
    after = table_counts()
    assert after == {"content": 5, "feedback": 0, "usage": 25, "usage_linked": 5, "idempotency": 5,
                     "counters": 5, "metrics": 5, "audit": 5, "checkpoints": 0}
    [entry] = retention_audit()
    assert entry.details["counts"] == expected and entry.actor == "system"
    # Idempotent: a second run finds nothing.
    code, again = run_job("retention-expiry")
    assert code == 0 and again["total"] == 0


def test_dry_run_counts_only(db):
    user_id, _ = make_user()
    expected = seed(user_id, old=4, young=2)
    before = table_counts()
    code, summary = run_job("retention-expiry", dry_run=True)
    assert code == 0 and summary["would_change"] == expected
    assert table_counts() == before and retention_audit() == []


def test_periods_are_configurable(db, env):
    env(retention_metrics_days=400)
    user_id, _ = make_user()
    seed(user_id, old=3, young=1)
    code, summary = run_job("retention-expiry")
    assert summary["counts"]["request_metrics"] == 0 and table_counts()["metrics"] == 4


def test_crash_mid_run_resumes_with_right_totals(db, env, monkeypatch):
    """An exception after a few batches (a crash) leaves a checkpoint; the next run finishes the job."""
    import jobs.retention_expiry as rx

    env(retention_batch_size=3)
    user_id, _ = make_user()
    expected = seed(user_id, old=10, young=2)
    real = rx._Batcher.record
    calls = {"n": 0}

    def crash_on_fifth(self, seconds):
        real(self, seconds)
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("simulated crash")

    with monkeypatch.context() as m:
        m.setattr(rx._Batcher, "record", crash_on_fifth)
        code, summary = run_job("retention-expiry")
    assert code == 3 and "crashed" in summary["error"]
    assert table_counts()["checkpoints"] == 1 and retention_audit() == []
    code, summary = run_job("retention-expiry")
    assert code == 0 and summary["resumed"] is True
    assert summary["counts"] == expected
    [entry] = retention_audit()
    assert entry.details["counts"] == expected and entry.details["resumed"] is True


def test_killed_process_resumes_with_right_totals(db):
    """SIGKILL after the second committed batch, then a normal run: totals as if never interrupted."""
    user_id, _ = make_user()
    expected = seed(user_id, old=12, young=3)
    env = dict(os.environ, RETENTION_BATCH_SIZE="4", RETENTION_TEST_KILL_AFTER_BATCHES="2")
    proc = subprocess.run([sys.executable, "-m", "jobs", "retention-expiry"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    mid = table_counts()
    assert mid["checkpoints"] == 1 and mid["content"] == 12 + 3 - 8  # two batches of 4 committed
    code, summary = run_job("retention-expiry")
    assert code == 0 and summary["resumed"] and summary["counts"] == expected, summary
    assert table_counts()["content"] == 3


def test_longest_transaction_is_reported(db):
    user_id, _ = make_user()
    seed(user_id, old=5, young=0)
    code, summary = run_job("retention-expiry")
    # measured, and one transaction among several: never the whole run (no wall-clock bound: a busy
    # machine may take seconds)
    assert code == 0 and summary["batches"] > 1
    assert 0 < summary["longest_transaction_s"] < summary["duration_s"]


def test_next_run_anonymises_from_the_previous_watermark(db, env):
    """The anonymisation walk resumes a day before the last cutoff, and still catches newly due rows."""
    user_id, _ = make_user()
    seed(user_id, old=3, young=0)
    assert run_job("retention-expiry")[1]["counts"]["usage_user_link"] == 3
    from shared.database import session_scope
    from shared.models import JobCheckpoint

    with session_scope() as s:
        mark = s.get(JobCheckpoint, ("retention-expiry", "watermarks")).value["usage_user_link"]
    assert abs(datetime.fromisoformat(mark) - days_ago(90)) < timedelta(minutes=5)
    env(retention_usage_anonymise_days=60)
    from shared.models import UsageEvent

    with session_scope() as s:
        s.add(UsageEvent(user_id=user_id, provider="mock", model="m", outcome="success", created_at=days_ago(70)))
    code, summary = run_job("retention-expiry")
    assert code == 0 and summary["counts"]["usage_user_link"] == 1
    assert table_counts()["usage_linked"] == 0


def test_bad_knob_is_a_usage_error(db, env):
    env(retention_batch_size="0")
    code, summary = run_job("retention-expiry")
    assert code == 2 and "RETENTION_" in summary["error"]
