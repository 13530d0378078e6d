"""Scheduled jobs, run as `python -m jobs NAME` by Railway cron or an operator.

`JOBS` maps each job name (fixed by DESIGN.md) to its suggested UTC cron
schedule; the health report and the missed-schedule alert read it too.
"""

JOBS: dict[str, str] = {
    "backup": "0 2 * * *",
    "backup-verify": "30 3 * * *",
    "retention-expiry": "0 4 * * *",
    "cost-report": "15 5 * * *",
    "alert-check": "*/5 * * * *",
}
