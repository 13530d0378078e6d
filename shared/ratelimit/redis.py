"""The Redis backend (`REDIS_URL`): counters as keys with a time to live, one Lua script per request."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from shared.logs import get_logger
from shared.ratelimit.buckets import Charge, Outcome, user_bucket_prefix
from shared.ratelimit.exceptions import RateLimitStoreUnavailable

log = get_logger("lafactoria.ratelimit")

# KEYS: buckets. ARGV: n, then per bucket cost, limit, time to live in seconds (relative,
# so a clock difference between an instance and Redis cannot expire a live window).
# Checks every bucket first, then increments all: atomic because Redis runs a
# script without interleaving other commands.
_CONSUME_LUA = """
local n = tonumber(ARGV[1])
local counts = {}
for i = 1, n do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  local cost = tonumber(ARGV[1 + (i - 1) * 3 + 1])
  local limit = tonumber(ARGV[1 + (i - 1) * 3 + 2])
  counts[i] = current
  if current + cost > limit then
    return {0, counts}
  end
end
for i = 1, n do
  local cost = tonumber(ARGV[1 + (i - 1) * 3 + 1])
  counts[i] = redis.call('INCRBY', KEYS[i], cost)
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[1 + (i - 1) * 3 + 3]))
end
return {1, counts}
"""

_REFUND_LUA = """
for i = 1, #KEYS do
  local left = redis.call('DECRBY', KEYS[i], tonumber(ARGV[i]))
  if left <= 0 then redis.call('DEL', KEYS[i]) end
end
return 1
"""

_redis_clients: dict[str, Any] = {}
_redis_lock = threading.Lock()


def _redis(url: str):
    client = _redis_clients.get(url)
    if client is None:
        with _redis_lock:
            client = _redis_clients.get(url)
            if client is None:
                import redis

                client = _redis_clients[url] = redis.Redis.from_url(
                    url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
                )
    return client


class RedisBackend:
    """Counters in Redis: a Lua script checks every bucket, then INCRBY + EXPIRE each."""

    name = "redis"

    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        import redis

        try:
            return fn(_redis(self.url))
        except redis.RedisError:
            # Fail closed: without the shared store no instance can tell how much was used.
            log.error("rate-limit store unavailable", extra={"backend": "redis"})
            raise RateLimitStoreUnavailable("The rate-limit store is unavailable.", retry_after=5) from None

    def ping(self) -> None:
        """Raises `RateLimitStoreUnavailable` when Redis does not answer (readiness)."""
        self._call(lambda r: r.ping())

    def consume(self, charges: Sequence[Charge], now: datetime) -> Outcome:
        args: list[Any] = [len(charges)]
        for c in charges:
            args += [c.cost, c.limit, max(1, math.ceil((c.expires_at - now).total_seconds()))]
        allowed, counts = self._call(
            lambda r: r.eval(_CONSUME_LUA, len(charges), *[c.bucket for c in charges], *args)
        )
        counts = [int(x) for x in counts] + [0] * (len(charges) - len(counts))
        return Outcome(bool(allowed), tuple(counts))

    def refund(self, charges: Sequence[Charge]) -> None:
        self._call(lambda r: r.eval(_REFUND_LUA, len(charges), *[c.bucket for c in charges],
                                    *[c.cost for c in charges]))

    def forget_user(self, user_id: str) -> int:
        def run(r) -> int:
            keys = list(r.scan_iter(match=_glob_escape(user_bucket_prefix(user_id)) + "*", count=500))
            return int(r.delete(*keys)) if keys else 0

        return self._call(run)


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
