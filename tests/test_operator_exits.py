"""Operators' exits: bad settings exit 2, an unreachable database exit 3, one line, no traceback.

One settings loader (shared.settings.get_settings) serves functions, jobs and the
CLI; shared.exits turns its errors and database outages into exit codes.
"""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

BAD_SETTINGS = [
    ({"DB_POOL_SIZE": "abc"}, "DB_POOL_SIZE"),
    ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
    ({"ENVIRONMENT": "prod"}, "ENVIRONMENT"),
    ({"RATE_LIMIT_PER_MINUTE": "-1"}, "RATE_LIMIT_PER_MINUTE"),
    ({"QUALITY_THRESHOLD_OVERALL": "2"}, "QUALITY_THRESHOLD_OVERALL"),
    ({"AI_PROVIDERS": "openai,foo"}, "AI_PROVIDERS"),
    ({"MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES"),
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"DATABASE_DIRECT_URL": "mysql://x"}, "DATABASE_DIRECT_URL"),
    ({"JOB_LEASE_SECONDS": "0"}, "JOB_LEASE_SECONDS"),
    ({"DB_CONNECT_TIMEOUT_SECONDS": "soon"}, "DB_CONNECT_TIMEOUT_SECONDS"),
    ({"ENVIRONMENT": "production"}, "DATABASE_URL points at SQLite"),
]
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/none"


def _apply(monkeypatch, values):
    from tests.conftest import reset_process_state

    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_process_state()


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.mark.parametrize("values, names", BAD_SETTINGS)
def test_jobs_exit_2_with_one_line_and_the_summary_last(monkeypatch, capsys, values, names):
    from jobs.runner import main

    _apply(monkeypatch, values)
    assert main(["alert-check"]) == 2
    out, err = capsys.readouterr()
    assert names in _one_line(err)
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["exit_code"] == 2 and names in summary["error"]


@pytest.mark.parametrize("values, names", BAD_SETTINGS)
def test_cli_exits_2_with_one_line(monkeypatch, capsys, values, names):
    from cli.main import main

    _apply(monkeypatch, values)
    assert main(["keys", "list"]) == 2
    out, err = capsys.readouterr()
    assert names in _one_line(err) and out == ""


@pytest.mark.parametrize("argv", [["db", "upgrade"], ["db", "current"], ["users", "create", "--email", "a@example.org"],
                                  ["keys", "list"]])
def test_cli_exits_3_when_the_database_is_unreachable(monkeypatch, capsys, argv):
    from cli.main import main

    _apply(monkeypatch, {"DATABASE_URL": UNREACHABLE})
    assert main(argv) == 3
    _, err = capsys.readouterr()
    assert "database unreachable" in _one_line(err)


@pytest.mark.parametrize("job", ["backup", "retention-expiry", "cost-report"])
def test_jobs_exit_3_when_the_database_is_unreachable(monkeypatch, capsys, job):
    from jobs.runner import main

    _apply(monkeypatch, {"DATABASE_URL": UNREACHABLE})
    assert main([job]) == 3
    out, err = capsys.readouterr()
    assert "database unreachable" in _one_line(err)
    assert json.loads(out.strip().splitlines()[-1])["exit_code"] == 3


def test_real_processes_print_no_traceback():
    """The pre-deploy command and a job as Railway runs them."""
    env = {"PATH": str(ROOT / ".venv/bin"), "ENVIRONMENT": "test", "DATABASE_URL": UNREACHABLE}
    upgrade = subprocess.run([str(ROOT / ".venv/bin/factoria"), "db", "upgrade"], capture_output=True, text=True,
                             env=env, timeout=60, cwd=ROOT)
    assert upgrade.returncode == 3 and "database unreachable" in _one_line(upgrade.stderr)
    job = subprocess.run([sys.executable, "-m", "jobs", "backup"], capture_output=True, text=True,
                         env=env | {"DB_POOL_SIZE": "abc"}, timeout=60, cwd=ROOT)
    assert job.returncode == 2 and "DB_POOL_SIZE" in _one_line(job.stderr)
    assert json.loads(job.stdout.strip().splitlines()[-1])["exit_code"] == 2
