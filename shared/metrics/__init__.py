"""Request metrics: captured by middleware for every function, written in batches.

Why buffered: an INSERT per request would put a database round trip (and a
commit) on every response. Instead the middleware appends one small tuple to
an in-process buffer, and a daemon thread writes what has accumulated with one
multi-row INSERT every `METRICS_FLUSH_SECONDS`, at once when
`METRICS_BATCH_SIZE` records wait, and a last time at interpreter exit
(`atexit`; gunicorn workers exit through it on SIGTERM). The buffer is bounded
(`METRICS_BUFFER_MAX`): a batch the database could not take (an outage) goes
back into the buffer and is written when it returns, so an outage's 5xx show;
when the buffer is full, new records are dropped and counted rather than
growing memory or slowing requests. Each
instance writes only its own rows, so any number of instances is safe.

The user link (DESIGN: "request metrics link a user only with the analytics
consent") is decided at flush time, with one query per batch: the caller's id
is kept only if the user's `analytics` consent is granted now and was already
granted when the request was served. A withdrawal therefore also covers
records still in the buffer, and an erased user (consents cascade away) is
never linked. The request path itself never queries the database.

Pieces: `MetricRecord` (`record.py`), the buffering `MetricsRecorder` (`recorder.py`), the
consent-aware database writer (`store.py`), `MetricsConfig` (`config.py`) and
`RequestMetricsMiddleware` (`middleware.py`), which a function's wiring adds
to its `FunctionApp`. There are no exceptions of its own: nothing here raises.

Configuration: each middleware gets a `MetricsConfig` built from its app's
settings at startup. Cold start: a function whose settings load on first use
(outside production) never imports them on the request path, which `/livez`
must not pay for: its config is `DEFERRED` (default limits, no database), its
records carry no database URL, and the writer thread loads the settings when it
first writes them (then `METRICS_ENABLED=false` discards what was captured).

Metrics never break a response: every failure here is logged and swallowed.
"""

from shared.metrics.config import ANALYTICS, DEFERRED, MetricsConfig
from shared.metrics.middleware import RequestMetricsMiddleware
from shared.metrics.record import MetricRecord
from shared.metrics.recorder import MetricsRecorder, recorder
from shared.metrics.store import consented_since, write_records

__all__ = [
    "ANALYTICS", "DEFERRED", "MetricRecord", "MetricsConfig", "MetricsRecorder", "RequestMetricsMiddleware",
    "consented_since", "recorder", "write_records",
]
