"""The job schedule registry: each job's name (fixed by DESIGN.md) and its suggested UTC cron schedule.

In `shared` because three parts read it: the job runner (which names exist),
the health report (`jobs:lastRun`, one entry per job) and the `alert-check`
rule for missed schedules; Railway's cron services use the same schedules.
Whether a job ran and when it is due is `shared/job_status.py`'s (this file is
also read by `.railway/railway.py` with the system python3: no imports here).
`SCHEDULED_RUNS` lists every cron service (job, flags, schedule): a job that
answers several checklists (the ops report) has one run per checklist.
"""

from dataclasses import dataclass

JOBS: dict[str, str] = {
    "backup": "0 2 * * *",
    "backup-verify": "30 3 * * *",
    "retention-expiry": "0 4 * * *",
    "cost-report": "15 5 * * *",
    "alert-check": "*/5 * * * *",
    "reconcile-spend": "40 6 * * *",  # after the providers' day closes; before the daily ops report
    "ops-report": "0 7 * * *",  # its daily run; weekly and monthly runs are in SCHEDULED_RUNS
}


@dataclass(frozen=True)
class ScheduledRun:
    """One cron service: a job with its flags on its schedule (UTC)."""

    service: str
    job: str
    args: tuple[str, ...]
    schedule: str

    @property
    def command(self) -> str:
        return " ".join(("python -m jobs", self.job, *self.args))


# The ops report answers three checklists, each its own cron service, 10 minutes apart on the
# days they coincide (Railway wants consecutive runs at least 5 minutes apart).
OPS_REPORT_SCHEDULES: dict[str, str] = {
    "daily": JOBS["ops-report"],
    "weekly": "10 7 * * 1",  # Monday: the previous Monday to Sunday
    "monthly": "20 7 1 * *",  # the 1st: the previous calendar month
}

SCHEDULED_RUNS: tuple[ScheduledRun, ...] = tuple(
    ScheduledRun(f"cron-{name}", name, (), schedule) for name, schedule in JOBS.items() if name != "ops-report"
) + tuple(
    ScheduledRun(f"cron-ops-report-{period}", "ops-report", ("--period", period), schedule)
    for period, schedule in OPS_REPORT_SCHEDULES.items()
)
