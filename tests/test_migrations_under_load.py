"""`factoria db upgrade` under traffic: the previous release's code keeps serving with no 5xx.

The "previous release" is the code just before revision 0003 was added (schema head 0002),
taken from git history; 0003 adds columns to and builds indexes on the two busiest tables
(`usage_events`, `content_items`), the case that used to lock them. Its generate and gdpr
functions run against a database at 0002 while generations, reads and erasures go on, and
this release's `factoria db upgrade` migrates the database to head underneath them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from shared import migrations
from tests.conftest import ROOT, FunctionServer, create_pg_database, drop_pg_database, make_user

BODY = {"content_type": "study_guide", "topic": "Photosynthesis in plants", "audience": "middle_school",
        "learning_objectives": ["Explain the light reactions"], "language": "en"}


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def previous_release(dest: Path) -> Path:
    """The newest commit whose schema head is 0002 (the release before revision 0003), unpacked into `dest`."""
    versions = "shared/migrations/versions/"
    for commit in _git("log", "--format=%H", "HEAD", "--", versions).split():
        names = _git("ls-tree", "--name-only", commit, versions).split()
        if any(n.endswith("/0002_alert_delivery.py") for n in names) and \
                not any(n.endswith("/0003_cost_honesty.py") for n in names):
            break
    else:
        raise AssertionError("no commit with schema head 0002 in the history")
    dest.mkdir()
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _call(method: str, url: str, key: str, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_upgrade_from_the_previous_release_under_load_has_no_5xx(env, tmp_path):
    prev = previous_release(tmp_path / "previous")
    url = create_pg_database("lf_migr_load")
    env(database_url=url)
    servers: list[FunctionServer] = []
    try:
        migrations.upgrade(url, "0002")
        people = [make_user("user") for _ in range(12)]
        server_env = {"DATABASE_URL": url, "PYTHONPATH": str(prev), "RATE_LIMIT_PER_MINUTE": "1000",
                      "GENERATIONS_PER_DAY": "1000"}
        generate = FunctionServer("generate", server_env, prev / "functions" / "generate" / "main.py")
        servers.append(generate)
        gdpr = FunctionServer("gdpr", server_env, prev / "functions" / "gdpr" / "main.py")
        servers.append(gdpr)

        results: list[tuple[str, int, float, float]] = []  # (what, status, started, ended)
        lock = threading.Lock()
        stop = threading.Event()

        def worker(index: int) -> None:
            _, key = people[index]
            n = 0
            while not stop.is_set():
                started = time.monotonic()
                if n % 3 == 0:
                    what, status = "generate", _call("POST", f"{generate.url}/v1/content", key, BODY)
                else:
                    what, status = "read", _call("GET", f"{generate.url}/v1/content?limit=5", key)
                with lock:
                    results.append((what, status, started, time.monotonic()))
                n += 1
            if index % 4 == 0:  # some people leave: erasures during and after the upgrade
                started = time.monotonic()
                status = _call("DELETE", f"{gdpr.url}/v1/me", key, {"confirm": "erase my data"})
                with lock:
                    results.append(("erase", status, started, time.monotonic()))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(people))]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(results) < 24:  # traffic flowing before the deploy starts
            assert time.monotonic() < deadline, "no traffic"
            time.sleep(0.05)
        upgrade_started = time.monotonic()
        proc = subprocess.run([str(Path(sys.executable).parent / "factoria"), "db", "upgrade", "--json"], cwd=ROOT,
                              env=dict(os.environ, DATABASE_URL=url), capture_output=True, text=True, timeout=300)
        upgrade_ended = time.monotonic()
        with lock:
            seen = len(results)
        while len(results) < seen + 24:  # and after it
            assert time.monotonic() < deadline + 120, "traffic stopped after the upgrade"
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(120)

        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["to"] == migrations.head_revision()
        statuses = {}
        for what, status, _, _ in results:
            statuses.setdefault(what, set()).add(status)
        assert all(status < 500 for _, status, _, _ in results), statuses
        assert {"generate", "read", "erase"} <= set(statuses) and 201 in statuses["generate"], statuses
        assert 200 in statuses["read"] and statuses["erase"] == {200}, statuses
        during = [r for r in results if r[2] < upgrade_ended and r[3] > upgrade_started]
        assert during, "no request overlapped the upgrade"
    finally:
        for server in servers:
            server.stop()
        drop_pg_database(url)
