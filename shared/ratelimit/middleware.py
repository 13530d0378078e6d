"""`RateLimitMiddleware`: admit or refuse each authenticated request before its handler runs."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from shared import errors
from shared.http import resolve
from shared.logs import get_logger
from shared.ratelimit.backend import Backend, get_backend
from shared.ratelimit.buckets import Charge, daily_generation_bucket, minute_bucket
from shared.ratelimit.config import RateLimitConfig
from shared.ratelimit.exceptions import RateLimitExceeded

if TYPE_CHECKING:  # pragma: no cover
    from flask import Response

    from shared.http import RequestContext

log = get_logger("lafactoria.ratelimit")


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

    `config`: built from the app's settings at startup (`RateLimitConfig.of`); None when they
    load on first use (outside production), then from the request's settings (`ctx.settings`),
    loaded by then (authentication needed them), so `/livez` never loads them.
    """

    place = "rate_limit"  # in the one middleware order (shared.http ORDER)
    STATE = "ratelimit"
    CHARGES = "ratelimit_charges"

    def __init__(self, function_name: str, *, config: RateLimitConfig | None = None,
                 clock: Callable[[], datetime] | None = None, backend: Backend | None = None) -> None:
        self.function_name = function_name
        self.config = config
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._backend = backend

    def config_for(self, ctx: "RequestContext") -> RateLimitConfig:
        return self.config or RateLimitConfig.of(ctx.settings)

    def backend_for(self, ctx: "RequestContext") -> Backend:
        return self._backend or get_backend(self.config_for(ctx))

    def weight(self, ctx: "RequestContext") -> int:
        """The request's cost in the per-minute window (at least 1)."""
        option = ctx.route.options.get("rate_weight", 1) if ctx.route else 1
        if isinstance(option, str):
            option = resolve(option)  # a "module:attr" reference, like a route's handler
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
        config = self.config_for(ctx)
        now = self.clock()
        per_minute = config.per_minute
        bucket, minute_end = minute_bucket(principal.user_id, principal.key_id, self.function_name, now)
        charges = [Charge(bucket, self.weight(ctx), per_minute, minute_end, principal.key_id)]
        if ctx.route.options.get("daily_generation"):
            day_bucket, day_end = daily_generation_bucket(principal.user_id, now)
            charges.append(Charge(day_bucket, 1, config.generations_per_day, day_end, principal.key_id))
        backend = self._backend or get_backend(config)
        outcome = backend.consume(charges, now)
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
            detail = f"Daily limit of {config.generations_per_day} generations reached."
        raise RateLimitExceeded(detail, retry_after=retry_after, headers=decision.headers())

    def after(self, ctx: "RequestContext", response: "Response") -> None:
        decision: Decision | None = ctx.state.get(self.STATE)
        if decision is None:
            return
        for name, value in decision.headers().items():
            response.headers[name] = value
        charges: list[Charge] | None = ctx.state.get(self.CHARGES)
        # A generation that did not happen (refused input, provider failure) gives its daily unit back.
        if charges and len(charges) > 1 and response.status_code >= 400:
            self.backend_for(ctx).refund(charges[1:])
