"""Rectification (Art. 16): read and correct the profile (email, display name)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shared import errors
from shared.database import session_scope
from shared.http import RequestContext
from shared.models import User, utcnow

from functions.gdpr import subjects
from functions.gdpr.schemas import Rectification, UserOut

_EMAIL_TAKEN = "That email address is already in use by another account."


def show(ctx: RequestContext, user_id: str | None = None) -> UserOut:
    who = subjects.acting(ctx, user_id)
    with session_scope() as s:
        user = subjects.load_user(s, who)
        if who.on_behalf:
            subjects.audit(s, ctx, who, "gdpr.profile.read")
        return subjects.user_view(user)


def rectify(ctx: RequestContext, user_id: str | None = None) -> UserOut:
    """Apply the given fields; a taken email is 409, also when two requests race for it."""
    who = subjects.acting(ctx, user_id)
    body: Rectification = ctx.body(Rectification)
    try:
        with session_scope() as s:
            user = subjects.load_user(s, who, lock=True)
            changed = []
            # Rectification refuses an email set to null, so a given email is a str.
            if "email" in body.model_fields_set and body.email is not None and body.email != user.email:
                taken = s.scalar(select(User.id).where(User.email == body.email, User.id != user.id))
                if taken:
                    raise errors.Conflict(_EMAIL_TAKEN)
                user.email = body.email
                changed.append("email")
            if "display_name" in body.model_fields_set and body.display_name != user.display_name:
                user.display_name = body.display_name
                changed.append("display_name")
            if changed:
                user.updated_at = utcnow()
            subjects.audit(s, ctx, who, "gdpr.rectification", {"fields": changed})
            s.flush()
            return subjects.user_view(user)
    except IntegrityError:
        raise errors.Conflict(_EMAIL_TAKEN) from None
