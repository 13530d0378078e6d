"""Request metrics: captured by middleware for every function, written in batches.

Why buffered: an INSERT per request would put a database round trip (and a
commit) on every response. Instead the middleware appends one small tuple to
an in-process buffer, and a daemon thread writes what has accumulated with one
multi-row INSERT every `METRICS_FLUSH_SECONDS`, at once when
`METRICS_BATCH_SIZE` records wait, and a last time at interpreter exit
(`atexit`; gunicorn workers exit through it on SIGTERM). The buffer is bounded
(`METRICS_BUFFER_MAX`): when the database is slow or down, new records are
dropped and counted rather than growing memory or slowing requests. Each
instance writes only its own rows, so any number of instances is safe.

The user link (DESIGN: "request metrics link a user only with the analytics
consent") is decided at flush time, with one query per batch: the caller's id
is kept only if the user's `analytics` consent is granted now and was already
granted when the request was served. A withdrawal therefore also covers
records still in the buffer, and an erased user (consents cascade away) is
never linked. The request path itself never queries the database.

Cold start: the request path never imports the settings (pydantic), which
`/livez` must not pay for. Until some other code has loaded them, a record
carries no database URL and the default limits apply; the writer thread loads
the settings when it first writes (then `METRICS_ENABLED=false` discards what
was captured).

Metrics never break a response: every failure here is logged and swallowed.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, NamedTuple

from shared.logs import get_logger

if TYPE_CHECKING:
    from flask import Response

    from shared.http import RequestContext
    from shared.settings import Settings

log = get_logger("lafactoria.metrics")
ANALYTICS = "analytics"
_ERROR_LOG_INTERVAL = 60.0
# The Settings defaults, used on the request path while the settings are not loaded yet.
_DEFAULT_BUFFER_MAX, _DEFAULT_BATCH_SIZE, _DEFAULT_FLUSH_SECONDS = 20_000, 500, 2.0


def loaded_settings() -> "Settings | None":
    """The settings if this process has loaded them already, else None (never imports them)."""
    module = sys.modules.get("shared.settings")
    return module.get_settings() if module is not None else None


def _settings() -> "Settings":
    from shared.settings import get_settings

    return get_settings()


class MetricRecord(NamedTuple):
    """One captured request, as buffered (the database URL routes it at flush time; None
    means the configured one, resolved by the writer)."""

    database_url: str | None
    created_at: datetime
    function: str
    route: str
    method: str
    status: int
    latency_ms: float
    user_id: str | None


class MetricsRecorder:
    """A bounded per-process buffer of records and the thread that writes them.

    `record` is the hot path: a lock, a length check and an append. Nothing is
    started at import; the writer thread starts with the first record (and
    again in a forked child, which does not inherit threads or the buffer).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._buffer: list[MetricRecord] = []
        self._thread: threading.Thread | None = None
        self._atexit_registered = False
        os.register_at_fork(after_in_child=self._after_fork)
        self._last_error_log = 0.0
        self._last_drop_log = 0.0
        self._dropped_reported = 0
        self.dropped = 0
        self.written = 0
        self.failed = 0

    # -- hot path ---------------------------------------------------------------
    def record(self, rec: MetricRecord, settings: "Settings | None" = None) -> None:
        buffer_max = settings.metrics_buffer_max if settings else _DEFAULT_BUFFER_MAX
        batch_size = settings.metrics_batch_size if settings else _DEFAULT_BATCH_SIZE
        with self._lock:
            if len(self._buffer) >= buffer_max:
                self.dropped += 1
                return
            self._buffer.append(rec)
            pending = len(self._buffer)
            if self._thread is None:
                self._start()
        if pending >= batch_size:
            self._wake.set()

    # -- writer -------------------------------------------------------------------
    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="metrics-writer", daemon=True)
        self._thread.start()
        if not self._atexit_registered:
            atexit.register(self.flush)
            self._atexit_registered = True

    def _after_fork(self) -> None:
        # A forked child has no writer thread, may have inherited a held lock, and must not
        # write the parent's buffered records a second time.
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None
        self._buffer = []

    def _run(self) -> None:
        while True:
            settings = loaded_settings()
            self._wake.wait(settings.metrics_flush_seconds if settings else _DEFAULT_FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the writer thread must never die
                log.exception("metrics writer loop failed")

    def take(self) -> list[MetricRecord]:
        with self._lock:
            batch, self._buffer = self._buffer, []
        return batch

    def pending(self) -> int:
        return len(self._buffer)

    def discard(self) -> int:
        """Drop buffered records without writing them (tests, between databases)."""
        return len(self.take())

    def flush(self) -> int:
        """Write everything buffered now; returns the rows written. Never raises."""
        with self._flush_lock:
            self._report_drops()
            batch = self.take()
            if not batch:
                return 0
            by_url: dict[str, list[MetricRecord]] = {}
            try:
                settings = _settings()
            except Exception as exc:  # noqa: BLE001 - e.g. invalid settings: nothing can be written
                self.failed += len(batch)
                self._log_failure(exc, len(batch))
                return 0
            for rec in batch:
                if rec.database_url is None and not settings.metrics_enabled:
                    continue  # captured before the settings were loaded, and capture is off
                by_url.setdefault(rec.database_url or settings.database_url, []).append(rec)
            written = 0
            for url, records in by_url.items():
                try:
                    written += write_records(url, records)
                except Exception as exc:  # noqa: BLE001 - metrics never break anything
                    self.failed += len(records)
                    self._log_failure(exc, len(records))
            self.written += written
            return written

    def _report_drops(self) -> None:
        """Warn (at most once a minute, off the request path) that the full buffer dropped records."""
        now = time.monotonic()
        if self.dropped > self._dropped_reported and now - self._last_drop_log >= _ERROR_LOG_INTERVAL:
            log.warning("request metrics buffer full; records dropped",
                        extra={"dropped": self.dropped - self._dropped_reported, "dropped_total": self.dropped})
            self._dropped_reported, self._last_drop_log = self.dropped, now

    def _log_failure(self, exc: Exception, count: int) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= _ERROR_LOG_INTERVAL:
            self._last_error_log = now
            log.error("request metrics could not be written; batch dropped",
                      extra={"rows": count, "error": type(exc).__name__, "failed_total": self.failed})

    def stats(self) -> dict[str, int]:
        return {"pending": self.pending(), "written": self.written, "dropped": self.dropped, "failed": self.failed}


recorder = MetricsRecorder()


def consented_since(session, user_ids: Iterable[str]) -> dict[str, datetime]:
    """For users whose analytics consent is granted: since when (its last change), in one query."""
    from sqlalchemy import select

    from shared.models import Consent

    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Consent.user_id, Consent.updated_at).where(
            Consent.purpose == ANALYTICS, Consent.granted.is_(True), Consent.user_id.in_(ids)
        )
    ).all()
    return {user_id: updated_at for user_id, updated_at in rows}


_COLUMNS = ("created_at", "function", "route", "method", "status", "latency_ms", "user_id")


def write_records(url: str, records: Sequence[MetricRecord]) -> int:
    """Insert `records` into the database at `url` in one transaction, linking users per consent.

    PostgreSQL gets `COPY` (a few µs a row, against ~20 µs for an executemany INSERT,
    and the writer shares the GIL with the requests); SQLite a plain executemany.
    """
    try:
        _insert(url, records, link=True)
    except Exception as exc:
        if not _is_integrity_error(exc):
            raise
        # A user erased between the consent lookup and the insert: keep the figures, unlinked.
        _insert(url, records, link=False)
    return len(records)


def _insert(url: str, records: Sequence[MetricRecord], *, link: bool) -> None:
    from sqlalchemy import insert

    from shared.database import session_scope
    from shared.models import RequestMetric

    with session_scope(url) as session:
        since = consented_since(session, (r.user_id for r in records if r.user_id)) if link else {}
        rows = [
            (r.created_at, r.function, r.route[:200], r.method[:8], r.status, r.latency_ms,
             r.user_id if r.user_id in since and since[r.user_id] <= r.created_at else None)
            for r in records
        ]
        if session.get_bind().dialect.name == "postgresql":
            dbapi = session.connection().connection.driver_connection
            with dbapi.cursor() as cur, cur.copy(
                f"COPY {RequestMetric.__tablename__} ({', '.join(_COLUMNS)}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            session.execute(insert(RequestMetric), [dict(zip(_COLUMNS, row)) for row in rows])


def _is_integrity_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import IntegrityError

    sqlstate = str(getattr(exc, "sqlstate", "") or "")
    return isinstance(exc, IntegrityError) or sqlstate.startswith("23")


class RequestMetricsMiddleware:
    """`after` hook: capture function, route template, method, status and latency of a request."""

    def __init__(self, function_name: str, sink: MetricsRecorder | None = None) -> None:
        self.function_name = function_name
        self.sink = sink or recorder

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        try:
            settings = loaded_settings()
            if settings is not None and not settings.metrics_enabled:
                return
            principal = ctx.principal
            self.sink.record(MetricRecord(
                settings.database_url if settings is not None else None,
                datetime.now(timezone.utc),
                self.function_name,
                ctx.route_template,
                ctx.request.method,
                response.status_code,
                (time.perf_counter() - ctx.started) * 1000.0,
                principal.user_id if principal is not None else None,
            ), settings)
        except Exception:  # noqa: BLE001 - metrics never break a response
            log.exception("request metric capture failed")
