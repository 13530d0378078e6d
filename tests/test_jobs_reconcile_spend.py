"""reconcile-spend against local servers speaking OpenAI's and Anthropic's cost-report wire formats:
pagination, matching days, a 3 % drift (one alert with both figures), missing and late data."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from tests.provider_cost_servers import ANTHROPIC_KEY, OPENAI_KEY, CostServer

D1, D2, D3 = date(2026, 3, 14), date(2026, 3, 15), date(2026, 3, 16)


def spend(day: date, provider: str, model: str, usd: str, *, hour: int = 12) -> dict:
    return {"id": str(uuid.uuid4()), "user_id": None, "provider": provider, "model": model,
            "content_type": "flashcards", "kind": "generation", "attempt": 1, "outcome": "success",
            "cost_usd": Decimal(usd), "reserved_usd": None, "cost_known": True,
            "created_at": datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)}


def seed(*rows) -> None:
    from shared.database import session_scope
    from shared.models import UsageEvent

    with session_scope() as s:
        s.execute(insert(UsageEvent), list(rows))


def run(**options):
    from jobs.runner import run_job

    return run_job("reconcile-spend", options=options)


def open_alerts(rule: str = "spend_drift"):
    from shared.database import session_scope
    from shared.models import Alert

    with session_scope() as s:
        return s.scalars(select(Alert).where(Alert.rule == rule, Alert.status == "open")).all()


@pytest.fixture
def servers(db, env):
    openai_srv, anthropic_srv = CostServer("openai"), CostServer("anthropic")
    env(ai_providers="openai,anthropic,vertex", openai_admin_key=OPENAI_KEY, anthropic_admin_key=ANTHROPIC_KEY,
        openai_base_url=openai_srv.url, anthropic_base_url=anthropic_srv.url)
    yield openai_srv, anthropic_srv
    openai_srv.close()
    anthropic_srv.close()


def by(summary, provider, day):
    return next(r for r in summary["rows"] if r["provider"] == provider and r["day"] == day.isoformat())


def test_matching_days_pass_across_pages(servers):
    oa, an = servers
    for d in (D1, D2, D3):
        seed(spend(d, "openai", "gpt-4o-mini", "1.20"), spend(d, "openai", "gpt-4o-mini", "0.30", hour=13),
             spend(d, "anthropic", "claude-sonnet-4-5", "2.50"))
        oa.add(d, "gpt-4o-mini-2024-07-18", "1.00", "input")
        oa.add(d, "gpt-4o-mini-2024-07-18", "0.50", "output")
        an.add(d, "claude-sonnet-4-5", "2.00", "input")
        an.add(d, "claude-sonnet-4-5", "0.50", "output")
    code, summary = run(date_from=D1, date_to=D3)
    assert code == 0, summary
    assert summary["statuses"] == {"match": 6, "not_assessed": 3}
    row = by(summary, "openai", D2)
    assert (row["ours_usd"], row["theirs_usd"]) == ("1.50000000", "1.50000000")
    assert by(summary, "anthropic", D3)["theirs_usd"] == "2.50000000"  # cents on the wire, dollars here
    vertex = by(summary, "vertex", D1)
    assert vertex["status"] == "not_assessed" and "Billing export" in vertex["reason"]
    assert vertex["theirs_usd"] is None
    # one bucket per page: three pages each, following next_page
    assert [r["query"].get("page") for r in oa.requests] == [None, ["page_1"], ["page_2"]]
    assert [r["query"].get("page") for r in an.requests] == [None, ["page_1"], ["page_2"]]
    assert oa.requests[0]["query"]["bucket_width"] == ["1d"]
    assert "line_item" in (oa.requests[0]["query"].get("group_by") or oa.requests[0]["query"].get("group_by[]"))
    assert an.requests[0]["query"]["group_by[]"] == ["description"]
    assert an.requests[0]["query"]["starting_at"] == ["2026-03-14T00:00:00Z"]
    assert an.requests[0]["query"]["ending_at"] == ["2026-03-17T00:00:00Z"]
    assert open_alerts() == []


def test_a_three_percent_drift_raises_one_alert_with_both_figures(servers):
    oa, an = servers
    seed(spend(D2, "openai", "gpt-4o-mini", "10.00"), spend(D2, "anthropic", "claude-sonnet-4-5", "4.00"))
    oa.add(D2, "gpt-4o-mini-2024-07-18", "10.30")  # the bill is 3 % above our ledger
    an.add(D2, "claude-sonnet-4-5", "4.02")  # 0.5 %: within the 1 % tolerance
    code, summary = run(date_from=D2, date_to=D2)
    assert code == 1
    row = by(summary, "openai", D2)
    assert row["status"] == "drift" and row["ours_usd"] == "10.00000000" and row["theirs_usd"] == "10.30000000"
    assert row["models"] == [{"model": "gpt-4o-mini", "ours_usd": "10.00000000", "theirs_usd": "10.30000000",
                              "drift": pytest.approx(0.0291, abs=1e-4)}]
    assert by(summary, "anthropic", D2)["status"] == "match"
    alerts = open_alerts()
    assert len(alerts) == 1 and alerts[0].severity == "warning"
    message = alerts[0].message
    assert "openai 2026-03-15" in message and "$10.00000000" in message and "$10.30000000" in message
    assert "anthropic" not in message
    # running again does not open a second alert
    assert run(date_from=D2, date_to=D2)[0] == 1
    assert len(open_alerts()) == 1
    # the provider corrects its figure (late adjustment): the day matches and the alert resolves
    oa.days[D2] = [("gpt-4o-mini-2024-07-18", "input", Decimal("10.00"))]
    code, summary = run(date_from=D2, date_to=D2)
    assert code == 0 and by(summary, "openai", D2)["status"] == "match"
    assert open_alerts() == []


def test_missing_provider_data_is_missing_never_zero_then_late_data_matches(servers):
    oa, an = servers
    seed(spend(D2, "openai", "gpt-4o-mini", "3.00"), spend(D2, "anthropic", "claude-sonnet-4-5", "1.00"))
    an.add(D2, "claude-sonnet-4-5", "1.00")  # OpenAI's bucket for the day is not there yet
    code, summary = run(date_from=D2, date_to=D2)
    row = by(summary, "openai", D2)
    assert row["status"] == "missing" and row["theirs_usd"] is None and row["drift"] is None
    assert "no bucket" in row["reason"]
    assert code == 0 and open_alerts() == []  # missing is not a drift
    # the late bucket arrives: the next run compares it
    oa.add(D2, "gpt-4o-mini", "3.00")
    code, summary = run(date_from=D2, date_to=D2)
    assert code == 0 and by(summary, "openai", D2)["status"] == "match"


def test_unreadable_report_is_missing_with_its_reason_and_retries_transient_errors(servers, env):
    oa, an = servers
    seed(spend(D2, "anthropic", "claude-sonnet-4-5", "1.00"))
    an.add(D2, "claude-sonnet-4-5", "1.00")
    an.fail_next = 1  # one 500: the retry gets through
    env(openai_admin_key="sk-admin-wrong")
    code, summary = run(date_from=D2, date_to=D2)
    assert by(summary, "anthropic", D2)["status"] == "match"
    row = by(summary, "openai", D2)
    assert row["status"] == "missing" and "HTTP 401" in row["reason"] and row["theirs_usd"] is None
    assert code == 1 and summary["unreadable"] == ["openai"]
    assert "sk-admin-wrong" not in str(summary)


def test_provider_without_admin_key_is_not_assessed(servers, env):
    env(openai_admin_key=None)
    seed(spend(D2, "openai", "gpt-4o-mini", "1.00"))
    code, summary = run(date_from=D2, date_to=D2)
    row = by(summary, "openai", D2)
    assert row["status"] == "not_assessed" and row["reason"] == "OPENAI_ADMIN_KEY not set"
    assert code == 0


def test_days_left_unsettled_are_rechecked(servers):
    from jobs.reconcile_spend import unsettled_days

    oa, an = servers
    seed(spend(D1, "openai", "gpt-4o-mini", "1.00"), spend(D2, "openai", "gpt-4o-mini", "1.00"))
    oa.add(D2, "gpt-4o-mini", "1.00")
    an.add(D1, "claude-sonnet-4-5", "0")  # a day with a bucket and no spend: $0 reported, $0 ours
    an.add(D2, "claude-sonnet-4-5", "0")
    run(date_from=D1, date_to=D2)  # D1 missing at OpenAI, D2 matches
    assert unsettled_days(D1 - timedelta(days=3), D3) == {D1}
    oa.add(D1, "gpt-4o-mini", "1.00")
    run(date_from=D1, date_to=D1)
    assert unsettled_days(D1 - timedelta(days=3), D3) == set()


def test_judging_and_model_matching():
    from jobs.reconcile_spend import judge, model_rows

    assert judge(Decimal("100"), Decimal("100.9"), 0.01, Decimal("0.01")) == "match"
    assert judge(Decimal("100"), Decimal("103"), 0.01, Decimal("0.01")) == "drift"
    assert judge(Decimal("0.001"), Decimal("0.002"), 0.01, Decimal("0.01")) == "match"  # under a cent
    assert judge(Decimal("5"), Decimal("0"), 0.01, Decimal("0.01")) == "drift"
    rows = model_rows({"gpt-4o": Decimal(1), "gpt-4o-mini": Decimal(2)},
                      {"gpt-4o-mini-2024-07-18": Decimal(2), "gpt-4o-2024-08-06": Decimal(1),
                       "text-embedding-3-small": Decimal("0.5")})
    assert [(r["model"], r["theirs_usd"]) for r in rows] == [
        ("gpt-4o", "1.00000000"), ("gpt-4o-mini", "2.00000000"), ("text-embedding-3-small", "0.50000000")]


def test_help_lists_the_flags(capsys):
    from jobs.runner import build_parser

    text = build_parser(job="reconcile-spend").format_help()
    assert "--from DATE" in text and "--to DATE" in text and "yesterday" in text


def test_monthly_ops_report_shows_the_reconciliation_table(servers):
    import json
    from pathlib import Path

    from jobs.runner import run_job
    from shared.settings import get_settings

    oa, an = servers
    today = datetime.now(timezone.utc).date()
    report_date = today.replace(day=1)
    day = (report_date - timedelta(days=1)).replace(day=10)  # inside last month
    seed(spend(day, "openai", "gpt-4o-mini", "10.00"), spend(day, "anthropic", "claude-sonnet-4-5", "1.00"))
    oa.add(day, "gpt-4o-mini", "10.30")
    run(date_from=day, date_to=day)
    code, summary = run_job("ops-report", options={"period": "monthly", "report_date": report_date.isoformat()})
    assert summary["checks"]["reconciliation"] == "warn"
    base = Path(get_settings().reports_url[len("file://"):]) / "ops-report" / "monthly"
    md = (base / f"{report_date}.md").read_text()
    assert "## Spend reconciliation" in md
    assert f"| {day} | openai | drift | 10.00000000 | 10.30000000 | 2.91% |" in md
    assert f"| {day} | anthropic | missing | 1.00000000 | - | - |" in md  # never $0
    assert f"| {day} | vertex | not assessed |" in md
    rows = json.loads((base / f"{report_date}.json").read_text())["facts"]["reconciliation"]["rows"]
    assert {r["status"] for r in rows} == {"drift", "missing", "not_assessed"}


def test_an_open_provider_day_is_incomplete_not_compared():
    from jobs.reconcile_spend import DayCost, Ours, compare

    open_day = DayCost(Decimal("0.40"), {"gpt-4o-mini": Decimal("0.40")}, closed=False)
    rows = compare([D2], ["openai"], {(D2, "openai"): Ours(Decimal("1.00"), {"gpt-4o-mini": Decimal("1.00")})},
                   {"openai": {D2: open_day}}, 0.01, Decimal("0.01"))
    assert rows[0]["status"] == "incomplete" and rows[0]["drift"] is None and rows[0]["theirs_usd"] == "0.40000000"


def test_dry_run_reports_drift_without_alerting(servers):
    from jobs.runner import run_job

    oa, an = servers
    seed(spend(D2, "openai", "gpt-4o-mini", "10.00"))
    oa.add(D2, "gpt-4o-mini", "12.00")
    code, summary = run_job("reconcile-spend", dry_run=True, options={"date_from": D2, "date_to": D2})
    assert code == 1 and by(summary, "openai", D2)["status"] == "drift"
    assert open_alerts() == []
