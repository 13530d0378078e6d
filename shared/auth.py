"""Request authentication: bearer API key to a `Principal`, failing closed."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
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


def authenticate(authorization: str | None, *, fresh: bool = False) -> Principal:
    """Resolve the Authorization header or raise 401. Any doubt means no access.

    `fresh`: skip the per-process cache and read the key and its user now, so a revocation,
    role change, restriction or erasure made on any instance applies to this very request
    (routes that spend money or process personal data; cheap reads keep the cache).
    """
    token = bearer_token(authorization)
    if token is None:
        # No credentials is an anonymous request, not a failed authentication: it is refused
        # without touching the database (cheap 401s, no audit noise from browsers and probes).
        raise Unauthorized("Send 'Authorization: Bearer <api key>'.")
    from shared.database import single_statements
    from shared.identity import check_key
    from shared.settings import get_settings

    settings = get_settings()
    ttl = settings.auth_cache_seconds
    cache_key = (settings.database_url, hashlib.sha256(token.encode()).digest()) if ttl else None
    if cache_key is not None:
        cached = key_cache.get(cache_key)  # also starts watching this process's writes
        if cached is not None and not fresh:
            return cached
    generation = key_cache.generation
    with single_statements() as connection:  # the lookup, and once a minute the key's touch
        found = check_key(connection, token)
    if found is not None:
        principal = Principal(user_id=found.user_id, role=found.role, key_id=found.key_id,
                              restricted_at=found.restricted_at)
        if cache_key is not None:
            key_cache.put(cache_key, principal, ttl, generation)
        return principal
    _audit_failure(token)
    raise Unauthorized("The API key is invalid or revoked.")


class KeyCache:
    """Verified keys per process for a few seconds (`AUTH_CACHE_SECONDS`), so a warm request skips
    the key lookup: a round trip, a pooled connection and a commit.

    Only successes are kept, under the SHA-256 of the key (never the key). Any change to users or
    API keys written through SQLAlchemy in this process (revocation, role, restriction, erasure)
    empties the cache at once; a change made by another process is seen when the entry expires.
    An entry looked up before such a change is not stored (the generation check), so a lookup
    racing a revocation cannot put the revoked key back.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[tuple[str, bytes], tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self.generation = 0
        self._watching = False

    def get(self, cache_key: tuple[str, bytes]) -> Principal | None:
        self._watch()  # before any lookup whose result may be stored
        entry = self._entries.get(cache_key)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def put(self, cache_key: tuple[str, bytes], principal: Principal, ttl: float, generation: int) -> None:
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= self.MAX_ENTRIES:
                now = self.clock()
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
            self._entries[cache_key] = (self.clock() + ttl, principal)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries = {}

    def _watch(self) -> None:
        """Listen (once, on first use) for ORM writes to users and API keys."""
        if self._watching:
            return
        from sqlalchemy import event, inspect
        from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

        from shared.models import ApiKey, User

        watched = (User, ApiKey)

        def changed(obj: object) -> bool:  # a key's once-a-minute last_used_at touch changes nothing we keep
            state = inspect(obj)
            return any(attr.history.has_changes() for attr in state.attrs if attr.key != "last_used_at")

        def after_flush(session: Session, _context: UOWTransaction) -> None:
            if any(isinstance(obj, watched) for obj in session.deleted) or any(
                    isinstance(obj, watched) and changed(obj) for obj in session.dirty):
                self.clear()

        def do_orm_execute(state: ORMExecuteState) -> None:
            if (state.is_update or state.is_delete) and any(m.class_ in watched for m in state.all_mappers):
                self.clear()

        with self._lock:
            if not self._watching:
                event.listen(Session, "after_flush", after_flush)
                event.listen(Session, "do_orm_execute", do_orm_execute)
                self._watching = True


key_cache = KeyCache()


def _audit_failure(token: str | None) -> None:
    """Aggregate the failure in the audit log (shared.audit); never keeps the token itself."""
    from shared.audit import record_auth_failure
    from shared.logs import request_id_var

    record_auth_failure(token, request_id=request_id_var.get())


def require_role(principal: Principal, roles: frozenset[str]) -> None:
    if principal.role not in roles:
        raise Forbidden("Your role does not allow this operation.")
