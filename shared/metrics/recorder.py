"""The per-process buffer of captured requests and the daemon thread that writes it."""

from __future__ import annotations

import atexit
import os
import threading
import time
from typing import TYPE_CHECKING

from shared.logs import get_logger
from shared.metrics.store import write_records
from shared.metrics.config import DEFERRED, MetricsConfig
from shared.metrics.instance import Sampler, write_sample
from shared.metrics.record import MetricRecord

if TYPE_CHECKING:
    from shared.settings import Settings

log = get_logger("lafactoria.metrics")
_ERROR_LOG_INTERVAL = 60.0


def _settings() -> "Settings":
    """The process's settings, for records captured with a `DEFERRED` config (the writer thread
    only: off the request path, so `/livez` never imports pydantic)."""
    from shared.settings import get_settings

    return get_settings()


class MetricsRecorder:
    """A bounded per-process buffer of records and the thread that writes them.

    `record` is the hot path: a lock, a length check and an append. Nothing is
    started at import; the writer thread starts with the first record (and
    again in a forked child, which does not inherit threads or the buffer).

    The writer (its flush interval, the instance samples) follows the last known configuration
    it was handed with a record; a `DEFERRED` one is replaced by the process's settings' once
    the writer has loaded them to write a deferred record.
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
        self.sampler = Sampler()  # this instance's resources, every METRICS_INSTANCE_SAMPLE_SECONDS
        self.config = DEFERRED

    # -- hot path ---------------------------------------------------------------
    def record(self, rec: MetricRecord, config: MetricsConfig = DEFERRED) -> None:
        if config.deferred:
            config = self.config  # the limits resolved by the writer, once it has (else the defaults)
        else:
            self.config = config
        buffer_max, batch_size = config.buffer_max, config.batch_size
        with self._lock:
            if len(self._buffer) >= buffer_max:
                self.dropped += 1
                return
            self._buffer.append(rec)
            self.sampler.function, self.sampler.database_url = rec.function, rec.database_url
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
        self.sampler = Sampler()

    def _run(self) -> None:
        while True:
            self._wait_for_flush()
            try:
                self._sample_instance()  # here, not in flush(): the exit-time flush writes records only
                self.flush()
            except Exception:  # noqa: BLE001 - the writer thread must never die
                log.exception("metrics writer loop failed")

    def _wait_for_flush(self) -> None:
        """Until a full batch wakes us or METRICS_FLUSH_SECONDS passed. A writer started with a
        deferred configuration (the first request was `/livez`) learns the configured interval
        when the default one is over, loading the settings here, off the request path, and then
        waits out the configured one."""
        started = time.monotonic()
        while True:
            remaining = self.config.flush_seconds - (time.monotonic() - started)
            if remaining <= 0 and self.config.deferred:
                try:
                    self._settings_config()
                except Exception:  # noqa: BLE001 - invalid settings: flush() counts the records as failed
                    break
                continue
            if remaining <= 0 or self._wake.wait(remaining):
                break
        self._wake.clear()

    def take(self) -> list[MetricRecord]:
        with self._lock:
            batch, self._buffer = self._buffer, []
        return batch

    def pending(self) -> int:
        return len(self._buffer)

    def discard(self) -> int:
        """Drop buffered records without writing them (tests, between databases); drops seen so far
        count as reported, so no warning about them is left for the exit-time flush. Waits for a
        write or an instance sample in progress, so nothing reaches the old database afterwards."""
        with self._flush_lock:
            self._dropped_reported = self.dropped
            self.sampler = Sampler()  # no instance sample until the next record says which function
            self.config = DEFERRED  # nor a configuration: the next record brings its own
            return len(self.take())

    def flush(self) -> int:
        """Write everything buffered now; returns the rows written. Never raises."""
        with self._flush_lock:
            self._report_drops()
            batch = self.take()
            if not batch:
                return 0
            by_url: dict[str, list[MetricRecord]] = {}
            deferred_url = self._deferred_url(batch)
            for rec in batch:
                url = rec.database_url or deferred_url
                if url is not None:
                    by_url.setdefault(url, []).append(rec)
            written = 0
            for url, records in by_url.items():
                try:
                    written += write_records(url, records)
                except Exception as exc:  # noqa: BLE001 - metrics never break anything
                    from shared.database import is_outage

                    if is_outage(exc):
                        # An outage: keep the records (bounded) so its 5xx show once it is over.
                        self._requeue(records, self.config.buffer_max)
                    else:
                        self.failed += len(records)
                    self._log_failure(exc, len(records))
            self.written += written
            return written

    def _deferred_url(self, batch: list[MetricRecord]) -> str | None:
        """Where the records captured with a deferred configuration go: the database of the
        process's settings (`_settings_config`). None when none wait, when capture is off (they are dropped) or when the
        settings cannot load (they are counted as failed)."""
        waiting = sum(rec.database_url is None for rec in batch)
        if not waiting:
            return None
        try:
            resolved = self._settings_config()
        except Exception as exc:  # noqa: BLE001 - e.g. invalid settings: these cannot be written
            self.failed += waiting
            self._log_failure(exc, waiting)
            return None
        return resolved.database_url if resolved.enabled else None

    def _settings_config(self) -> MetricsConfig:
        """The process's settings' configuration (loaded now if need be), which the writer
        follows from then on if it knew no other."""
        resolved = MetricsConfig.of(_settings())
        if self.config.deferred:
            self.config = resolved
        return resolved

    def _sample_instance(self) -> None:
        """This instance's memory, threads, in-flight requests and pool, when a sample is due
        (not before the configuration is known: a deferred one waits for the first write)."""
        try:
            with self._flush_lock:  # not beside a discard(), which may be about to drop its database
                config = self.config
                if config.deferred or not config.enabled:
                    return
                sampler = self.sampler
                row = sampler.due_sample(config.instance_sample_seconds)
                url = sampler.database_url or config.database_url  # where the records went (set: not deferred)
                if row is not None and url is not None:
                    write_sample(url, row)
        except Exception as exc:  # noqa: BLE001 - metrics never break anything
            self._log_failure(exc, 1)

    def _requeue(self, records: list[MetricRecord], buffer_max: int) -> None:
        """Put unwritten records back in front of the buffer, oldest first, within its bound."""
        with self._lock:
            room = max(buffer_max - len(self._buffer), 0)
            kept = records[:room]
            self.dropped += len(records) - len(kept)
            self._buffer[:0] = kept

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
            log.error("request metrics could not be written",
                      extra={"rows": count, "error": type(exc).__name__, "failed_total": self.failed})

    def stats(self) -> dict[str, int]:
        return {"pending": self.pending(), "written": self.written, "dropped": self.dropped, "failed": self.failed}


recorder = MetricsRecorder()
