"""`GET /v1/jobs` (ops, admin): every job's schedule, latest real run and next due time."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel

from shared.http import RequestContext, json_response
from shared.wire_types import Timestamp, UUIDString


class LastRun(BaseModel):
    id: UUIDString
    status: str
    started_at: Timestamp
    ended_at: Timestamp | None
    summary: dict


class JobView(BaseModel):
    name: str
    schedule: str
    last_run: LastRun | None
    next_due_at: Timestamp


class JobList(BaseModel):
    jobs: list[JobView]


def _iso(value) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def latest_runs(session, names) -> dict:
    """The newest real (not dry-run) run of each job, in one query."""
    from sqlalchemy import func, select

    from shared.models import JobRun

    real = (JobRun.job.in_(list(names)), JobRun.dry_run.is_(False))
    newest = (select(JobRun.job, func.max(JobRun.started_at).label("started"))
              .where(*real).group_by(JobRun.job).subquery())
    rows = session.scalars(select(JobRun).where(*real).join(
        newest, (JobRun.job == newest.c.job) & (JobRun.started_at == newest.c.started))).all()
    return {r.job: r for r in rows}


def jobs_report(session, now: datetime | None = None) -> list[dict]:
    from croniter import croniter

    from shared.job_schedule import JOBS

    now = now or datetime.now(timezone.utc)
    runs = latest_runs(session, JOBS)
    out = []
    for name, schedule in JOBS.items():
        run = runs.get(name)
        out.append({
            "name": name,
            "schedule": schedule,
            "last_run": None if run is None else {
                "id": run.id, "status": run.status, "started_at": _iso(run.started_at),
                "ended_at": _iso(run.finished_at), "summary": run.summary or {},
            },
            "next_due_at": _iso(croniter(schedule, now).get_next(datetime)),
        })
    return out


def list_jobs(ctx: RequestContext):
    from shared.database import session_scope

    with session_scope() as session:
        body = {"jobs": jobs_report(session)}
    return json_response(body, 200, {"Cache-Control": "no-store"})
