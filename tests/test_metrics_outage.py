"""Fault test: request metrics survive a short database outage (kept in the bounded buffer)."""

from shared.metrics import recorder
from tests.conftest import auth
from tests.faults import TcpProxy


def test_the_5xx_of_an_outage_show_in_metrics_once_it_is_over(pg, env, client_for, users):
    proxy = TcpProxy(target_port=5432)
    try:
        env(database_url=pg.url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
        _, ops = users("ops")
        _, key = users("user")
        generate = client_for("generate")
        recorder.flush()
        proxy.cut()
        for _ in range(3):
            assert generate.get("/v1/content", headers=auth(key)).status_code == 503
        assert recorder.flush() == 0  # the database is down: nothing written, nothing lost
        assert recorder.pending() >= 3
        proxy.restore()
        assert recorder.flush() >= 3
        body = client_for("health").get("/v1/metrics?window=15m", headers=auth(ops)).get_json()
        stats = body["requests"]["functions"]["generate"]
        assert stats["count"] >= 3 and stats["error_rate_5xx"] > 0
    finally:
        proxy.close()


def test_requeued_records_stay_within_the_buffer_bound(db, env):
    from datetime import datetime, timezone

    from shared.metrics import MetricRecord

    recorder.discard()
    records = [MetricRecord(None, datetime.now(timezone.utc), "gdpr", "/x", "GET", 503, 1.0, None) for _ in range(5)]
    before = recorder.dropped
    recorder._requeue(records, buffer_max=3)
    assert recorder.pending() == 3 and recorder.dropped - before == 2
    recorder.discard()
