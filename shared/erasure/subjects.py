"""Who is being erased: every identifier of one person the database holds."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import ApiKey, User


@dataclass(frozen=True)
class Identifiers:
    """Everything that identifies one person in the database (what the proof looks for)."""

    user_id: str
    email: str
    key_ids: tuple[str, ...] = ()
    key_prefixes: tuple[str, ...] = ()

    def terms(self) -> list[str]:
        """What the proof scans for. Key prefixes are left out: they are public lookup
        handles that other parts may log (auth failures), and alone they identify no one
        once the key row is gone."""
        return [self.user_id, self.email, *self.key_ids]


def identifiers(session: Session, user_id: str, *, lock: bool = False) -> Identifiers | None:
    """The person's id, email and API key identifiers, or None if there is no such user.

    With `lock`, the user row is locked (PostgreSQL `FOR UPDATE`) so concurrent
    erasures or rectifications of the same person serialise.
    """
    stmt = select(User.id, User.email).where(User.id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    if row is None:
        return None
    keys = session.execute(select(ApiKey.id, ApiKey.prefix).where(ApiKey.user_id == user_id)).all()
    return Identifiers(
        user_id=row.id,
        email=row.email,
        key_ids=tuple(k.id for k in keys),
        key_prefixes=tuple(k.prefix for k in keys),
    )
