"""`GET /metrics` (ops, admin): Prometheus text exposition (format 0.0.4), platform-wide.

Rendered by prometheus_client from a custom collector that reads the database
at scrape time, so every instance answers for the whole platform and counters
never depend on which instance was scraped (`shared.metric_totals`). Names
follow the OpenTelemetry semantic conventions where they exist, translated as
OpenTelemetry's Prometheus exporter does (dots to underscores, unit suffix):
`http_server_request_duration_seconds`, `gen_ai_client_token_usage`,
`gen_ai_client_operation_duration_seconds`; La Factoria's own carry the
`lafactoria_` prefix. docs/OBSERVABILITY.md lists every family.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import ClassVar

from pydantic import RootModel

from shared.http import RequestContext

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SEVERITIES = ("critical", "error", "warning", "info")


class Exposition(RootModel[str]):
    """Prometheus text format 0.0.4."""

    content_type: ClassVar[str] = "text/plain; version=0.0.4"


def _bucket_label(bound: float) -> str:
    return repr(float(bound))


class DatabaseCollector:
    """A prometheus_client collector over one database session, for one scrape."""

    def __init__(self, session, now: datetime | None = None) -> None:
        self.session = session
        self.now = now or datetime.now(timezone.utc)

    def collect(self):
        yield from self._aggregates()
        yield self._open_alerts()
        yield from self._jobs()
        yield from self._backup()

    def _aggregates(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        from shared.metric_totals import aggregates, totals

        families: dict[str, object] = {}
        for agg in aggregates():
            family = families.get(agg.metric)
            names = agg.label_names
            if family is None:
                if agg.kind == "histogram":
                    family = HistogramMetricFamily(agg.metric, agg.doc, labels=names, unit=agg.unit)
                elif agg.kind == "counter":
                    family = CounterMetricFamily(agg.metric, agg.doc, labels=names, unit=agg.unit)
                else:
                    family = GaugeMetricFamily(agg.metric, agg.doc, labels=names + ["le"], unit=agg.unit)
                families[agg.metric] = family
            constant = [v for _, v in agg.constant]
            for key, t in sorted(totals(self.session, agg).items()):
                labels = list(key) + constant
                if agg.kind == "histogram":
                    buckets = [(_bucket_label(b), t.buckets.get(b, 0)) for b in agg.buckets] + [("+Inf", t.count)]
                    family.add_metric(labels, buckets, t.total)
                elif agg.kind == "counter":
                    family.add_metric(labels, t.total)
                else:
                    for b in agg.buckets:
                        family.add_metric(labels + [_bucket_label(b)], t.buckets.get(b, 0))
                    family.add_metric(labels + ["+Inf"], t.count)
        yield from families.values()

    def _open_alerts(self):
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import func, select

        from shared.models import Alert

        counts = dict(self.session.execute(select(Alert.severity, func.count()).where(Alert.status == "open")
                                           .group_by(Alert.severity)).all())
        family = GaugeMetricFamily("lafactoria_alerts_open", "Open alerts by severity.", labels=["severity"])
        for severity in SEVERITIES:
            family.add_metric([severity], counts.get(severity, 0))
        return family

    def _jobs(self):
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import func, select

        from shared.job_status import JOBS, counted
        from shared.models import JobRun

        real = (*counted(), JobRun.job.in_(list(JOBS)))
        ended = func.coalesce(JobRun.finished_at, JobRun.started_at)
        ok = dict(self.session.execute(select(JobRun.job, func.max(ended)).where(*real, JobRun.status == "ok")
                                       .group_by(JobRun.job)).all())
        ran = dict(self.session.execute(select(JobRun.job, func.max(JobRun.started_at)).where(*real)
                                        .group_by(JobRun.job)).all())
        success = GaugeMetricFamily("lafactoria_job_last_success_timestamp_seconds",
                                    "When each job last finished successfully (Unix time; absent if never).",
                                    labels=["job"])
        started = GaugeMetricFamily("lafactoria_job_last_run_timestamp_seconds",
                                    "When each job last started, whatever the outcome (Unix time).", labels=["job"])
        for job in JOBS:
            if ok.get(job) is not None:
                success.add_metric([job], _epoch(ok[job]))
            if ran.get(job) is not None:
                started.add_metric([job], _epoch(ran[job]))
        return success, started

    def _backup(self):
        from prometheus_client.core import GaugeMetricFamily

        from shared import health_checks as checks

        age = GaugeMetricFamily("lafactoria_backup_age_seconds", "Age of the newest backup in the store.")
        up = GaugeMetricFamily("lafactoria_backup_store_up", "1 when the backup store could be listed, else 0.")
        try:
            newest = checks.newest_backup_time()
        except Exception:  # noqa: BLE001 - an unreachable store is a value, not a failed scrape
            up.add_metric([], 0)
            return up, age
        up.add_metric([], 1)
        if newest is not None:
            age.add_metric([], max(0.0, (self.now - newest).total_seconds()))
        return up, age


def _epoch(value) -> float:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def render(session) -> bytes:
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(session))
    return generate_latest(registry)


def metrics(ctx: RequestContext):
    """GET /metrics: the whole platform's counters, histograms and gauges, for Prometheus."""
    from flask import Response

    from shared.database import session_scope

    with session_scope() as session:
        body = render(session)
    return Response(body, 200, {"Cache-Control": "no-store"}, content_type=CONTENT_TYPE)
