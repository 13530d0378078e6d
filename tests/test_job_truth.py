"""One truth about jobs on all five surfaces: `/health`, `GET /v1/jobs`, the ops console, the ops report
and `alert-check` (`shared/job_status.py`).

A dry run is recorded as a dry run and is not a run; a skipped run is not either. A fresh install is
`pass` until a job is overdue by its own schedule, measured from when the install was first seen. The
clock is injected: every surface is asked at NOW, a fixed instant, so the time of day never matters.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from shared.job_schedule import JOBS
from tests.conftest import make_user

NOW = datetime(2026, 3, 10, 10, 17, 23, tzinfo=timezone.utc)  # a Tuesday morning, after every daily job's time


def _seed(installed: datetime, runs: list[dict]) -> None:
    from sqlalchemy import update

    from shared.database import session_scope
    from shared.models import JobRun, User

    uid, _ = make_user("admin")
    with session_scope() as s:
        s.execute(update(User).where(User.id == uid).values(created_at=installed))
        s.add_all(JobRun(id=str(uuid.uuid4()), exit_code=0, summary={}, **r) for r in runs)


def _run(job: str, started: datetime, *, dry_run: bool = False, status: str = "ok", seconds: float = 0.24) -> dict:
    return {"job": job, "status": status, "dry_run": dry_run, "started_at": started,
            "finished_at": started + timedelta(seconds=seconds)}


def surfaces() -> dict:
    """What each surface says at NOW, per job."""
    from functions.health.jobs_status import jobs_report
    from jobs import alert_rules
    from jobs.ops_report import checks, facts, render
    from shared import health_checks, job_status
    from shared.database import session_scope
    from shared.settings import get_settings

    settings = get_settings()
    health = {c["componentId"]: c for c in health_checks.check_jobs(now=NOW)}
    with session_scope() as session:
        api = {j["name"]: j for j in jobs_report(session, now=NOW)}
        window = facts.Window("daily", NOW.replace(hour=0, minute=0, second=0) - timedelta(days=1),
                              NOW.replace(hour=0, minute=0, second=0), NOW)
        report = facts.job_runs(session, window, job_status.grace(settings))
        alerts = {f.details["job"]: f for f in alert_rules.missed_jobs(
            alert_rules.Evaluation(session, NOW, settings))}
    section = dict(render.sections({"facts": _report_facts(report), "checks": {}}))["Scheduled jobs"]
    return {"health": health, "api": api, "report": report, "alerts": alerts,
            "report_checks": {"jobs": checks.jobs({"jobs": report}), "alerting": checks.alerting({"jobs": report})},
            "report_rows": {line.split(" | ")[0].strip("| "): line for line in section[2:]}}


def _report_facts(jobs: dict) -> dict:
    """The smallest facts the report's sections render from, around the jobs under test."""
    empty_req = {"all": None, "api": None, "health": None, "generation": None, "series": []}
    return {"alerts": {"opened_by_severity": {}, "incident_stats": {k: None for k in (
                "mean_time_to_acknowledge_s", "max_time_to_acknowledge_s", "mean_time_to_resolve_s",
                "max_time_to_resolve_s")} | {"count": 0}, "incidents": [], "info_since": "-", "info": [],
                       "open_now": []},
            "requests": empty_req,
            "generation": {"count": 0, "success_rate": None, "quality_mean": None, "passed_share": None,
                           "histogram": {}, "content_types": {}, "per_day": [], "regenerations": 0,
                           "regenerations_per_100_requests": None, "regeneration_cost_usd": 0},
            "slo": {"period": {"requests": 0, "errors_5xx": 0, "availability": None, "error_budget_requests": 0,
                               "error_budget_consumed": None}} | {"rolling_30_days": {
                "requests": 0, "errors_5xx": 0, "availability": None, "error_budget_requests": 0,
                "error_budget_consumed": None}},
            "backups": {"store": "file:///b", "newest": None, "taken_in_period": 0, "failed_backup_runs": 0,
                        "restore_tests": []},
            "cost": {"spend_usd": 0, "prefix": "cost-report/x", "budgets": {}, "by_provider": [], "by_day": []},
            "feedback": {"count": 0, "mean_rating": None, "ratings": {}},
            "jobs": jobs}


def test_fresh_install_with_dry_runs_is_pass_everywhere(db):
    """Installed ten minutes ago, every job tried once with --dry-run: nothing ran, nothing was due."""
    _seed(NOW - timedelta(minutes=10), [_run(job, NOW - timedelta(minutes=5), dry_run=True) for job in JOBS])
    s = surfaces()
    for job in JOBS:
        assert s["health"][job]["status"] == "pass" and s["health"][job]["output"] == "not due yet since install"
        assert s["api"][job]["last_run"] is None and s["api"][job]["overdue"] is False
        assert s["report"][job]["last_run"] is None and s["report"][job]["overdue"] is False
        assert s["report"][job]["runs"] == {}  # the dry runs are not runs in the period either
        assert "| never | - | no |" in s["report_rows"][job]
        assert s["alerts"][job].firing is False and "never run" not in s["alerts"][job].message
    assert s["report_checks"]["jobs"].status == "pass" and s["report_checks"]["alerting"].status == "pass"


def test_dry_runs_do_not_hide_missed_schedules(db):
    """Installed three days ago and only ever dry-run: every job missed its schedule, on every surface."""
    _seed(NOW - timedelta(days=3), [_run(job, NOW - timedelta(minutes=20), dry_run=True) for job in JOBS]
          + [_run("backup", NOW - timedelta(minutes=15), status="skipped")])
    s = surfaces()
    for job in JOBS:
        assert s["health"][job]["status"] in ("warn", "fail")
        assert s["health"][job]["output"].startswith("missed its schedule:") and "never run" in \
            s["health"][job]["output"]
        assert s["api"][job]["last_run"] is None and s["api"][job]["overdue"] is True
        assert s["report"][job]["overdue"] is True and "| yes |" in s["report_rows"][job]
        assert s["alerts"][job].firing is True and s["alerts"][job].observed.endswith("never run")
    # Same due time everywhere: the daily backup at 02:00 today.
    assert "due 2026-03-10 02:00 UTC" in s["health"]["backup"]["output"]
    assert s["alerts"]["backup"].details["due"] == "2026-03-10T02:00:00+00:00"
    assert s["report"]["backup"]["due_at"] == "2026-03-10T02:00:00+00:00"
    assert s["report_checks"]["jobs"].status == "warn" and s["report_checks"]["alerting"].status == "fail"


def test_real_runs_count_and_a_later_dry_run_does_not_replace_them(db):
    from shared.job_status import previous_time

    runs = []
    for job, schedule in JOBS.items():
        due = previous_time(schedule, NOW - timedelta(minutes=1))
        runs += [_run(job, due + timedelta(seconds=3), seconds=1.99),
                 _run(job, NOW - timedelta(seconds=30), dry_run=True, status="problem")]
    _seed(NOW - timedelta(days=30), runs)
    s = surfaces()
    for job in JOBS:
        assert s["health"][job]["status"] == "pass" and s["health"][job]["observedValue"] == "ok"
        last = s["api"][job]["last_run"]
        assert last["status"] == "ok" and last["duration_s"] == 1.99 and s["api"][job]["overdue"] is False
        assert s["report"][job]["last_run"]["status"] == "ok" and not s["report"][job]["overdue"]
        assert s["alerts"][job].firing is False
    assert s["report_checks"]["jobs"].status == "pass" and s["report_checks"]["alerting"].status == "pass"


def test_schedule_arithmetic_is_one_function():
    """Due times at and around the schedule, across a day boundary; the grace and install cut-offs."""
    from shared.job_status import interval, next_time, previous_time, state

    at2 = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)
    assert previous_time("0 2 * * *", at2) == at2  # the scheduled instant itself is due
    assert previous_time("0 2 * * *", at2 - timedelta(seconds=1)) == at2 - timedelta(days=1)
    assert next_time("0 2 * * *", at2) == at2 + timedelta(days=1)
    assert interval("*/5 * * * *", at2) == timedelta(minutes=5)
    grace, long_ago = timedelta(minutes=30), at2 - timedelta(days=9)
    yesterday = SimpleNamespace(started_at=at2 - timedelta(days=1))
    # Within the grace today's run is not late yet; after it, it is.
    assert not state("b", "0 2 * * *", yesterday, at2 + timedelta(minutes=29), grace, long_ago).overdue
    late = state("b", "0 2 * * *", yesterday, at2 + timedelta(minutes=31), grace, long_ago)
    assert late.overdue and late.due_at == at2
    # For a job that ran, the install time does not matter: it is older than that run.
    assert state("b", "0 2 * * *", yesterday, at2 + timedelta(minutes=31), grace, None).overdue
    # A cron that starts a few seconds early still counts.
    early = SimpleNamespace(started_at=at2 - timedelta(seconds=20))
    assert not state("b", "0 2 * * *", early, at2 + timedelta(hours=1), grace, long_ago).overdue
    # Installed after the due time: not due; an empty database (never seen): not due.
    assert not state("b", "0 2 * * *", None, at2 + timedelta(hours=5), grace, at2 + timedelta(minutes=1)).overdue
    assert not state("b", "0 2 * * *", None, at2 + timedelta(hours=5), grace, None).overdue


def test_the_dead_mans_check_flags_only_past_twice_the_interval():
    """At an injected instant: the watcher (every 5 min) is quiet for 10 min: fine; for 11: flagged."""
    from shared.job_status import dead_mans_output

    assert dead_mans_output("*/5 * * * *", NOW - timedelta(minutes=10), NOW) == ""
    assert dead_mans_output("*/5 * * * *", NOW - timedelta(minutes=2), NOW) == ""
    late = dead_mans_output("*/5 * * * *", NOW - timedelta(minutes=11), NOW)
    assert late.startswith("not run for 11 min") and "expected at least every 5 min" in late
    # A naive start (SQLite) is UTC, not local time.
    assert dead_mans_output("*/5 * * * *", (NOW - timedelta(minutes=3)).replace(tzinfo=None), NOW) == ""


def test_weekly_and_monthly_schedules_due_times_and_intervals():
    """The ops report's weekly (Monday) and monthly (the 1st) runs, from a fixed Tuesday."""
    from shared.job_schedule import OPS_REPORT_SCHEDULES
    from shared.job_status import interval, next_time, previous_time

    weekly, monthly = OPS_REPORT_SCHEDULES["weekly"], OPS_REPORT_SCHEDULES["monthly"]
    assert previous_time(weekly, NOW) == datetime(2026, 3, 9, 7, 10, tzinfo=timezone.utc)
    assert next_time(weekly, NOW) == datetime(2026, 3, 16, 7, 10, tzinfo=timezone.utc)
    assert interval(weekly, NOW) == timedelta(days=7)
    assert previous_time(monthly, NOW) == datetime(2026, 3, 1, 7, 20, tzinfo=timezone.utc)
    assert interval(monthly, NOW) == timedelta(days=28)  # February 2026


def test_every_surface_asks_job_status_and_only_it_computes_schedules():
    """The four users of a cron's due time call `shared.job_status.assess`; croniter is imported by
    that module alone, so a fifth copy of the arithmetic cannot appear unseen."""
    from tests.conftest import ROOT

    users = ["shared/health_checks.py", "jobs/ops_report/facts.py", "jobs/alert_rules.py",
             "functions/health/jobs_status.py"]
    assert all("job_status.assess(" in (ROOT / u).read_text() for u in users)
    importers = sorted(str(p.relative_to(ROOT)) for part in ("shared", "functions", "jobs", "cli")
                       for p in (ROOT / part).rglob("*.py") if "croniter" in p.read_text())
    assert importers == ["shared/job_status.py"]


# -- the console: what it shows from the same data, on a 375 px phone -------------------------------------
CONSOLE = Path(__file__).resolve().parent.parent / "functions" / "health" / "console"


@pytest.mark.parametrize("installed, expected", [
    (NOW - timedelta(minutes=10), "not due yet"),
    (NOW - timedelta(days=3), "missed"),
])
def test_console_shows_the_same_states_on_a_phone(pg, function_server, tmp_path, installed, expected):
    """The real health function serves the page and API; `/v1/jobs` and the `jobs:lastRun` checks are the
    ones computed at NOW (the browser's clock is NOW too), so the page shows what the API says at NOW."""
    from functions.health.jobs_status import jobs_report
    from shared import health_checks
    from shared.database import session_scope
    from tests.test_console import CHROMIUM, CHROMIUM_ARGS

    _seed(installed, [_run(job, NOW - timedelta(minutes=5), dry_run=True) for job in JOBS])
    _, key = make_user("ops")
    with session_scope() as session:
        jobs = {"jobs": jobs_report(session, now=NOW)}
    job_checks = health_checks.check_jobs(now=NOW)
    server = function_server("health", env={"DATABASE_URL": pg.url, "METRICS_ENABLED": "false"})

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2,
                                   is_mobile=True, has_touch=True).new_page()
        page.clock.set_fixed_time(NOW)
        page.route("**/v1/jobs", lambda route: route.fulfill(status=200, content_type="application/json",
                                                             body=json.dumps(jobs)))

        def health(route):
            real = route.fetch()
            body = real.json()
            body["checks"]["jobs:lastRun"] = job_checks
            route.fulfill(response=real, body=json.dumps(body))

        page.route("**/health", health)
        page.goto(server.url + "/console")
        page.fill("#key", key)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
        states = page.eval_on_selector_all("#jobs-body tr", "els => els.map(e => [e.dataset.job, e.dataset.state])")
        chips = page.eval_on_selector_all("#health-checks li", "els => els.map(e => [e.textContent, e.dataset.status])")
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(tmp_path / "console-375.png"), full_page=True)
        browser.close()
    assert states == [[job, expected] for job in JOBS]
    job_chips = {name.split(":", 1)[1]: status for name, status in chips if name.startswith("jobs:")}
    assert set(job_chips) == set(JOBS)
    assert set(job_chips.values()) == ({"pass"} if expected == "not due yet" else {"warn", "fail"})
    assert width <= 375, f"the console is {width} px wide on a 375 px screen"


def test_a_report_without_data_prints_no_none_and_its_title_has_the_files_date():
    """The report of an empty day: every unknown figure reads n/a; the title leads with the
    report date its files are named after, then the day it covers."""
    from jobs.ops_report import render
    from jobs.ops_report.__init__ import window

    w = window("daily", NOW.date(), NOW)
    report = {"report": "ops", "period": "daily", "date": NOW.date().isoformat(), "from": w.start.isoformat(),
              "to": w.end.isoformat(), "generated_at": NOW.isoformat(), "status": "pass", "checks": {},
              "facts": _report_facts({})}
    report["facts"]["feedback"]["ratings"] = {"1": 0}
    md = render.markdown(report)
    assert "None" not in md and "n/a" in md
    assert md.splitlines()[0] == "# La Factoria daily ops report 2026-03-10 (covers 2026-03-09)"
    assert "<title>La Factoria daily ops report 2026-03-10 (covers 2026-03-09)</title>" in render.html_page(report)
    assert [render._duration(s) for s in (0.24, 1.99, 12.5, 270, 5700, 11520)] == \
        ["0.24 s", "1.99 s", "12.5 s", "4.5 min", "95 min", "3.2 h"]
