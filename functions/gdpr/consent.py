"""Consent per purpose (Art. 7): default off, every change kept in the history.

The current state is one `consents` row per (user, purpose); each change also
appends a `consent_events` row saying who (self or admin, by pseudonym) and
when. Request metrics read the `analytics` consent themselves, one query per batch
(`shared.metrics.store.consented_since`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import errors
from shared.database import session_scope
from shared.http import RequestContext
from shared.models import CONSENT_PURPOSES, Consent, ConsentEvent, utcnow

from functions.gdpr import subjects
from functions.gdpr.schemas import ConsentChange, ConsentOut, ConsentsOut, ConsentState


def current(session: Session, user_id: str) -> dict[str, ConsentState]:
    """Every known purpose, `granted: false` and no time until the person decides."""
    rows = {c.purpose: c for c in session.scalars(select(Consent).where(Consent.user_id == user_id))}
    return {
        p: ConsentState(granted=rows[p].granted, updated_at=rows[p].updated_at) if p in rows
        else ConsentState(granted=False, updated_at=None)
        for p in CONSENT_PURPOSES
    }


def list_consents(ctx: RequestContext, user_id: str | None = None) -> ConsentsOut:
    who = subjects.acting(ctx, user_id)
    with session_scope() as s:
        subjects.load_user(s, who)
        if who.on_behalf:
            subjects.audit(s, ctx, who, "gdpr.consent.read")
        return ConsentsOut(consents=current(s, who.user_id))


def set_consent(ctx: RequestContext, purpose: str, user_id: str | None = None) -> ConsentOut:
    """Grant or withdraw one purpose. A first grant racing another is retried once as an update."""
    who = subjects.acting(ctx, user_id)
    if purpose not in CONSENT_PURPOSES:
        raise errors.NotFound(f"Unknown consent purpose; known purposes: {', '.join(CONSENT_PURPOSES)}.")
    body: ConsentChange = ctx.body(ConsentChange)
    for attempt in range(2):
        try:
            return _apply(ctx, who, purpose, body.granted)
        except IntegrityError:
            if attempt:
                raise errors.Conflict("The consent changed concurrently; try again.") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _apply(ctx: RequestContext, who: subjects.Acting, purpose: str, granted: bool) -> ConsentOut:
    now = utcnow()
    with session_scope() as s:
        subjects.load_user(s, who)
        row = s.scalar(
            select(Consent).where(Consent.user_id == who.user_id, Consent.purpose == purpose).with_for_update()
        )
        if row is None:
            row = Consent(user_id=who.user_id, purpose=purpose, granted=granted, updated_at=now)
            s.add(row)
        else:
            row.granted, row.updated_at = granted, now
        s.add(ConsentEvent(user_id=who.user_id, purpose=purpose, granted=granted,
                           actor_role=who.requested_by, actor=who.actor, created_at=now))
        subjects.audit(s, ctx, who, "gdpr.consent", {"purpose": purpose, "granted": granted})
        s.flush()
        return ConsentOut(purpose=purpose, granted=granted, updated_at=now)
