"""Scheduled jobs, run as `python -m jobs NAME` by Railway cron or an operator.

Each job is a module here; their names and schedules are `shared.job_schedule.JOBS`.
"""
