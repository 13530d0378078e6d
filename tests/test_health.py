"""The health function: liveness, readiness, the health report, and a database outage."""

import json
import urllib.request
from datetime import datetime, timedelta, timezone

from shared import health_checks as checks
from shared.job_schedule import JOBS
from shared.alerts import raise_alert
from shared.database import session_scope
from shared.models import JobRun
from tests.conftest import auth
from tests.faults import TcpProxy

CHECK_KEYS = {"database:responseTime", "database:migrations", "providers:configured", "backups:storage",
              "backups:age", "backups:encryption", "backups:wal", "jobs:lastRun", "alerts:open",
              "database:resources", "instances:resources"}


def test_livez_touches_nothing(client_for, env):
    env(database_url="postgresql://postgres@127.0.0.1:1/none")
    resp = client_for("health").get("/livez")
    assert resp.status_code == 200 and resp.get_json() == {"status": "pass"}
    assert resp.headers["Content-Type"] == "application/health+json"


def test_health_report_shape_and_missing_data_is_warn(db, client_for):
    resp = client_for("health").get("/health")
    body = resp.get_json()
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/health+json"
    assert set(body["checks"]) == CHECK_KEYS
    assert body["status"] == "warn"  # no backup yet
    assert body["checks"]["backups:age"][0]["status"] == "warn"
    assert {c["componentId"] for c in body["checks"]["jobs:lastRun"]} == set(JOBS)
    # A fresh install: no job has come due yet (tests/test_job_truth.py covers the clock).
    assert all(c["status"] == "pass" for c in body["checks"]["jobs:lastRun"])
    for key in ("database:responseTime", "database:migrations", "providers:configured", "alerts:open"):
        assert body["checks"][key][0]["status"] == "pass", key


def test_readyz_passes_when_dependencies_do(db, client_for):
    resp = client_for("health").get("/readyz")
    assert resp.status_code == 200
    assert set(resp.get_json()["checks"]) == set(checks.READINESS_KEYS)


def test_jobs_and_backup_age_reflect_the_ledger_and_store(db, client_for, users, tmp_path, env):
    with session_scope() as s:
        for job in JOBS:
            s.add(JobRun(job=job, status="ok", exit_code=0, finished_at=datetime.now(timezone.utc)))
    backups = tmp_path / "backups"
    stamp = datetime.now(timezone.utc) - timedelta(hours=2)
    folder = backups / stamp.strftime("%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"created_at": stamp.isoformat()}))
    _, ops = users("ops")
    body = client_for("health").get("/health", headers=auth(ops)).get_json()
    assert body["status"] == "pass", body
    assert 1.9 < body["checks"]["backups:age"][0]["observedValue"] < 2.1
    env(backup_max_age_hours="1")
    body = client_for("health").get("/health", headers=auth(ops)).get_json()
    assert body["checks"]["backups:age"][0]["status"] == "warn"
    assert "limit 1 h" in body["checks"]["backups:age"][0]["output"]


def test_open_critical_alert_fails_the_report(db, client_for, users):
    with session_scope() as s:
        raise_alert(s, "backup-verify", "critical", "restore failed")
    _, ops = users("ops")
    resp = client_for("health").get("/health", headers=auth(ops))
    assert resp.status_code == 503
    assert "backup-verify" in resp.get_json()["checks"]["alerts:open"][0]["output"]
    # readiness does not depend on alerts: the service can still serve
    assert client_for("health").get("/readyz").status_code == 200


def test_unmigrated_database_is_not_ready(client_for, env, tmp_path):
    env(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    resp = client_for("health").get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["checks"]["database:migrations"][0]["status"] == "fail"


def test_health_is_ready_without_provider_keys(db, client_for, env):
    """The health service holds no provider secrets: its readiness is the database alone."""
    env(ai_providers="openai,anthropic")
    resp = client_for("health").get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    assert "providers:configured" not in resp.get_json()["checks"]


def test_results_are_cached_between_probes(db, client_for, env, monkeypatch):
    env(health_cache_seconds="30")
    calls = []
    real = checks.CHECKS["database:responseTime"]
    monkeypatch.setitem(checks.CHECKS, "database:responseTime", lambda: calls.append(1) or real())
    client = client_for("health")
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert len(calls) == 1


def test_health_never_imports_an_llm_sdk(db):
    import subprocess
    import sys

    code = (
        "import sys, functions_framework\n"
        "app = functions_framework.create_app('health', 'functions/health/main.py')\n"
        "c = app.test_client(); c.get('/health'); c.get('/readyz'); c.get('/livez')\n"
        "bad = [m for m in ('openai', 'anthropic', 'google.genai', 'vertexai') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    from tests.conftest import ROOT

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def test_database_outage_and_recovery_over_a_real_server(pg, function_server):
    """PostgreSQL cut off: /readyz 503 with the database check failing, /livez 200;
    back again: ready without restarting the process (pool pre-ping)."""
    proxy = TcpProxy(target_port=5432)
    try:
        url = pg.url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        server = function_server("health", env={"DATABASE_URL": url, "HEALTH_CACHE_SECONDS": "0"})
        status, body, headers = _get(server.url + "/readyz")
        assert status == 200, body
        assert headers["Content-Type"] == "application/health+json"

        proxy.cut()
        status, body, _ = _get(server.url + "/readyz")
        assert status == 503
        assert body["status"] == "fail"
        assert body["checks"]["database:responseTime"][0]["status"] == "fail"
        assert _get(server.url + "/livez")[0] == 200

        proxy.restore()
        status, body, _ = _get(server.url + "/readyz")
        assert status == 200, body
    finally:
        proxy.close()


def test_a_lease_skipped_run_does_not_turn_last_run_to_warn(db, client_for, users):
    """The run that held the lease succeeded; the overlapping one that stepped aside is not news."""
    now = datetime.now(timezone.utc)
    with session_scope() as s:
        for job in JOBS:
            s.add(JobRun(job=job, status="ok", exit_code=0, started_at=now - timedelta(minutes=2), finished_at=now))
        s.add(JobRun(job="backup", status="skipped", exit_code=3, started_at=now, finished_at=now,
                     summary={"reason": "another run holds the lease"}))
    _, ops = users("ops")
    body = client_for("health").get("/health", headers=auth(ops)).get_json()
    backup = next(c for c in body["checks"]["jobs:lastRun"] if c["componentId"] == "backup")
    assert backup["status"] == "pass" and backup["observedValue"] == "ok"
    with session_scope() as s:  # a real failure after it still shows
        s.add(JobRun(job="backup", status="error", exit_code=3, started_at=now + timedelta(seconds=1)))
    body = client_for("health").get("/health", headers=auth(ops)).get_json()
    backup = next(c for c in body["checks"]["jobs:lastRun"] if c["componentId"] == "backup")
    assert backup["status"] == "warn"
