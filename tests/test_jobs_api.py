"""`GET /v1/jobs` and the dead-man's check on `alert-check` in `/health`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared.job_schedule import JOBS
from shared.database import session_scope
from shared.models import JobRun
from tests.conftest import auth, make_user


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_jobs_list_every_job_with_its_latest_real_run(db, client_for):
    _, ops_key = make_user("ops")
    _, user_key = make_user("user")
    t = now() - timedelta(hours=1)
    with session_scope() as s:
        s.add(JobRun(job="backup", status="ok", exit_code=0, started_at=t - timedelta(days=1),
                     finished_at=t - timedelta(days=1), summary={"old": True}))
        s.add(JobRun(job="backup", status="problem", exit_code=1, started_at=t, finished_at=t + timedelta(seconds=9),
                     summary={"size": 10}))
        s.add(JobRun(job="backup", status="ok", exit_code=0, dry_run=True, started_at=now(), finished_at=now()))
    client = client_for("health")
    resp = client.get("/v1/jobs", headers=auth(ops_key))
    assert resp.status_code == 200
    jobs = {j["name"]: j for j in resp.get_json()["jobs"]}
    assert list(jobs) == list(JOBS)
    backup = jobs["backup"]
    assert backup["schedule"] == JOBS["backup"]
    assert backup["last_run"]["status"] == "problem" and backup["last_run"]["summary"] == {"size": 10}
    assert datetime.fromisoformat(backup["last_run"]["ended_at"]) > datetime.fromisoformat(backup["last_run"]["started_at"])
    assert jobs["cost-report"]["last_run"] is None
    due = datetime.fromisoformat(jobs["alert-check"]["next_due_at"])
    assert now() < due <= now() + timedelta(minutes=5)
    assert client.get("/v1/jobs", headers=auth(user_key)).status_code == 403
    assert client.get("/v1/jobs").status_code == 401


def _alert_check_entry(client, key):
    body = client.get("/health", headers=auth(key)).get_json()
    return next(c for c in body["checks"]["jobs:lastRun"] if c["componentId"] == "alert-check"), body


def test_health_flags_an_alert_check_that_stopped_running(db, client_for):
    _, ops_key = make_user("ops")
    client = client_for("health")
    with session_scope() as s:
        s.add(JobRun(job="alert-check", status="ok", exit_code=0, started_at=now() - timedelta(minutes=8)))
    entry, _ = _alert_check_entry(client, ops_key)
    assert entry["status"] == "pass"  # within twice its 5-minute schedule
    with session_scope() as s:
        s.query(JobRun).delete()
        s.add(JobRun(job="alert-check", status="ok", exit_code=0, started_at=now() - timedelta(minutes=11)))
    entry, body = _alert_check_entry(client, ops_key)
    assert entry["status"] == "fail" and body["status"] == "fail"
    assert "alerts are not being evaluated" in entry["output"] and "not run for 11 min" in entry["output"]
    public = client.get("/health").get_json()
    assert public["status"] == "fail" and "output" not in public["checks"]["jobs:lastRun"][0]
