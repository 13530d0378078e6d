"""The `factoria` command and `python -m jobs` contract basics."""

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, auth, function_client

FACTORIA = str(Path(sys.executable).parent / "factoria")


def run(*args, check=True):
    proc = subprocess.run([FACTORIA, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_users_create_json_prints_one_object_and_key_works(db):
    proc = run("users", "create", "--email", "ops-person@example.org", "--role", "ops", "--json")
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert set(data) == {"user_id", "api_key"}
    resp = function_client("health").get("/health", headers=auth(data["api_key"]))
    assert "observedValue" in resp.get_json()["checks"]["database:responseTime"][0]
    # the email never reaches the logs
    assert "ops-person@example.org" not in proc.stderr


def test_duplicate_user_is_refused_unless_reused(db):
    run("users", "create", "--email", "dup@example.org", "--json")
    assert run("users", "create", "--email", "dup@example.org", check=False).returncode == 2
    again = json.loads(run("users", "create", "--email", "dup@example.org", "--reuse", "--json").stdout)
    assert again["api_key"].startswith("lf_")


def test_keys_create_list_revoke(db):
    created = json.loads(run("users", "create", "--email", "k@example.org", "--json").stdout)
    extra = json.loads(run("keys", "create", "--email", "k@example.org", "--name", "ci", "--json").stdout)
    listed = json.loads(run("keys", "list", "--email", "k@example.org", "--json").stdout)
    assert len(listed) == 2 and all("api_key" not in k for k in listed)
    assert all(extra["api_key"] not in json.dumps(k) for k in listed)
    prefix = extra["api_key"].split("_")[1]
    run("keys", "revoke", prefix)
    client = function_client("health")
    body = client.get("/health", headers=auth(extra["api_key"])).get_json()
    assert "observedValue" not in body["checks"]["database:responseTime"][0]  # revoked: no details
    assert run("keys", "revoke", "nope", check=False).returncode == 2
    assert created["user_id"] == listed[0]["user_id"]


def test_unknown_job_exits_2_with_json_summary_last(db):
    proc = subprocess.run([sys.executable, "-m", "jobs", "no-such-job"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["status"] == "error" and "unknown job" in summary["error"]


def test_help_is_clear():
    out = run("--help").stdout
    for word in ("db", "users", "keys", "dev", "jobs"):
        assert word in out
