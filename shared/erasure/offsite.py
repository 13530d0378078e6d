"""The erasure ledger outside the database: one small encrypted object per erasure in the backup store.

The `erasures` table dies with the database it lives in; a restore after a
total loss would then bring back everyone erased since the last backup. So
each erasure also writes its ledger entry (the keyed pseudonym, time,
requester and counts: no id, no email) to `BACKUP_URL` under `erasures/`,
before the erasure commits: an erasure the store did not record is not
acknowledged (the request fails and nothing is erased; it can be retried).

Append-only: every entry is a new object with a unique name, never rewritten,
and the backup job's pruning never touches `erasures/`. Objects are encrypted
like backups (shared/backup_crypto.py). Restores read every entry and
re-apply it (jobs/erasure_replay.py).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.backup_crypto import Keyring
    from shared.storage import Store

PREFIX = "erasures/"


@dataclass(frozen=True)
class StoredErasure:
    subject: str
    erased_at: datetime
    requested_by: str
    deleted: dict[str, Any]


def object_key(erased_at: datetime) -> str:
    """`erasures/<UTC time>-<random>.json[.age]` minus the suffix: sorts in time order, never collides."""
    stamp = erased_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{PREFIX}{stamp}-{uuid.uuid4().hex[:12]}.json"


def write(store: Store, keyring: Keyring, entry: StoredErasure) -> str:
    """Store one entry (encrypted when the keyring has a key); returns its key. Raises StoreError."""
    body = json.dumps({"subject": entry.subject, "erased_at": entry.erased_at.isoformat(),
                       "requested_by": entry.requested_by, "deleted": entry.deleted}, sort_keys=True).encode()
    key = object_key(entry.erased_at) + (".age" if keyring.enabled else "")
    store.put_bytes(key, keyring.seal(body), "application/octet-stream")
    return key


def read_all(store: Store, keyring: Keyring) -> list[StoredErasure]:
    """Every entry in the store, oldest first. Raises StoreError, or MissingKeyError for an entry
    no key opens (a restore must not silently skip someone who asked to be forgotten)."""
    out = []
    for obj in store.list(PREFIX):
        data = json.loads(keyring.open(store.get_bytes(obj.key), f"erasure ledger entry {obj.key}"))
        out.append(StoredErasure(data["subject"], datetime.fromisoformat(data["erased_at"]),
                                 data["requested_by"], dict(data.get("deleted") or {})))
    return out
