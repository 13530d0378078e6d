"""Re-applying past erasures to a restored database, and proving nobody erased is left.

A backup taken before someone exercised their right to erasure still holds
them. The erasure ledger (`erasures`: one keyed pseudonym per erased person,
never an id or email) survives in the live database, so after any restore we
pseudonymise every restored user id, and erase those found in the ledger the
same way the GDPR erasure does: usage and request-metric rows keep their
numbers with the user reference removed, rate-limit counters naming the id are
deleted, and deleting the user cascades to keys, content, feedback, consents
and idempotency records. One transaction: all or nothing.

`leftovers` then searches every text and JSON column of every table for the
erased ids and emails, so an id that leaked somewhere erasure does not know
about is reported rather than silently restored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, MetaData, String, Text, cast, delete, insert, or_, select, update
from sqlalchemy.engine import Engine

from shared.models import new_id
from shared.pseudonyms import pseudonym

_CHUNK = 500


@dataclass(frozen=True)
class LedgerEntry:
    subject: str
    erased_at: datetime
    requested_by: str
    deleted: dict[str, Any]


@dataclass
class ReplayResult:
    """Who was erased again (counts only: the ids themselves are personal data)."""

    erased: int = 0
    ledger_added: int = 0
    erased_ids: list[str] = field(default_factory=list, repr=False)
    erased_emails: list[str] = field(default_factory=list, repr=False)


def read_ledger(engine: Engine) -> list[LedgerEntry]:
    from shared.models import Erasure

    with engine.connect() as conn:
        rows = conn.execute(select(Erasure.subject, Erasure.erased_at, Erasure.requested_by, Erasure.deleted))
        return [LedgerEntry(r.subject, r.erased_at, r.requested_by, dict(r.deleted or {})) for r in rows]


def merge_ledgers(*ledgers: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    merged: dict[str, LedgerEntry] = {}
    for ledger in ledgers:
        for entry in ledger:
            merged.setdefault(entry.subject, entry)
    return list(merged.values())


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


def erased_users_present(engine: Engine, subjects: set[str]) -> list[tuple[str, str]]:
    """(id, email) of every user in `engine` whose pseudonym is in the ledger."""
    from shared.models import User

    if not subjects:
        return []
    with engine.connect() as conn:
        return [(r.id, r.email) for r in conn.execute(select(User.id, User.email))
                if pseudonym(r.id) in subjects]


def reapply(engine: Engine, ledger: list[LedgerEntry]) -> ReplayResult:
    """Erase everyone in the ledger from the database at `engine`, and complete its ledger."""
    from shared.models import Erasure, RateLimitCounter, RequestMetric, UsageEvent, User

    subjects = {e.subject for e in ledger}
    found = erased_users_present(engine, subjects)
    result = ReplayResult(erased=len(found), erased_ids=[i for i, _ in found], erased_emails=[m for _, m in found])
    with engine.begin() as conn:
        for ids in _chunks(result.erased_ids):
            conn.execute(update(UsageEvent).where(UsageEvent.user_id.in_(ids)).values(user_id=None))
            conn.execute(update(RequestMetric).where(RequestMetric.user_id.in_(ids)).values(user_id=None))
            conn.execute(delete(RateLimitCounter).where(or_(*[RateLimitCounter.bucket.contains(i) for i in ids])))
            conn.execute(delete(User).where(User.id.in_(ids)))
        known = set(conn.execute(select(Erasure.subject)).scalars())
        missing = [e for e in ledger if e.subject not in known]
        if missing:
            conn.execute(insert(Erasure), [
                {"id": new_id(), "subject": e.subject, "erased_at": e.erased_at,
                 "requested_by": e.requested_by, "deleted": e.deleted} for e in missing])
        result.ledger_added = len(missing)
    return result


def leftovers(engine: Engine, ledger: list[LedgerEntry], result: ReplayResult) -> list[str]:
    """Where an erased person can still be found ("users" or "table.column"); empty when clean."""
    places: list[str] = []
    if erased_users_present(engine, {e.subject for e in ledger}):
        places.append("users")
    needles = [v for v in result.erased_ids + result.erased_emails if v]
    if not needles:
        return places
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            if table.name == "alembic_version":
                continue
            for column in table.columns:
                if not isinstance(column.type, (String, Text, JSON)) and type(column.type).__name__ != "JSONB":
                    continue
                as_text = cast(column, Text)
                hit = or_(*[as_text.contains(n, autoescape=True) for n in needles])
                if conn.execute(select(1).select_from(table).where(hit).limit(1)).first():
                    places.append(f"{table.name}.{column.name}")
    return places
