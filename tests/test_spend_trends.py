"""Cost per active user (per day and content type), requests per user, the spend trend and its
monthly-budget projection: in GET /v1/spend and from the pure functions behind it."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert

from tests.conftest import auth, make_user


def row(user, at, usd, ctype="flashcards", generation=None, kind="generation"):
    return {"id": str(uuid.uuid4()), "user_id": user, "provider": "openai", "model": "gpt-4o-mini",
            "content_type": ctype, "kind": kind, "attempt": 1, "outcome": "success", "cost_usd": Decimal(usd),
            "cost_known": True, "generation_id": generation or str(uuid.uuid4()), "created_at": at}


def test_spend_adds_cost_per_active_user_requests_per_user_and_the_trend(db, client_for, env):
    from shared.database import session_scope
    from shared.models import UsageEvent

    env(monthly_budget_usd="1000")
    alice, _ = make_user()
    bob, _ = make_user()
    _, ops_key = make_user("ops")
    today = datetime.now(timezone.utc).replace(hour=0, minute=30, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    g = str(uuid.uuid4())
    rows = [row(alice, yesterday, "1.00", generation=g), row(alice, yesterday, "0.50", generation=g, kind="repair"),
            row(alice, yesterday, "0.50"), row(bob, yesterday, "2.00", ctype="study_guide"),
            row(bob, yesterday, "9.00", kind="reservation"),  # a budget hold: neither spend nor a request
            row(None, yesterday, "1.00")]  # an erased user's spend: counted, not a user
    with session_scope() as s:
        s.execute(insert(UsageEvent), rows)
    body = client_for("health").get("/v1/spend?days=3", headers=auth(ops_key)).get_json()
    day = next(d for d in body["days"] if d["date"] == yesterday.date().isoformat())
    assert day["total"] == 5.0 and day["active_users"] == 2 and day["cost_per_active_user"] == 2.5
    assert body["days"][0]["active_users"] == 0 and body["days"][0]["cost_per_active_user"] is None
    types = {t["content_type"]: t for t in body["content_types"]}
    assert types["flashcards"]["total"] == 3.0 and types["flashcards"]["active_user_days"] == 1
    assert types["flashcards"]["cost_per_active_user_day"] == 3.0
    assert types["study_guide"]["cost_per_active_user_day"] == 2.0
    rpu = body["requests_per_user"]
    assert rpu["user_days"] == 2 and rpu["max"] == 2 and rpu["p50"] == 1.5  # alice 2 generations, bob 1
    trend = body["trend"]
    assert trend["fitted_days"] == 2 and trend["projection"]["monthly_budget_usd"] == 1000.0
    assert trend["projection"]["statement"].startswith("at this rate")


def test_trend_and_projection_name_the_day_the_budget_is_reached():
    from shared.spend_trends import projection, trend

    start = date(2026, 3, 1)
    daily = [(start + timedelta(days=k), 10.0 + 2.0 * k) for k in range(10)]  # 10, 12, ... 28 a day
    line = trend(daily)
    assert line["slope_usd_per_day"] == pytest.approx(2.0) and line["intercept_usd"] == pytest.approx(10.0)
    assert line["growth_week_over_week"] is not None
    mtd = sum(y for _, y in daily)  # 190 through the 10th
    # from the 11th: 30, 32, 34, ... -> 190+30+32+34 = 286 on the 13th, 322 on the 14th
    p = projection(date(2026, 3, 10), mtd, line, 9, 300.0)
    assert p["budget_reached_on"] == "2026-03-14"
    assert p["statement"] == "at this rate, the monthly budget of $300.00 is reached on 2026-03-14"
    p = projection(date(2026, 3, 10), mtd, line, 9, 1_000_000.0)
    assert p["budget_reached_on"] is None and "within the monthly budget" in p["statement"]
    assert projection(date(2026, 3, 10), mtd, line, 9, None)["statement"].endswith("no monthly budget is set")
    falling = trend([(start + timedelta(days=k), max(0.0, 20.0 - 5 * k)) for k in range(5)])
    p = projection(date(2026, 3, 5), 50.0, falling, 4, 100.0)
    assert p["projected_month_usd"] == pytest.approx(50.0)  # a falling line adds nothing below zero
    assert trend([(start, 1.0)])["slope_usd_per_day"] is None


def test_percentiles():
    from shared.spend_trends import _percentile

    assert _percentile([], 50) is None
    assert _percentile([1, 2, 3, 4], 50) == 2.5
    assert _percentile(list(range(1, 101)), 99) == 99.01


def test_weekly_report_shows_cost_per_user_and_the_projection(db, env):
    import json
    from pathlib import Path

    from jobs.runner import run_job
    from shared.database import session_scope
    from shared.models import UsageEvent
    from shared.settings import get_settings

    env(monthly_budget_usd="50")
    alice, _ = make_user()
    today = datetime.now(timezone.utc).date()
    first = today - timedelta(days=7)
    with session_scope() as s:
        s.execute(insert(UsageEvent), [row(alice, datetime(d.year, d.month, d.day, 10, tzinfo=timezone.utc),
                                           "2.00") for d in (first + timedelta(days=k) for k in range(7))])
    run_job("ops-report", options={"period": "weekly", "report_date": today.isoformat()})
    base = Path(get_settings().reports_url[len("file://"):]) / "ops-report" / "weekly"
    md = (base / f"{today}.md").read_text()
    assert "## Cost per user and growth" in md
    assert f"| {first} | 1 | 2.0000 |" in md and "| flashcards | 14.0000 | 7 | 2.0000 |" in md
    facts = json.loads((base / f"{today}.json").read_text())["facts"]["spend_per_user"]
    assert facts["trend"]["slope_usd_per_day"] == pytest.approx(0.0)
    assert facts["trend"]["projection"]["statement"].startswith("at this rate")
