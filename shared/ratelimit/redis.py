"""The Redis backend (`REDIS_URL`): counters as keys with a time to live, one Lua script per request.

An erased person's keys may still be cached by other instances for up to
`AUTH_CACHE_SECONDS`; their requests must not write counters holding the
person's ids after the erasure. So `forget_user` first sets a short-lived
tombstone per API key (`rl:erased:<pseudonym of the key id>`, never the id),
then deletes the counters; the consume script refuses a charge whose key has
a tombstone (the request gets 401) before it touches any counter. Redis runs
scripts one at a time, so a counter is either written before the tombstone
(and deleted with the others) or never.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from shared.errors import Unauthorized
from shared.logs import get_logger
from shared.ratelimit.buckets import Charge, Outcome, user_bucket_prefix
from shared.ratelimit.exceptions import RateLimitStoreUnavailable

if TYPE_CHECKING:
    from redis import Redis

log = get_logger("lafactoria.ratelimit")
T = TypeVar("T")

# KEYS: buckets, then the key's tombstone. ARGV: n, then per bucket cost, limit, time to live in
# seconds (relative, so a clock difference between an instance and Redis cannot expire a live
# window). A tombstone refuses at once (-1); otherwise every bucket is checked first, then all are
# incremented: atomic because Redis runs a script without interleaving other commands.
_CONSUME_LUA = """
local n = tonumber(ARGV[1])
if #KEYS > n and redis.call('EXISTS', KEYS[n + 1]) == 1 then
  return {-1, {}}
end
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

TOMBSTONE_PREFIX = "rl:erased:"
TOMBSTONE_SECONDS = 120  # longer than any instance may cache a key (AUTH_CACHE_SECONDS <= 30)

_redis_clients: dict[str, Redis[bytes]] = {}
_redis_lock = threading.Lock()


def _redis(url: str) -> Redis[bytes]:
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

    def _call(self, fn: Callable[[Redis[bytes]], T]) -> T:
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
        keys = [c.bucket for c in charges]
        key_id = next((c.key_id for c in charges if c.key_id), None)
        if key_id is not None:
            keys.append(_tombstone(key_id))
        allowed, counts = self._call(lambda r: _eval(r, _CONSUME_LUA, keys, args))
        if int(allowed) < 0:
            raise Unauthorized("The API key is invalid or revoked.")
        counts = [int(x) for x in counts] + [0] * (len(charges) - len(counts))
        return Outcome(bool(allowed), tuple(counts))

    def refund(self, charges: Sequence[Charge]) -> None:
        self._call(lambda r: _eval(r, _REFUND_LUA, [c.bucket for c in charges], [c.cost for c in charges]))

    def forget_user(self, user_id: str, key_ids: Sequence[str] = ()) -> int:
        """Delete `user_id`'s counters; first tombstone `key_ids` so no cached request writes new ones."""
        def run(r: Redis[bytes]) -> int:
            for key_id in key_ids:
                r.set(_tombstone(key_id), 1, ex=TOMBSTONE_SECONDS)
            keys = list(r.scan_iter(match=_glob_escape(user_bucket_prefix(user_id)) + "*", count=500))
            return int(r.delete(*keys)) if keys else 0

        return self._call(run)


def _eval(r: Redis[bytes], script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """EVAL `script` on `keys` and `args`: its reply, in whatever shape the script returns."""
    return r.eval(script, len(keys), *keys, *args)  # type: ignore[no-untyped-call]  # types-redis leaves eval untyped


def _tombstone(key_id: str) -> str:
    from shared.pseudonyms import pseudonym

    return TOMBSTONE_PREFIX + pseudonym(key_id)


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
