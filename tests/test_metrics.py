"""Request metric capture: what is stored, the consent rule, batching, bounds and failure safety."""

from __future__ import annotations

import time
from datetime import timedelta


from shared.http import PUBLIC, FunctionApp, Route
from shared.metrics import MetricRecord, MetricsConfig, MetricsRecorder, RequestMetricsMiddleware, recorder
from shared.middleware import standard_middleware
from shared.settings import get_settings
from tests.conftest import auth


def _item(ctx, item_id):
    return {"id": item_id}


def _boom(ctx):
    raise RuntimeError("bug")


def app_client(name: str = "demo"):
    """A FunctionApp with the standard middleware, served by Flask like functions-framework does,
    built from the test's settings (`env`) as a function's `create_app(settings)` is."""
    settings = get_settings()
    fn = FunctionApp(name, [Route("/items/<item_id>", _item), Route("/boom", _boom, roles=PUBLIC),
                            Route("/open/<item_id>", _item, roles=PUBLIC)],
                     middleware=standard_middleware(name, settings), settings=settings)
    return fn.test_client()


def stored_metrics():
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import RequestMetric

    with session_scope() as s:
        return [(m.function, m.route, m.method, m.status, m.latency_ms, m.user_id)
                for m in s.scalars(select(RequestMetric).order_by(RequestMetric.id))]


def grant(user_id: str, purpose: str = "analytics", granted: bool = True, at=None) -> None:
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import Consent, utcnow

    with session_scope() as s:
        row = s.scalar(select(Consent).where(Consent.user_id == user_id, Consent.purpose == purpose))
        if row is None:
            s.add(Consent(user_id=user_id, purpose=purpose, granted=granted, updated_at=at or utcnow()))
        else:
            row.granted, row.updated_at = granted, at or utcnow()


def test_standard_middleware_includes_metrics():

    assert any(isinstance(m, RequestMetricsMiddleware) and m.function_name == "gdpr"
               for m in standard_middleware("gdpr"))


def test_every_request_is_captured_with_its_route_template(db, users, client_for):
    uid, key = users("user")
    client = app_client()
    assert client.get("/items/abc-123", headers=auth(key)).status_code == 200
    assert client.get("/items/xyz", headers=auth("lf_bad_key_000000000000")).status_code == 401
    assert client.get("/nowhere/at/all").status_code == 404
    assert client.post("/items/abc").status_code == 405
    assert client.get("/boom").status_code == 500
    assert client_for("health").get("/livez").status_code == 200
    recorder.flush()  # what the writer thread has not written yet (on a slow machine it may have begun)
    rows = stored_metrics()
    assert len(rows) == 6, rows
    assert [r[:4] for r in rows] == [
        ("demo", "/items/<item_id>", "GET", 200),
        ("demo", "/items/<item_id>", "GET", 401),
        ("demo", "unmatched", "GET", 404),
        ("demo", "unmatched", "POST", 405),
        ("demo", "/boom", "GET", 500),
        ("health", "/livez", "GET", 200),
    ]
    assert all(r[4] > 0 for r in rows)
    assert all(r[5] is None for r in rows)  # no analytics consent: no user link
    assert not any("abc" in r[1] or "xyz" in r[1] for r in rows)  # raw paths never stored


def test_analytics_consent_decides_whether_user_id_is_stored(db, users):
    consenting, key_c = users("user")
    other, key_o = users("user")
    declined, key_d = users("user")
    grant(consenting)
    grant(other, purpose="marketing")  # a different purpose does not count
    grant(declined, granted=False)
    client = app_client()
    for key in (key_c, key_o, key_d):
        assert client.get("/items/1", headers=auth(key)).status_code == 200
    recorder.flush()
    assert [r[5] for r in stored_metrics()] == [consenting, None, None]


def test_consent_must_cover_the_request_time_and_withdrawal_covers_buffered_records(db, users):
    import time_machine

    from shared.models import utcnow

    early, key_e = users("user")
    late, key_l = users("user")
    client = app_client()
    # The clock only moves when the test moves it: "after its request" holds however slow the machine.
    with time_machine.travel(utcnow(), tick=False) as clock:
        step = timedelta(milliseconds=10)
        grant(early)
        clock.shift(step)
        client.get("/items/1", headers=auth(key_e))
        client.get("/items/1", headers=auth(key_l))
        clock.shift(step)
        grant(late, at=utcnow() + timedelta(seconds=1))  # granted only after its request was served
        grant(early, granted=False)  # withdrawn before the buffer was written
        clock.shift(step)
        client.get("/items/2", headers=auth(key_l))
        recorder.flush()
        assert [r[5] for r in stored_metrics()] == [None, None, None]
        clock.shift(timedelta(seconds=2))
        client.get("/items/3", headers=auth(key_l))
        recorder.flush()
        assert [r[5] for r in stored_metrics()][-1] == late


def test_erased_user_is_not_linked_and_batch_survives(db, users):
    from shared.database import session_scope
    from shared.models import User

    uid, key = users("user")
    grant(uid)
    app_client().get("/items/1", headers=auth(key))
    with session_scope() as s:
        s.delete(s.get(User, uid))
    recorder.flush()  # the writer thread may have written the row before the erasure: unlinked either way
    assert [r[5] for r in stored_metrics()] == [None]


def test_background_thread_writes_batches_without_an_explicit_flush(db, env):
    env(metrics_flush_seconds="0.2")
    client = app_client()
    for _ in range(3):
        client.get("/open/1")
    deadline = time.monotonic() + 30
    while len(stored_metrics()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(stored_metrics()) == 3
    assert recorder.pending() == 0


def test_a_full_batch_is_written_at_once(db, env):
    env(metrics_flush_seconds="300", metrics_batch_size="5")
    client = app_client()
    for _ in range(5):
        client.get("/open/1")
    deadline = time.monotonic() + 30
    while len(stored_metrics()) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(stored_metrics()) == 5


def test_buffer_is_bounded_and_drops_are_counted(db, env, caplog):
    env(metrics_buffer_max="3", metrics_flush_seconds="300")
    sink = MetricsRecorder()
    mw = RequestMetricsMiddleware("demo", sink, config=MetricsConfig.of(get_settings()))
    client = FunctionApp("demo", [Route("/open/<item_id>", _item, roles=PUBLIC)], middleware=[mw]).test_client()
    for _ in range(5):
        assert client.get("/open/1").status_code == 200
    assert sink.stats() == {"pending": 3, "written": 0, "dropped": 2, "failed": 0}
    assert sink.flush() == 3
    assert len(stored_metrics()) == 3
    warnings = [r for r in caplog.records if r.getMessage() == "request metrics buffer full; records dropped"]
    assert len(warnings) == 1 and warnings[0].dropped == 2


def test_metrics_never_break_a_response(db, env, caplog):
    class Exploding(MetricsRecorder):
        def record(self, rec):
            raise RuntimeError("sink down")

    fn = FunctionApp("demo", [Route("/open/<item_id>", _item, roles=PUBLIC)],
                     middleware=[RequestMetricsMiddleware("demo", Exploding())])
    resp = fn.test_client().get("/open/7")
    assert resp.status_code == 200 and resp.get_json() == {"id": "7"}
    assert "request metric capture failed" in caplog.text


def test_unwritable_database_counts_a_failure_and_never_raises(tmp_path, env):
    env(database_url=f"sqlite:///{tmp_path / 'never-migrated.db'}")
    sink = MetricsRecorder()
    from datetime import datetime, timezone

    from shared.settings import get_settings

    sink._buffer.append(MetricRecord(get_settings().database_url, datetime.now(timezone.utc), "demo", "/x", "GET",
                                     200, 1.0, None))
    assert sink.flush() == 0
    assert sink.stats()["failed"] == 1 and sink.pending() == 0


def test_disabled_capture_records_nothing(db, env):
    env(metrics_enabled="false")
    app_client().get("/open/1")
    assert recorder.pending() == 0


def test_real_server_writes_buffered_metrics_at_exit(db, users, function_server):
    """A functions-framework process stopped with SIGTERM still writes what it buffered."""
    import requests

    _, key = users("ops")
    server = function_server("health", env={"DATABASE_URL": db.url, "METRICS_FLUSH_SECONDS": "300",
                                            "ENVIRONMENT": "test", "HEALTH_CACHE_SECONDS": "0"})
    assert requests.get(server.url + "/livez", timeout=10).status_code == 200
    assert requests.get(server.url + "/v1/metrics?window=15m", headers=auth(key), timeout=10).status_code == 200
    assert stored_metrics() == []  # still buffered in the server process
    server.stop()
    rows = [r[:4] for r in stored_metrics()]
    assert rows == [("health", "/livez", "GET", 200), ("health", "/v1/metrics", "GET", 200)]


def test_user_erased_during_the_write_keeps_the_figures_unlinked(db, users, monkeypatch):
    """The consent lookup saw the user, the insert hits the foreign key: written again unlinked."""
    from shared.database import session_scope
    from shared.models import User, utcnow

    uid, key = users("user")
    # A recorder without its writer thread: only this test flushes, so no background write can
    # take the records between the requests and the erasure (the race that made this flaky).
    sink = MetricsRecorder()
    monkeypatch.setattr(sink, "_start", lambda: None)
    client = FunctionApp("demo", [Route("/items/<item_id>", _item), Route("/open/<item_id>", _item, roles=PUBLIC)],
                         middleware=[RequestMetricsMiddleware("demo", sink)]).test_client()
    client.get("/items/1", headers=auth(key))
    client.get("/open/2")
    with session_scope() as s:
        s.delete(s.get(User, uid))
    monkeypatch.setattr("shared.metrics.store.consented_since",
                        lambda session, ids: {i: utcnow() - timedelta(days=1) for i in ids})
    assert sink.flush() == 2
    assert sink.stats()["failed"] == 0
    assert [(r[1], r[5]) for r in stored_metrics()] == [("/items/<item_id>", None), ("/open/<item_id>", None)]


def test_forked_child_starts_with_an_empty_buffer(db):
    """A worker forked after requests were buffered must not write the parent's records twice."""
    import os

    client = app_client()
    client.get("/open/parent")
    pid = os.fork()
    if pid == 0:  # child: its own empty buffer, usable locks; no database work here
        ok = recorder.pending() == 0
        client.get("/open/child")
        os._exit(0 if ok and recorder.pending() == 1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    recorder.flush()  # the parent's one record, whether the writer thread or this call writes it
    assert len(stored_metrics()) == 1


def test_livez_capture_does_not_load_settings_and_the_writer_resolves_the_database(db):
    """Cold start: capturing /livez imports no settings (pydantic); the writer loads them later."""
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import sys, json\n"
        "from functions_framework import create_app\n"
        "client = create_app('health', 'functions/health/main.py').test_client()\n"
        "assert client.get('/livez').status_code == 200\n"
        "from shared.metrics import recorder\n"
        "before = {'settings': 'shared.settings.model' in sys.modules, 'pydantic_settings': 'pydantic_settings' in sys.modules,"
        " 'pending': recorder.pending()}\n"
        "written = recorder.flush()\n"
        "print(json.dumps({**before, 'written': written}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "DATABASE_URL": db.url})
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"settings": False, "pydantic_settings": False, "pending": 1, "written": 1}
    assert [r[:4] for r in stored_metrics()] == [("health", "/livez", "GET", 200)]


def test_records_captured_before_settings_load_are_dropped_when_capture_is_off(db, env):
    from datetime import datetime, timezone

    env(metrics_enabled="false")
    sink = MetricsRecorder()
    sink.record(MetricRecord(None, datetime.now(timezone.utc), "demo", "/x", "GET", 200, 1.0, None))
    assert sink.flush() == 0 and sink.stats()["failed"] == 0
    assert stored_metrics() == []


def _served_by(name: str, sink: MetricsRecorder, config: MetricsConfig):
    fn = FunctionApp(name, [Route("/open/<item_id>", _item, roles=PUBLIC)],
                     middleware=[RequestMetricsMiddleware(name, sink, config=config)])
    return fn.test_client()


def test_a_middleware_built_with_a_config_follows_it_not_the_environment(env, tmp_path):
    """Capture reads its config object only: the environment turning capture off changes nothing."""
    env(metrics_enabled="false", database_url=f"sqlite:///{tmp_path / 'not-this.db'}")
    sink = MetricsRecorder()
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"  # never the working directory: a writer may use it
    client = _served_by("demo", sink, MetricsConfig(database_url=elsewhere, batch_size=50))
    assert client.get("/open/1").status_code == 200
    (rec,) = sink.take()
    assert rec.database_url == elsewhere and rec.function == "demo" and rec.status == 200
    assert sink.config.batch_size == 50


def test_two_apps_with_different_metrics_config_side_by_side(db):
    sink = MetricsRecorder()
    off = _served_by("off", sink, MetricsConfig(enabled=False, database_url=db.url))
    on = _served_by("on", sink, MetricsConfig(database_url=db.url))
    for client in (off, on, off):
        assert client.get("/open/1").status_code == 200
    assert sink.flush() == 1
    assert [r[:4] for r in stored_metrics()] == [("on", "/open/<item_id>", "GET", 200)]


def test_a_deferred_record_goes_where_the_process_settings_say(db, env):
    """Captured before the settings were loaded (DEFERRED): no database on the record; the
    writer loads the settings when it writes, and follows them from then on."""
    env(metrics_flush_seconds="7")
    sink = MetricsRecorder()
    client = _served_by("later", sink, MetricsConfig())
    assert client.get("/open/1").status_code == 200
    assert sink.config.deferred
    assert sink.flush() == 1
    assert [r[:2] for r in stored_metrics()] == [("later", "/open/<item_id>")]
    assert sink.config == MetricsConfig.of(get_settings()) and sink.config.flush_seconds == 7
