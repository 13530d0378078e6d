"""GDPR benchmarks on PostgreSQL: erasure and export of a user with 100k content items.

`python -m bench gdpr` (or `python bench/bench_gdpr.py`). Creates its own
scratch database (dropped afterwards), seeds it server-side with
`generate_series`, then measures through the real function (Flask test client
over `functions/gdpr/main.py`, auth included):

- erasure of a user with 100k items (budget 2 s), against a baseline of a
  plain `SELECT count(*)` over the same rows and an erasure of a 1k-item user;
- export of the same user: time, bytes and peak Python memory growth
  (tracemalloc), against exporting a 1k-item user (streaming: the ratio should
  stay near 1) and against building the same document in memory.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):  # `python bench/bench_gdpr.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# big: the measured person; small: the baseline person; others: rows the residue scan must read too.
FULL = {"big": int(os.environ.get("BENCH_GDPR_ITEMS", "100000")), "small": 1000, "others": 20000}
SMOKE = {"big": 200, "small": 20, "others": 50}
ERASURE_BUDGET_S = 2.0

_SEED_SQL = """
INSERT INTO content_items (id, user_id, content_type, topic, audience, language, request, content, quality,
    quality_overall, quality_passed, provider, model, prompt_version, input_tokens, output_tokens, cost_usd,
    attempts, created_at)
SELECT gen_random_uuid()::text, :uid, 'flashcards', 'Topic ' || g, 'general', 'en',
    jsonb_build_object('topic', 'Topic ' || g, 'content_type', 'flashcards'),
    jsonb_build_object('title', 'Cards ' || g, 'items', (
        SELECT jsonb_agg(jsonb_build_object('term', 'Term ' || i || ' of ' || g,
            'definition', 'A definition long enough to look like real output, number ' || i, 'difficulty', 'easy'))
        FROM generate_series(1, 10) AS i)),
    '{"overall": 0.9, "passed": true, "dimensions": {"structure": 1.0, "readability": 0.8}}'::jsonb,
    0.9, true, 'mock', 'mock-1', 'v1', 500, 1500, 0.00123400, 1, now() - (g || ' seconds')::interval
FROM generate_series(1, :n) AS g
"""
_USAGE_SQL = """
INSERT INTO usage_events (id, user_id, content_id, request_id, content_type, provider, model, attempt, kind,
    outcome, input_tokens, output_tokens, cost_usd, cost_known, created_at)
SELECT gen_random_uuid()::text, user_id, id, md5(id), content_type, provider, model, 1, 'generation', 'success',
    input_tokens, output_tokens, cost_usd, true, created_at
FROM content_items WHERE user_id = :uid
"""
_SIDE_SQL = [
    """INSERT INTO feedback (id, content_id, user_id, rating, comment, created_at)
       SELECT gen_random_uuid()::text, id, user_id, 4, 'useful', now() FROM content_items
       WHERE user_id = :uid LIMIT 1000""",
    """INSERT INTO request_metrics (created_at, function, route, method, status, latency_ms, user_id)
       SELECT now(), 'generate', '/v1/content', 'POST', 201, 12.5, :uid FROM generate_series(1, 5000)""",
    """INSERT INTO request_metrics (created_at, function, route, method, status, latency_ms, user_id)
       SELECT now(), 'health', '/livez', 'GET', 200, 1.0, NULL FROM generate_series(1, 45000)""",
]


def _setup_env(url: str) -> None:
    from shared.database import dispose_engines
    from shared.settings import get_settings

    os.environ.update({"DATABASE_URL": url, "ENVIRONMENT": "test", "AI_PROVIDERS": "mock",
                       "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789", "LOG_LEVEL": "warning"})
    os.environ.pop("REDIS_URL", None)
    get_settings.cache_clear()
    dispose_engines()


def _person(n_items: int, email: str) -> tuple[str, str]:
    from sqlalchemy import text

    from shared.database import session_scope
    from shared.identity import create_key, create_user

    with session_scope() as s:
        user = create_user(s, email)
        key = create_key(s, user.id)
        s.execute(text(_SEED_SQL), {"uid": user.id, "n": n_items})
        s.execute(text(_USAGE_SQL), {"uid": user.id})
        for sql in _SIDE_SQL:
            s.execute(text(sql), {"uid": user.id})
        return user.id, key.api_key


def _time(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _export(client, key: str, *, trace: bool) -> tuple[float, int, int]:
    """Seconds, bytes and peak traced memory growth of one streamed export, consumed chunk by chunk."""
    if trace:
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    resp = client.get("/v1/me/export", headers={"Authorization": f"Bearer {key}"}, buffered=False)
    assert resp.status_code == 200, resp.status_code
    size = 0
    for chunk in resp.response:
        size += len(chunk)
    resp.close()
    elapsed = time.perf_counter() - t0
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    return elapsed, size, peak


def _materialised_peak(user_id: str) -> int:
    """Peak memory of the naive alternative: load every row, then dump one string."""
    from sqlalchemy import select

    from functions.gdpr.export import dumps, render_content
    from shared.database import session_scope
    from shared.models import ContentItem

    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    with session_scope() as s:
        rows = s.execute(select(ContentItem.__table__).where(ContentItem.user_id == user_id)).all()
        doc = dumps({"content": [render_content(r) for r in rows]})
        del rows, doc
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


@contextmanager
def _statement_timer():
    """Database time per kind of statement while the block runs (for the erasure breakdown)."""
    from sqlalchemy import event

    from shared.database import get_engine

    engine = get_engine()
    spent = {"write": 0.0, "scan": 0.0, "other": 0.0}

    def before(conn, cursor, statement, params, context, executemany):
        conn.info["lf_t0"] = time.perf_counter()

    def after(conn, cursor, statement, params, context, executemany):
        kind = statement.lstrip().split(None, 1)[0].upper()
        key = "write" if kind in ("DELETE", "UPDATE", "INSERT") else "scan" if " LIKE " in statement else "other"
        spent[key] += time.perf_counter() - conn.info.pop("lf_t0", time.perf_counter())

    hooks = [("before_cursor_execute", before), ("after_cursor_execute", after)]
    for name, fn in hooks:
        event.listen(engine, name, fn)
    try:
        yield spent
    finally:
        for name, fn in hooks:
            event.remove(engine, name, fn)


def _erase(client, key: str) -> dict:
    resp = client.delete("/v1/me", json={"confirm": "erase my data"}, headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def run(sizes: dict[str, int] = FULL) -> None:
    big_n, small_n, others_n = sizes["big"], sizes["small"], sizes["others"]
    from sqlalchemy import text

    from shared import migrations
    from shared.database import dispose_engines, session_scope
    from tests.conftest import create_pg_database, drop_pg_database, function_client

    url = create_pg_database("lf_bench_gdpr")
    try:
        _setup_env(url)
        migrations.upgrade(url)
        t0 = time.perf_counter()
        big_id, big_key = _person(big_n, "big@example.org")
        small_id, small_key = _person(small_n, "small@example.org")
        _person(others_n, "other@example.org")
        with session_scope() as s:
            s.execute(text("ANALYZE"))
            shared_buffers = s.execute(text("SHOW shared_buffers")).scalar()
        print(f"seeded {big_n:,} + {small_n:,} + {others_n:,} content items (and as many usage rows) "
              f"in {time.perf_counter() - t0:.1f} s")
        client = function_client("gdpr")

        # export: time without tracing, memory with tracing
        big_s, big_bytes, _ = _export(client, big_key, trace=False)
        small_s, small_bytes, _ = _export(client, small_key, trace=False)
        _, _, big_peak = _export(client, big_key, trace=True)
        _, _, small_peak = _export(client, small_key, trace=True)
        naive_peak = _materialised_peak(big_id)
        mib = 1024 * 1024
        print(f"export {big_n:,} items: {big_s:.2f} s, {big_bytes / mib:.1f} MiB, "
              f"{big_n / big_s:,.0f} items/s, peak Python memory growth {big_peak / mib:.1f} MiB")
        print(f"export {small_n:,} items (baseline): {small_s:.3f} s, {small_bytes / mib:.2f} MiB, "
              f"peak growth {small_peak / mib:.1f} MiB")
        print(f"  memory ratio {big_n:,} vs {small_n:,} items: {big_peak / small_peak:.2f}x "
              f"for {big_bytes / small_bytes:.0f}x the data (bounded: streaming)")
        print(f"  building the {big_n:,}-item content list in memory instead: peak {naive_peak / mib:.1f} MiB "
              f"= {naive_peak / big_peak:.0f}x the streamed export")

        # erasure, against reading the same rows once
        def count_rows():
            with session_scope() as s:
                s.execute(text("SELECT count(*), sum(length(content::text)) FROM content_items WHERE user_id = :u"),
                          {"u": big_id}).one()

        count_s = _time(count_rows, 3)
        small_erase_s = _time(lambda: _erase(client, small_key))
        receipt = {}

        def wal_lsn() -> int:
            with session_scope() as s:
                return int(s.execute(text("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")).scalar())

        wal0 = wal_lsn()
        with _statement_timer() as spent:
            big_erase_s = _time(lambda: receipt.update(_erase(client, big_key)))
        with session_scope() as s:
            left = s.execute(text("SELECT count(*) FROM content_items WHERE user_id = :u"), {"u": big_id}).scalar()
            usage = s.execute(text("SELECT count(*) FROM usage_events WHERE user_id IS NULL")).scalar()
        verdict = "within" if big_erase_s <= ERASURE_BUDGET_S else "OVER"
        print(f"erasure of {big_n:,} items: {big_erase_s:.2f} s ({verdict} the {ERASURE_BUDGET_S:.0f} s budget), "
              f"verified={receipt['verified']}, deleted={receipt['deleted']}")
        wal_mib = (wal_lsn() - wal0) / 1024 / 1024
        rest = big_erase_s - sum(spent.values())
        print(f"  of which: deletes/updates {spent['write']:.2f} s, residue scan {spent['scan']:.2f} s, "
              f"other statements {spent['other']:.2f} s, commit + Python + HTTP {rest:.2f} s; "
              f"{wal_mib:.0f} MiB of WAL (shared_buffers {shared_buffers})")
        print(f"  baseline SELECT count(*) + size over the same rows: {count_s:.3f} s "
              f"-> erasure/read ratio {big_erase_s / count_s:.1f}x")
        print(f"  erasure of {small_n:,} items: {small_erase_s:.2f} s (the residue scan of every table dominates: "
              f"ratio {big_erase_s / small_erase_s:.1f}x for {big_n // small_n}x the rows)")
        print(f"  rows left for the user: {left}; anonymised usage rows kept: {usage:,}")

        from shared.erasure import Identifiers, find_residue

        probe = Identifiers(user_id="00000000-0000-4000-8000-000000000000", email="nobody@example.org",
                            key_ids=("00000000-0000-4000-8000-000000000001",), key_prefixes=("0123456789ab",))

        def scan():
            with session_scope() as s:
                assert find_residue(s, probe) == []

        print(f"  residue scan alone over the {others_n:,} remaining items and every other table: "
              f"{_time(scan, 3):.3f} s")
    finally:
        dispose_engines()
        drop_pg_database(url)


if __name__ == "__main__":
    run()
