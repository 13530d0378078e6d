"""Restriction of processing (Art. 18): `users.restricted_at` set or cleared.

While set, the generate function refuses generation with 403; export,
rectification, consent and erasure keep working (they are the person's rights).
"""

from __future__ import annotations

from shared.database import session_scope
from shared.http import RequestContext
from shared.models import utcnow

from functions.gdpr import subjects


def restrict(ctx: RequestContext, user_id: str | None = None) -> None:
    """Idempotent: restricting twice keeps the original time."""
    who = subjects.acting(ctx, user_id)
    with session_scope() as s:
        user = subjects.load_user(s, who, lock=True)
        if user.restricted_at is None:
            user.restricted_at = utcnow()
        subjects.audit(s, ctx, who, "gdpr.restriction.set")


def lift(ctx: RequestContext, user_id: str | None = None) -> None:
    who = subjects.acting(ctx, user_id)
    with session_scope() as s:
        user = subjects.load_user(s, who, lock=True)
        user.restricted_at = None
        subjects.audit(s, ctx, who, "gdpr.restriction.lifted")
