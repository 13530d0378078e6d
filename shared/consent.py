"""Consent look-ups other parts need (the request-metrics middleware asks about `analytics`).

Absent means not granted: privacy by default (Art. 25). Changing consent is
the gdpr function's job (`functions/gdpr/consent.py`), which also keeps the
history.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import Consent


def has_consent(session: Session, user_id: str, purpose: str) -> bool:
    """Whether `user_id` currently grants `purpose`; False for unknown users or purposes."""
    granted = session.scalar(
        select(Consent.granted).where(Consent.user_id == user_id, Consent.purpose == purpose)
    )
    return bool(granted)
