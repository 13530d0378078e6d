"""Job leases: at most one run of a job at a time, on every database the platform uses.

A lease is a row in `job_leases` (job, owner, expires_at), not a lock held by a
connection. A session advisory lock leaks behind PgBouncer's transaction pooling
(the unlock can reach another server connection, and every later run is refused),
and an `flock` only excludes processes on one machine; a row behaves the same on
PostgreSQL, behind PgBouncer, and on SQLite:

- taking it is one statement: insert the row, or take over an expired one, and
  return the owner (ours means taken);
- a run killed on this host (same hostname and pid namespace, its pid gone) is taken over at once,
  so a SIGKILLed job does not block the next run for a whole lease period; one
  killed elsewhere is taken over once its lease expires;
- the holder renews it every third of its period from a daemon thread, each
  renewal its own short transaction;
- leaving deletes the row. A renewal or the release that finds the row no longer
  ours means the lease was lost: another run may have overlapped this one.

Times come from this process's clock (UTC), so both backends compare the same
values; the hosts' clocks must agree to well within a lease period.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from shared.logs import get_logger

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

log = get_logger("lafactoria.jobs.lease")


class Lease:
    """A held lease on `job`, renewed in the background until its `hold` block ends."""

    def __init__(self, job: str, owner: str, seconds: int, expires_at: datetime) -> None:
        self.job = job
        self.owner = owner  # host:pid:nonce
        self.seconds = seconds
        self.expires_at = expires_at  # as last taken or renewed
        self._lost = threading.Event()
        self._stopping = threading.Event()
        self._renewer = threading.Thread(target=self._renew_until_stopped, name=f"lease-{job}", daemon=True)

    @property
    def lost(self) -> bool:
        """Whether another owner may have held the lease meanwhile (final once `hold` has ended)."""
        return self._lost.is_set()

    def _renew_until_stopped(self) -> None:
        from shared.models import utcnow

        while not self._stopping.wait(self.seconds / 3):
            try:
                renewed = self._renew()
            except Exception as exc:  # noqa: BLE001 - a database blip must not end the run
                if utcnow() < self.expires_at:
                    log.warning("could not renew the job lease; retrying",
                                extra={"job": self.job, "error": type(exc).__name__})
                    continue
                renewed = False  # expired unrenewed: another run may have taken it
            if not renewed:
                log.warning("job lease lost; another run may overlap this one", extra={"job": self.job})
                self._lost.set()
                return

    def _renew(self) -> bool:
        from sqlalchemy import update

        from shared.database import session_scope
        from shared.models import JobLease, utcnow

        expires_at = utcnow() + timedelta(seconds=self.seconds)
        with session_scope() as session:
            # An UPDATE without RETURNING yields a CursorResult; Session.execute is typed for any statement.
            matched = cast("CursorResult[Any]", session.execute(
                update(JobLease).where(JobLease.job == self.job, JobLease.owner == self.owner)
                .values(expires_at=expires_at)
            )).rowcount
        if matched:
            self.expires_at = expires_at
        return bool(matched)

    def _release(self) -> None:
        from sqlalchemy import delete

        from shared.database import session_scope
        from shared.models import JobLease

        self._stopping.set()
        # A renewal in flight finishes first, so `lost` is final; a hung one must not hold the exit.
        self._renewer.join(timeout=self.seconds / 3)
        try:
            with session_scope() as session:
                deleted = cast("CursorResult[Any]", session.execute(
                    delete(JobLease).where(JobLease.job == self.job, JobLease.owner == self.owner)
                )).rowcount
        except Exception as exc:  # noqa: BLE001 - must not mask the job's result; the lease expires
            log.warning("could not release the job lease; it expires by itself",
                        extra={"job": self.job, "expires_at": self.expires_at.isoformat(),
                               "error": type(exc).__name__})
            return
        if not deleted:
            self._lost.set()


@contextlib.contextmanager
def hold(job: str, seconds: int) -> Iterator[Lease | None]:
    """Hold `job`'s lease for the block, renewed every `seconds / 3`; yield None if a live
    run holds it (the caller steps aside). The lease is released when the block ends."""
    owner = f"{_host()}:{os.getpid()}:{secrets.token_hex(8)}"
    expires_at = _take(job, owner, seconds)
    if expires_at is None:
        yield None
        return
    lease = Lease(job, owner, seconds, expires_at)
    lease._renewer.start()
    try:
        yield lease
    finally:
        lease._release()


def _take(job: str, owner: str, seconds: int) -> datetime | None:
    """Take the lease for `owner`; its expiry if taken, None if a live run holds it."""
    from sqlalchemy import select, update

    from shared.database import session_scope, upsert
    from shared.models import JobLease, utcnow

    table = JobLease.__table__
    now = utcnow()
    expires_at = now + timedelta(seconds=seconds)
    with session_scope() as session:
        insert = upsert(session, table).values(job=job, owner=owner, acquired_at=now, expires_at=expires_at)
        stmt = insert.on_conflict_do_update(
            index_elements=[table.c.job],
            set_={"owner": insert.excluded.owner, "acquired_at": insert.excluded.acquired_at,
                  "expires_at": insert.excluded.expires_at},
            where=table.c.expires_at <= now,
        ).returning(table.c.owner)
        if session.execute(stmt).scalar() == owner:
            return expires_at
        # A live lease; the conflict locked its row (PostgreSQL) or the write lock is ours (SQLite).
        holder = session.scalar(select(table.c.owner).where(table.c.job == job))
        if holder is None or not _dead_here(holder):  # None: released just now; the next run takes it
            return None
        taken = cast("CursorResult[Any]", session.execute(
            update(table).where(table.c.job == job, table.c.owner == holder)
            .values(owner=owner, acquired_at=now, expires_at=expires_at)
        )).rowcount
    if not taken:
        return None
    log.warning("took over the lease of a run that died on this host", extra={"job": job, "holder": holder})
    return expires_at


def _host() -> str:
    """This process's pid space: the hostname plus, on Linux, the pid namespace's inode.

    Containers may share a hostname (replicas of one service) while each has its
    own pid numbers; judging another container's pid by our own process table
    would take a live run's lease. Where the namespace cannot be read, the
    name carries `-` and `_dead_here` never judges (the lease then expires)."""
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = "-"
    return f"{socket.gethostname()[:130]}/{namespace}"  # owner is String(200): host, pid and a 16-char nonce


def _dead_here(owner: str) -> bool:
    """Whether `owner` was a process on this host that no longer exists."""
    parts = owner.rsplit(":", 2)
    here = _host()
    if len(parts) != 3 or parts[0] != here or here.endswith("/-") or not parts[1].isdigit() or int(parts[1]) <= 0:
        return False  # another host's or pid space's, or not ours to judge (say, written by hand)
    try:
        os.kill(int(parts[1]), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        pass
    return False
