"""`GET /metrics` (ops, admin): Prometheus text exposition, platform-wide.

Text format 0.0.4 by default; OpenMetrics 1.0 when the scraper's `Accept`
asks for `application/openmetrics-text` (prometheus_client negotiates). Both
carry the same families; the text format passes `promtool check metrics`.

Rendered by prometheus_client from a custom collector that reads the database
at scrape time, so every instance answers for the whole platform and counters
never depend on which instance was scraped (`shared.metric_totals`). Names
follow the OpenTelemetry semantic conventions where they exist, translated as
OpenTelemetry's Prometheus exporter does (dots to underscores, unit suffix):
`http_server_request_duration_seconds`, `gen_ai_client_token_usage`,
`gen_ai_client_inference_usage_*_total`, `gen_ai_client_operation_duration_seconds`,
with `gen_ai_provider_name` set to OTel's well-known provider value; La
Factoria's own carry the `lafactoria_` prefix. docs/OBSERVABILITY.md lists
every family.
"""

from __future__ import annotations

from datetime import datetime, timezone
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from pydantic import RootModel

from shared.http import RequestContext
from shared.timestamps import as_utc

if TYPE_CHECKING:
    from flask import Response
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.metrics_core import Metric
    from sqlalchemy.orm import Session

SEVERITIES = ("critical", "error", "warning", "info")


class Exposition(RootModel[str]):
    """Prometheus text format 0.0.4, or OpenMetrics 1.0 when `Accept` asks for it."""

    content_type: ClassVar[str] = "text/plain; version=0.0.4"
    content_types: ClassVar[tuple[str, ...]] = ("text/plain; version=0.0.4",
                                                "application/openmetrics-text; version=1.0.0")


def _bucket_label(bound: float) -> str:
    return repr(float(bound))


class DatabaseCollector:
    """A prometheus_client collector over one database session, for one scrape."""

    def __init__(self, session: Session, now: datetime | None = None) -> None:
        self.session = session
        self.now = now or datetime.now(timezone.utc)

    def collect(self) -> Iterator[Metric]:
        yield from self._aggregates()
        yield self._open_alerts()
        yield from self._jobs()
        yield from self._backup()
        yield from self._database()
        yield from self._instances()

    def _aggregates(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, HistogramMetricFamily

        from shared.metric_totals import Totals, aggregates, totals
        from shared.tracing import provider_name

        families: dict[str, CounterMetricFamily | GaugeHistogramMetricFamily | HistogramMetricFamily] = {}
        for agg in aggregates():
            family = families.get(agg.metric)
            names = agg.label_names
            if family is None:
                if agg.kind == "histogram":
                    family = HistogramMetricFamily(agg.metric, agg.doc, labels=names, unit=agg.unit)
                elif agg.kind == "counter":
                    family = CounterMetricFamily(agg.metric, agg.doc, labels=names, unit=agg.unit)
                else:  # held now: goes down as well as up, so a gauge histogram, not a histogram
                    family = GaugeHistogramMetricFamily(agg.metric, agg.doc, labels=names, unit=agg.unit)
                families[agg.metric] = family
            constant = [v for _, v in agg.constant]
            provider_at = names.index("gen_ai_provider_name") if "gen_ai_provider_name" in names else None
            merged: dict[tuple[str, ...], Totals] = {}  # two ledger names may map to one OTel name
            for key, t in totals(self.session, agg).items():
                labels = list(key) + constant
                if provider_at is not None:
                    labels[provider_at] = provider_name(labels[provider_at])
                merged.setdefault(tuple(labels), Totals()).add(t)
            for merged_labels, t in sorted(merged.items()):
                if isinstance(family, CounterMetricFamily):  # agg.kind == "counter"
                    family.add_metric(list(merged_labels), t.total)
                else:  # histogram or gauge histogram: cumulative buckets and the sum
                    buckets = [(_bucket_label(b), t.buckets.get(b, 0)) for b in agg.buckets] + [("+Inf", t.count)]
                    family.add_metric(list(merged_labels), buckets, t.total)
        yield from families.values()

    def _open_alerts(self) -> GaugeMetricFamily:
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import func, select

        from shared.models import Alert

        counts = dict(self.session.execute(select(Alert.severity, func.count()).where(Alert.status == "open")
                                           .group_by(Alert.severity)).all())
        family = GaugeMetricFamily("lafactoria_alerts_open", "Open alerts by severity.", labels=["severity"])
        for severity in SEVERITIES:
            family.add_metric([severity], counts.get(severity, 0))
        return family

    def _jobs(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import func, select

        from shared.job_schedule import JOBS
        from shared.job_status import counted
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

    def _backup(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
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


    def _database(self) -> Iterator[Metric]:
        """PostgreSQL's resources (shared.db_resources); on SQLite only the size."""
        from prometheus_client.core import GaugeMetricFamily

        from shared import db_resources as res
        from shared.settings import get_settings

        g = GaugeMetricFamily
        try:
            with self.session.begin_nested():  # a failure must not abort the scrape's transaction
                snap = res.snapshot(self.session, get_settings(), self.now)
        except Exception:  # noqa: BLE001 - e.g. statistics views the role may not read: omit them
            from shared.logs import get_logger

            get_logger("lafactoria.metrics").warning("database resources unreadable; families omitted")
            return
        size = g("lafactoria_db_size_bytes", "Size of the database on disk.", unit="bytes")
        if not snap["assessed"]:
            size.add_metric([], snap["size_bytes"])
            yield size
            return
        c, sz = snap["connections"], snap["size"]
        size.add_metric([], sz["size_bytes"])
        yield size
        for name, doc, value in (
            ("lafactoria_db_connections", "Client connections to the server now.", c["in_use"]),
            ("lafactoria_db_max_connections", "The server's max_connections.", c["max_connections"]),
            ("lafactoria_db_long_transactions", "Transactions open longer than ALERT_LONG_TRANSACTION_MINUTES.",
             len(snap["long_transactions"])),
            ("lafactoria_db_lock_waits", "Sessions waiting on a lock now.", snap["lock_waits"]["waiting"]),
        ):
            family = g(name, doc)
            family.add_metric([], value)
            yield family
        if sz["growth_bytes_per_day"] is not None:
            growth = g("lafactoria_db_size_growth_bytes_per_day", "Database growth per day over the last days.")
            growth.add_metric([], sz["growth_bytes_per_day"])
            yield growth
        if sz["limit_bytes"] is not None:
            limit = g("lafactoria_db_size_limit_bytes", "DB_SIZE_LIMIT_GB: the volume the database lives on.",
                      unit="bytes")
            limit.add_metric([], sz["limit_bytes"])
            yield limit
        dead = g("lafactoria_db_table_dead_tuples", "Dead tuples of the biggest tables.", labels=["table"])
        live = g("lafactoria_db_table_live_tuples", "Live tuples of the biggest tables.", labels=["table"])
        for t in snap["bloat"]:
            dead.add_metric([t["table"]], t["dead_tuples"])
            live.add_metric([t["table"]], t["live_tuples"])
        yield dead
        yield live
        if snap["slow_queries"]["available"]:
            mean = g("lafactoria_db_query_mean_seconds", "Mean time of the slowest normalised queries "
                     "(pg_stat_statements, since its last reset).", labels=["fingerprint"], unit="seconds")
            for q in snap["slow_queries"]["top"]:
                mean.add_metric([q["fingerprint"]], q["mean_ms"] / 1000)
            yield mean

    def _instances(self) -> Iterator[Metric]:
        """Each function instance's latest resource sample (the last 10 minutes), per instance."""
        from datetime import timedelta

        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        from sqlalchemy import func, select

        from shared.models import InstanceSample as S

        latest = (select(S.instance, func.max(S.at).label("at")).where(S.at >= self.now - timedelta(minutes=10))
                  .group_by(S.instance).subquery())
        rows = self.session.scalars(select(S).join(latest, (S.instance == latest.c.instance)
                                                   & (S.at == latest.c.at)).order_by(S.function, S.instance)).all()
        labels = ["function", "instance"]
        gauges = {
            "rss_bytes": GaugeMetricFamily("lafactoria_instance_resident_memory_bytes",
                                           "Resident memory (RSS) of each function instance.", labels=labels),
            "threads": GaugeMetricFamily("lafactoria_instance_threads", "Threads of each function instance.",
                                         labels=labels),
            "in_flight": GaugeMetricFamily("lafactoria_instance_requests_in_flight",
                                           "Requests each function instance is handling.", labels=labels),
            "pool_size": GaugeMetricFamily("lafactoria_instance_db_pool_size",
                                           "Connections each instance's pool may hold.", labels=labels),
            "pool_checked_out": GaugeMetricFamily("lafactoria_instance_db_pool_checked_out",
                                                  "Connections each instance holds now.", labels=labels),
        }
        counters = {
            "pool_checkouts": CounterMetricFamily("lafactoria_instance_db_pool_checkouts",
                                                  "Connections checked out of each instance's pool.", labels=labels),
            "pool_waits": CounterMetricFamily("lafactoria_instance_db_pool_waits",
                                              "Checkouts that found every connection held and waited.", labels=labels),
            "pool_timeouts": CounterMetricFamily("lafactoria_instance_db_pool_timeouts",
                                                 "Checkouts that gave up after the pool timeout.", labels=labels),
        }
        for row in rows:
            key = [row.function, row.instance]
            for field, family in (gauges | counters).items():
                family.add_metric(key, getattr(row, field))
        yield from gauges.values()
        yield from counters.values()


def _epoch(value: datetime) -> float:
    return as_utc(value).timestamp()


def render(session: Session, accept: str | None = None) -> tuple[bytes, str]:
    """(body, content type) for a scraper's `Accept` header: OpenMetrics when it asks, else text 0.0.4."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder

    encoder, content_type = choose_encoder(accept or "")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(session))
    return encoder(registry), content_type


def metrics(ctx: RequestContext) -> Response:
    """GET /metrics: the whole platform's counters, histograms and gauges, for Prometheus."""
    from flask import Response

    from shared.database import session_scope

    with session_scope() as session:
        body, content_type = render(session, ctx.request.headers.get("Accept"))
    return Response(body, 200, {"Cache-Control": "no-store", "Vary": "Accept"}, content_type=content_type)
