"""The erasure ledger: keyed pseudonyms of erased people, so a restored backup can be erased again.

A backup taken before an erasure still holds the person, so after a restore
every subject in the ledger is erased again. The ledger holds only keyed
pseudonyms (HMAC of the user id with `SECRET_KEY`), so re-applying needs the
restored database and the secret, nothing else. Runs in the caller's
transaction; never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.erasure.residue import Residue, find_residue
from shared.erasure.rows import erase_rows
from shared.erasure.subjects import identifiers
from shared.models import Erasure, User, utcnow
from shared.pseudonyms import pseudonym


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

