"""ops-report: each period written from a seeded database, its checks, sections, incidents and no personal data."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import insert

from tests.conftest import make_user, travel_to

# Seeded relative to a fixed instant (a Wednesday mid-month, mid-morning); each test runs there.
NOW = datetime(2026, 6, 17, 10, 30, tzinfo=timezone.utc)
_clock = travel_to(NOW)
TODAY = NOW.date()
MIDNIGHT = datetime.combine(TODAY, time.min, tzinfo=timezone.utc)
YESTERDAY = MIDNIGHT - timedelta(days=1)
LAST_MONTH_END = MIDNIGHT.replace(day=1)
LAST_MONTH_START = (LAST_MONTH_END - timedelta(days=1)).replace(day=1)
EMAIL = "seeded-person@example.org"


def reports_dir() -> Path:
    from shared.settings import get_settings

    return Path(get_settings().reports_url[len("file://"):])


def run_report(period: str, report_date: date | None = None, **kw):
    from jobs.runner import run_job

    options = {"period": period, "report_date": (report_date or TODAY).isoformat()}
    return run_job("ops-report", options=options, **kw)


def _traffic(start: datetime, hours: int) -> list[dict]:
    """Per hour: 40 fast API calls (two 404s), 4 health checks, one 3 s generation."""
    rows = []
    for h in range(hours):
        at = start + timedelta(hours=h, minutes=10)
        for n in range(40):
            rows.append({"created_at": at + timedelta(seconds=n), "function": "generate", "route": "/v1/content/<id>",
                         "method": "GET", "status": 404 if n in (7, 21) else 200, "latency_ms": 20.0 + n % 10})
        for n in range(4):
            rows.append({"created_at": at + timedelta(seconds=50 + n), "function": "health", "route": "/readyz",
                         "method": "GET", "status": 200, "latency_ms": 3.0})
        rows.append({"created_at": at + timedelta(seconds=59), "function": "generate", "route": "/v1/content",
                     "method": "POST", "status": 201, "latency_ms": 3000.0})
    return rows


def _job(job: str, started: datetime, status: str = "ok", **summary) -> dict:
    return {"id": str(uuid.uuid4()), "job": job, "status": status, "exit_code": 0 if status == "ok" else 1,
            "dry_run": False, "started_at": started, "finished_at": started + timedelta(seconds=30),
            "summary": summary}


@pytest.fixture
def seeded(db, env):
    """Forty days of a healthy platform, an incident yesterday, info alerts, GDPR requests and a backup."""
    from jobs.runner import run_job
    from shared.database import session_scope
    from shared.job_schedule import JOBS
    from shared.models import (Alert, AuditEntry, ConsentEvent, ContentItem, Erasure, Feedback, JobRun,
                               RequestMetric, UsageEvent)
    from shared.pseudonyms import pseudonym

    user, _ = make_user("user", EMAIL)
    ops, _ = make_user("ops")
    start = min(MIDNIGHT - timedelta(days=40), LAST_MONTH_START - timedelta(days=8))
    rows, items, usage, feedback, runs = [], [], [], [], []
    for d in range((MIDNIGHT - start).days):
        day = start + timedelta(days=d)
        rows += _traffic(day, 24 if day >= MIDNIGHT - timedelta(days=8) else 2)
        for n in range(3):
            item = {"id": str(uuid.uuid4()), "user_id": user, "content_type": "flashcards", "topic": "Photosynthesis",
                    "audience": "general", "language": "en", "request": {}, "content": {"title": "t"},
                    "quality": {"overall": 0.86}, "quality_overall": 0.86, "quality_passed": True,
                    "provider": "mock", "model": "mock-1", "prompt_version": "v1", "attempts": 1,
                    "created_at": day + timedelta(hours=9, minutes=n)}
            items.append(item)
            usage.append({"id": str(uuid.uuid4()), "user_id": user, "content_id": item["id"],
                          "request_id": item["id"], "content_type": "flashcards", "provider": "openai",
                          "model": "gpt-4o-mini", "attempt": 1, "kind": "generation", "outcome": "success",
                          "cost_usd": Decimal("0.0125"), "cost_known": True, "created_at": item["created_at"]})
            feedback.append({"id": str(uuid.uuid4()), "content_id": item["id"], "user_id": user, "rating": 4 + n % 2,
                             "comment": f"mail me at {EMAIL}", "created_at": item["created_at"] + timedelta(hours=1)})
        runs += [_job("backup", day + timedelta(hours=2), backup_id=f"b{d}"),
                 _job("backup-verify", day + timedelta(hours=3, minutes=30), backup_id=f"b{d}"),
                 _job("retention-expiry", day + timedelta(hours=4),
                      counts={"generated_content": 2, "usage_unlink": 1, "request_metrics": 10})]
    for job in JOBS:  # every job ran recently (alert-check a minute ago: the dead-man's check passes)
        # never before today's midnight, so a run just after midnight keeps them out of yesterday's windows
        runs.append(_job(job, max(NOW - timedelta(minutes=1 if job == "alert-check" else 30), MIDNIGHT)))
    with session_scope() as s:
        s.execute(insert(RequestMetric), rows)
        s.execute(insert(ContentItem), items)
        s.execute(insert(UsageEvent), usage)
        s.execute(insert(Feedback), feedback)
        s.execute(insert(JobRun), runs)
        s.add_all([
            Alert(rule="readiness", severity="critical", status="resolved", message="Readiness failing",
                  opened_at=YESTERDAY + timedelta(hours=2), acknowledged_at=YESTERDAY + timedelta(hours=2, minutes=10),
                  acknowledged_by=ops, resolved_at=YESTERDAY + timedelta(hours=3)),
            Alert(rule="quality:warning", severity="warning", status="resolved", message="Quality low for 1 h",
                  opened_at=YESTERDAY + timedelta(hours=5), resolved_at=YESTERDAY + timedelta(hours=6)),
            Alert(rule="budget:monthly", severity="info", status="resolved", message="Monthly budget nearly spent",
                  opened_at=YESTERDAY + timedelta(hours=12), resolved_at=YESTERDAY + timedelta(hours=13)),
            Alert(rule="capacity:trend", severity="info", status="resolved", message="Traffic up 20% this week",
                  opened_at=MIDNIGHT - timedelta(days=2, hours=-12), resolved_at=MIDNIGHT - timedelta(days=2)),
        ])
        for action, n in (("gdpr.erasure", 1), ("gdpr.export", 2), ("gdpr.rectification", 1), ("gdpr.consent", 3),
                          ("gdpr.restriction.set", 1), ("auth.failed", 7), ("key.created", 2)):
            s.add(AuditEntry(action=action, actor=pseudonym(user), subject=pseudonym(user), count=n,
                             created_at=YESTERDAY + timedelta(hours=8), details={}))
        s.add(ConsentEvent(user_id=user, purpose="analytics", granted=True, actor_role="self",
                           actor=pseudonym(user), created_at=YESTERDAY + timedelta(hours=8)))
        s.add(Erasure(subject=pseudonym(str(uuid.uuid4())), requested_by="self", deleted={"users": 1},
                      erased_at=YESTERDAY + timedelta(hours=8)))
    assert run_job("backup")[0] == 0  # a real backup in the store, taken now
    return {"user": user, "ops": ops}


def _files(period: str, day: date = TODAY) -> dict[str, str]:
    base = reports_dir() / "ops-report" / period
    return {ext: (base / f"{day}.{ext}").read_text() for ext in ("md", "html", "json")}


class _Sections(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.svgs, self.scripts = [], 0, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.ids.append(attrs.get("id"))
        self.svgs += tag == "svg"
        self.scripts += tag == "script"


def _no_personal_data(files: dict[str, str], seeded) -> None:
    for ext, text in files.items():
        assert EMAIL not in text and seeded["user"] not in text and seeded["ops"] not in text, ext
        assert "mail me" not in text, ext  # feedback comments are content: never in a report


def test_daily_report_from_a_seeded_database(seeded):
    code, summary = run_report("daily")
    assert code == 0, summary
    assert summary["period"] == "daily" and summary["report"] == f"ops-report/daily/{TODAY}"
    assert summary["from"] == YESTERDAY.isoformat() and summary["to"] == MIDNIGHT.isoformat()
    assert set(summary["checks"]) == {"alerts", "availability", "latency", "errors", "generation", "quality",
                                      "backups", "restore_test", "cost", "feedback", "jobs", "alerting"}
    # an incident yesterday, resolved: not a failure, but not a clean night either
    assert summary["checks"].pop("alerts") == "warn"
    assert set(summary["checks"].values()) == {"pass"}, summary["checks"]
    files = _files("daily")
    report = json.loads(files["json"])
    incidents = {i["rule"]: i for i in report["facts"]["alerts"]["incidents"]}
    assert incidents["readiness"]["time_to_acknowledge_s"] == 600 and incidents["readiness"]["time_to_resolve_s"] == 3600
    assert incidents["quality:warning"]["acknowledged_at"] is None
    assert [a["rule"] for a in report["facts"]["alerts"]["info"]] == ["budget:monthly"]
    assert report["facts"]["slo"]["period"]["availability"] == 1.0
    api = report["facts"]["requests"]["api"]
    assert api["count"] == 24 * 44 and api["errors_4xx"] == 48 and api["p95_ms"] < 200
    assert report["facts"]["requests"]["generation"]["p50_ms"] == 3000.0
    generation = report["facts"]["generation"]  # every item passed first time: no regeneration paid for
    assert (generation["regenerations"], generation["regeneration_cost_usd"]) == (0, 0.0)
    assert generation["regenerations_per_100_requests"] == 0.0
    assert "Regenerations asked for by the quality gate: 0 (0.0 per 100 requests)" in files["md"]
    assert report["checks"]["cost"]["evidence"]["spend_usd"] == "0.03750000"
    assert report["links"]["cost_report"] == f"cost/{YESTERDAY.date()}/cost-report.json"
    assert (reports_dir() / report["links"]["cost_report"]).exists()  # written for the period when missing
    assert report["links"]["newest_backup"].endswith("/manifest.json")
    for heading in ("## Checklist", "## Incident history", "## Info alerts since the last report",
                    "## Key metrics", "## SLO and error budget", "## Backups and restore-test record", "## Cost",
                    "## User feedback", "## Scheduled jobs"):
        assert heading in files["md"]
    assert "| readiness | critical |" in files["md"] and "10 min" in files["md"]
    html = _Sections()
    html.feed(files["html"])
    assert {"checklist", "incident-history", "slo-and-error-budget", "charts"} <= set(html.ids)
    assert html.svgs >= 3 and html.scripts == 0
    _no_personal_data(files, seeded)


def test_daily_fails_on_an_unacknowledged_critical_alert_and_a_dead_alert_check(seeded):
    from sqlalchemy import delete

    from shared.database import session_scope
    from shared.models import Alert, JobRun

    with session_scope() as s:
        s.add(Alert(rule="database_down", severity="critical", status="open", message="Database down",
                    opened_at=NOW - timedelta(minutes=20)))
        s.execute(delete(JobRun).where(JobRun.job == "alert-check"))
    code, summary = run_report("daily")
    assert code == 1
    assert summary["checks"]["alerts"] == "fail" and summary["checks"]["alerting"] == "fail"
    report = json.loads(_files("daily")["json"])
    assert "database_down" in report["checks"]["alerts"]["summary"]
    assert report["facts"]["alerts"]["open_now"][0]["acknowledged"] is False


def test_info_alerts_since_the_last_report(seeded):
    earlier = TODAY - timedelta(days=3)
    assert run_report("daily", earlier)[0] in (0, 1)
    run_report("daily")
    report = json.loads(_files("daily")["json"])
    # the previous daily report ended three days ago: two days of info alerts are collected
    assert report["facts"]["alerts"]["info_since"] == datetime.combine(earlier, time.min, timezone.utc).isoformat()
    assert [a["rule"] for a in report["facts"]["alerts"]["info"]] == ["capacity:trend", "budget:monthly"]


def test_weekly_report_security_compliance_capacity(seeded):
    code, summary = run_report("weekly")
    assert summary["from"] == (MIDNIGHT - timedelta(days=7)).isoformat()
    assert {"security", "compliance", "capacity", "slo"} <= set(summary["checks"])
    assert summary["checks"]["compliance"] == "pass" and summary["checks"]["security"] == "pass"
    assert summary["checks"]["slo"] == "pass" and code == 0
    files = _files("weekly")
    report = json.loads(files["json"])
    c = report["facts"]["compliance"]
    assert (c["erasures"], c["exports"], c["rectifications"], c["consent_changes"], c["restrictions_set"]) == \
        (1, 2, 1, 3, 1)
    assert c["erasure_ledger_entries"] == 1 and c["consent_events"] == {"analytics": {"granted": 1, "withdrawn": 0}}
    assert c["retention"]["runs"] == 7 and c["retention"]["rows_expired"] == \
        {"generated_content": 14, "usage_unlink": 7, "request_metrics": 70}
    assert report["facts"]["security"]["events"]["auth.failed"] == 7
    assert report["facts"]["capacity"]["rows"]["users"] == 2
    assert len(report["facts"]["requests"]["series"]) == 7
    for heading in ("## Security events", "## Compliance report", "## Capacity"):
        assert heading in files["md"]
    _no_personal_data(files, seeded)


def test_monthly_report_slo_restore_record_and_compliance(seeded, env):
    code, summary = run_report("monthly")
    assert summary["from"] == LAST_MONTH_START.isoformat() and summary["to"] == LAST_MONTH_END.isoformat()
    assert list(summary["checks"])[0] == "cost" and "restore_test" in summary["checks"]
    files = _files("monthly")
    report = json.loads(files["json"])
    days = (LAST_MONTH_END - LAST_MONTH_START).days
    assert len(report["facts"]["backups"]["restore_tests"]) == days
    slo = report["facts"]["slo"]["rolling_30_days"]
    assert slo["availability"] == 1.0 and slo["error_budget_consumed"] == 0.0
    assert report["facts"]["compliance"]["retention"]["runs"] == days
    assert report["links"]["cost_report"] == \
        f"cost/{LAST_MONTH_START.date()}_{(LAST_MONTH_END - timedelta(days=1)).date()}/cost-report.json"
    assert "## Compliance report" in files["md"] and "## SLO and error budget" in files["md"]
    _no_personal_data(files, seeded)
    # an SLO miss: 5xx over 0.5% of the last 30 days' requests fails the SLO
    from shared.database import session_scope
    from shared.models import RequestMetric

    with session_scope() as s:
        s.execute(insert(RequestMetric), [{"created_at": YESTERDAY + timedelta(minutes=n), "function": "gdpr",
                                           "route": "/v1/me", "method": "GET", "status": 503, "latency_ms": 5.0}
                                          for n in range(500)])
    code, summary = run_report("weekly")
    assert code == 1 and summary["checks"]["slo"] == "fail" and summary["checks"]["errors"] == "fail"


def test_bad_usage_and_dry_run(seeded):
    from jobs.runner import run_job

    assert run_job("ops-report")[0] == 2  # --period is required
    assert run_report("daily", TODAY + timedelta(days=1))[0] == 2
    code, summary = run_report("daily", dry_run=True)
    assert "written" not in summary and not (reports_dir() / "ops-report").exists()


def test_the_report_templates_are_package_data():
    """A non-editable install carries the templates: every file under templates/ matches the
    package-data patterns pyproject.toml declares for `jobs.ops_report`."""
    import fnmatch
    import tomllib

    from tests.conftest import ROOT

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = ROOT / "jobs" / "ops_report"
    files = [p.relative_to(package).as_posix() for p in (package / "templates").iterdir()]
    assert files and all(any(fnmatch.fnmatch(f, pat) for pat in patterns["jobs.ops_report"]) for f in files), files


def test_the_html_page_escapes_what_the_facts_say():
    """Autoescape is on for the HTML template: a finding that holds markup is shown, never run;
    the Markdown form escapes a pipe inside a table cell and keeps the verdict's badge."""
    from jobs.ops_report import render
    from tests.test_job_truth import _report_facts

    report = {"report": "ops", "period": "daily", "date": "2026-03-10", "from": "2026-03-09T00:00:00+00:00",
              "to": "2026-03-10T00:00:00+00:00", "generated_at": "2026-03-10T07:00:00+00:00", "status": "warn",
              "checks": {"jobs": {"status": "warn", "summary": "<script>alert(1)</script> a | b"}},
              "facts": _report_facts({})}
    md, page = render.markdown(report), render.html_page(report)
    assert "| Scheduled jobs | WARN | <script>alert(1)</script> a \\| b |" in md
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; a | b" in page
    assert '<td class="warn">WARN</td>' in page
