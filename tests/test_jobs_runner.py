"""The jobs contract across all jobs: overlapping runs exit 3 without working; summary line last."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from tests.conftest import ROOT

MY_JOBS = ["backup", "backup-verify", "retention-expiry", "cost-report"]


def _built(name: str) -> bool:
    return importlib.util.find_spec("jobs." + name.replace("-", "_")) is not None


def _job_run_count(status: str | None = None) -> int:
    from shared.database import session_scope
    from shared.models import JobRun

    with session_scope() as s:
        q = select(func.count()).select_from(JobRun)
        if status:
            q = q.where(JobRun.status == status)
        return s.scalar(q)


@pytest.mark.parametrize("name", MY_JOBS + ["alert-check"])
def test_second_overlapping_run_exits_3_without_working(db, name):
    """While one run holds the job's lease, another process exits 3, records a skip, changes nothing."""
    assert _built(name), f"jobs/{name.replace('-', '_')}.py is missing"
    from jobs import lease
    from shared.settings import get_settings

    backups = get_settings().backup_url[len("file://"):]
    with lease.hold(name, 60) as held:
        assert held is not None
        proc = subprocess.run([sys.executable, "-m", "jobs", name], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
    assert proc.returncode == 3, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["status"] == "skipped" and summary["error"] == "another run holds the lease"
    assert _job_run_count("skipped") == 1 and _job_run_count() == 1  # no run started
    import os

    assert not os.path.exists(backups)  # nothing was written
    # Once the lease is released the job runs.
    proc = subprocess.run([sys.executable, "-m", "jobs", name, "--dry-run", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    lines = [json.loads(line) for line in proc.stdout.strip().splitlines()]  # --json: every line is JSON
    assert lines[-1]["job"] == name and lines[-1]["dry_run"] is True


def test_database_unreachable_exits_3(env):
    env(database_url="postgresql://postgres@127.0.0.1:1/nothing")
    from jobs.runner import run_job

    code, summary = run_job("retention-expiry")
    assert code == 3 and summary["status"] == "error"


def test_env_example_lists_every_job_knob():
    from jobs.cost_report.options import CostReportOptions
    from jobs.retention_expiry import RetentionOptions

    text = (ROOT / ".env.example").read_text()
    names = {line.split("=", 1)[0].lstrip("# ").strip() for line in text.splitlines() if "=" in line}
    knobs = [f"RETENTION_{f.upper()}" for f in RetentionOptions.model_fields if not f.startswith("test_")]
    knobs += [f"COST_REPORT_{f.upper()}" for f in CostReportOptions.model_fields]
    assert not [k for k in knobs if k not in names]
