"""The backup store's layout: `<UTC timestamp>/<dump>` beside `<UTC timestamp>/manifest.json`.

The timestamp folder name is the backup's id; it sorts in time order as text,
so "newest" is simply the largest id (the health report reads it the same
way). The manifest is written last: a folder without one is an incomplete
backup. Shared by the backup job, backup verification and `factoria backup
restore`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.storage import Store, StoredObject

MANIFEST = "manifest.json"
_ID_FORMAT = "%Y%m%dT%H%M%S.%fZ"


class Manifest(BaseModel):
    """What a backup holds; every field is required (a missing one makes the backup unusable)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    file: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    tables: dict[str, int]
    schema_revision: str | None
    created_at: datetime
    database: Literal["postgresql", "sqlite"]
    format: Literal["pg_dump-custom", "sqlite-gzip"]
    # "age": `file` is the dump encrypted to `recipient` (sha256 and size are of the stored, encrypted bytes,
    # so integrity is checked before any key is needed). Manifests hold counts, never personal data.
    encryption: Literal["none", "age"] = "none"
    recipient: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True).encode()


class ManifestError(ValueError):
    """The manifest is missing, unreadable or lacks fields."""


def parse_manifest(raw: bytes) -> Manifest:
    try:
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ManifestError("manifest is not valid JSON") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in err["loc"]) or "(root)" for err in exc.errors()})
        raise ManifestError("manifest fields missing or invalid: " + ", ".join(fields)) from None


def new_backup_id(now: datetime | None = None) -> str:
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return now.strftime(_ID_FORMAT)[:-4] + "Z"  # milliseconds: ids stay unique and sortable


def backup_time(backup_id: str) -> datetime | None:
    """When a backup id says it was taken (None if the folder name is not a backup id)."""
    try:
        return datetime.strptime(backup_id[:-1] + "000Z", _ID_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


@dataclass
class BackupEntry:
    """One timestamp folder in the store and the objects in it."""

    id: str
    taken_at: datetime
    objects: dict[str, StoredObject] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return MANIFEST in self.objects

    def key(self, name: str) -> str:
        return f"{self.id}/{name}"


def list_backups(store: Store) -> list[BackupEntry]:
    """Every backup folder in the store, oldest first (folders that are not backup ids are ignored)."""
    entries: dict[str, BackupEntry] = {}
    for obj in store.list():
        folder, _, name = obj.key.partition("/")
        taken = backup_time(folder)
        if not name or "/" in name or taken is None:
            continue
        entries.setdefault(folder, BackupEntry(folder, taken)).objects[name] = obj
    return [entries[k] for k in sorted(entries)]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
