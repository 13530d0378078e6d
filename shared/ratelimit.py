"""Rate limits per API key, shared by every instance (database or Redis).

Why here and not in memory: several instances of each function serve at once,
so a counter in one process protects nothing. Counters are fixed windows in
the `rate_limit_counters` table (an atomic conditional upsert) or, when
`REDIS_URL` is set, in Redis (one Lua script). Both backends have the same
semantics:

* `consume` is check-then-consume, atomic over every bucket of a request: a
  request is admitted only if each bucket stays within its limit, and a
  rejected request consumes nothing.
* Limits are per API key (never per IP: behind a proxy every client shares
  one), per function, `RATE_LIMIT_PER_MINUTE`; a route may weigh a request
  (`options["rate_weight"]`, an int or `callable(ctx) -> int`) and may count
  towards the per-user daily generation cap (`options["daily_generation"]`,
  `GENERATIONS_PER_DAY`).

Bucket names start with the user id so an erasure finds (and deletes) every
counter of a person: `rl:u:<user_id>:k:<key_id>:f:<function>:m:<YYYYMMDDHHMM>`
and `rl:u:<user_id>:gen:d:<YYYYMMDD>` (see docs/SECURITY.md).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from shared import errors
from shared.logs import get_logger

if TYPE_CHECKING:  # pragma: no cover
    from flask import Response
    from sqlalchemy.orm import Session

    from shared.http import RequestContext

log = get_logger("lafactoria.ratelimit")


def get_settings():
    """Settings on first use: constructing the middleware costs no pydantic import (cold start)."""
    from shared.settings import get_settings as _get

    return _get()

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

    @property
    def expires_at(self) -> datetime:
        return self.window_end + EXPIRY_GRACE


@dataclass(frozen=True)
class Outcome:
    """Whether the charges were admitted, and each bucket's count afterwards (or as it stands)."""

    allowed: bool
    counts: tuple[int, ...]


class Backend(Protocol):  # pragma: no cover - typing only
    name: str

    def consume(self, charges: Sequence[Charge], now: datetime) -> Outcome: ...

    def refund(self, charges: Sequence[Charge]) -> None: ...

    def forget_user(self, user_id: str) -> int: ...


# -- bucket names ---------------------------------------------------------------------------


def minute_bucket(user_id: str, key_id: str, function: str, now: datetime) -> tuple[str, datetime]:
    start = now.replace(second=0, microsecond=0)
    return f"{BUCKET_PREFIX}{user_id}:k:{key_id}:f:{function}:m:{start:%Y%m%d%H%M}", start + _MINUTE


def daily_generation_bucket(user_id: str, now: datetime) -> tuple[str, datetime]:
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return f"{BUCKET_PREFIX}{user_id}:gen:d:{start:%Y%m%d}", start + _DAY


def user_bucket_prefix(user_id: str) -> str:
    """Every counter of `user_id` starts with this (erasure deletes by it)."""
    return f"{BUCKET_PREFIX}{user_id}:"


# -- database backend -----------------------------------------------------------------------


class DatabaseBackend:
    """Counters in `rate_limit_counters`, one transaction per request.

    Each charge is an `INSERT ... ON CONFLICT (bucket) DO UPDATE SET count =
    count + cost WHERE count + cost <= limit RETURNING count` (PostgreSQL and
    SQLite >= 3.35): the row lock (PostgreSQL) or the write lock (SQLite)
    makes it atomic across instances. If any charge returns no row the whole
    transaction is rolled back, so nothing is consumed.
    """

    name = "database"

    def consume(self, charges: Sequence[Charge], now: datetime) -> Outcome:
        from sqlalchemy import select

        from shared.database import session_scope
        from shared.models import RateLimitCounter

        with session_scope() as session:
            _relax_durability(session)
            counts: list[int] = []
            for charge in charges:  # a fixed order (minute, then day) so two requests never deadlock
                count = self._try_add(session, charge) if charge.cost <= charge.limit else None
                if count is None:
                    session.rollback()
                    current = dict(session.execute(
                        select(RateLimitCounter.bucket, RateLimitCounter.count)
                        .where(RateLimitCounter.bucket.in_([c.bucket for c in charges]))
                    ).all())
                    return Outcome(False, tuple(int(current.get(c.bucket, 0)) for c in charges))
                counts.append(count)
            return Outcome(True, tuple(counts))

    @staticmethod
    def _try_add(session: "Session", charge: Charge) -> int | None:
        from shared.models import RateLimitCounter

        table = RateLimitCounter.__table__
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table).values(bucket=charge.bucket, count=charge.cost, expires_at=charge.expires_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.bucket],
            set_={"count": table.c.count + stmt.excluded.count},
            where=(table.c.count + stmt.excluded.count) <= charge.limit,
        ).returning(table.c.count)
        return session.execute(stmt).scalar()

    def refund(self, charges: Sequence[Charge]) -> None:
        from sqlalchemy import case, update

        from shared.database import session_scope
        from shared.models import RateLimitCounter

        with session_scope() as session:
            for charge in charges:
                new = RateLimitCounter.count - charge.cost
                session.execute(
                    update(RateLimitCounter)
                    .where(RateLimitCounter.bucket == charge.bucket)
                    .values(count=case((new < 0, 0), else_=new))
                )

    def forget_user(self, user_id: str, session: "Session | None" = None) -> int:
        from shared.database import session_scope

        if session is not None:
            return delete_user_counters(session, user_id)
        with session_scope() as own:
            return delete_user_counters(own, user_id)


def _relax_durability(session: "Session") -> None:
    """Counters are ephemeral: on PostgreSQL their commits need not wait for the WAL flush.

    `SET LOCAL synchronous_commit = off` lasts for this transaction only (safe
    behind PgBouncer in transaction mode). A database crash can lose the last
    few hundred milliseconds of increments, never corrupt them; that is worth
    a commit that no longer waits for the disk on every request.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        session.execute(text("SET LOCAL synchronous_commit = off"))


def delete_user_counters(session: "Session", user_id: str) -> int:
    """Delete `user_id`'s database counters in the caller's transaction (used by erasure)."""
    from sqlalchemy import delete

    from shared.models import RateLimitCounter

    prefix = user_bucket_prefix(user_id).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result = session.execute(
        delete(RateLimitCounter).where(RateLimitCounter.bucket.like(prefix + "%", escape="\\"))
    )
    return int(result.rowcount or 0)


def purge_expired(session: "Session", now: datetime | None = None) -> int:
    """Delete counters past their window + 1 minute (called by retention-expiry)."""
    from sqlalchemy import delete

    from shared.models import RateLimitCounter

    now = now or datetime.now(timezone.utc)
    return int(session.execute(delete(RateLimitCounter).where(RateLimitCounter.expires_at < now)).rowcount or 0)


# -- Redis backend --------------------------------------------------------------------------

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


def reset_clients() -> None:
    """Drop cached Redis clients (tests change `REDIS_URL`)."""
    with _redis_lock:
        for client in _redis_clients.values():
            client.close()
        _redis_clients.clear()


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
            raise errors.ServiceUnavailable("The rate-limit store is unavailable.", retry_after=5) from None

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


def get_backend() -> Backend:
    """Redis when `REDIS_URL` is set, else the database."""
    url = get_settings().redis_url
    return RedisBackend(url) if url else DatabaseBackend()


def forget_user(user_id: str, session: "Session | None" = None) -> int:
    """Delete every rate-limit counter of `user_id` (database and, if configured, Redis).

    With `session`, the database rows go in the caller's transaction (erasure is
    all or nothing); the Redis keys expire within a day anyway.
    """
    deleted = DatabaseBackend().forget_user(user_id, session)
    url = get_settings().redis_url
    if url:
        deleted += RedisBackend(url).forget_user(user_id)
    return deleted


# -- the middleware -------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    limit: int
    remaining: int
    reset: int  # seconds until the reported window ends

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(self.reset),
        }


def _seconds_until(end: datetime, now: datetime) -> int:
    return max(1, math.ceil((end - now).total_seconds()))


class RateLimitMiddleware:
    """Admit or refuse each authenticated request before its handler runs.

    Public routes (no key) are not limited. Every limited response, 2xx or
    429, carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
    for the per-minute window; a 429 also carries `Retry-After`.
    """

    STATE = "ratelimit"
    CHARGES = "ratelimit_charges"

    def __init__(self, function_name: str, *, clock: Callable[[], datetime] | None = None,
                 backend: Backend | None = None) -> None:
        self.function_name = function_name
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._backend = backend

    @property
    def backend(self) -> Backend:
        return self._backend or get_backend()

    def weight(self, ctx: "RequestContext") -> int:
        """The request's cost in the per-minute window (at least 1)."""
        option = ctx.route.options.get("rate_weight", 1) if ctx.route else 1
        if callable(option):
            try:
                option = option(ctx)
            except errors.Problem:
                option = 1  # the handler will refuse the same bad input; the request still counts
            except Exception:  # noqa: BLE001 - a weight bug must not turn into a 500 or a free pass
                log.exception("rate weight failed", extra={"route": ctx.route_template})
                option = 1
        try:
            return max(1, int(option))
        except (TypeError, ValueError):
            return 1

    def before(self, ctx: "RequestContext") -> None:
        principal = ctx.principal
        if ctx.route is None or ctx.route.roles is None or principal is None:
            return
        settings = get_settings()
        now = self.clock()
        per_minute = settings.rate_limit_per_minute
        bucket, minute_end = minute_bucket(principal.user_id, principal.key_id, self.function_name, now)
        charges = [Charge(bucket, self.weight(ctx), per_minute, minute_end)]
        if ctx.route.options.get("daily_generation"):
            day_bucket, day_end = daily_generation_bucket(principal.user_id, now)
            charges.append(Charge(day_bucket, 1, settings.generations_per_day, day_end))
        outcome = self.backend.consume(charges, now)
        minute_reset = _seconds_until(minute_end, now)
        decision = ctx.state[self.STATE] = Decision(per_minute, per_minute - outcome.counts[0], minute_reset)
        if outcome.allowed:
            ctx.state[self.CHARGES] = charges
            return
        if outcome.counts[0] + charges[0].cost > per_minute:
            retry_after = minute_reset
            detail = f"Rate limit of {per_minute} requests per minute exceeded for this API key."
        else:
            retry_after = _seconds_until(charges[1].window_end, now)
            detail = f"Daily limit of {settings.generations_per_day} generations reached."
        raise errors.TooManyRequests(detail, retry_after=retry_after, headers=decision.headers())

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        decision: Decision | None = ctx.state.get(self.STATE)
        if decision is None:
            return
        for name, value in decision.headers().items():
            response.headers[name] = value
        charges: list[Charge] | None = ctx.state.get(self.CHARGES)
        # A generation that did not happen (refused input, provider failure) gives its daily unit back.
        if charges and len(charges) > 1 and response.status_code >= 400:
            self.backend.refund(charges[1:])
