"""`RateLimitConfig`: the limiter's settings, built from them and handed to the middleware."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import Settings


@dataclass(frozen=True)
class RateLimitConfig:
    """`per_minute` per API key and function; `generations_per_day` per user; Redis if `redis_url`."""

    per_minute: int = 60
    generations_per_day: int = 200
    redis_url: str | None = None

    @classmethod
    def of(cls, settings: "Settings") -> "RateLimitConfig":
        """From `RATE_LIMIT_PER_MINUTE`, `GENERATIONS_PER_DAY`, `REDIS_URL`."""
        return cls(settings.rate_limit_per_minute, settings.generations_per_day, settings.redis_url or None)
