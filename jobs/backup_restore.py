"""Fetching a backup, checking its integrity, and restoring it with past erasures re-applied.

Shared by `backup-verify` (restores into a scratch database every day) and
`factoria backup restore` (restores for real): both must refuse a damaged
dump for the same reasons and re-apply erasures the same way, so there is one
implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.backup_catalog import MANIFEST, BackupEntry, Manifest, parse_manifest, sha256_file
from jobs.dump import Snapshot, read_snapshot, restore
from jobs.erasure_replay import LedgerEntry, ReplayResult, reapply
from shared.backup_crypto import AGE_HEADER, Keyring, is_encrypted
from shared.storage import Store

if TYPE_CHECKING:
    from jobs.progress import Stages


@dataclass(frozen=True)
class Failure:
    """One named reason a backup is not fit to restore (`reason` is a stable identifier)."""

    reason: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "detail": self.detail}


@dataclass
class RestoreOutcome:
    snapshot: Snapshot
    replay: ReplayResult

    @property
    def leftovers(self) -> list[str]:
        """Columns ("table.column") still holding an erased person after the replay; empty when clean."""
        return self.replay.residue


def load_manifest(store: Store, entry: BackupEntry) -> Manifest:
    """The backup's manifest (raises ManifestError or StoreError)."""
    return parse_manifest(store.get_bytes(entry.key(MANIFEST)))


RESTORE_STAGES = ["download", "checksum", "restore", "erasures", "compare"]


def fetch_checked(store: Store, entry: BackupEntry, manifest: Manifest, dest: Path, keyring: Keyring, *, min_bytes: int = 0,
                  stages: Stages | None = None) -> list[Failure]:
    """Download the dump, compare it with its manifest and decrypt it into `dest`; no failures means intact.

    Integrity is checked on the stored (encrypted) bytes first; then an age-encrypted
    dump is decrypted with `keyring`, raising MissingKeyError when no key opens it.
    """
    obj = entry.objects.get(manifest.file)
    if obj is None:
        return [Failure("dump_missing", f"{manifest.file} is not in the backup folder")]
    if stages is not None:
        stages.step("download")
    stored = dest.with_name(dest.name + ".stored")
    store.download(entry.key(manifest.file), stored)
    if stages is not None:
        stages.step("checksum")
    size = stored.stat().st_size
    failures = []
    if size < min_bytes:
        failures.append(Failure("too_small", f"dump is {size} bytes, below BACKUP_MIN_BYTES={min_bytes}"))
    if size < manifest.size:
        failures.append(Failure("truncated", f"dump is {size} bytes, manifest says {manifest.size}"))
    elif size > manifest.size:
        failures.append(Failure("size_mismatch", f"dump is {size} bytes, manifest says {manifest.size}"))
    elif sha256_file(stored) != manifest.sha256:
        failures.append(Failure("checksum_mismatch", "sha256 of the dump differs from the manifest"))
    if not failures:
        with open(stored, "rb") as fh:
            head = fh.read(len(AGE_HEADER))
        if manifest.encryption == "age" and not is_encrypted(head):
            failures.append(Failure("not_encrypted", "the manifest says age-encrypted, the dump is not"))
        else:
            keyring.open_file(stored, dest, f"backup {entry.id}")
    stored.unlink(missing_ok=True)
    return failures


def restore_with_erasures(dump: Path, manifest: Manifest, url: str, live_ledger: list[LedgerEntry],
                          stages: Stages | None = None) -> RestoreOutcome:
    """Restore into `url`, count rows as restored, re-apply every known erasure, look for leftovers.

    Known erasures are the restored ledger's plus `live_ledger`'s; leftovers
    are the columns that still hold an erased person afterwards.

    Raises DumpError if the restore itself fails. `stages` (a jobs.progress.Stages
    naming "restore" and "erasures") shows progress on a terminal.
    """
    from shared.database import make_engine

    if stages is not None:
        stages.step("restore")
    restore(dump, manifest.database, url)
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            snapshot = read_snapshot(conn)
        if stages is not None:
            stages.step("erasures")
        return RestoreOutcome(snapshot, reapply(engine, live_ledger))
    finally:
        engine.dispose()


def compare(manifest: Manifest, outcome: RestoreOutcome) -> list[Failure]:
    """Schema revision, row counts and erasures of a restored database against its manifest."""
    failures = []
    if outcome.snapshot.schema_revision != manifest.schema_revision:
        failures.append(Failure("schema_revision_mismatch",
                                f"restored revision {outcome.snapshot.schema_revision}, "
                                f"manifest says {manifest.schema_revision}"))
    got, want = outcome.snapshot.tables, manifest.tables
    wrong = sorted(t for t in set(got) | set(want) if got.get(t) != want.get(t))
    if wrong:
        failures.append(Failure("row_count_mismatch", "; ".join(
            f"{t}: restored {got.get(t, 'missing')}, manifest {want.get(t, 'missing')}" for t in wrong)))
    if outcome.leftovers:
        failures.append(Failure("erased_person_present",
                                "an erased person is still present after re-applying erasures, in: "
                                + ", ".join(outcome.leftovers)))
    return failures
