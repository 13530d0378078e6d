"""cost-report: SQL aggregation equal to the ledger to the cent, unknown costs apart, budgets, anomalies, files."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from tests.conftest import make_user

DAY = date(2026, 3, 15)


def at(d: date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, second, tzinfo=timezone.utc)


def usage(user_id, created_at, cost, *, provider="openai", model="gpt-4o-mini", ctype="flashcards",
          kind="generation"):
    return {"id": str(uuid.uuid4()), "user_id": user_id, "provider": provider, "model": model,
            "content_type": ctype, "kind": kind, "attempt": 1,
            "outcome": "reserved" if kind == "reservation" else "success",
            "cost_usd": cost, "reserved_usd": cost if kind == "reservation" else None,
            "cost_known": cost is not None, "created_at": created_at}


def insert_rows(rows) -> None:
    from shared.database import session_scope
    from shared.models import UsageEvent

    with session_scope() as s:
        s.execute(insert(UsageEvent), rows)


@pytest.fixture
def ledger(db, env):
    """A month of usage: two users, three providers, odd fractions of a cent, unknown costs, reservations."""
    env(cost_report_day=DAY.isoformat())
    alice, _ = make_user()
    bob, _ = make_user()
    rows = []
    for n in range(1, 16):  # 1..15 March, plus 7 trailing days in February
        d = date(2026, 3, n)
        rows.append(usage(alice, at(d, 9), Decimal("0.12345677")))
        rows.append(usage(bob, at(d, 10), Decimal("0.03333333"), provider="anthropic", model="claude-sonnet-4-5",
                          ctype="study_guide"))
    for n in range(1, 8):
        rows.append(usage(alice, at(date(2026, 2, 28) - timedelta(days=n - 1), 8), Decimal("0.15")))
    rows += [
        usage(alice, at(DAY, 0, 0, 0), Decimal("0.05000001"), provider="vertex", model="gemini-2.5-flash"),
        usage(bob, at(DAY, 23, 59, 59), None, provider="vertex", model="gemini-2.5-flash"),  # unknown cost
        usage(alice, at(DAY, 13), Decimal("5.00"), kind="reservation"),  # a budget hold, not spend
        usage(None, at(DAY, 14), Decimal("0.03"), provider="openai"),  # an erased user's row
        usage(alice, at(DAY + timedelta(days=1), 0, 0, 0), Decimal("9.99")),  # next day: outside
    ]
    insert_rows(rows)
    return {"alice": alice, "bob": bob, "rows": rows}


def expected_spend(rows, start: date, end: date) -> Decimal:
    return sum((r["cost_usd"] for r in rows if r["kind"] != "reservation" and r["cost_usd"] is not None
                and at(start, 0) <= r["created_at"] < at(end, 0)), Decimal(0))


def reports_dir() -> Path:
    from shared.settings import get_settings

    return Path(get_settings().reports_url[len("file://"):])


def run_job(name: str, **kw):
    from jobs.runner import run_job as _run

    return _run(name, **kw)


def load_report() -> dict:
    return json.loads((reports_dir() / f"cost/{DAY}/cost-report.json").read_text())


def test_totals_equal_the_ledger_to_the_cent(ledger):
    code, summary = run_job("cost-report")
    assert code == 0, summary
    report = load_report()
    assert report["anomalies"] == []
    day_total = expected_spend(ledger["rows"], DAY, DAY + timedelta(days=1))
    mtd_total = expected_spend(ledger["rows"], date(2026, 3, 1), DAY + timedelta(days=1))
    win_day, win_mtd = report["windows"]["day"], report["windows"]["month_to_date"]
    assert Decimal(win_day["spend_usd"]).quantize(Decimal("0.01")) == day_total.quantize(Decimal("0.01"))
    assert Decimal(win_mtd["spend_usd"]).quantize(Decimal("0.01")) == mtd_total.quantize(Decimal("0.01"))
    assert abs(Decimal(win_mtd["spend_usd"]) - mtd_total) < Decimal("0.000001")
    # an independent SQL sum over the ledger agrees as well
    from shared.database import session_scope
    from shared.models import UsageEvent

    with session_scope() as s:
        sql_total = s.scalar(select(func.sum(UsageEvent.cost_usd)).where(
            UsageEvent.kind != "reservation", UsageEvent.created_at >= at(date(2026, 3, 1), 0),
            UsageEvent.created_at < at(DAY + timedelta(days=1), 0)))
    assert Decimal(win_mtd["spend_usd"]).quantize(Decimal("0.01")) == Decimal(sql_total).quantize(Decimal("0.01"))
    # every breakdown adds up to the same total
    for win in (win_day, win_mtd):
        for dim in ("by_provider", "by_model", "by_content_type"):
            assert sum(Decimal(r["spend_usd"]) for r in win[dim]) == Decimal(win["spend_usd"])
            assert sum(r["events"] for r in win[dim]) == win["events"]
    assert sum(Decimal(r["spend_usd"]) for r in win_mtd["by_day"]) == Decimal(win_mtd["spend_usd"])
    assert [r["key"] for r in win_mtd["by_day"]] == [f"2026-03-{n:02d}" for n in range(1, 16)]
    assert summary["spend_usd_day"] == win_day["spend_usd"]


def test_unknown_costs_and_reservations_are_not_spend(ledger):
    run_job("cost-report")
    win = load_report()["windows"]["day"]
    # alice, bob, vertex-at-midnight, unknown, unattributed: 5 events; the reservation is not one
    assert win["events"] == 5 and win["unknown_cost_events"] == 1 and win["priced_events"] == 4
    vertex = next(r for r in win["by_provider"] if r["key"] == "vertex")
    assert vertex["unknown_cost_events"] == 1 and Decimal(vertex["spend_usd"]) == Decimal("0.05000001")


def test_top_users_pseudonymised_unless_admin_flag(ledger, env):
    from shared.pseudonyms import pseudonym

    run_job("cost-report")
    raw = (reports_dir() / f"cost/{DAY}/cost-report.json").read_text()
    assert ledger["alice"] not in raw and ledger["bob"] not in raw
    users = load_report()["top_users"]
    assert [u["user"] for u in users] == [pseudonym(ledger["alice"]), pseudonym(ledger["bob"])]
    assert all("user_id" not in u for u in users)
    env(cost_report_include_user_ids="true")
    run_job("cost-report")
    assert load_report()["top_users"][0]["user_id"] == ledger["alice"]
    # With a backup key, a report holding user ids is encrypted like backups; its clear twin goes.
    from pyrage import x25519

    from shared.backup_crypto import Keyring

    key = str(x25519.Identity.generate())
    env(backup_encryption_keys=key)
    code, summary = run_job("cost-report")
    base = reports_dir() / f"cost/{DAY}"
    assert f"cost/{DAY}/cost-report.json.age" in summary["written"] and not (base / "cost-report.json").exists()
    sealed = (base / "cost-report.json.age").read_bytes()
    assert ledger["alice"].encode() not in sealed
    assert json.loads(Keyring((key,)).open(sealed, "report"))["top_users"][0]["user_id"] == ledger["alice"]


def test_writes_json_csv_and_png(ledger):
    code, summary = run_job("cost-report")
    base = reports_dir() / f"cost/{DAY}"
    assert sorted(p.name for p in base.iterdir()) == ["cost-report.csv", "cost-report.json", "cost-report.png"]
    assert (base / "cost-report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(io.StringIO((base / "cost-report.csv").read_text())))
    total = next(r for r in rows if r["window"] == "month_to_date" and r["dimension"] == "total")
    assert total["spend_usd"] == load_report()["windows"]["month_to_date"]["spend_usd"]


def test_dry_run_writes_nothing(ledger):
    code, summary = run_job("cost-report", dry_run=True)
    assert code == 0 and "written" not in summary
    assert not (reports_dir() / "cost").exists()


def open_alerts() -> dict:
    from shared.database import session_scope
    from shared.models import Alert

    with session_scope() as s:
        return {a.rule: a.severity for a in s.scalars(select(Alert).where(Alert.status == "open"))}


def test_budget_breach_alerts_and_exits_1(ledger, env):
    env(daily_budget_usd="0.05", monthly_budget_usd="100")
    code, summary = run_job("cost-report")
    assert code == 1 and summary["problems"] == ["daily_budget"]
    assert open_alerts() == {"cost-report:daily-budget": "warning"}
    env(daily_budget_usd="1", monthly_budget_usd="3")  # day fine now; month at 2.43 of 3 = near
    code, summary = run_job("cost-report")
    assert code == 0 and summary["budgets"] == {"daily": "ok", "monthly": "near"}
    assert open_alerts() == {"cost-report:monthly-budget-near": "info"}


def test_anomaly_day_above_twice_trailing_mean(db, env):
    env(cost_report_day=DAY.isoformat())
    user, _ = make_user()
    rows = [usage(user, at(DAY - timedelta(days=n)), Decimal("1.00")) for n in range(1, 8)]
    rows.append(usage(user, at(DAY), Decimal("2.00")))  # exactly 2x: not an anomaly
    insert_rows(rows)
    assert run_job("cost-report")[0] == 0
    insert_rows([usage(user, at(DAY, 15), Decimal("0.01"))])  # now above 2x
    code, summary = run_job("cost-report")
    assert code == 1 and summary["problems"] == ["anomaly"]
    assert open_alerts() == {"cost-report:anomaly": "warning"}
    report = load_report()
    assert report["anomalies"][-1]["day"] == DAY.isoformat()


def test_bad_option_is_usage_error(db, env):
    env(cost_report_day="yesterday-ish")
    code, summary = run_job("cost-report")
    assert code == 2


# --- a chosen period, plain decimals, the chart ---------------------------------------------

def test_from_to_period_totals_budgets_and_path(ledger, env):
    env(daily_budget_usd="0.20")
    first, last = date(2026, 3, 10), DAY
    code, summary = run_job("cost-report", options={"date_from": first, "date_to": last})
    assert summary["from"] == "2026-03-10" and summary["to"] == "2026-03-15"
    base = reports_dir() / "cost/2026-03-10_2026-03-15"
    report = json.loads((base / "cost-report.json").read_text())
    assert report["period"] == {"from": "2026-03-10", "to": "2026-03-15", "days": 6}
    win = report["windows"]["period"]
    assert Decimal(win["spend_usd"]) == expected_spend(ledger["rows"], first, last + timedelta(days=1))
    assert [r["key"] for r in win["by_day"]] == [f"2026-03-{n}" for n in range(10, 16)]
    assert summary["spend_usd_period"] == win["spend_usd"]
    # the 15th (0.24 with the midnight vertex row) is the only day above 0.20
    assert report["budgets"]["daily"]["breach_days"] == ["2026-03-15"]
    assert code == 1 and summary["problems"] == ["daily_budget"]
    assert report["top_users_window"] == {"name": "period", "from": "2026-03-10", "to": "2026-03-15"}


def test_period_spanning_months_checks_each_month(ledger, env):
    env(monthly_budget_usd="1.00")  # February's trailing week is 1.05: over; March to date is 2.43: over
    code, summary = run_job("cost-report", options={"date_from": "2026-02-20", "date_to": "2026-03-02"})
    report = json.loads((reports_dir() / "cost/2026-02-20_2026-03-02/cost-report.json").read_text())
    months = report["budgets"]["monthly"]["months"]
    assert [m["month"] for m in months] == ["2026-02", "2026-03"]
    assert months[0]["status"] == "breach" and months[1]["status"] == "ok"
    assert report["budgets"]["monthly"]["status"] == "breach" and code == 1


def test_bad_periods_are_usage_errors(db, env):
    assert run_job("cost-report", options={"date_from": "2026-03-10", "date_to": "2026-03-01"})[0] == 2
    assert run_job("cost-report", options={"date_from": "2020-01-01", "date_to": "2026-01-01"})[0] == 2
    assert run_job("cost-report", options={"date_to": "2999-01-01"})[0] == 2
    code, summary = run_job("cost-report", options={"date_from": "March"})
    assert code == 2 and "March" in summary["error"]


def test_money_is_never_in_exponent_form(db, env):
    from jobs.cost_report.cells import money

    assert money(Decimal(0)) == "0.00000000" and money(Decimal("0E-8")) == "0.00000000"
    assert money(Decimal("1E+3")) == "1000.00000000" and money(Decimal("0.000000015")) == "0.00000002"
    env(cost_report_day=DAY.isoformat())
    code, summary = run_job("cost-report")  # an empty ledger: every figure is zero
    assert code == 0 and summary["spend_usd_day"] == "0.00000000"
    raw = (reports_dir() / f"cost/{DAY}/cost-report.json").read_text() + \
        (reports_dir() / f"cost/{DAY}/cost-report.csv").read_text()
    assert "E-" not in raw and "E+" not in raw


def _chart_of(report_path: Path, budget):
    from jobs.cost_report.chart import figure

    fig = figure(json.loads(report_path.read_text()), budget)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig


def test_chart_legend_outside_bars_trailing_window_and_budget_label(db, env, tmp_path):
    day = date(2026, 3, 3)  # an anomaly early in the month: its trailing week starts in February
    env(cost_report_day=day.isoformat(), daily_budget_usd="1.50")
    user, _ = make_user()
    insert_rows([usage(user, at(day - timedelta(days=n)), Decimal("1.00")) for n in range(1, 8)]
                + [usage(user, at(day), Decimal("3.00"))])
    code, summary = run_job("cost-report")
    assert code == 1 and summary["problems"] == ["daily_budget", "anomaly"]
    fig = _chart_of(reports_dir() / f"cost/{day}/cost-report.json", Decimal("1.50"))
    (tmp_path / "chart.png").write_bytes((reports_dir() / f"cost/{day}/cost-report.png").read_bytes())
    ax = fig.axes[0]
    legend = fig.legends[0]
    renderer = fig.canvas.get_renderer()
    assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))
    labels = [t.get_text() for t in legend.get_texts()]
    assert {"trailing 7-day window", "trailing mean", "daily budget", "before the period (trailing window)"} \
        <= set(labels) and any(t.startswith("anomaly") for t in labels)
    # the trailing week is drawn although it lies before the month shown, and shaded
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[0] == "02-24" and ticks[-1] == "03-03"
    spans = [p for p in ax.patches if abs(p.get_width() - 7) < 0.01]  # the axvspan over 7 bars
    assert len(spans) == 1
    assert [line.get_segments()[0][0][1] for line in ax.collections] == [1.0]  # the trailing mean, $1.00
    assert any(t.get_text() == "daily budget $1.50" for t in ax.texts)
    assert ax.get_ylim()[1] > 3.0


def test_chart_of_zero_spend_has_a_sensible_axis(db, env):
    env(cost_report_day=DAY.isoformat())
    run_job("cost-report")
    fig = _chart_of(reports_dir() / f"cost/{DAY}/cost-report.json", None)
    ax = fig.axes[0]
    assert ax.get_ylim() == (0.0, 1.0)
    assert any(t.get_text() == "no spend in this period" for t in ax.texts)
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "$1.00"


def test_cli_period_flags_and_no_matplotlib_noise_on_stderr(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ENVIRONMENT": "test", "AI_PROVIDERS": "mock",
           "DATABASE_URL": f"sqlite:///{tmp_path}/f.db", "REPORTS_URL": f"file://{tmp_path}/reports",
           "MPLCONFIGDIR": str(tmp_path / "mpl")}
    subprocess.run([sys.executable, "-m", "cli.main", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    done = subprocess.run([sys.executable, "-m", "jobs", "cost-report", "--from", "2026-03-01", "--to",
                           "2026-03-07"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["from"] == "2026-03-01" and summary["to"] == "2026-03-07"
    assert "matplotlib" not in done.stderr and "Warning" not in done.stderr, done.stderr
    bad = subprocess.run([sys.executable, "-m", "jobs", "cost-report", "--from", "2026-02-30"], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and json.loads(bad.stdout.splitlines()[-1])["status"] == "error"
    assert "Traceback" not in bad.stderr
