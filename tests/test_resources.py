"""Database and instance resources: connections against max_connections, size growth, slow and long
queries, pool saturation under load, and the series /metrics carries (promtool-clean).

The connection and pg_stat_statements tests run on a PostgreSQL cluster this module starts for
itself (initdb in a temporary folder, `max_connections=40`, `pg_stat_statements` preloaded), so
the shared server's other users never change the count and its settings stay untouched.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from tests.conftest import auth, free_port, make_user

SMALL_MAX_CONNECTIONS = 40


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    assert found, f"{name} not found (Debian package postgresql)"
    return found[-1]


@pytest.fixture(scope="module")
def small_cluster():
    """A private PostgreSQL cluster; yields the URL of a migrated database on it."""
    from shared import migrations

    root = tempfile.mkdtemp(prefix="lf-small-pg-")
    as_root = os.geteuid() == 0  # initdb refuses root: the cluster then belongs to `postgres`
    user = "postgres" if as_root else None
    if as_root:
        shutil.chown(root, "postgres")
    data, port = os.path.join(root, "data"), free_port()
    subprocess.run([_pg_bin("initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"], user=user,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = subprocess.Popen([_pg_bin("postgres"), "-D", data, "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                             "-c", f"unix_socket_directories={root}", "-c",
                             f"max_connections={SMALL_MAX_CONNECTIONS}", "-c", "superuser_reserved_connections=1",
                             "-c", "shared_preload_libraries=pg_stat_statements", "-c", "fsync=off"],
                            user=user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            ready = subprocess.run([_pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                                   stdout=subprocess.DEVNULL).returncode == 0
            if ready:
                break
            assert proc.poll() is None and time.monotonic() < deadline, "the private cluster did not start"
            time.sleep(0.1)
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE lf_small")
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/lf_small"
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=lf_small", autocommit=True) as c:
            c.execute("CREATE EXTENSION pg_stat_statements")
        migrations.upgrade(url)
        from shared.database import dispose_engines

        dispose_engines()
        yield {"url": url, "port": port}
    finally:
        from shared.database import dispose_engines

        dispose_engines()
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def _open_alert(rule: str):
    from shared.database import session_scope
    from shared.models import Alert

    with session_scope() as s:
        return s.scalars(select(Alert).where(Alert.rule == rule, Alert.status == "open")).first()


def _resolved(rule: str) -> bool:
    from shared.database import session_scope
    from shared.models import Alert

    with session_scope() as s:
        return s.scalar(select(Alert.id).where(Alert.rule == rule, Alert.status == "resolved")) is not None


def test_connections_at_85_percent_raise_the_warning_then_resolve(small_cluster, env):
    import psycopg

    from jobs.runner import run_job

    env(database_url=small_cluster["url"])
    held = [psycopg.connect(f"host=127.0.0.1 port={small_cluster['port']} user=postgres dbname=lf_small")
            for _ in range(int(SMALL_MAX_CONNECTIONS * 0.85) - 1)]  # the job's own connection makes 85 %
    try:
        code, summary = run_job("alert-check")
        assert "db_connections" in summary["firing"]["warning"], summary
        assert "db_connections:error" not in summary["firing"]["error"]  # 85-92 % is below 95 %
        alert = _open_alert("db_connections")
        assert alert.severity == "warning"
        assert 0.85 <= alert.details["share"] < 0.95 and alert.details["max_connections"] == SMALL_MAX_CONNECTIONS
        assert f"of max_connections {SMALL_MAX_CONNECTIONS} in use" in alert.message
    finally:
        for conn in held:
            conn.close()
    code, summary = run_job("alert-check")
    assert "db_connections" in summary["resolved"] and _open_alert("db_connections") is None


def test_a_slow_query_planted_in_pg_stat_statements_shows_in_the_weekly_report(small_cluster, env):
    import json

    from jobs.runner import run_job
    from shared.database import session_scope
    from shared.settings import get_settings

    env(database_url=small_cluster["url"])
    with session_scope() as s:
        s.execute(text("SELECT pg_sleep(0.3)"))  # the planted slow query, 300 ms by construction
        s.execute(text("SELECT 'alice@example.org' AS who, pg_sleep(0.25)"))  # a literal that must not show
    today = datetime.now(timezone.utc).date()
    run_job("ops-report", options={"period": "weekly", "report_date": today.isoformat()})
    base = Path(get_settings().reports_url[len("file://"):]) / "ops-report" / "weekly"
    md = (base / f"{today}.md").read_text()
    assert "## Database resources" in md and "Slowest queries (pg_stat_statements" in md
    row = next(line for line in md.splitlines() if "SELECT pg_sleep(?)" in line)
    assert float(row.split(" | ")[2]) >= 300.0  # mean ms
    assert "alice@example.org" not in md
    report = json.loads((base / f"{today}.json").read_text())
    top = report["facts"]["database"]["slow_queries"]["top"]
    assert top[0]["query"] == "SELECT pg_sleep(?)" and top[0]["p95_ms"] >= top[0]["mean_ms"]
    assert report["checks"]["database"]["status"] in ("pass", "warn")


def _sample(at, queries=None, size=100_000_000):
    from shared.models import DatabaseSample

    return DatabaseSample(at=at, size_bytes=size, connections=3, max_connections=100, queries=queries)


def test_a_query_whose_mean_doubles_week_over_week_warns(pg, env):
    from jobs.alert_rules import Evaluation, slow_queries
    from shared.database import session_scope
    from shared.settings import get_settings

    now = datetime(2026, 6, 15, 8, tzinfo=timezone.utc)
    q = lambda calls, total: {"calls": calls, "total_ms": total, "query": "SELECT * FROM content_items WHERE id = ?",  # noqa: E731
                              "fingerprint": "abc123"}
    steady = lambda calls, total: {"calls": calls, "total_ms": total, "query": "SELECT ?", "fingerprint": "f00"}  # noqa: E731
    with session_scope() as s:
        s.add_all([_sample(now - timedelta(days=14), {"1": q(100, 1000.0), "2": steady(100, 10.0)}),
                   _sample(now - timedelta(days=7), {"1": q(200, 2000.0), "2": steady(200, 20.0)}),  # 10 ms
                   _sample(now, {"1": q(300, 4500.0), "2": steady(300, 30.0)})])  # 25 ms: 2.5x
    with session_scope() as s:
        [finding] = slow_queries(Evaluation(s, now, get_settings()))
    assert finding.firing and "abc123" in finding.observed and "10.0 -> 25.0 ms" in finding.observed
    assert [d["fingerprint"] for d in finding.details["doubled"]] == ["abc123"]
    with session_scope() as s:  # a week later the mean holds: no longer doubled
        s.add(_sample(now + timedelta(days=7), {"1": q(400, 7000.0), "2": steady(400, 40.0)}))
    with session_scope() as s:
        [finding] = slow_queries(Evaluation(s, now + timedelta(days=7), get_settings()))
    assert not finding.firing


def test_size_growth_and_days_until_full(pg, env):
    from jobs.alert_rules import Evaluation, db_size
    from shared import db_resources as res
    from shared.database import session_scope
    from shared.settings import get_settings

    now = datetime.now(timezone.utc)
    with session_scope() as s:
        size = res.size_bytes(s)
        s.add(_sample(now - timedelta(days=2), size=size - 2 * 50_000_000))  # 50 MB a day
    env(db_size_limit_gb=None)
    with session_scope() as s:
        [f] = db_size(Evaluation(s, now, get_settings()))
    assert not f.firing and "DB_SIZE_LIMIT_GB not set" in f.observed
    limit_gb = (size + 5 * 50_000_000) / 1024 ** 3  # five days of room
    env(db_size_limit_gb=limit_gb, alert_db_size_days=14)
    with session_scope() as s:
        [f] = db_size(Evaluation(s, now, get_settings()))
    assert f.firing and f.details["days_until_full"] == pytest.approx(5.0, abs=0.2)
    assert f.details["growth_bytes_per_day"] == pytest.approx(50_000_000, rel=0.01)
    env(db_size_limit_gb=limit_gb * 10)
    with session_scope() as s:
        [f] = db_size(Evaluation(s, now, get_settings()))
    assert not f.firing and f.details["days_until_full"] > 14


def test_long_transactions_show_their_fingerprint_never_their_parameters(pg, env):
    import psycopg
    from sqlalchemy.engine import make_url

    from jobs.alert_rules import Evaluation, long_transactions
    from shared.database import session_scope
    from shared.settings import get_settings

    url = make_url(pg.url)
    conn = psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database)
    try:
        conn.execute("SELECT count(*) FROM users WHERE email = 'alice@example.org' AND id <> '42'")
        env(alert_long_transaction_minutes=1e-6)  # older than 60 µs: the open transaction qualifies
        with session_scope() as s:
            [f] = long_transactions(Evaluation(s, datetime.now(timezone.utc), get_settings()))
        assert f.firing
        [tx] = [t for t in f.details["transactions"] if "FROM users" in t["query"]]
        assert tx["query"] == "SELECT count(*) FROM users WHERE email = ? AND id <> ?"
        assert len(tx["fingerprint"]) == 16 and tx["state"] == "idle in transaction"
        assert "alice" not in f.message and "42" not in tx["query"]
    finally:
        conn.close()
    env(alert_long_transaction_minutes=5)
    with session_scope() as s:
        [f] = long_transactions(Evaluation(s, datetime.now(timezone.utc), get_settings()))
    assert not f.firing


def test_fingerprint_removes_every_literal():
    from shared.db_resources import fingerprint

    a = fingerprint("SELECT * FROM t WHERE a = 'x''y' AND b IN (1, 2, 3) AND c = $1 -- note\n AND d = 1.5e3")
    b = fingerprint("select * FROM t WHERE a = 'other' AND b IN (4,5) AND c = $2 AND d = 7")
    assert a["query"] == "SELECT * FROM t WHERE a = ? AND b IN (?) AND c = ? AND d = ?"
    assert a["fingerprint"] != b["fingerprint"]  # keyword case differs: a different statement text
    assert fingerprint("SELECT $$secret$$, $tag$more$tag$")["query"] == "SELECT ?, ?"
    assert fingerprint(None)["query"] == ""


def test_sqlite_says_not_assessed(db, env):
    from jobs.alert_rules import Evaluation, db_connections, db_size, long_transactions, slow_queries
    from shared.database import session_scope
    from shared.settings import get_settings

    with session_scope() as s:
        found = [f for rule in (db_connections, db_size, slow_queries, long_transactions)
                 for f in rule(Evaluation(s, datetime.now(timezone.utc), get_settings()))]
    if db.backend == "sqlite":
        assert all(not f.firing and f.observed.startswith("not assessed") for f in found)
    else:
        assert not any(f.observed.startswith("not assessed: the database is SQLite") for f in found)


def _instance_rows(instance, points, function="generate"):
    return [{"at": at, "instance": instance, "function": function, "rss_bytes": rss, "threads": 8, "in_flight": 1,
             "pool_size": 5, "pool_checked_out": 1, "pool_checkouts": 10, "pool_waits": waits,
             "pool_timeouts": timeouts} for at, rss, waits, timeouts in points]


def test_instance_memory_growth_over_half_in_an_hour(pg):
    from jobs.alert_rules import Evaluation, instance_memory
    from shared.database import session_scope
    from shared.models import InstanceSample
    from shared.settings import get_settings

    now = datetime(2026, 6, 15, 8, tzinfo=timezone.utc)
    m = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    with session_scope() as s:
        s.execute(insert(InstanceSample), _instance_rows("a:1", [(m(55), 100e6, 0, 0), (m(1), 160e6, 0, 0)])
                  + _instance_rows("b:2", [(m(55), 100e6, 0, 0), (m(1), 140e6, 0, 0)])  # +40 %
                  + _instance_rows("c:3", [(m(20), 50e6, 0, 0), (m(1), 150e6, 0, 0)]))  # young: start-up
    with session_scope() as s:
        [f] = instance_memory(Evaluation(s, now, get_settings()))
    assert f.firing and [i["instance"] for i in f.details["instances"]] == ["a:1"]
    with session_scope() as s:
        [f] = instance_memory(Evaluation(s, now + timedelta(hours=2), get_settings()))
    assert not f.firing


def test_pool_counts_waits_and_timeouts(pg, env):
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from shared import pool_usage
    from shared.database import cached_engines, get_engine

    env(db_pool_size=1, db_connect_timeout_seconds=1)
    before = pool_usage.stats(cached_engines())
    engine = get_engine()
    holder = engine.connect()
    assert pool_usage.stats(cached_engines()).checked_out == before.checked_out + 1
    with pytest.raises(PoolTimeout):  # the only connection is held: gives up after pool_timeout
        engine.connect()
    assert pool_usage.stats(cached_engines()).timeouts == before.timeouts + 1
    released = threading.Event()

    def wait_then_use():
        with engine.connect() as c:  # must wait for the held connection
            c.execute(text("SELECT 1"))
        released.set()

    t = threading.Thread(target=wait_then_use)
    t.start()
    waiters = engine.pool._pool.not_empty._waiters  # the pool queue's blocked getters (test-only peek)
    deadline = time.monotonic() + 10
    while not waiters:
        assert time.monotonic() < deadline and t.is_alive()
        time.sleep(0.001)
    holder.close()
    t.join(timeout=10)
    assert released.is_set()
    after = pool_usage.stats(cached_engines())
    assert after.waits == before.waits + 1 and after.timeouts == before.timeouts + 1
    assert after.size == 1 and after.checked_out == 0 and after.checkouts >= before.checkouts + 2


def test_pool_saturation_under_load_fires_and_resolves(pg, env, function_server):
    """A real health instance with a one-connection pool under 24 concurrent clients: its samples show
    the waits, alert-check opens pool_saturation; once the waits are older than the 5-minute window
    (the samples are moved back in time rather than waiting for the clock) it resolves."""
    from jobs.runner import run_job
    from shared.database import session_scope
    from shared.models import InstanceSample

    _, ops_key = make_user("ops")
    server = function_server("health", env={"DATABASE_URL": pg.url, "DB_POOL_SIZE": "1",
                                            "METRICS_FLUSH_SECONDS": "0.2", "METRICS_INSTANCE_SAMPLE_SECONDS": "0.2",
                                            "AUTH_CACHE_SECONDS": "0", "RATE_LIMIT_PER_MINUTE": "100000"})
    errors: list[int] = []

    def client():
        for _ in range(8):
            req = urllib.request.Request(server.url + "/v1/alerts", headers=auth(ops_key))
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    resp.read()
            except urllib.error.HTTPError as exc:
                errors.append(exc.code)

    threads = [threading.Thread(target=client) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    def latest_sample():  # the server's: this test process's own writer may sample the same database
        with session_scope() as s:
            return s.scalars(select(InstanceSample).where(InstanceSample.function == "health")
                             .order_by(InstanceSample.at.desc()).limit(1)).first()

    deadline = time.monotonic() + 30
    while (row := latest_sample()) is None or row.pool_waits == 0:
        assert time.monotonic() < deadline, "no sample with pool waits"
        time.sleep(0.1)
    assert row.function == "health" and row.pool_size == 1 and row.rss_bytes > 10_000_000 and row.threads >= 1
    code, summary = run_job("alert-check")
    assert "pool_saturation" in summary["opened"], summary
    alert = _open_alert("pool_saturation")
    assert alert.details["instances"][0]["waits"] > 0 and "wait(s)" in alert.message
    # The load is over; with a one-connection pool the instance's own background work could still
    # queue for it, so it stops here: its waits then lie only in samples older than the window.
    server.stop()
    with session_scope() as s:
        s.execute(text("UPDATE instance_samples SET at = at - interval '6 minutes'"))
    code, summary = run_job("alert-check")
    assert "pool_saturation" in summary["resolved"], summary
    assert errors == []  # saturated, not failing: every request waited its turn


def test_metrics_carry_the_resource_series_and_stay_promtool_clean(pg, client_for):
    from shared.database import session_scope
    from shared.metrics.instance import sample
    from shared.models import InstanceSample

    with session_scope() as s:
        s.execute(insert(InstanceSample), [sample("generate") | {"instance": "host-a:101"},
                                           sample("gdpr") | {"instance": "host-b:7"}])
    _, ops_key = make_user("ops")
    resp = client_for("health").get("/metrics", headers=auth(ops_key))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for name in ("lafactoria_db_connections", "lafactoria_db_max_connections", "lafactoria_db_size_bytes",
                 "lafactoria_db_lock_waits", "lafactoria_db_long_transactions", "lafactoria_db_table_dead_tuples",
                 "lafactoria_instance_resident_memory_bytes", "lafactoria_instance_requests_in_flight",
                 "lafactoria_instance_db_pool_checked_out", "lafactoria_instance_db_pool_waits_total",
                 "lafactoria_instance_db_pool_timeouts_total"):
        assert f"\n{name}" in body, name
    assert 'lafactoria_instance_resident_memory_bytes{function="gdpr",instance="host-b:7"}' in body
    check = subprocess.run(["/usr/bin/promtool", "check", "metrics"], input=body.encode(), capture_output=True)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_dead_tuple_bloat_on_big_tables(pg, monkeypatch):
    from shared import db_resources as res
    from shared import health_checks
    from shared.database import session_scope
    from shared.models import RequestMetric

    now = datetime.now(timezone.utc)
    with session_scope() as s:
        s.execute(insert(RequestMetric), [{"created_at": now, "function": "gdpr", "route": "/v1/me", "method": "GET",
                                           "status": 200 if n % 2 else 500, "latency_ms": 1.0} for n in range(400)])
    with session_scope() as s:
        s.execute(text("DELETE FROM request_metrics WHERE status = 500"))
    with session_scope() as s:
        s.execute(text("SELECT pg_stat_force_next_flush()"))  # table statistics now, not at the next flush
    with session_scope() as s:
        tables = {t["table"]: t for t in res.bloat(s)}
    assert tables["request_metrics"]["dead_tuples"] == 200 and not tables["request_metrics"]["bloated"]  # small
    monkeypatch.setattr(res, "BIG_TABLE_BYTES", 0)
    with session_scope() as s:
        row = {t["table"]: t for t in res.bloat(s)}["request_metrics"]
    assert row["bloated"] and row["dead_ratio"] == pytest.approx(0.5, abs=0.01)
    health_checks.cache.clear()
    [item] = [i for i in health_checks.run(["database:resources"])["database:resources"]
              if i["componentId"] == "bloat"]
    assert item["status"] == "warn" and "request_metrics 50% dead" in item["output"]
