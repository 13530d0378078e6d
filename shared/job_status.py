"""Whether a job ran and whether it is overdue: the one definition every surface uses.

`/health` (`jobs:lastRun`), `GET /v1/jobs`, the ops console (which reads both),
the ops report and the `alert-check` rule `job:*:missed` all answer from
`assess()`, so they cannot disagree on the same screen:

- A run *counts* when it really ran: not a `--dry-run` (recorded as a dry run,
  `job_runs.dry_run`, and shown as nothing else) and not `skipped` (another run
  held the lease; that run is the one that counts). A `running` run counts.
- A job is *due* at each time its cron schedule names (UTC). It is *overdue*
  when a due time more than `ALERT_JOB_GRACE_MINUTES` old passed with no counted
  run started since (one minute's tolerance for a cron that starts early).
- Due times before the installation was first seen never count, so a fresh
  install is `pass` until a job is really late by its own schedule. The first
  sighting is the earliest row the install wrote itself: its first user (the
  bootstrap admin) or its first job run (dry runs included: they prove the
  install existed). An empty database has not been seen at all: nothing is due.

In `shared` because the health function and two jobs read it. `croniter`
computes every schedule here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.job_schedule import JOBS
from shared.timestamps import as_utc

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

    from shared.models import JobRun
    from shared.settings import Settings

EARLY_START_TOLERANCE = timedelta(minutes=1)


def previous_time(schedule: str, at: datetime) -> datetime:
    """The latest time the schedule names at or before `at`."""
    from croniter import croniter

    probe = at + timedelta(microseconds=1)  # croniter's get_prev is strict: `at` itself counts
    return croniter(schedule, probe).get_prev(datetime)


def next_time(schedule: str, at: datetime) -> datetime:
    """The first time the schedule names strictly after `at`."""
    from croniter import croniter

    return croniter(schedule, at).get_next(datetime)


def interval(schedule: str, at: datetime) -> timedelta:
    """The gap between the two scheduled times before `at` (the schedule's period there)."""
    from croniter import croniter

    it = croniter(schedule, at)
    latest = it.get_prev(datetime)
    return latest - it.get_prev(datetime)


def counted() -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """SQL conditions for a run that counts (see the module docstring)."""
    from shared.models import JobRun

    return (JobRun.dry_run.is_(False), JobRun.status != "skipped")


def latest_runs(session: Session, names: Iterable[str] = JOBS) -> dict[str, JobRun]:
    """The newest counted run of each job, in one query."""
    from sqlalchemy import func, select

    from shared.models import JobRun

    where = (JobRun.job.in_(list(names)), *counted())
    newest = (select(JobRun.job, func.max(JobRun.started_at).label("started"))
              .where(*where).group_by(JobRun.job).subquery())
    rows = session.scalars(select(JobRun).where(*where).join(
        newest, (JobRun.job == newest.c.job) & (JobRun.started_at == newest.c.started))).all()
    return {r.job: r for r in rows}


def first_seen(session: Session) -> datetime | None:
    """When this installation was first seen: its first user or its first job run (see above)."""
    from sqlalchemy import func, select

    from shared.models import JobRun, User

    first_user: datetime | None = session.scalar(select(func.min(User.created_at)))
    first_run: datetime | None = session.scalar(select(func.min(JobRun.started_at)))
    return min((as_utc(s) for s in (first_user, first_run) if s is not None), default=None)


@dataclass(frozen=True)
class JobState:
    """One job as every surface reports it."""

    job: str
    schedule: str
    last_run: JobRun | None  # the newest counted run, or None
    due_at: datetime | None  # the scheduled time it should have started by now; None: none since install
    next_due_at: datetime
    overdue: bool

    @property
    def last_started(self) -> datetime | None:
        return as_utc(self.last_run.started_at) if self.last_run is not None else None

    def missed_output(self) -> str:
        """`'<schedule>' due <time> UTC, never run|last started <time> UTC`: why it is overdue."""
        seen = f"last started {self.last_started:%Y-%m-%d %H:%M} UTC" if self.last_run else "never run"
        return f"'{self.schedule}' due {self.due_at:%Y-%m-%d %H:%M} UTC, {seen}"


def state(job: str, schedule: str, last_run: JobRun | None, now: datetime, grace: timedelta,
          since: datetime | None) -> JobState:
    """The state of one job at `now`; `since` is the installation's first sighting (None: not yet),
    which matters only for a job that never ran (see `assess`)."""
    latest = previous_time(schedule, now - grace)
    # None: nothing came due since the install, so a job that never ran cannot have missed it
    due = None if last_run is None and (since is None or latest < since) else latest
    started = as_utc(last_run.started_at) if last_run is not None else None
    overdue = due is not None and (started is None or started < due - EARLY_START_TOLERANCE)
    return JobState(job, schedule, last_run, due, next_time(schedule, now), overdue)


def assess(session: Session, now: datetime, grace: timedelta,
           jobs: Mapping[str, str] = JOBS) -> dict[str, JobState]:
    """Every job's state at `now`. The first sighting matters only for a job that never ran: for
    one that did, the install is older than its last run, so a due time after that run is after
    the install too. So it is read only while some job has never run (a fresh install)."""
    runs = latest_runs(session, jobs)
    since = None if all(job in runs for job in jobs) else first_seen(session)
    return {job: state(job, schedule, runs.get(job), now, grace, since) for job, schedule in jobs.items()}


DEAD_MANS_JOB = "alert-check"


def dead_mans_output(schedule: str, last_started: datetime, now: datetime) -> str:
    """Non-empty when the job has not started within twice its schedule's interval: the
    watcher is not watching, and nothing else would say so (no alert can fire)."""
    every = interval(schedule, now)
    quiet = now - as_utc(last_started)
    if quiet <= 2 * every:
        return ""
    return (f"not run for {int(quiet.total_seconds() // 60)} min (schedule '{schedule}', expected at least every "
            f"{int(every.total_seconds() // 60)} min): alerts are not being evaluated")


def grace(settings: Settings) -> timedelta:
    """How late a job may start before it counts as missed (ALERT_JOB_GRACE_MINUTES)."""
    return timedelta(minutes=settings.alert_job_grace_minutes)
