"""Erasing a person, proving it, and the ledger that lets a restore re-apply it.

Used by the gdpr function (Art. 17 erasure) and by jobs that restore a backup
(`backup-verify`, `factoria backup restore`): a backup taken before an erasure
still holds the person, so after a restore every subject in the erasure ledger
is erased again. The ledger holds only keyed pseudonyms (HMAC of the user id
with `SECRET_KEY`), so re-applying needs the restored database and the secret,
nothing else.

Everything here runs inside the caller's transaction and never commits: an
erasure and its proof succeed or fail together. Deletes are set-based (one
statement per table, no per-row ORM work) so a user with 100k items erases in
well under the 2 s budget on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import JSON, String, Text, any_, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from shared.models import (
    ApiKey,
    Base,
    Consent,
    ConsentEvent,
    ContentItem,
    Erasure,
    Feedback,
    IdempotencyRecord,
    RateLimitCounter,
    RequestMetric,
    UsageEvent,
    User,
    utcnow,
)
from shared.pseudonyms import pseudonym


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


@dataclass
class ErasureCounts:
    """Rows removed per table, and rows kept for accounting with the person unlinked."""

    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Residue:
    """A column that still holds one of the person's identifiers after erasure."""

    table: str
    column: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


class ErasureNotVerified(RuntimeError):
    """The post-erasure scan found the person somewhere; the caller must roll back."""

    def __init__(self, residue: list[Residue]) -> None:
        super().__init__("personal data remains in " + ", ".join(sorted({str(r) for r in residue})))
        self.residue = residue


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


def _count(result) -> int:
    return max(int(result.rowcount or 0), 0)


def _delete_where(session: Session, model, condition) -> int:
    return _count(session.execute(delete(model).where(condition).execution_options(synchronize_session=False)))


def _delete_rate_limit_counters(session: Session, ids: Identifiers) -> int:
    """Counters are keyed by free-form bucket strings that embed a user or key identifier."""
    terms = [ids.user_id, *ids.key_ids, *ids.key_prefixes]
    condition = or_(*[RateLimitCounter.bucket.contains(t, autoescape=True) for t in terms])
    return _delete_where(session, RateLimitCounter, condition)


def _unlink_usage(session: Session, user_id: str) -> int:
    """The usage ledger keeps every row (accounting totals) without the user reference."""
    stmt = update(UsageEvent).where(UsageEvent.user_id == user_id).values(user_id=None)
    return _count(session.execute(stmt.execution_options(synchronize_session=False)))


def _unlink_request_metrics(session: Session, user_id: str) -> int:
    stmt = update(RequestMetric).where(RequestMetric.user_id == user_id).values(user_id=None)
    return _count(session.execute(stmt.execution_options(synchronize_session=False)))


def erase_rows(session: Session, ids: Identifiers) -> ErasureCounts:
    """Delete or unlink every row about the person, children first, in the caller's transaction."""
    uid = ids.user_id
    counts = ErasureCounts()
    d = counts.deleted
    own_content = select(ContentItem.id).where(ContentItem.user_id == uid).scalar_subquery()
    d["feedback"] = _delete_where(
        session, Feedback, or_(Feedback.user_id == uid, Feedback.content_id.in_(own_content))
    )
    d["content_items"] = _delete_where(session, ContentItem, ContentItem.user_id == uid)
    d["consent_events"] = _delete_where(session, ConsentEvent, ConsentEvent.user_id == uid)
    d["consents"] = _delete_where(session, Consent, Consent.user_id == uid)
    d["idempotency_records"] = _delete_where(session, IdempotencyRecord, IdempotencyRecord.user_id == uid)
    d["rate_limit_counters"] = _delete_rate_limit_counters(session, ids)
    counts.anonymised["usage_events"] = _unlink_usage(session, uid)
    counts.anonymised["request_metrics"] = _unlink_request_metrics(session, uid)
    d["api_keys"] = _delete_where(session, ApiKey, ApiKey.user_id == uid)
    d["users"] = _delete_where(session, User, User.id == uid)
    return counts


# --- the proof: scan every text-bearing column of every table -----------------------------------

_HEX_OR_ID = re.compile(r"^[0-9a-f\-]+$")


def _text_columns(table) -> list:
    cols = []
    for col in table.columns:
        typ = col.type
        impl = getattr(typ, "impl", typ)
        if isinstance(typ, (String, JSON)) or isinstance(impl, (String, JSON)):
            cols.append(col)
    return cols


def _as_text(col):
    return cast(col, Text) if isinstance(col.type, JSON) else col


def _term_variants(term: str) -> set[str]:
    """The term as stored in text and in JSON (non-ASCII may be \\u-escaped in JSON text)."""
    variants = {term.lower()}
    escaped = json.dumps(term)[1:-1].lower()
    variants.add(escaped)
    return variants


def _boundary_pattern(term: str) -> re.Pattern[str]:
    """A match of the whole identifier, not a substring of a longer one (bob@x.org in jimbob@x.org)."""
    t = re.escape(term.lower())
    if _HEX_OR_ID.match(term.lower()):
        return re.compile(rf"(?<![0-9a-f]){t}(?![0-9a-f])")
    return re.compile(rf"(?<![a-z0-9._%+\-]){t}(?![a-z0-9\-]|\.[a-z0-9])")


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _candidate_filter(session: Session, texts: list, terms: list[str]):
    """SQL condition: some column contains some term (case-insensitive); a prefilter only.

    On PostgreSQL every row's text columns are lowered and joined once and
    matched with `LIKE ANY`, so the (costly) JSON-to-text conversion happens
    once per row, not once per term. SQLite databases are small: plain ORs.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import array

        blob = func.lower(func.concat_ws(chr(31), *texts))
        return blob.like(any_(array([_like_pattern(t) for t in terms])))
    return or_(*[func.lower(t).contains(term, autoescape=True) for t in texts for term in terms])


def find_residue(session: Session, ids: Identifiers) -> list[Residue]:
    """Every (table, column) that still holds one of the person's identifiers.

    The database narrows the search with a case-insensitive substring match
    over every string and JSON column (JSON cast to text), one statement per
    table; the few candidate values are then checked in Python against
    whole-identifier patterns so `bob@x.org` is not "found" in `jimbob@x.org`.
    Uses the model metadata, so a table added to `shared.models` is scanned
    without changing this code. No server-side cursor: PostgreSQL may then
    scan big tables in parallel.
    """
    session.flush()
    terms = sorted({v for t in ids.terms() if t for v in _term_variants(t)})
    patterns = [_boundary_pattern(t) for t in terms]
    found: set[Residue] = set()
    for table in Base.metadata.sorted_tables:
        cols = _text_columns(table)
        if not cols:
            continue
        texts = [_as_text(c) for c in cols]
        for row in session.execute(select(*texts).where(_candidate_filter(session, texts, terms))):
            for col, value in zip(cols, row):
                if value is None:
                    continue
                text = (value if isinstance(value, str) else json.dumps(value)).lower()
                if any(p.search(text) for p in patterns):
                    found.add(Residue(table.name, col.name))
    return sorted(found, key=str)


# --- the ledger ---------------------------------------------------------------------------------

def record(
    session: Session, subject: str, requested_by: str, deleted: dict[str, int], *, erased_at: datetime | None = None
) -> Erasure:
    """Add the ledger row for an erasure (subject is the pseudonym, never the id).

    `erased_at` defaults to now; a restore copying another database's ledger row keeps its time.
    """
    row = Erasure(subject=subject, requested_by=requested_by, deleted=deleted, erased_at=erased_at or utcnow())
    session.add(row)
    session.flush()
    return row


def _ledger_subjects(session: Session) -> set[str]:
    return set(session.scalars(select(Erasure.subject)))


def _present(session: Session, wanted: set[str], secret: str | None) -> dict[str, str]:
    """Pseudonym -> user id for every user here whose pseudonym is in `wanted`."""
    found = {}
    for user_id in session.scalars(select(User.id).execution_options(yield_per=1000)):
        subject = pseudonym(user_id, secret=secret)
        if subject in wanted:
            found[subject] = user_id
    return found


def erased_subjects_present(
    session: Session, subjects: Iterable[str] | None = None, *, secret: str | None = None
) -> list[str]:
    """Pseudonyms of erased people who are (again) present in this database, e.g. after a restore.

    `subjects` defaults to this database's own erasure ledger; a restore job
    can pass the live ledger's subjects instead (a backup older than an
    erasure does not have its ledger row). `secret` defaults to `SECRET_KEY`.
    """
    wanted = set(subjects) if subjects is not None else _ledger_subjects(session)
    return sorted(_present(session, wanted, secret)) if wanted else []


@dataclass
class Replay:
    """What re-applying the ledger did: pseudonyms re-erased, and any column still holding one of them."""

    subjects: list[str] = field(default_factory=list)
    residue: list[Residue] = field(default_factory=list)


def replay_erasures(
    session: Session, subjects: Iterable[str] | None = None, *, secret: str | None = None
) -> Replay:
    """Erase again everyone in the ledger who is present in this (restored) database; report residue.

    Each person is erased with `erase_rows` and checked with `find_residue`,
    exactly as a live erasure. Residue does not stop the replay: a restore
    keeps what it could erase and reports the columns (never the values), so
    the caller decides whether to commit. Ledger rows missing from this
    database are added (`requested_by="restore"`), so it can itself be
    restored from later. Runs in the caller's transaction; never commits.
    """
    wanted = set(subjects) if subjects is not None else _ledger_subjects(session)
    if not wanted:
        return Replay()
    known = _ledger_subjects(session)
    by_subject = _present(session, wanted, secret)
    residue: set[Residue] = set()
    for subject, user_id in sorted(by_subject.items()):
        ids = identifiers(session, user_id, lock=True)
        if ids is None:  # pragma: no cover - removed concurrently
            continue
        counts = erase_rows(session, ids)
        residue.update(find_residue(session, ids))
        if subject not in known:
            record(session, subject, "restore", counts.deleted)
            known.add(subject)
    for subject in sorted(wanted - known):
        record(session, subject, "restore", {})
    return Replay(sorted(by_subject), sorted(residue, key=str))


def reapply_erasures(
    session: Session, subjects: Iterable[str] | None = None, *, secret: str | None = None
) -> list[str]:
    """`replay_erasures`, all or nothing: the pseudonyms re-erased, or `ErasureNotVerified`.

    On residue it raises so the caller's transaction rolls back, as a live erasure does.
    """
    replay = replay_erasures(session, subjects, secret=secret)
    if replay.residue:
        raise ErasureNotVerified(replay.residue)
    return replay.subjects
