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
land in the 'unknown' row. The counting happens in process (`AuthFailureLog`):
a failed request costs a dictionary update, and a background thread writes
each process's counts every few seconds in one statement, never one write per
failure (issue 21).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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


FLUSH_SECONDS = 5.0  # how often the writer thread writes what this process counted
_BATCH = 5000  # bind parameters per statement, well under PostgreSQL's 65,535
MAX_PENDING = 50_000  # distinct (database, key prefix, minute) counters held; past it failures are dropped, counted


@dataclass
class _Count:
    count: int
    request_id: str | None  # the first failure's, as the upserted row has always kept


class AuthFailureLog:
    """Failed authentications counted in this process, written aggregated off the request path.

    `record` is the request's whole cost: classify the token without the database (missing,
    malformed, or a key prefix to look up later), and add one to a counter per (database,
    prefix or class, minute) under a lock. A daemon thread (started by the first record, and
    again in a forked child, which inherits no thread and must not write its parent's counts)
    calls `flush` every `FLUSH_SECONDS`, and `flush` runs at exit too: one transaction that
    looks the buffered prefixes up at once (`revoked`, `bad_secret` or `unknown_key`) and
    upserts every (actor, reason, minute) row in one statement, adding its count. A flood
    of any size is at most those two statements per interval per process; a flush that fails
    puts its counts back, to be written by the next one. `clock` and `start_thread` are for
    tests.
    """

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 start_thread: bool = True) -> None:
        self._clock = clock
        self._start_thread = start_thread
        self._atexit_registered = False
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: dict[tuple[str, str, str | None, datetime], _Count] = {}
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def record(self, token: str | None, *, request_id: str | None = None, now: datetime | None = None,
               database_url: str | None = None) -> None:
        """Count one failed authentication (never the token itself: its prefix at most)."""
        from shared.identity import split_key

        if database_url is None:
            from shared.settings import get_settings

            database_url = get_settings().database_url
        prefix = split_key(token) if token else None
        kind = "missing" if not token else ("key" if prefix else "malformed")
        minute = (now or self._clock()).astimezone(timezone.utc).replace(second=0, microsecond=0)
        bucket = (database_url, kind, prefix, minute)
        with self._lock:
            counted = self._pending.get(bucket)
            if counted is not None:
                counted.count += 1
            elif len(self._pending) >= MAX_PENDING:
                self.dropped += 1
            else:
                self._pending[bucket] = _Count(1, request_id)
            if self._thread is None and self._start_thread:
                self._start()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="auth-failure-writer", daemon=True)
        self._thread.start()
        if not self._atexit_registered:
            atexit.register(self.flush)
            self._atexit_registered = True

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def pending(self) -> int:
        """Failures counted and not yet written."""
        with self._lock:
            return sum(c.count for c in self._pending.values())

    def discard(self) -> None:
        """Forget what is buffered (tests, between databases)."""
        with self._lock:
            self._pending = {}

    def flush(self) -> int:
        """Write every buffered count now, one transaction per database; returns the failures
        written. Never raises: a failed write keeps its counts for the next flush."""
        with self._flush_lock:
            with self._lock:
                taken, self._pending = self._pending, {}
            by_url: dict[str, dict[tuple[str, str | None, datetime], _Count]] = {}
            for (url, kind, prefix, minute), counted in taken.items():
                by_url.setdefault(url, {})[(kind, prefix, minute)] = counted
            written = 0
            for url, counts in by_url.items():
                try:
                    _write_failures(url, counts)
                    written += sum(c.count for c in counts.values())
                except Exception:  # noqa: BLE001 - failing to audit must never break anything
                    log.warning("could not record authentication failures; kept for the next flush",
                                extra={"failures": sum(c.count for c in counts.values())})
                    self._put_back(url, counts)
            if self.dropped:
                log.warning("authentication failures not audited: too many pending", extra={"dropped": self.dropped})
                self.dropped = 0
            return written

    def _put_back(self, url: str, counts: dict[tuple[str, str | None, datetime], _Count]) -> None:
        with self._lock:
            for (kind, prefix, minute), counted in counts.items():
                bucket = (url, kind, prefix, minute)
                held = self._pending.get(bucket)
                if held is not None:
                    held.count += counted.count
                    held.request_id = counted.request_id
                elif len(self._pending) < MAX_PENDING:
                    self._pending[bucket] = counted
                else:
                    self.dropped += counted.count


auth_failures = AuthFailureLog()


def record_auth_failure(token: str | None, *, request_id: str | None = None,
                        now: datetime | None = None) -> None:
    """Count one failed authentication; `auth_failures` writes it, aggregated, within FLUSH_SECONDS.

    Never raises: failing to audit must not turn a 401 into a 500.
    """
    try:
        auth_failures.record(token, request_id=request_id, now=now)
    except Exception:  # noqa: BLE001
        log.warning("could not record an authentication failure", exc_info=False)


def _write_failures(url: str, counts: dict[tuple[str, str | None, datetime], _Count]) -> None:
    """One transaction: the buffered prefixes looked up at once, then every (actor, reason,
    minute) row upserted in one statement that adds the counts."""
    from sqlalchemy import select

    from shared.database import session_scope, upsert
    from shared.models import ApiKey, AuditEntry

    with session_scope(url) as session:
        prefixes = sorted({prefix for _, prefix, _ in counts if prefix})
        keys: dict[str, Any] = {}  # prefix -> its api_keys row (prefix, user_id, revoked_at)
        for at in range(0, len(prefixes), _BATCH):  # bounded bind parameters per statement
            keys |= {row.prefix: row for row in session.execute(
                select(ApiKey.prefix, ApiKey.user_id, ApiKey.revoked_at).where(
                    ApiKey.prefix.in_(prefixes[at:at + _BATCH])))}
        rows: dict[str, dict[str, Any]] = {}
        for (kind, prefix, minute), counted in counts.items():
            actor, reason, subject = _classify(kind, keys.get(prefix) if prefix else None)
            # A deterministic id makes the primary key the aggregation key: no extra index or migration.
            row_id = str(uuid.uuid5(_AGGREGATE_NS, f"{AUTH_FAILED}|{actor}|{reason}|{minute.isoformat()}"))
            row = rows.get(row_id)
            if row is None:
                rows[row_id] = {"id": row_id, "created_at": minute, "action": AUTH_FAILED, "actor": actor,
                                "actor_role": None, "subject": subject, "request_id": counted.request_id,
                                "count": counted.count, "details": {"reason": reason, "window": "1m"}}
            else:
                row["count"] += counted.count
        table, values = AuditEntry.__table__, list(rows.values())
        for at in range(0, len(values), _BATCH // 10):  # ten columns a row
            stmt = upsert(session, table).values(values[at:at + _BATCH // 10])
            session.execute(stmt.on_conflict_do_update(index_elements=[table.c.id],
                                                       set_={"count": table.c.count + stmt.excluded.count}))


def _classify(kind: str, key: Any) -> tuple[str, str, str | None]:
    """(actor, reason, subject pseudonym) of a failure: `kind` as counted, `key` the prefix's
    api_keys row (None: no such key), never the token itself."""
    if kind == "missing":
        return "anonymous", "missing", None
    if kind == "malformed":
        return "unknown", "malformed", None
    if key is None:
        return "unknown", "unknown_key", None
    return f"key:{key.prefix}", ("revoked" if key.revoked_at is not None else "bad_secret"), as_pseudonym(key.user_id)
