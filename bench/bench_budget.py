"""Cost of the budget caps on a provider call's ledger work, alone and with many callers at once.

Per call, what the generate pipeline does around one provider call: with a cap
configured, `budget.reserve` (worst case added to the period totals, the
reservation row inserted) and the settlement (`ledger.write` with the
reservation id: the row becomes the attempt, the totals move by the
difference); the baseline is the same attempt's row written with no cap
configured (one insert), measured in the same run on a scratch PostgreSQL
database. Then 8 threads, each its own connection and its own user, calling at
once: with per-user caps only they share no row, with the global caps they
all update the day and month rows. The month's ledger is seeded first with
`ledger_rows` earlier attempts (a busy month), spread over the month so far:
what a check that sums the ledger would read on every call.
"""

from __future__ import annotations

import os
import threading
import time
from decimal import Decimal

from bench.common import latencies, row, scratch_postgres, summary

FULL = {"calls": 300, "threads": 8, "per_thread": 100, "ledger_rows": 200_000}
SMOKE = {"calls": 3, "threads": 2, "per_thread": 2, "ledger_rows": 50}
CAPS = {"USER_DAILY_BUDGET_USD": "1000000", "DAILY_BUDGET_USD": "100000000", "MONTHLY_BUDGET_USD": "1000000000"}
_KNOBS = ("DATABASE_URL", "ENVIRONMENT", "DB_POOL_SIZE", *CAPS)


def _settings(**env: str | None) -> None:
    from shared.database import dispose_engines
    from shared.settings import get_settings

    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()
    dispose_engines()


def _call(user_id: str) -> None:
    """One provider call's ledger work: reserve (when capped), then the attempt's row."""
    from functions.generate import budget, ledger
    from shared.database import session_scope
    from shared.settings import get_settings

    reservation = budget.reserve(get_settings(), user_id=user_id, provider="openai", model="gpt-4o-mini",
                                 input_tokens=3000, max_output_tokens=4096, attempt=1)
    event = ledger.usage_event(user_id=user_id, provider="openai", model="gpt-4o-mini", kind="generation",
                               outcome="success", input_tokens=1000, output_tokens=800, attempt=1,
                               latency_ms=1.0)
    with session_scope() as session:
        ledger.write(session, event, reservation)


def _seed_ledger(rows: int) -> None:
    """`rows` priced attempts spread over this month so far, in one statement."""
    from sqlalchemy import text

    from shared.database import session_scope

    with session_scope() as s:
        s.execute(text(
            "INSERT INTO usage_events (id, provider, model, attempt, kind, outcome, input_tokens, output_tokens, "
            "cost_usd, cost_known, created_at) "
            "SELECT gen_random_uuid()::text, 'openai', 'gpt-4o-mini', 1, 'generation', 'success', 1000, 800, "
            "0.00063, true, date_trunc('month', now()) + (now() - date_trunc('month', now())) * random() "
            "FROM generate_series(1, :n)"), {"n": rows})
        s.execute(text("ANALYZE usage_events"))


def _concurrent(users: list[str], per_thread: int) -> float:
    """Calls per second with one thread per user, all at once."""
    start = threading.Barrier(len(users) + 1)

    def work(uid: str) -> None:
        start.wait()
        for _ in range(per_thread):
            _call(uid)

    workers = [threading.Thread(target=work, args=(u,)) for u in users]
    for w in workers:
        w.start()
    start.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    return len(users) * per_thread / (time.perf_counter() - t0)


def _spend_matches_ledger() -> bool:
    from sqlalchemy import func, select

    from shared.database import session_scope
    from shared.models import SpendTotal, UsageEvent

    with session_scope() as s:
        ledger_total = s.scalar(select(func.sum(UsageEvent.cost_usd)).where(UsageEvent.kind != "reservation"))
        month = s.scalar(select(SpendTotal.total_usd).where(SpendTotal.bucket.startswith("month:")))
    return month is not None and Decimal(month) == Decimal(ledger_total)


def run(sizes: dict[str, int] = FULL) -> None:
    from tests.conftest import make_user

    n, threads = sizes["calls"], sizes["threads"]
    saved = {k: os.environ.get(k) for k in _KNOBS}
    with scratch_postgres("lf_bench_budget") as url:
        _settings(DATABASE_URL=url, ENVIRONMENT="test", DB_POOL_SIZE=str(threads + 2),
                  **dict.fromkeys(CAPS))
        users = [make_user("user", f"bench-budget-{i}@example.org")[0] for i in range(threads)]
        _seed_ledger(sizes["ledger_rows"])
        try:
            # Caps are only ever switched on from here: totals kept while capped stay true to the ledger.
            per_thread = sizes["per_thread"]
            base = summary(latencies(lambda: _call(users[0]), n))
            base_rate = _concurrent(users, per_thread)
            _settings(USER_DAILY_BUDGET_USD=CAPS["USER_DAILY_BUDGET_USD"])
            user_cap = summary(latencies(lambda: _call(users[0]), n))
            user_rate = _concurrent(users, per_thread)
            _settings(**CAPS)
            all_caps = summary(latencies(lambda: _call(users[0]), n))
            all_rate = _concurrent(users, per_thread)
            print(f"  one provider call's ledger work, PostgreSQL, {n} sequential calls, "
                  f"{sizes['ledger_rows']:,} ledger rows this month")
            for label, s in (("no cap: the attempt's row (baseline)", base), ("user cap: reserve + settle", user_cap),
                             ("user, daily and monthly caps", all_caps)):
                row(f"{label} p50", s["p50"], "ms", base["p50"])
                row(f"{label} p95", s["p95"], "ms", base["p95"])
            print(f"  {threads} threads at once, one user each, {per_thread} calls each")
            row("no cap calls/s (baseline)", base_rate, "/s", base_rate)
            row("user caps only (no shared row) calls/s", user_rate, "/s", base_rate)
            row("global caps too (shared day/month rows) calls/s", all_rate, "/s", base_rate)
            print(f"  month total equals the ledger's sum after the concurrent runs: {_spend_matches_ledger()}")
        finally:
            _settings(**saved)
