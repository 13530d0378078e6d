"""One captured request, as the middleware buffers it and the store writes it."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


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
