"""Budget caps on running totals: one row update per check, exact under concurrency, true to the ledger."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest

MODEL = ("anthropic", "claude-sonnet-4-5")


def _reserve(user_id: str, input_tokens: int = 3000, now=None):
    from functions.generate import budget
    from shared.settings import get_settings

    return budget.reserve(get_settings(), user_id=user_id, provider=MODEL[0], model=MODEL[1],
                          input_tokens=input_tokens, max_output_tokens=4096, now=now, attempt=1)


def _totals() -> dict[str, Decimal]:
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import SpendTotal

    with session_scope() as s:
        return {b: Decimal(t) for b, t in s.execute(select(SpendTotal.bucket, SpendTotal.total_usd))}


def _ledger_spend(user_id: str | None = None) -> Decimal:
    """Spend read straight off the ledger rows, the way the cost report reads it."""
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import UsageEvent

    total = Decimal(0)
    with session_scope() as s:
        for e in s.scalars(select(UsageEvent)):
            if user_id and e.user_id != user_id or e.outcome == "released":
                continue
            known = e.outcome != "reserved" and e.cost_known and e.cost_usd is not None
            total += Decimal(e.cost_usd) if known else Decimal(e.reserved_usd or 0)
    return total


def _write(user_id: str, reservation_id: str | None = None, **fields):
    from functions.generate.ledger import usage_event, write
    from shared.database import session_scope

    row = {"provider": MODEL[0], "model": MODEL[1], "kind": "generation", "outcome": "success",
           "input_tokens": 1000, "output_tokens": 500, "attempt": 1} | fields
    with session_scope() as s:
        write(s, usage_event(user_id=user_id, **row), reservation_id)


def _statements(engine, sink: list[str]):
    from sqlalchemy import event

    def before(conn, cursor, statement, *args):
        sink.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    return lambda: event.remove(engine, "before_cursor_execute", before)


def test_a_check_is_one_row_update_no_ledger_sum_no_lock(db, users, env):
    from shared.database import get_engine

    env(USER_DAILY_BUDGET_USD="10", DAILY_BUDGET_USD="100", MONTHLY_BUDGET_USD="1000")
    uid, _ = users()
    _reserve(uid)  # the period's buckets are created from the ledger once
    seen: list[str] = []
    stop = _statements(get_engine(), seen)
    try:
        _reserve(uid)
    finally:
        stop()
    text = " ".join(seen).lower()
    assert "sum(" not in text and "advisory" not in text
    assert sum(s.lower().lstrip().startswith("update spend_totals") for s in seen) == 1
    totals = _totals()
    assert len(totals) == 3 and len(set(totals.values())) == 1  # user-day, day and month moved together


def test_totals_stay_equal_to_the_ledger_through_settlements(db, users, env):
    """Reserve, settle (known cost, unknown cost, failed call), plain rows, other users: totals == ledger."""
    env(USER_DAILY_BUDGET_USD="10", DAILY_BUDGET_USD="100", MONTHLY_BUDGET_USD="1000")
    a, _ = users()
    b, _ = users()
    known = _reserve(a)
    unknown = _reserve(a)
    failed = _reserve(b)
    _write(a, known)  # settled at its real cost, far below the worst case
    _write(a, unknown, input_tokens=None, output_tokens=None)  # cost unknown: counts at its worst case
    _write(b, failed, outcome="error", input_tokens=None, output_tokens=None)
    _write(b, None, kind="judge")  # a row without reservation counts too
    live = _reserve(b)  # still in flight
    assert live
    totals = _totals()
    day = next(k for k in totals if k.startswith("day:"))
    month = next(k for k in totals if k.startswith("month:"))
    assert totals[day] == totals[month] == _ledger_spend() > 0
    for uid in (a, b):
        [bucket] = [k for k in totals if k.startswith(f"user-day:{uid}:")]
        assert totals[bucket] == _ledger_spend(uid)


def test_caps_switched_on_mid_period_count_what_was_spent_before(db, users, client_for, env):
    """Spend from before the cap existed is read off the ledger when the bucket is created."""
    uid, _ = users()
    _write(uid, None, input_tokens=1_000_000, output_tokens=100_000)  # $4.50 with no cap configured
    assert _totals() == {}
    env(USER_DAILY_BUDGET_USD="4.55")
    from functions.generate.errors import BudgetExhausted

    with pytest.raises(BudgetExhausted):
        _reserve(uid)
    assert _totals() == {}  # the refusal rolled back the bucket with the reservation


def test_a_crashed_instances_reservations_stop_counting_within_a_minute_or_so(db, users, env):
    """kill -9 with calls in flight leaves live-looking reservations: they hold the cap, refusals say so
    with Retry-After in seconds (never "until midnight"), and once older than one call (the provider
    timeout) plus a margin they are released and the person's next call goes through."""
    from sqlalchemy import select

    from functions.generate import budget
    from functions.generate.errors import BudgetExhausted, to_problem
    from shared.database import session_scope
    from shared.models import UsageEvent, utcnow
    from shared.settings import get_settings

    worst = budget.worst_case_usd(*MODEL, 3000, 4096)
    env(USER_DAILY_BUDGET_USD=str(worst * 3 + worst / 2))
    settings = get_settings()
    assert budget.stale_after(settings) == timedelta(seconds=settings.provider_timeout_seconds + 15) \
        <= timedelta(seconds=75)
    uid, _ = users()
    crashed_at = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)  # mid-day: no reset near
    orphans = [_reserve(uid, now=crashed_at) for _ in range(3)]  # in flight when the instance died
    with pytest.raises(BudgetExhausted) as refused:
        _reserve(uid, now=crashed_at + timedelta(seconds=10))
    assert (refused.value.scope, refused.value.reason) == ("user", "budget_in_flight")
    problem = to_problem(refused.value)
    retry_after = int(problem.headers["Retry-After"])
    assert problem.status == 429 and 1 <= retry_after <= 60
    assert "in flight" in problem.detail and "midnight" not in problem.detail
    later = crashed_at + budget.stale_after(settings) + timedelta(seconds=1)
    fresh = _reserve(uid, now=later)  # the orphans are released, so this one fits
    with session_scope() as s:
        outcomes = dict(s.execute(select(UsageEvent.id, UsageEvent.outcome)).all())
    assert outcomes == {**dict.fromkeys(orphans, "released"), fresh: "reserved"}
    assert sum(_totals().values()) == worst == _ledger_spend(uid)
    _write(uid, orphans[0])  # a slow call settles after all: its real cost counts again
    assert sum(_totals().values()) == _ledger_spend(uid) > worst


def test_a_cap_really_spent_says_so_until_its_period_resets(db, users, env):
    from functions.generate import budget
    from functions.generate.errors import BudgetExhausted, to_problem
    from shared.models import utcnow

    worst = budget.worst_case_usd(*MODEL, 3000, 4096)
    env(USER_DAILY_BUDGET_USD=str(worst + worst / 2))
    uid, _ = users()
    noon = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    _write(uid, _reserve(uid, now=noon), input_tokens=3000, output_tokens=4096)  # settled at its worst case
    with pytest.raises(BudgetExhausted) as refused:
        _reserve(uid, now=noon + timedelta(seconds=5))
    assert (refused.value.scope, refused.value.reason) == ("user", "budget_spent")
    problem = to_problem(refused.value)
    assert problem.status == 429 and "midnight" in problem.detail
    assert int(problem.headers["Retry-After"]) > 11 * 3600


def test_users_under_their_own_caps_never_wait_on_each_other(pg, env):
    """With per-user caps only, one user's open reservation does not hold up another's (no global lock)."""
    from functions.generate import spend_totals
    from shared.database import session_scope
    from shared.models import utcnow
    from tests.conftest import make_user

    env(USER_DAILY_BUDGET_USD="10")
    a, _ = make_user()
    b, _ = make_user()
    _reserve(a)
    _reserve(b)  # both buckets exist
    holding, release = threading.Event(), threading.Event()

    def hold_a():
        with session_scope() as s:
            spend_totals.add(s, spend_totals.buckets(utcnow(), a)[2:], Decimal("0.01"))
            holding.set()
            release.wait(10)

    t = threading.Thread(target=hold_a)
    t.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        _reserve(b)
        waited = time.monotonic() - started
    finally:
        release.set()
        t.join()
    assert waited < 2  # the held transaction stays open for up to 10 s: b did not queue behind it


def test_erasure_drops_the_persons_buckets_only(db, users, env):
    from shared.database import session_scope
    from shared.erasure.rows import erase_rows
    from shared.erasure.subjects import identifiers

    env(USER_DAILY_BUDGET_USD="10", DAILY_BUDGET_USD="100")
    uid, _ = users()
    other, _ = users()
    _reserve(uid)
    _reserve(other)
    with session_scope() as s:
        counts = erase_rows(s, identifiers(s, uid))
    assert counts.deleted["spend_totals"] == 1
    keys = set(_totals())
    assert not any(uid in k for k in keys)
    assert any(other in k for k in keys) and any(k.startswith("day:") for k in keys)


def test_concurrent_reserve_and_settle_on_shared_buckets_never_deadlock(db, env):
    """Users racing reservations and settlements over the same day and month rows: no deadlock, totals exact.

    Each statement locks its buckets in key order; an unordered `UPDATE … WHERE bucket IN (…)` deadlocked here."""
    from tests.conftest import make_user

    env(USER_DAILY_BUDGET_USD="1000", DAILY_BUDGET_USD="10000", MONTHLY_BUDGET_USD="100000", DB_POOL_SIZE="8")
    uids = [make_user()[0] for _ in range(6)]
    errors: list[str] = []

    def work(uid: str) -> None:
        try:
            for _ in range(15):
                _write(uid, _reserve(uid))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{type(exc).__name__}: {exc}"[:200])

    threads = [threading.Thread(target=work, args=(u,)) for u in uids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    totals = _totals()
    assert totals[next(k for k in totals if k.startswith("month:"))] == _ledger_spend()
