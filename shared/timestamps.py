"""UTC timestamps: reading them as the database gives them back, and writing them as ISO text.

Every stored time is UTC. PostgreSQL returns aware datetimes; SQLite returns naive
ones, and aggregates over timestamps (min, max, coalesce) may come back as ISO text.
`as_utc` reads any of them as an aware UTC datetime; `iso` writes one the way
every report, health check and operator command shows a time (UTC, whole seconds).
Every part uses these two rather than its own copy.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import overload


@overload
def as_utc(value: None) -> None: ...


@overload
def as_utc(value: datetime | str) -> datetime: ...


def as_utc(value: datetime | str | None) -> datetime | None:
    """`value` as an aware UTC datetime (ISO text parsed, a naive value read as UTC); None stays None."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


@overload
def iso(value: None) -> None: ...


@overload
def iso(value: datetime | str) -> str: ...


def iso(value: datetime | str | None) -> str | None:
    """`value` (read by `as_utc`) as ISO 8601 in UTC to the second, "2026-03-10T10:17:23+00:00"; None stays None."""
    if value is None:
        return None
    return as_utc(value).astimezone(timezone.utc).isoformat(timespec="seconds")
