"""The limiter's configuration, read from the settings when a request needs it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimitConfig:
    """`per_minute` per API key and function; `generations_per_day` per user; Redis if `redis_url`."""

    per_minute: int
    generations_per_day: int
    redis_url: str | None = None

    @classmethod
    def load(cls) -> "RateLimitConfig":
        """From `RATE_LIMIT_PER_MINUTE`, `GENERATIONS_PER_DAY`, `REDIS_URL`.

        Settings are imported on first use: constructing the middleware costs
        no pydantic import (cold start).
        """
        from shared.settings import get_settings

        s = get_settings()
        return cls(s.rate_limit_per_minute, s.generations_per_day, s.redis_url or None)
