"""Re-applying past erasures to a restored database: the job side of `shared.erasure`.

A backup taken before someone exercised their right to erasure still holds
them. Erasing them again and proving nothing remains is the GDPR erasure's
own code (`shared.erasure.replay_erasures`), so a restore removes
exactly what a live erasure removes. What only a restore needs lives here:
the live database's ledger (`erasures`: keyed pseudonyms, never an id or
email) knows erasures made after the backup was taken, so its rows are read
from there and copied, time and requester intact, into the restored
database before the replay.

The copied ledger rows and the re-erasures run in one transaction: if
anything raises, none of it is committed. Residue is not an error: when the
proof still finds an erased person in some column, everything erasure knows
about is erased and committed all the same, and the caller reports the
columns (`erased_person_present`) rather than keeping the person by rolling
back.

The database's ledger is not the only one: every erasure also left an
encrypted entry in the backup store (shared/erasure/offsite.py), which
survives the loss of the live database. `stored_ledger` reads those, so a
restore after a disaster still forgets everyone erased up to the moment of
loss; `sync_ledger` (run by the backup job) copies into the store any
database ledger row it lacks, such as erasures made before the store held a
ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from shared.backup_crypto import Keyring
    from shared.storage import Store


@dataclass(frozen=True)
class LedgerEntry:
    """One erasure ledger row as read from another database."""

    subject: str
    erased_at: datetime
    requested_by: str
    deleted: dict[str, Any]


@dataclass
class ReplayResult:
    """Counts only (the ids themselves are personal data), and the columns still holding an erased person."""

    erased: int = 0
    ledger_added: int = 0
    residue: list[str] = field(default_factory=list)


def read_ledger(engine: Engine) -> list[LedgerEntry]:
    """Every erasure ledger row of the database at `engine`."""
    from shared.models import Erasure

    with engine.connect() as conn:
        rows = conn.execute(select(Erasure.subject, Erasure.erased_at, Erasure.requested_by, Erasure.deleted))
        return [LedgerEntry(r.subject, r.erased_at, r.requested_by, dict(r.deleted or {})) for r in rows]


def stored_ledger(store: Store, keyring: Keyring) -> list[LedgerEntry]:
    """Every erasure ledger entry in the backup store (raises StoreError, MissingKeyError)."""
    from shared.erasure import offsite

    return [LedgerEntry(e.subject, e.erased_at, e.requested_by, e.deleted) for e in offsite.read_all(store, keyring)]


def sync_ledger(engine: Engine, store: Store, keyring: Keyring) -> int:
    """Copy into the store every ledger row of the database at `engine` it does not hold; returns how many."""
    from shared.erasure import offsite

    stored = {e.subject for e in stored_ledger(store, keyring)}
    missing = [e for e in read_ledger(engine) if e.subject not in stored]
    for e in missing:
        offsite.write(store, keyring, offsite.StoredErasure(e.subject, e.erased_at, e.requested_by, e.deleted))
    return len(missing)


def reapply(engine: Engine, live_ledger: list[LedgerEntry]) -> ReplayResult:
    """Complete the ledger of the database at `engine` with `live_ledger`, then erase everyone in it.

    One transaction, committed even when residue is found (see the module docstring);
    rolled back only if something raises.
    """
    from sqlalchemy.orm import Session

    from shared.erasure import record, replay_erasures
    from shared.models import Erasure

    with Session(engine) as session, session.begin():
        known = set(session.scalars(select(Erasure.subject)))
        missing = {e.subject: e for e in live_ledger if e.subject not in known}
        for e in missing.values():
            record(session, e.subject, e.requested_by, e.deleted, erased_at=e.erased_at)
        replay = replay_erasures(session)
    return ReplayResult(erased=len(replay.subjects), ledger_added=len(missing),
                        residue=[str(r) for r in replay.residue])
