"""Security-event audit log: who did what to whom, under pseudonyms.

Why a helper instead of `session.add(AuditEntry(...))` everywhere: the audit
log is kept for years, so it must never hold an email, an API key or a raw
user id. `audit()` pseudonymises user ids (UUIDs) itself and refuses details
that carry an email or a key, so a careless caller cannot leak personal data
into a six-year table.

Authentication failures are aggregated: one row per (action, key prefix or
'anonymous'/'unknown', reason, minute) whose `count` an upsert increments, so
an attack adds at most a handful of rows a minute however many requests it
sends. Only prefixes of keys that exist get their own row; random keys all
land in the 'unknown' row.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from shared.logs import get_logger

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from shared.models import AuditEntry

log = get_logger("lafactoria.audit")

AUTH_FAILED = "auth.failed"
SYSTEM_ACTORS = frozenset({"system", "cli", "anonymous", "unknown"})
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_API_KEY = re.compile(r"lf_[0-9a-f]{6,}_[A-Za-z0-9_\-]{10,}")
_AGGREGATE_NS = uuid.UUID("6f1d3c2e-5b7a-4c1e-9a0d-2f6b8e4c7a11")


class AuditDataError(ValueError):
    """An audit row would have held personal data or a secret."""


def as_pseudonym(who: str | None) -> str | None:
    """A value fit for `actor`/`subject`: user ids become pseudonyms; emails are refused."""
    if who is None or who in SYSTEM_ACTORS or who.startswith(("p_", "key:")):
        return who
    if _EMAIL.search(who) or _API_KEY.search(who):
        raise AuditDataError("audit actor/subject must be a pseudonym, never an email or key")
    if _UUID.match(who):
        from shared.pseudonyms import pseudonym

        return pseudonym(who)
    if len(who) > 64:
        raise AuditDataError("audit actor/subject is too long to be a pseudonym")
    return who


def _check_details(details: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(details, default=str)
    if _EMAIL.search(text) or _API_KEY.search(text):
        raise AuditDataError("audit details must not contain emails or API keys")
    return details


def audit(
    session: "Session",
    action: str,
    *,
    actor: str | None,
    actor_role: str | None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> "AuditEntry":
    """Add one audit row in the caller's transaction (it commits or rolls back with the work).

    `actor`/`subject`: a user id (pseudonymised here), a pseudonym (`p_...`),
    or one of 'system', 'cli', 'anonymous'. `actor_role`: the actor's role or
    'operator'/'self'. `action`: dotted, e.g. 'key.created', 'user.role_changed',
    'admin.export'.
    """
    from shared.models import AuditEntry

    entry = AuditEntry(
        action=action,
        actor=as_pseudonym(actor),
        actor_role=actor_role,
        subject=as_pseudonym(subject),
        details=_check_details(dict(details or {})),
        request_id=request_id,
    )
    session.add(entry)
    return entry


class Actor(Protocol):
    """Who acts (shared.auth.Principal; named structurally: auth imports this module)."""

    @property
    def user_id(self) -> str: ...

    @property
    def role(self) -> str: ...


def audit_admin_action(session: "Session", action: str, principal: Actor, subject_user_id: str,
                       *, details: dict[str, Any] | None = None, request_id: str | None = None) -> "AuditEntry":
    """Audit an admin acting on another user (`principal` is the caller's `Principal`)."""
    return audit(session, action, actor=principal.user_id, actor_role=principal.role,
                 subject=subject_user_id, details=details, request_id=request_id)


def record_auth_failure(token: str | None, *, request_id: str | None = None,
                        now: datetime | None = None) -> None:
    """Count one failed authentication in its (who, reason, minute) row, in its own transaction.

    Never raises: failing to audit must not turn a 401 into a 500.
    """
    try:
        _record_auth_failure(token, request_id, now or datetime.now(timezone.utc))
    except Exception:  # noqa: BLE001
        log.warning("could not record an authentication failure", exc_info=False)


def _classify(session: "Session", token: str | None) -> tuple[str, str, str | None]:
    """(actor, reason, subject pseudonym) for a refused token, without ever keeping the token."""
    from sqlalchemy import select

    from shared.identity import split_key
    from shared.models import ApiKey

    if not token:
        return "anonymous", "missing", None
    prefix = split_key(token)
    if prefix is None:
        return "unknown", "malformed", None
    row = session.execute(select(ApiKey.user_id, ApiKey.revoked_at).where(ApiKey.prefix == prefix)).first()
    if row is None:
        return "unknown", "unknown_key", None
    return f"key:{prefix}", ("revoked" if row.revoked_at is not None else "bad_secret"), as_pseudonym(row.user_id)


def _record_auth_failure(token: str | None, request_id: str | None, now: datetime) -> None:
    from shared.database import session_scope, upsert
    from shared.models import AuditEntry

    minute = now.astimezone(timezone.utc).replace(second=0, microsecond=0)
    with session_scope() as session:
        actor, reason, subject = _classify(session, token)
        # A deterministic id makes the primary key the aggregation key: no extra index or migration.
        row_id = str(uuid.uuid5(_AGGREGATE_NS, f"{AUTH_FAILED}|{actor}|{reason}|{minute.isoformat()}"))
        table = AuditEntry.__table__
        stmt = upsert(session, table).values(
            id=row_id, created_at=minute, action=AUTH_FAILED, actor=actor, actor_role=None, subject=subject,
            request_id=request_id, count=1, details={"reason": reason, "window": "1m"},
        )
        session.execute(stmt.on_conflict_do_update(index_elements=[table.c.id],
                                                   set_={"count": table.c.count + 1}))
