"""Whose data a request acts on, and the audit trail of every GDPR operation.

`/v1/me/...` acts on the caller; `/v1/users/{user_id}/...` (admin only, the
route enforces the role) acts on behalf of another person. Either way the
audit log records the actor's and the subject's pseudonyms, never an email.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from shared import errors
from shared.http import RequestContext
from shared.models import AuditEntry, User
from shared.pseudonyms import pseudonym

from functions.gdpr.schemas import UserOut

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Acting:
    """The subject of a request and who is acting on them."""

    user_id: str
    subject: str  # pseudonym of the person concerned
    actor: str  # pseudonym of the caller
    actor_role: str
    on_behalf: bool

    @property
    def requested_by(self) -> str:
        return "admin" if self.on_behalf else "self"


def acting(ctx: RequestContext, user_id: str | None = None) -> Acting:
    """Resolve the subject; a malformed id is simply an unknown user (404)."""
    principal = ctx.user
    if user_id is None:
        target = principal.user_id
    else:
        target = user_id.lower()
        if not _UUID.match(target):
            raise errors.NotFound("No such user.")
    return Acting(
        user_id=target,
        subject=pseudonym(target),
        actor=principal.pseudonym,
        actor_role=principal.role,
        on_behalf=user_id is not None,
    )


def load_user(session: Session, who: Acting, *, lock: bool = False) -> User:
    user = session.get(User, who.user_id, with_for_update=lock or None)
    if user is None:
        raise errors.NotFound("No such user.")
    return user


def audit(session: Session, ctx: RequestContext, who: Acting, action: str,
          details: dict[str, Any] | None = None) -> AuditEntry:
    """One audit row in the caller's transaction (`shared.audit` refuses emails and keys in it)."""
    return record_audit(session, who, action, details, request_id=ctx.request_id)


def record_audit(session: Session, who: Acting, action: str, details: dict[str, Any] | None = None, *,
                 request_id: str | None = None) -> AuditEntry:
    """`audit` without a request: for the operator's command line."""
    from shared.audit import audit as add_audit

    return add_audit(session, action, actor=who.actor, actor_role=who.actor_role, subject=who.subject,
                     details={"requested_by": who.requested_by, **(details or {})}, request_id=request_id)


def operator(user_id: str) -> Acting:
    """An operator at the command line acting on behalf of a user (audited as actor 'cli')."""
    return Acting(user_id=user_id, subject=pseudonym(user_id), actor="cli", actor_role="operator", on_behalf=True)


def user_view(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        restricted=user.restricted_at is not None,
        created_at=user.created_at,
    )
