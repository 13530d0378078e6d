"""`GET /v1/jobs` (ops, admin): every job's schedule, latest counted run, next due time and whether it is overdue."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel

from shared.http import RequestContext, json_response
from shared.timestamps import iso
from shared.wire_types import Timestamp, UUIDString


class LastRun(BaseModel):
    id: UUIDString
    status: str
    started_at: Timestamp
    ended_at: Timestamp | None
    duration_s: float | None
    summary: dict


class JobView(BaseModel):
    name: str
    schedule: str
    last_run: LastRun | None
    next_due_at: Timestamp
    overdue: bool


class JobList(BaseModel):
    jobs: list[JobView]


def _duration(run) -> float | None:
    """Milliseconds matter here: the ISO times are whole seconds, a 0.24 s run is not 0 s or 1 s."""
    if run.finished_at is None:
        return None
    return round((run.finished_at - run.started_at).total_seconds(), 3)


def jobs_report(session, now: datetime | None = None) -> list[dict]:
    """Every job as `shared.job_status` judges it: the newest counted run, never a dry run."""
    from shared import job_status
    from shared.settings import get_settings

    now = now or datetime.now(timezone.utc)
    out = []
    for name, st in job_status.assess(session, now, job_status.grace(get_settings())).items():
        run = st.last_run
        out.append({
            "name": name,
            "schedule": st.schedule,
            "last_run": None if run is None else {
                "id": run.id, "status": run.status, "started_at": iso(run.started_at),
                "ended_at": iso(run.finished_at), "duration_s": _duration(run), "summary": run.summary or {},
            },
            "next_due_at": iso(st.next_due_at),
            "overdue": st.overdue,
        })
    return out


def list_jobs(ctx: RequestContext):
    from shared.database import session_scope

    with session_scope() as session:
        body = {"jobs": jobs_report(session)}
    return json_response(body, 200, {"Cache-Control": "no-store"})
