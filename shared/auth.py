"""Request authentication: bearer API key to a `Principal`, failing closed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from shared.errors import Forbidden, Unauthorized

ANY_ROLE = frozenset({"user", "admin", "ops"})


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    key_id: str
    restricted_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @cached_property
    def pseudonym(self) -> str:
        from shared.pseudonyms import pseudonym

        return pseudonym(self.user_id)


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(authorization: str | None) -> Principal:
    """Resolve the Authorization header or raise 401. Any doubt means no access."""
    token = bearer_token(authorization)
    if token is None:
        # No credentials is an anonymous request, not a failed authentication: it is refused
        # without touching the database (cheap 401s, no audit noise from browsers and probes).
        raise Unauthorized("Send 'Authorization: Bearer <api key>'.")
    from shared.database import session_scope
    from shared.identity import verify_key

    with session_scope() as session:
        found = verify_key(session, token)
        if found is not None:
            key, user = found
            return Principal(user_id=user.id, role=user.role, key_id=key.id, restricted_at=user.restricted_at)
    _audit_failure(token)
    raise Unauthorized("The API key is invalid or revoked.")


def _audit_failure(token: str | None) -> None:
    """Aggregate the failure in the audit log (shared.audit); never keeps the token itself."""
    from shared.audit import record_auth_failure
    from shared.logs import request_id_var

    record_auth_failure(token, request_id=request_id_var.get())


def require_role(principal: Principal, roles: frozenset[str]) -> None:
    if principal.role not in roles:
        raise Forbidden("Your role does not allow this operation.")
