"""Helpers shared by benchmarks: real servers, latency statistics, scratch databases."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BARE = ("bench/bare/main.py", "bare")
# Benchmarks send far more requests than a person would: they lift the per-key rate limit and the
# daily generation quota themselves, so `make bench` never depends on the defaults (60/min, 200/day).
LIMITS = {"RATE_LIMIT_PER_MINUTE": "100000000", "GENERATIONS_PER_DAY": "100000000"}
# The mock provider writes honest template text that the quality gate fails (docs/QUALITY.md), so by
# default every mock POST is best of three generations. The contract's generate figures are one
# provider call and one assessment: benchmarks of the request path let the mock's document pass.
ONE_ATTEMPT = {"QUALITY_THRESHOLD_OVERALL": "0", "QUALITY_THRESHOLD_EDUCATIONAL": "0",
               "QUALITY_THRESHOLD_FACTUAL": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def function_source(name: str) -> tuple[str, str]:
    return (f"functions/{name}/main.py", name)


def start_server(source: str, target: str, env: dict[str, str] | None = None, port: int | None = None):
    port = port or free_port()
    full_env = dict(os.environ) | (env or {})
    proc = subprocess.Popen(
        [str(BIN / "functions-framework"), "--source", str(ROOT / source), "--target", target,
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return proc, port


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def get(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 5.0,
        method: str = "GET", body: bytes | None = None) -> int:
    """One request on a fresh connection; returns the status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def cold_start(source: str, target: str, path: str, env: dict[str, str] | None = None,
               ok: tuple[int, ...] = (200,), timeout: float = 30.0, *, method: str = "GET",
               body: bytes | None = None, headers: dict[str, str] | None = None) -> float:
    """Seconds from process spawn to the first `ok` response to `method path`."""
    t0 = time.perf_counter()
    proc, port = start_server(source, target, env)
    try:
        while time.perf_counter() - t0 < timeout:
            try:
                if get(port, path, headers, timeout=10, method=method, body=body) in ok:
                    return time.perf_counter() - t0
            except OSError:
                pass
            time.sleep(0.003)
        raise RuntimeError(f"{source} gave no {ok} on {path} within {timeout}s")
    finally:
        stop(proc)


@contextmanager
def running(source: str, target: str, env: dict[str, str] | None = None, ready_path: str = "/"):
    proc, port = start_server(source, target, env)
    deadline = time.monotonic() + 30
    while True:
        try:
            get(port, ready_path, timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError(f"{source} did not start")
            time.sleep(0.02)
    try:
        yield port
    finally:
        stop(proc)


def latencies(call: Callable[[], object], n: int, warmup: int = 20) -> list[float]:
    """Per-call wall time in milliseconds."""
    for _ in range(warmup):
        call()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99), "mean": statistics.fmean(values)}


class KeepAlive:
    """One persistent HTTP/1.1 connection, so latency excludes TCP set-up."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def get(self, path: str, headers: dict[str, str] | None = None) -> int:
        self.conn.request("GET", path, headers=headers or {})
        resp = self.conn.getresponse()
        resp.read()
        return resp.status

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None):
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def close(self) -> None:
        self.conn.close()


@contextmanager
def scratch_postgres(prefix: str = "lf_bench"):
    """A migrated PostgreSQL database for one benchmark, dropped afterwards; yields its URL."""
    from shared import migrations
    from tests.conftest import create_pg_database, drop_pg_database

    url = create_pg_database(prefix)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        from shared.database import dispose_engines

        dispose_engines()
        drop_pg_database(url)


def row(label: str, value: float, unit: str, baseline: float | None = None, goal: float | None = None) -> None:
    """One figure, with its ratio to `baseline`; `goal` is a ceiling on the ratio when there is a
    baseline, else on the value itself, and the line says whether it is met or MISSED."""
    ratio = f"  ({value / baseline:.2f}x baseline)" if baseline else ""
    verdict = ""
    if goal is not None:
        measured = value / baseline if baseline else value
        verdict = f"  goal <= {goal:g}{'x' if baseline else ' ' + unit}: {'met' if measured <= goal else 'MISSED'}"
    print(f"  {label:<56} {value:10.2f} {unit}{ratio}{verdict}")


def pgbouncer_program() -> str | None:
    """The pgbouncer executable (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    return found if Path(found).is_file() else None


@contextmanager
def pgbouncer(url: str, pool_size: int = 20):
    """A PgBouncer in transaction mode in front of `url`'s server; yields the URL through it.

    Every database name is proxied (`*`), so scratch databases created later
    are reachable through it too. Used by `bench instances` and by the test
    suite's `pgbouncer` backend.
    """
    from sqlalchemy.engine import make_url

    target = make_url(url)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host={target.host or '127.0.0.1'} port={target.port or 5432} user={target.username or 'postgres'}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {tmp}/users.txt\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {tmp}/pgbouncer.log\n"
        )
        (Path(tmp) / "users.txt").write_text(f'"{target.username or "postgres"}" ""\n')
        command = [pgbouncer_program() or "pgbouncer", str(ini)]
        if os.geteuid() == 0:  # pgbouncer refuses to run as root: drop to the postgres account
            os.chmod(tmp, 0o777)
            command[1:1] = ["-u", "postgres"]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            import psycopg

            bouncer_url = f"postgresql://{target.username or 'postgres'}@127.0.0.1:{port}/{target.database}"
            deadline = time.monotonic() + 10
            while True:
                try:
                    psycopg.connect(bouncer_url, prepare_threshold=None).close()
                    break
                except psycopg.OperationalError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        log = (Path(tmp) / "pgbouncer.log")
                        raise RuntimeError("pgbouncer did not start: "
                                           + (log.read_text()[-500:] if log.exists() else "no log")) from None
                    time.sleep(0.05)
            yield bouncer_url.replace("postgresql://", "postgresql+psycopg://")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
