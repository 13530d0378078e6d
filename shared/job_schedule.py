"""The job schedule registry: each job's name (fixed by DESIGN.md) and its suggested UTC cron schedule.

In `shared` because three parts read it: the job runner (which names exist),
the health report (`jobs:lastRun`, one entry per job) and the `alert-check`
rule for missed schedules; Railway's cron services use the same schedules.
"""

JOBS: dict[str, str] = {
    "backup": "0 2 * * *",
    "backup-verify": "30 3 * * *",
    "retention-expiry": "0 4 * * *",
    "cost-report": "15 5 * * *",
    "alert-check": "*/5 * * * *",
}
