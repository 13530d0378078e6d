"""Test fixtures: a fresh database per run on PostgreSQL and on SQLite, and app clients.

Every test that touches data asks for `db` (parametrised over both backends)
or `pg` (PostgreSQL only). Each pytest process creates its own uniquely named
PostgreSQL database, migrates it once, truncates tables between tests, and
drops it at the end, so parallel runs never see each other's data.

The tests where transaction pooling can change the outcome (`PGBOUNCER_TESTS`:
races, locks and leases, budgets, erasure, the outbox, jobs) run on `db` a third
time, as `pgbouncer`: the same PostgreSQL database reached through a real
PgBouncer in transaction pooling mode with `DB_PGBOUNCER=true` (Debian's
`pgbouncer`, installed by `make test` through tests/system.sh), the way production runs behind one.

`make test` runs the suite on pytest-xdist workers; each worker is its own pytest
process (own databases, PgBouncer and Redis database), so tests never share state.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# One Redis database per xdist worker (15, 14, ...): a test that flushes its database never
# touches another worker's.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - _WORKER % 15}")

# Tests never read the developer's environment or .env: a known baseline.
_BASE_ENV = {
    "ENVIRONMENT": "test",
    "AI_PROVIDERS": "mock",
    "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
    "LOG_LEVEL": "info",
    "HEALTH_CACHE_SECONDS": "0",
    # Tests that repeat a request expect it to run again; the generation cache's own tests turn it on.
    "GENERATION_CACHE": "off",
    # The test process's own resource samples (its pool's waits under a busy suite) must not become
    # another test's alerts; the resource tests sample their servers explicitly.
    "METRICS_INSTANCE_SAMPLE_SECONDS": "3600",
}
_CLEARED = [
    "DATABASE_URL", "DATABASE_DIRECT_URL", "DB_PGBOUNCER", "REDIS_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GOOGLE_CLOUD_PROJECT",
    "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "VERTEX_BASE_URL", "ALERT_WEBHOOK_URL", "ALERT_PAGERDUTY_ROUTING_KEY", "PAGERDUTY_EVENTS_URL", "BACKUP_URL", "REPORTS_URL",
    "USER_DAILY_BUDGET_USD", "DAILY_BUDGET_USD", "MONTHLY_BUDGET_USD", "S3_ENDPOINT_URL",
    "OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "DB_SIZE_LIMIT_GB",
]


def reset_process_state() -> None:
    """Forget cached settings, engines and health results after the environment changed."""
    from shared import health_checks as checks
    from shared.auth import key_cache
    from shared.database import dispose_engines, use_statement_timeout
    from shared.settings import get_settings

    erasure = sys.modules.get("functions.gdpr.erasure")
    if erasure is not None:  # a previous test's VACUUM/checkpoint, queued after its receipt, ends first
        erasure.wait_for_disk_work()
    get_settings.cache_clear()
    use_statement_timeout(None)
    dispose_engines()
    checks.cache.clear()
    key_cache.clear()
    from shared.metrics import recorder

    recorder.discard()  # buffered request metrics belong to the previous test's database
    from shared.audit import auth_failures

    auth_failures.discard()  # so do counted authentication failures
    for hook in RESET_HOOKS:
        hook()


# Other packages append callables here to drop their own per-process caches.
RESET_HOOKS: list = []


@pytest.fixture(autouse=True)
def _fresh_auth_throttle():
    """Every test's client is 127.0.0.1: one test's wrong keys must not throttle the next test."""
    from shared.auth_throttle import throttle

    throttle.clear()
    yield


@pytest.fixture(scope="session", autouse=True)
def _log_capture_session():
    """Record every log line of the suite (tests.logcapture); fail on leaks outside any test."""
    from shared.logs import LoggingConfig, configure_logging
    from tests.logcapture import CAPTURE

    # The process's JSON logging is set up once, now: set up later by the first app a test builds, it
    # would replace the root handlers and with them that test's `caplog` handler.
    configure_logging(LoggingConfig(_BASE_ENV["LOG_LEVEL"]))
    CAPTURE.install()
    yield CAPTURE
    # Past the session, a background writer (request metrics of a test's scratch database) may
    # still fail and log into pytest's closed capture stream: that line has nowhere to go.
    logging.raiseExceptions = False
    leaks = CAPTURE.scan_and_clear()
    if leaks:
        pytest.fail("secrets or personal data in logs: " + "; ".join(sorted(set(leaks))), pytrace=False)


# Fault tests: their log lines are also checked for the user ids, key ids and topics written (logcapture).
FAULT_TESTS = (
    "tests/generate/", "tests/test_readiness.py", "tests/test_metrics_outage.py",
    "tests/test_alert_check_database_down.py", "tests/test_security_secrets.py", "tests/test_gdpr_erasure.py",
)


@pytest.fixture(autouse=True)
def _no_secrets_in_logs(_log_capture_session, request):
    """Fail the test whose logs held an API key, provider key, database password or email (and, in a
    fault test, a user id, key id or topic it wrote)."""
    _log_capture_session.scan_and_clear()  # lines from before this test were checked already
    yield
    path = Path(str(request.node.path)).resolve().relative_to(ROOT).as_posix()
    leaks = _log_capture_session.scan_and_clear(personal=path.startswith(FAULT_TESTS))
    if leaks:
        pytest.fail("secrets or personal data in logs: " + "; ".join(sorted(set(leaks))), pytrace=False)


def _pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Database:
    backend: str  # "postgresql" or "sqlite": what the application talks to
    url: str  # DATABASE_URL
    via: str = "direct"  # or "pgbouncer"
    direct_url: str = ""  # the server itself, bypassing any PgBouncer

    def __post_init__(self) -> None:
        self.direct_url = self.direct_url or self.url

    def truncate(self) -> None:
        """Empty every table. On PostgreSQL a TRUNCATE takes its locks table by table, so a write in
        progress (the process's metrics writer, a server a test left behind) can deadlock with it;
        PostgreSQL then cancels one side, and the TRUNCATE is tried again."""
        from psycopg.errors import DeadlockDetected
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import OperationalError

        from shared.models import Base
        from shared.retry import RetryPolicy

        engine = create_engine(self.direct_url)
        tables = [t.name for t in Base.metadata.sorted_tables]

        def empty() -> None:
            with engine.begin() as conn:
                if self.backend == "postgresql":
                    conn.execute(text("TRUNCATE " + ", ".join(tables) + " CASCADE"))
                else:
                    for name in reversed(tables):
                        conn.execute(text(f"DELETE FROM {name}"))

        try:
            RetryPolicy(attempts=3, first=0.05, longest_backoff=0.2).run(
                empty, lambda e: isinstance(e, OperationalError) and isinstance(e.orig, DeadlockDetected))
        finally:
            engine.dispose()


def create_pg_database(prefix: str = "lf_test") -> str:
    """A new, empty, uniquely named database on the test server; returns its URL."""
    from jobs.dump import create_pg_database as create

    return create(PG_ADMIN_URL, f"{prefix}_{uuid.uuid4().hex[:10]}")


def drop_pg_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    from jobs.dump import drop_pg_database as drop

    drop(PG_ADMIN_URL, make_url(url).database)


@pytest.fixture(scope="session")
def _pg_database():
    if not _pg_available():
        pytest.fail("PostgreSQL is not running on 127.0.0.1:5432 (make test starts it: tests/system.sh)")
    from shared import migrations

    url = create_pg_database()
    migrations.upgrade(url)
    yield Database("postgresql", url)
    from shared.database import dispose_engines
    from shared.metrics import recorder

    recorder.discard()  # the writer must not sample the instance into the database dropped next
    dispose_engines()
    drop_pg_database(url)


@pytest.fixture(scope="session")
def _pgbouncer_database(_pg_database):
    from bench.common import pgbouncer, pgbouncer_program

    if pgbouncer_program() is None:
        pytest.fail("pgbouncer is not installed (make test installs it: tests/system.sh)")
    with pgbouncer(_pg_database.url, pool_size=10) as url:
        yield Database("postgresql", url, via="pgbouncer", direct_url=_pg_database.url)
        from shared.database import dispose_engines

        dispose_engines()  # before PgBouncer stops, so no pooled connection outlives it


# Test files (path prefixes) whose `db` tests also run through PgBouncer: those where transaction
# pooling can change the outcome (locks and leases, races, single flight, budget settlement, erasure,
# the outbox, jobs' dumps and checkpoints, the server processes). Plain reads and writes
# (the API's CRUD, pricing, reports) behave the same through it and run on the two databases only.
PGBOUNCER_TESTS = (
    "tests/generate/test_races.py", "tests/generate/test_budget_totals.py", "tests/generate/test_generate_server.py",
    "tests/generate/test_generate_alert_outbox.py", "tests/test_gdpr_erasure.py", "tests/test_gdpr_export.py",
    "tests/test_gdpr_integration.py", "tests/test_erasure_disk.py", "tests/test_database_pool.py",
    "tests/test_jobs_backup.py", "tests/test_jobs_retention.py", "tests/test_jobs_reconcile_spend.py",
    "tests/test_jobs_runner.py", "tests/test_jobs_through_pgbouncer.py", "tests/test_jobs_api.py",
    "tests/test_job_lease.py",
)
_DATABASES = {"postgresql": "_pg_database", "sqlite": "_sqlite_database", "pgbouncer": "_pgbouncer_database"}


def pytest_generate_tests(metafunc):
    if "db" in metafunc.fixturenames:
        path = Path(metafunc.definition.fspath).relative_to(ROOT).as_posix()
        backends = ["postgresql", "sqlite"] + (["pgbouncer"] if path.startswith(PGBOUNCER_TESTS) else [])
        metafunc.parametrize("db", backends, indirect=True)


def pytest_addoption(parser):
    parser.addoption("--clock-start", metavar="ISO", default=None,
                     help="start every test's wall clock at this UTC instant (time-machine, ticking on), e.g. "
                          "2026-12-31T23:59:59Z: shows the suite holds at any hour, midnight and month ends included "
                          "(in-process code only; servers started by tests keep the real clock)")


@pytest.fixture(autouse=True)
def _clock_start(request):
    start = request.config.getoption("--clock-start")
    if not start or request.node.get_closest_marker("process"):
        yield
        return
    import time_machine

    with time_machine.travel(datetime.fromisoformat(start.replace("Z", "+00:00")), tick=True):
        yield


# The suite's tiers, as markers set from what a test uses (`pytest -m "not db and not process and
# not slow"` is the pure-logic tier, seconds long): `db` real databases, `process` real servers or
# CLI processes, `slow` benchmarks, schema fuzzing, the browser and the deployment's own services.
SLOW_FILES = ("tests/test_bench.py", "tests/test_schemathesis.py", "tests/test_console.py", "tests/test_deploy.py")


def pytest_collection_modifyitems(items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & {"db", "pg"}:
            item.add_marker(pytest.mark.db)
        if "function_server" in fixtures:
            item.add_marker(pytest.mark.process)
        if Path(str(item.fspath)).relative_to(ROOT).as_posix() in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def _sqlite_database(tmp_path_factory):
    from shared import migrations

    path = tmp_path_factory.mktemp("sqlite") / "test.db"
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    return Database("sqlite", url)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """Every test starts from the same settings, with its own backup and report folders."""
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in _BASE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.setenv("BACKUP_URL", f"file://{tmp_path / 'backups'}")
    monkeypatch.setenv("REPORTS_URL", f"file://{tmp_path / 'reports'}")
    reset_process_state()
    yield
    reset_process_state()


@pytest.fixture
def db(request, monkeypatch) -> Database:
    """A clean, migrated database on each backend in turn (see `pytest_generate_tests`);
    DATABASE_URL points at it, and through PgBouncer DB_PGBOUNCER and DATABASE_DIRECT_URL are set."""
    database = request.getfixturevalue(_DATABASES[request.param])
    database.truncate()
    monkeypatch.setenv("DATABASE_URL", database.url)
    if database.via == "pgbouncer":
        monkeypatch.setenv("DB_PGBOUNCER", "true")
        monkeypatch.setenv("DATABASE_DIRECT_URL", database.direct_url)
    reset_process_state()
    return database


@pytest.fixture
def pg(request, monkeypatch) -> Database:
    """A clean, migrated PostgreSQL database (for PostgreSQL-only behaviour)."""
    database = request.getfixturevalue("_pg_database")
    database.truncate()
    monkeypatch.setenv("DATABASE_URL", database.url)
    reset_process_state()
    return database


def travel_to(instant: datetime):
    """An autouse fixture for a module whose data is seeded relative to `instant`: each test's
    wall clock starts there and ticks on (time-machine), so the module passes at any hour and
    however long after collection it runs. The monotonic clock is left alone."""

    @pytest.fixture(autouse=True)
    def _travel():
        import time_machine

        with time_machine.travel(instant, tick=True):
            yield

    return _travel


def set_env(monkeypatch, **values) -> None:
    """Change settings for one test (None removes the variable)."""
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name.upper(), raising=False)
        else:
            monkeypatch.setenv(name.upper(), str(value))
    reset_process_state()


@pytest.fixture
def env(monkeypatch):
    return lambda **values: set_env(monkeypatch, **values)


def make_user(role: str = "user", email: str | None = None) -> tuple[str, str]:
    """Create a user with one key; returns (user_id, api_key)."""
    from shared.database import session_scope
    from shared.identity import create_key, create_user

    with session_scope() as session:
        user = create_user(session, email or f"{role}-{uuid.uuid4().hex[:8]}@example.org", role)
        key = create_key(session, user.id)
        return user.id, key.api_key


@pytest.fixture
def users(db):
    """Factory: `users("admin")` -> (user_id, api_key) in the current database."""
    return make_user


def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def function_client(name: str):
    """A Flask test client over the function exactly as functions-framework loads it."""
    from functions_framework import create_app

    return create_app(name, str(ROOT / "functions" / name / "main.py")).test_client()


@pytest.fixture
def client_for():
    return function_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FunctionServer:
    """A real `functions-framework` process on a free port."""

    def __init__(self, name: str, env: dict[str, str] | None = None, source: Path | None = None,
                 clean_env: bool = False, deployed: bool = False) -> None:
        import tempfile

        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        bin_dir = Path(sys.executable).parent
        full_env = {} if clean_env else {k: v for k, v in os.environ.items()}
        full_env.update(env or {})
        # stderr to a file, not a pipe: a chatty server never blocks on a full pipe, and its
        # logs are checked for secrets when it stops.
        self._stderr = tempfile.TemporaryFile()
        if deployed:  # exactly the IaC's start command (gunicorn + shared/serving.py), on a local port
            import shlex

            from tests.test_deploy import services

            argv = shlex.split(services()[name]["deploy"]["startCommand"].replace("0.0.0.0:$PORT",
                                                                                  f"127.0.0.1:{self.port}"))
            argv[0] = str(bin_dir / argv[0])
        else:
            argv = [str(bin_dir / "functions-framework"), "--source",
                    str(source or ROOT / "functions" / name / "main.py"),
                    "--target", name, "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=self._stderr,
        )
        self._wait()

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def _wait(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.stderr_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not start within {timeout}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._stderr.closed:
            from tests.logcapture import CAPTURE

            CAPTURE.add(f"{self.name} server", self.stderr_text())
            self._stderr.close()


@pytest.fixture
def function_server():
    """Factory for real servers: `function_server("health", env={...})`; stopped after the test."""
    started: list[FunctionServer] = []

    def start(name: str, env: dict[str, str] | None = None, source: Path | None = None,
              clean_env: bool = False, deployed: bool = False) -> FunctionServer:
        server = FunctionServer(name, env, source, clean_env, deployed)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
