"""Erasing a person, proving it, and the ledger that lets a restore re-apply it.

Used by the gdpr function (Art. 17 erasure) and by jobs that restore a backup
(`backup-verify`, `factoria backup restore`). Four pieces, each one concern:
`subjects.py` (the person's identifiers), `rows.py` (delete and unlink their
rows), `residue.py` (the proof: no column still holds them) and `ledger.py`
(pseudonyms of past erasures, replayed after a restore). Everything runs in
the caller's transaction and never commits: an erasure and its proof succeed
or fail together.
"""

from shared.erasure.ledger import Replay, record, replay_erasures
from shared.erasure.residue import ErasureNotVerified, Residue, find_residue
from shared.erasure.rows import ErasureCounts, erase_rows
from shared.erasure.subjects import Identifiers, identifiers

__all__ = [
    "ErasureCounts", "ErasureNotVerified", "Identifiers", "Replay", "Residue", "erase_rows",
    "find_residue", "identifiers", "record", "replay_erasures",
]
