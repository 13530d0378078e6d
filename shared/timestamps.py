"""UTC timestamps as the database gives them back: the one helper every part uses.

Every stored time is UTC. PostgreSQL returns aware datetimes; SQLite returns naive
ones, and aggregates over timestamps (min, max, coalesce) may come back as ISO text.
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
