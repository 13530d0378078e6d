"""Counter names and charges: what a request costs against which window.

Bucket names start with the user id so an erasure finds (and deletes) every
counter of a person: `rl:u:<user_id>:k:<key_id>:f:<function>:m:<YYYYMMDDHHMM>`
and `rl:u:<user_id>:gen:d:<YYYYMMDD>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

BUCKET_PREFIX = "rl:u:"
EXPIRY_GRACE = timedelta(minutes=1)  # counters live for their window + 1 minute (DESIGN.md retention)
_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Charge:
    """`cost` units against `bucket`, which admits at most `limit` until `window_end`."""

    bucket: str
    cost: int
    limit: int
    window_end: datetime
    key_id: str | None = None  # the API key charged: the database backend counts only while it is live

    @property
    def expires_at(self) -> datetime:
        return self.window_end + EXPIRY_GRACE


@dataclass(frozen=True)
class Outcome:
    """Whether the charges were admitted, and each bucket's count afterwards (or as it stands)."""

    allowed: bool
    counts: tuple[int, ...]


def minute_bucket(user_id: str, key_id: str, function: str, now: datetime) -> tuple[str, datetime]:
    start = now.replace(second=0, microsecond=0)
    return f"{BUCKET_PREFIX}{user_id}:k:{key_id}:f:{function}:m:{start:%Y%m%d%H%M}", start + _MINUTE


def daily_generation_bucket(user_id: str, now: datetime) -> tuple[str, datetime]:
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return f"{BUCKET_PREFIX}{user_id}:gen:d:{start:%Y%m%d}", start + _DAY


def user_bucket_prefix(user_id: str) -> str:
    """Every counter of `user_id` starts with this (erasure deletes by it)."""
    return f"{BUCKET_PREFIX}{user_id}:"
