"""The cost report's checks as pure functions (`jobs/cost_report/anomalies.py`, `budgets.py`): daily
totals in, findings out, no database. Each rule has inputs it must flag and inputs it must not."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from jobs.cost_report.anomalies import anomalies, inside, trailing_mean
from jobs.cost_report.budgets import budgets, check
from jobs.cost_report.cells import Cell

DAY = date(2026, 3, 10)


def _daily(spends: list[str], last: date = DAY) -> dict[date, Cell]:
    """Cells for consecutive days ending on `last`, oldest first."""
    first = last - timedelta(days=len(spends) - 1)
    return {first + timedelta(n): Cell(Decimal(s), 1) for n, s in enumerate(spends)}


# -- anomalies ---------------------------------------------------------------------------------
def test_a_day_above_twice_its_trailing_mean_is_flagged():
    found = anomalies(_daily(["1"] * 7 + ["2.01"]), DAY, Decimal(2), 7)
    assert found == [{"day": DAY.isoformat(), "spend_usd": "2.01000000", "trailing_mean_usd": "1.00000000",
                      "ratio": 2.01}]


def test_exactly_twice_the_mean_and_steady_spend_are_not_flagged():
    assert anomalies(_daily(["1"] * 7 + ["2"]), DAY, Decimal(2), 7) == []
    assert anomalies(_daily(["5"] * 30), DAY - timedelta(days=20), Decimal(2), 7) == []


def test_a_first_day_of_spend_after_nothing_is_not_flagged():
    """A trailing mean of zero compares with nothing: a first day of use is not an incident."""
    assert anomalies(_daily(["0"] * 7 + ["100"]), DAY, Decimal(2), 7) == []


def test_days_missing_from_the_totals_count_as_no_spend():
    """The trailing window averages over its full length, not over the days that have cells."""
    daily = {DAY - timedelta(days=1): Cell(Decimal("7")), DAY: Cell(Decimal("2.5"))}
    assert trailing_mean(daily, DAY, 7) == Decimal(1)
    assert [a["day"] for a in anomalies(daily, DAY, Decimal(2), 7)] == [DAY.isoformat()]


def test_only_days_from_first_are_judged_and_the_factor_and_window_are_honoured():
    daily = _daily(["1"] * 7 + ["3", "1"])  # the spike two days before DAY
    spike = (DAY - timedelta(days=1)).isoformat()
    assert [a["day"] for a in anomalies(daily, DAY - timedelta(days=1), Decimal(2), 7)] == [spike]
    assert anomalies(daily, DAY, Decimal(2), 7) == []  # the spike is before `first`
    assert anomalies(daily, DAY - timedelta(days=1), Decimal(3), 7) == []  # 3x is not above 3x
    # A 1-day window: the day after the spike is measured against the spike only.
    assert [a["day"] for a in anomalies(_daily(["3", "7"]), DAY, Decimal(2), 1)] == [DAY.isoformat()]


def test_inside_keeps_the_anomalies_of_the_period():
    found = [{"day": "2026-03-01"}, {"day": "2026-03-05"}, {"day": "2026-03-10"}]
    assert inside(found, "2026-03-05", "2026-03-10") == found[1:]
    assert inside(found, "2026-03-06", "2026-03-09") == []


# -- budgets -----------------------------------------------------------------------------------
def test_budget_status_unset_ok_near_and_breach():
    assert check(None, Decimal("5"))["status"] == "unset"
    assert check(Decimal("10"), Decimal("7.99"))["status"] == "ok"
    assert check(Decimal("10"), Decimal("8"))["status"] == "near"
    assert check(Decimal("10"), Decimal("10"))["status"] == "near"  # at the budget is not over it
    assert check(Decimal("10"), Decimal("10.01"))["status"] == "breach"


def test_the_worst_day_of_the_period_decides_the_daily_budget():
    daily = _daily(["1", "12", "3"])
    out = budgets(daily, DAY - timedelta(days=2), DAY, Decimal("10"), None)
    assert out["daily"]["status"] == "breach" and out["daily"]["day"] == (DAY - timedelta(days=1)).isoformat()
    assert out["daily"]["breach_days"] == [(DAY - timedelta(days=1)).isoformat()]
    assert budgets(daily, DAY, DAY, Decimal("10"), None)["daily"]["status"] == "ok"  # the day alone is fine


def test_a_monthly_breach_in_an_earlier_month_of_the_period_is_kept():
    daily = _daily(["60"] + ["1"] * 10, last=date(2026, 3, 10))  # 60 spent on 28 February
    out = budgets(daily, date(2026, 2, 28), date(2026, 3, 10), None, Decimal("50"))
    assert out["monthly"]["month"] == "2026-03" and out["monthly"]["spend_usd"] == "10.00000000"
    assert out["monthly"]["status"] == "breach"  # February's breach decides
    assert [m["status"] for m in out["monthly"]["months"]] == ["breach", "ok"]
    assert budgets(daily, date(2026, 3, 1), date(2026, 3, 10), None, Decimal("50"))["monthly"]["status"] == "ok"
