"""How far behind PostgreSQL's WAL archive is: the recovery point objective, as the database sees it.

Read from `pg_stat_archiver` (PostgreSQL counts every segment its
`archive_command`, pgBackRest's `archive-push`, stored): the age of the newest
archived segment, and whether WAL has been written since that is not archived
yet. An idle database archives nothing and loses nothing, so the archive is
*stale* only when its newest segment is older than the RPO (`PITR_RPO_SECONDS`)
and newer WAL exists, or when the last attempt failed. Used by `/health`
(`backups:wal`) and alert-check (`wal_archive_stale`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

_QUERY = text(
    "SELECT a.last_archived_wal, a.last_archived_time, a.last_failed_time, now() AS now, "
    "pg_current_wal_lsn() - '0/0'::pg_lsn AS current_lsn, "
    "(SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') AS segment_size, "
    "current_setting('archive_mode') AS archive_mode "
    "FROM pg_stat_archiver a"
)


@dataclass(frozen=True)
class ArchiveState:
    archiving: bool  # archive_mode is on
    age_seconds: float | None  # since the newest archived segment (None: nothing archived yet)
    pending_bytes: int  # WAL written after the newest archived segment
    failing: bool  # the last attempt failed after the last success

    def stale(self, rpo_seconds: float) -> bool:
        if not self.archiving or self.failing:
            return True
        if self.age_seconds is None:
            return self.pending_bytes > 0
        return self.age_seconds > rpo_seconds and self.pending_bytes > 0

    def describe(self, rpo_seconds: float) -> str:
        if not self.archiving:
            return "archive_mode is off: no WAL is archived"
        parts = ["no WAL archived yet" if self.age_seconds is None
                 else f"newest archived WAL {self.age_seconds:.0f} s old (RPO {rpo_seconds:g} s)"]
        if self.failing:
            parts.append("the last archive attempt failed")
        if self.pending_bytes > 0:
            parts.append(f"{self.pending_bytes} bytes of WAL not archived yet")
        return "; ".join(parts)


def _segment_end(wal_name: str, segment_size: int) -> int:
    """The LSN just after segment `wal_name` (timeline, log, segment: 8 hex digits each)."""
    log, seg = int(wal_name[8:16], 16), int(wal_name[16:24], 16)
    return log * 0x1_0000_0000 + (seg + 1) * segment_size


def read_state(conn: Connection) -> ArchiveState:
    """The archiver's state on the connected PostgreSQL server."""
    row = conn.execute(_QUERY).one()
    archived: datetime | None = row.last_archived_time
    wal = row.last_archived_wal if row.last_archived_wal and len(row.last_archived_wal) == 24 else None
    pending = int(row.current_lsn) - (_segment_end(wal, int(row.segment_size)) if wal else 0)
    failing = row.last_failed_time is not None and (archived is None or row.last_failed_time > archived)
    return ArchiveState(
        archiving=row.archive_mode in ("on", "always"),
        age_seconds=None if archived is None else max(0.0, (row.now - archived).total_seconds()),
        pending_bytes=max(0, pending), failing=failing)
