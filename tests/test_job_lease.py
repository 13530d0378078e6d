"""Job leases (jobs/lease.py): one live holder per job on both backends, taken over when its
holder expired or died on this host, renewed while held, and a lost lease reported by the runner."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest

from jobs.lease import hold
from tests.conftest import ROOT

JOB = "retention-expiry"  # any registered job; its `run` is replaced where the runner runs it


def _row(job: str = JOB):
    from shared.database import session_scope
    from shared.models import JobLease

    with session_scope() as session:
        return session.get(JobLease, job)


def _put(owner: str, expires_in: float) -> None:
    """A lease row as another run would have left it."""
    from shared.database import session_scope
    from shared.models import JobLease, utcnow

    now = utcnow()
    with session_scope() as session:
        session.merge(JobLease(job=JOB, owner=owner, acquired_at=now, expires_at=now + timedelta(seconds=expires_in)))


def _until(condition, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def fake_job(monkeypatch):
    """Make `run_job(JOB)` run `body(ctx)` instead of the real job; returns the setter."""
    import jobs.retention_expiry
    from jobs.runner import JobResult

    def use(body=lambda ctx: None):
        def run(ctx):
            body(ctx)
            return JobResult.ok(ran=True)

        monkeypatch.setattr(jobs.retention_expiry, "run", run)

    return use


def test_a_second_holder_is_refused_and_release_frees_it(db):
    with hold(JOB, 60) as first:
        assert first is not None and _row().owner == first.owner
        with hold(JOB, 60) as second:
            assert second is None
        assert _row().owner == first.owner  # the refused attempt changed nothing
    assert _row() is None and not first.lost
    with hold(JOB, 60) as again:
        assert again is not None and again.owner != first.owner


def test_another_hosts_lease_is_refused_until_it_expires_then_taken_over(db):
    _put("elsewhere:999999:0123456789abcdef", expires_in=60)  # its pid means nothing here
    with hold(JOB, 60) as held:
        assert held is None
    _put("elsewhere:999999:0123456789abcdef", expires_in=-1)
    with hold(JOB, 60) as held:
        assert held is not None and _row().owner == held.owner


def test_a_container_sharing_this_hostname_is_not_judged_by_our_pids(db):
    """Replicas may share a hostname; only the same pid namespace may declare a pid dead."""
    import socket

    from jobs.lease import _host

    host, namespace = _host().rsplit("/", 1)
    assert host == socket.gethostname() and namespace.isdigit()  # Linux: the pid namespace is known
    dead = 2**22 + 7  # above pid_max's default range: no such process here
    _put(f"{host}/{int(namespace) + 1}:{dead}:0123456789abcdef", expires_in=60)
    with hold(JOB, 60) as held:
        assert held is None  # another pid space: wait for the expiry
    _put(f"{host}/{namespace}:{dead}:0123456789abcdef", expires_in=60)
    with hold(JOB, 60) as held:
        assert held is not None  # ours, and that pid is gone: taken at once


def test_a_lease_of_a_process_killed_on_this_host_is_taken_over_at_once(db, fake_job):
    from jobs.runner import run_job

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom jobs.lease import hold\n"
         "with hold(sys.argv[1], 3600) as held:\n    print('held' if held else 'refused', flush=True)\n"
         "    time.sleep(60)\n", JOB],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held", holder.stderr.read() if holder.poll() else ""
        with hold(JOB, 60) as held:
            assert held is None  # alive: refused
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)  # reaped: a zombie would still answer signal 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdout.close()
        holder.stderr.close()
    assert _row().expires_at > _row().acquired_at + timedelta(minutes=30)  # far from expiring
    fake_job()
    code, summary = run_job(JOB)
    assert (code, summary["status"], summary["ran"]) == (0, "ok", True) and "lease_lost" not in summary
    assert _row() is None


def test_renewal_keeps_a_short_lease_alive_past_its_period(db):
    with hold(JOB, 1) as held:
        first = _row().expires_at
        time.sleep(1.2)  # past the first expiry: only renewals keep the lease
        with hold(JOB, 1) as second:
            assert second is None
        assert _row().expires_at > first and not held.lost


def test_a_failed_renewal_is_retried(db, monkeypatch):
    from shared import database

    real, failures = database.session_scope, []

    def flaky(*args, **kwargs):
        if threading.current_thread().name.startswith("lease-") and not failures:
            failures.append(1)
            raise database.DatabaseUnavailable("database unreachable")
        return real(*args, **kwargs)

    with hold(JOB, 1) as held:
        first = _row().expires_at
        monkeypatch.setattr(database, "session_scope", flaky)
        assert _until(lambda: bool(failures) and _row().expires_at > first)
        assert not held.lost


def test_a_failed_release_does_not_raise_and_the_lease_expires(db, monkeypatch):
    from shared import database

    def down(*args, **kwargs):
        raise database.DatabaseUnavailable("database unreachable")

    with monkeypatch.context() as patched:
        with hold(JOB, 60) as held:
            patched.setattr(database, "session_scope", down)
    assert _row().owner == held.owner and not held.lost  # left as it was, until it expires


def test_a_renewal_that_finds_the_lease_taken_marks_it_lost(db):
    with hold(JOB, 1) as held:
        _put("elsewhere:1:0123456789abcdef", expires_in=60)  # taken after an expiry we missed
        assert _until(lambda: held.lost)
    assert _row().owner.startswith("elsewhere:")  # leaving did not delete the new owner's lease


def test_a_run_whose_lease_was_taken_reports_lease_lost(db, fake_job):
    from jobs.runner import run_job
    from shared.database import session_scope
    from shared.models import JobRun

    fake_job(lambda ctx: _put("elsewhere:1:0123456789abcdef", expires_in=60))
    code, summary = run_job(JOB)
    assert code == 1 and summary["status"] == "problem" and summary["lease_lost"] is True
    assert summary["exit_code"] == 1 and summary["ran"] is True
    with session_scope() as session:
        run = session.get(JobRun, summary["run_id"])
        assert (run.status, run.exit_code, run.summary["lease_lost"]) == ("problem", 1, True)


def test_threads_racing_for_one_lease_exactly_one_wins(db):
    racers = 5
    start, everyone_tried = threading.Barrier(racers), threading.Barrier(racers)
    won: list[bool] = []
    errors: list[BaseException] = []

    def race() -> None:
        try:
            start.wait(timeout=10)
            with hold(JOB, 60) as held:
                won.append(held is not None)
                everyone_tried.wait(timeout=10)  # the winner holds until every racer has tried
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors and sorted(won) == [False] * (racers - 1) + [True]
    assert _row() is None


def test_job_lease_seconds_is_bounded(env):
    from jobs.runner import run_job

    env(job_lease_seconds=0)
    code, summary = run_job(JOB)
    assert code == 2 and "JOB_LEASE_SECONDS" in summary["error"]
    env(job_lease_seconds=3601)
    assert run_job(JOB)[0] == 2
