"""The interface every counter store implements, and the choice between them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from shared.ratelimit.buckets import Charge, Outcome
from shared.ratelimit.config import RateLimitConfig

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session


class Backend(Protocol):  # pragma: no cover - typing only
    name: str

    def consume(self, charges: Sequence[Charge], now: datetime) -> Outcome: ...

    def refund(self, charges: Sequence[Charge]) -> None: ...

    def forget_user(self, user_id: str) -> int: ...


def get_backend(config: RateLimitConfig) -> Backend:
    """Redis when `config` names one (`REDIS_URL`), else the database."""
    from shared.ratelimit.database import DatabaseBackend
    from shared.ratelimit.redis import RedisBackend

    url = config.redis_url
    return RedisBackend(url) if url else DatabaseBackend()


def forget_user(user_id: str, config: RateLimitConfig, session: "Session | None" = None) -> int:
    """Delete every rate-limit counter of `user_id` (database and, if configured, Redis).

    With `session`, the database rows go in the caller's transaction (erasure is
    all or nothing); the Redis keys expire within a day anyway.
    """
    from shared.ratelimit.database import DatabaseBackend
    from shared.ratelimit.redis import RedisBackend

    deleted = DatabaseBackend().forget_user(user_id, session)
    url = config.redis_url
    if url:
        deleted += RedisBackend(url).forget_user(user_id)
    return deleted
