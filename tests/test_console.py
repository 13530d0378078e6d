"""The ops console in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium).

A real health function process serves the page and the API over a seeded
PostgreSQL database. The test signs in with an ops key, checks that every panel
is filled from the database, acknowledges an alert with the button, and sees a
user key refused. Screenshots go to the test's tmp dir. Any console error
(a CSP violation included) fails the test.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from shared.job_schedule import JOBS
from shared.database import session_scope
from shared.models import Alert, ContentItem, InstanceSample, JobRun, RequestMetric, UsageEvent
from tests.conftest import make_user

CHROMIUM = "/usr/bin/chromium"
# The flags this machine needs (docs: no network but the registries, running as root).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def browser(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make test installs Debian's chromium (tests/system.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def seed(tmp_path: Path) -> dict:
    uid, _ = make_user()
    t = now() - timedelta(minutes=10)
    with session_scope() as s:
        s.execute(RequestMetric.__table__.insert(), [
            {"function": fn, "route": route, "method": "GET", "status": status, "latency_ms": lat, "created_at": t}
            for fn, route, status, lat, n in (("generate", "/v1/content", 200, 45.0, 30), ("gdpr", "/v1/me/export", 200, 80.0, 6),
                                                ("generate", "/v1/content", 503, 900.0, 2))
            for _ in range(n)])
        for days_ago, provider, model, usd in ((0, "openai", "gpt-4o-mini", "0.42"), (1, "openai", "gpt-4o-mini", "0.30"),
                                               (1, "anthropic", "claude-sonnet-4-5", "1.10"), (5, "vertex", "gemini-2.5-flash", "0.05")):
            s.add(UsageEvent(provider=provider, model=model, outcome="success", input_tokens=100, output_tokens=200,
                             cost_usd=Decimal(usd), created_at=now() - timedelta(days=days_ago, minutes=5)))
        scores = [0.4, 0.6, 0.75, 0.8, 0.9, 0.92]
        s.add_all([ContentItem(user_id=uid, content_type="flashcards", topic="t", audience="general", content={},
                               quality={}, quality_overall=q, quality_passed=q >= 0.7, provider="mock", model="m",
                               prompt_version="v1", created_at=t) for q in scores])
        crit = Alert(rule="error-rate:critical", severity="critical", message="High 5xx error rate: 5.3% of 38 requests",
                     opened_at=now() - timedelta(minutes=7), notified_at=now() - timedelta(minutes=7))
        warn = Alert(rule="quality:warning", severity="warning", message="Low content quality: mean score 0.690",
                     opened_at=now() - timedelta(minutes=30))
        s.add_all([crit, warn, Alert(rule="old", severity="warning", message="gone", status="resolved",
                                     resolved_at=now())])
        backup_id = (now() - timedelta(hours=2)).strftime("%Y%m%dT%H%M%SZ")
        for job in JOBS:
            summary = {"backup_id": backup_id, "size": 48_213, "rows": 1234} if job == "backup" else {}
            s.add(JobRun(job=job, status="ok", exit_code=0, started_at=now() - timedelta(minutes=3),
                         finished_at=now() - timedelta(minutes=2), summary=summary))
        s.add(InstanceSample(at=now() - timedelta(minutes=1), instance="host-a:42", function="generate",
                             rss_bytes=150 * 1024 * 1024, threads=12, in_flight=3, pool_size=5, pool_checked_out=2,
                             pool_checkouts=900, pool_waits=4, pool_timeouts=0))
        s.flush()
        ids = {"critical": crit.id, "warning": warn.id}
    folder = tmp_path / "backups" / backup_id
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"created_at": (now() - timedelta(hours=2)).isoformat()}))
    return {"alerts": ids, "backup_id": backup_id}


def test_console_in_chromium(pg, function_server, browser, tmp_path):
    seeded = seed(tmp_path)
    ops_id, ops_key = make_user("ops")
    _, user_key = make_user("user")
    server = function_server("health", env={"DATABASE_URL": pg.url, "METRICS_ENABLED": "false"})

    context = browser.new_context(viewport={"width": 1320, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    problems: list[str] = []
    # /health answers 503 while a critical alert is open (the console shows it): Chromium logs that
    # response; every other console error, CSP violations included, is a failure.
    expected = "the server responded with a status of 503"
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and expected not in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    resp = page.goto(server.url + "/console")
    assert resp.status == 200
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    page.screenshot(path=str(tmp_path / "console-login.png"))

    page.fill("#key", ops_key)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("body[data-loaded=true]", timeout=20_000)

    # Health checks
    assert page.inner_text("#health-status").lower() == "fail"  # an open critical alert fails /health
    assert page.locator("#health-checks li").count() >= 7
    assert page.locator("#health-checks li[data-status=fail]").count() >= 1
    # Metrics for the window, and the per-function table
    assert page.inner_text("#kpi-requests") == "38"
    assert page.inner_text("#kpi-generations") == "6"
    assert page.locator("#functions-body tr[data-function=generate]").count() == 1
    assert "6.3%" in page.inner_text("#functions-body tr[data-function=generate]")
    # Spend by day and provider: bars per (day, provider), a legend with every provider
    bars = page.locator("#spend-chart rect.spend-bar")
    assert bars.count() == 4
    assert sorted(page.eval_on_selector_all("#spend-chart rect.spend-bar", "els => els.map(e => e.dataset.provider)")) == \
        ["anthropic", "openai", "openai", "vertex"]
    legend = page.inner_text("#spend-legend")
    assert "anthropic $1.10" in legend and "openai $0.72" in legend and "total $1.87" in legend
    # Quality histogram
    counts = page.eval_on_selector_all("#quality-chart rect", "els => els.map(e => [e.dataset.band, +e.dataset.count])")
    assert counts == [["0.0-0.5", 1], ["0.5-0.7", 1], ["0.7-0.85", 2], ["0.85-1.0", 2]]
    # Jobs and the newest backup with its verification
    assert page.locator("#jobs-body tr").count() == len(JOBS)
    assert page.inner_text("#backup-newest") == seeded["backup_id"]
    assert page.inner_text("#backup-verified").lower() == "ok"
    # Database and instance resources, cost per user and the projection
    facts = page.inner_text("#database-facts")
    assert "Connections" in facts and "Size" in facts and "Long transactions" in facts
    assert page.locator("#database-queries tr").count() >= 1
    row = page.inner_text("#instances-body tr[data-instance='host-a:42']")
    assert "generate" in row and "150.0 MiB" in row and "2 / 5" in row
    assert page.inner_text("#spend-projection").startswith("at this rate")
    assert "Cost per active user" in page.inner_text("#spend-per-user")
    # Open alerts, newest first, each with an Acknowledge button
    assert page.eval_on_selector_all("#alerts-list li", "els => els.map(e => e.dataset.rule)") == \
        ["error-rate:critical", "quality:warning"]
    page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
    # Every panel filled, on a 375 px phone: the page itself never scrolls sideways.
    page.set_viewport_size({"width": 375, "height": 812})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(tmp_path / "console-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1320, "height": 900})

    crit = seeded["alerts"]["critical"]
    page.click(f"#alerts-list button[data-alert='{crit}']")
    page.wait_for_selector(f"#alerts-list li[data-id='{crit}'] .acked", timeout=10_000)
    assert page.locator("#alerts-list button.ack").count() == 1  # the warning still has its button
    with session_scope() as s:
        alert = s.get(Alert, crit)
        assert alert.acknowledged_at is not None and alert.acknowledged_by == ops_id and alert.status == "open"
    page.screenshot(path=str(tmp_path / "console-acknowledged.png"), full_page=True)

    # The key: in sessionStorage only, never in the URL, a cookie or localStorage.
    assert page.evaluate("sessionStorage.getItem('lafactoria.opsKey')") == ops_key
    assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""
    assert ops_key not in page.url
    page.click("#logout")
    assert page.evaluate("sessionStorage.getItem('lafactoria.opsKey')") is None
    assert page.is_visible("#login")
    assert problems == []

    # A user key is refused and not kept.
    other = browser.new_context().new_page()
    other.goto(server.url + "/console")
    other.fill("#key", user_key)
    other.click("#login-form button[type=submit]")
    other.wait_for_selector("#login-error:not([hidden])", timeout=10_000)
    assert "ops or admin" in other.inner_text("#login-error")
    assert other.evaluate("sessionStorage.getItem('lafactoria.opsKey')") is None
    assert other.is_hidden("#dashboard")
    other.screenshot(path=str(tmp_path / "console-refused.png"))
    print("screenshots:", tmp_path)
    for name in ("console-login.png", "console.png", "console-phone.png", "console-acknowledged.png",
                 "console-refused.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_console_assets_and_headers(db, client_for):
    client = client_for("health")
    page = client.get("/console")
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    assert "<script" in page.get_data(as_text=True) and "<script>" not in page.get_data(as_text=True)
    assert page.headers["X-Frame-Options"] == "DENY"
    js = client.get("/console/console.js")
    assert js.status_code == 200 and js.content_type.startswith("text/javascript")
    again = client.get("/console/console.js", headers={"If-None-Match": js.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/console/index.html").status_code == 404
    assert client.get("/console/../main.py").status_code == 404
    assert client.get("/console/secrets.txt").status_code == 404


def test_spend_by_day_and_provider(db, client_for):
    from tests.conftest import auth

    _, ops_key = make_user("ops")
    _, user_key = make_user("user")
    today = now().replace(hour=12, minute=0, second=0, microsecond=0)
    with session_scope() as s:
        for days_ago, provider, usd, kind in ((0, "openai", "0.25", "generation"), (0, "openai", "0.5", "repair"),
                                              (2, "anthropic", "2", "generation"), (0, "openai", "9", "reservation"),
                                              (20, "openai", "7", "generation")):
            s.add(UsageEvent(provider=provider, model="m", outcome="success", kind=kind, cost_usd=Decimal(usd),
                             created_at=today - timedelta(days=days_ago)))
        s.add(UsageEvent(provider="vertex", model="m", outcome="success", cost_usd=None, cost_known=False,
                         created_at=today))
    client = client_for("health")
    body = client.get("/v1/spend?days=3", headers=auth(ops_key)).get_json()
    assert body["currency"] == "USD" and body["providers"] == ["anthropic", "openai"]
    assert [d["date"] for d in body["days"]] == [(today - timedelta(days=i)).date().isoformat() for i in (2, 1, 0)]
    assert body["days"][0] == {"date": body["from"], "total": 2.0, "providers": {"anthropic": 2.0},
                               "active_users": 0, "cost_per_active_user": None}  # the ledger rows have no user
    assert body["days"][1]["total"] == 0 and body["days"][1]["providers"] == {}
    assert body["days"][2]["providers"] == {"openai": 0.75}  # reservations and unknown costs excluded
    assert len(client.get("/v1/spend", headers=auth(ops_key)).get_json()["days"]) == 14
    assert client.get("/v1/spend?days=0", headers=auth(ops_key)).status_code == 422
    assert client.get("/v1/spend?days=93", headers=auth(ops_key)).status_code == 422
    assert client.get("/v1/spend", headers=auth(user_key)).status_code == 403
