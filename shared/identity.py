"""Users and API keys: creation, hashing, verification, revocation.

A key looks like `lf_<12 hex prefix>_<43 url-safe chars>` (256 bits of
secret). Only the SHA-256 of the whole key is stored: keys are high-entropy
random strings, so a slow password hash buys nothing and would cost every
request. The prefix finds the row; the hash is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shared.models import ROLES, ApiKey, User, utcnow

KEY_SCHEME = "lf"
_PREFIX_LEN = 12
LAST_USED_GRANULARITY = timedelta(seconds=60)


class IdentityError(ValueError):
    """A user or key operation was refused (bad email, unknown role, duplicate...)."""


@dataclass(frozen=True)
class NewKey:
    key_id: str
    user_id: str
    prefix: str
    api_key: str  # shown once, never stored


def normalise_email(email: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        info = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise IdentityError(f"invalid email address: {exc}") from None
    return info.normalized.lower()


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def split_key(api_key: str) -> str | None:
    """The key's lookup prefix, or None if it is not shaped like one of ours."""
    if not api_key.startswith(KEY_SCHEME + "_") or len(api_key) < 4 + _PREFIX_LEN + 20 or len(api_key) > 200:
        return None
    prefix = api_key[3 : 3 + _PREFIX_LEN]
    if api_key[3 + _PREFIX_LEN] != "_" or not all(c in "0123456789abcdef" for c in prefix):
        return None
    return prefix


class LastAdminError(IdentityError):
    """Erasing or demoting this user would leave no admin (HTTP 409, CLI exit 2)."""


def ensure_not_last_admin(session: Session, user_id: str) -> None:
    """Refuse to remove the last admin. Locks every admin row (PostgreSQL `FOR UPDATE`, in id
    order) so two admins removing each other at once serialise and one of them is refused."""
    admins = session.scalars(select(User.id).where(User.role == "admin").order_by(User.id).with_for_update()).all()
    if user_id in admins and len(admins) == 1:
        raise LastAdminError("this is the last admin; create or promote another admin first")


def create_user(session: Session, email: str, role: str = "user", display_name: str | None = None) -> User:
    if role not in ROLES:
        raise IdentityError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)):
        raise IdentityError("a user with that email already exists")
    user = User(email=email, role=role, display_name=display_name)
    session.add(user)
    session.flush()
    return user


def create_key(session: Session, user_id: str, name: str | None = None) -> NewKey:
    prefix = secrets.token_hex(_PREFIX_LEN // 2)
    api_key = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(user_id=user_id, prefix=prefix, key_hash=hash_key(api_key), name=name)
    session.add(row)
    session.flush()
    return NewKey(key_id=row.id, user_id=user_id, prefix=prefix, api_key=api_key)


def revoke_key(session: Session, key_id_or_prefix: str) -> ApiKey:
    row = session.scalar(
        select(ApiKey).where((ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix))
    )
    if row is None:
        raise IdentityError("no such key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


class KeyHolder(NamedTuple):
    """What a request needs of a verified key: the key, its user's id, role and restriction."""

    key_id: str
    user_id: str
    role: str
    restricted_at: datetime | None


# The request path's key lookup: columns, not entities, one statement built once (its compiled
# form is cached by SQLAlchemy), run on a Core connection (`shared.database.transaction`).
_HOLDER = (select(ApiKey.id, ApiKey.key_hash, ApiKey.revoked_at, ApiKey.last_used_at, User.id.label("user_id"),
                  User.role, User.restricted_at)
           .join(User, User.id == ApiKey.user_id).where(ApiKey.prefix == bindparam("prefix")))
_TOUCH = update(ApiKey).where(ApiKey.id == bindparam("key_id")).values(last_used_at=bindparam("now"))


def check_key(connection: Connection, api_key: str, *, now: datetime | None = None) -> KeyHolder | None:
    """`verify_key` for requests, on a Core connection: the same checks, timing and
    `last_used_at` touch, without loading ORM objects (the request path's CPU)."""
    prefix = split_key(api_key)
    if prefix is None:
        hmac.compare_digest(hash_key(api_key), "0" * 64)
        return None
    row = connection.execute(_HOLDER, {"prefix": prefix}).first()
    candidate = hash_key(api_key)
    if row is None:
        hmac.compare_digest(candidate, "0" * 64)
        return None
    if not hmac.compare_digest(candidate, row.key_hash) or row.revoked_at is not None:
        return None
    now = now or datetime.now(timezone.utc)
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_GRANULARITY:
        connection.execute(_TOUCH, {"key_id": row.id, "now": now})
    return KeyHolder(row.id, row.user_id, row.role, row.restricted_at)


def verify_key(session: Session, api_key: str, *, now: datetime | None = None) -> tuple[ApiKey, User] | None:
    """The active key and its user as ORM objects, or None (operator commands; requests use
    `check_key`). Touches `last_used_at` at most once a minute."""
    prefix = split_key(api_key)
    if prefix is None:
        # Still spend a hash so malformed and unknown keys take similar time.
        hmac.compare_digest(hash_key(api_key), "0" * 64)
        return None
    row = session.execute(
        select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.prefix == prefix)
    ).first()
    candidate = hash_key(api_key)
    if row is None:
        hmac.compare_digest(candidate, "0" * 64)
        return None
    key, user = row
    if not hmac.compare_digest(candidate, key.key_hash) or key.revoked_at is not None:
        return None
    now = now or datetime.now(timezone.utc)
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY:
        key.last_used_at = now
    return key, user
