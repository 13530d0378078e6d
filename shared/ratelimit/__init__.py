"""Rate limits per API key, shared by every instance (database or Redis).

Why not in memory: several instances of each function serve at once, so a
counter in one process protects nothing. Counters are fixed windows, kept by
one of two interchangeable backends behind `Backend`:

* `DatabaseBackend` (`database.py`): the `rate_limit_counters` table, one
  atomic conditional upsert per bucket;
* `RedisBackend` (`redis.py`): one Lua script, when `REDIS_URL` is set.

Both have the same semantics: `consume` is check-then-consume, atomic over
every bucket of a request (a request is admitted only if each bucket stays
within its limit, and a rejected request consumes nothing). Limits are per
API key (never per IP: behind a proxy every client shares one), per function,
`RATE_LIMIT_PER_MINUTE`; a route may weigh a request (`options["rate_weight"]`,
an int or `callable(ctx) -> int`) and may count towards the per-user daily
generation cap (`options["daily_generation"]`, `GENERATIONS_PER_DAY`).

Bucket names start with the user id so an erasure finds (and deletes) every
counter of a person (`buckets.py`, docs/SECURITY.md). `RateLimitMiddleware`
(`middleware.py`) is what a function's wiring adds to its `FunctionApp`.
"""

from shared.ratelimit.backend import Backend, forget_user, get_backend
from shared.ratelimit.buckets import (
    BUCKET_PREFIX,
    EXPIRY_GRACE,
    Charge,
    Outcome,
    daily_generation_bucket,
    minute_bucket,
    user_bucket_prefix,
)
from shared.ratelimit.config import RateLimitConfig
from shared.ratelimit.database import DatabaseBackend, delete_user_counters
from shared.ratelimit.exceptions import RateLimitExceeded, RateLimitStoreUnavailable
from shared.ratelimit.middleware import Decision, RateLimitMiddleware
from shared.ratelimit.redis import RedisBackend

__all__ = [
    "BUCKET_PREFIX", "EXPIRY_GRACE", "Backend", "Charge", "DatabaseBackend", "Decision", "Outcome",
    "RateLimitConfig", "RateLimitExceeded", "RateLimitMiddleware", "RateLimitStoreUnavailable", "RedisBackend",
    "daily_generation_bucket", "delete_user_counters", "forget_user", "get_backend", "minute_bucket",
    "user_bucket_prefix",
]
