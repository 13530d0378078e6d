"""The limiter's errors: problems, so the HTTP layer answers them as problem+json."""

from __future__ import annotations

from shared import errors


class RateLimitExceeded(errors.TooManyRequests):
    """429 with `Retry-After` and the `RateLimit-*` headers of the per-minute window."""


class RateLimitStoreUnavailable(errors.ServiceUnavailable):
    """503: the shared counter store cannot be reached, so the limiter fails closed."""
