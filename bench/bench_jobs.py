"""Jobs benchmarks on PostgreSQL (own scratch databases).

- retention-expiry over 1M expired rows (target <= 60 s), longest transaction
  reported; baseline: bare COUNT(*) of the same expired rows.
- cost-report over 5M usage rows (target <= 5 s); baseline: one bare
  COUNT(*), SUM(cost_usd) scan of the same rows.

Rows are seeded with INSERT ... SELECT generate_series, then VACUUM ANALYZE,
so the timings measure the job, not cold hint bits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, row, scratch_postgres

RETENTION_SEED = """
INSERT INTO users (id, email, role, created_at, updated_at)
  SELECT 'u' || lpad(g::text, 35, '0'), 'bench' || g || '@example.org', 'user', now(), now()
  FROM generate_series(1, {users}) g;
INSERT INTO request_metrics (created_at, function, route, method, status, latency_ms)
  SELECT now() - interval '31 days' - (g % 1000) * interval '1 minute', 'generate', '/v1/content', 'POST', 201, 12.5
  FROM generate_series(1, {metrics}) g;
INSERT INTO usage_events (id, user_id, provider, model, attempt, kind, outcome, cost_usd, cost_known, created_at)
  SELECT gen_random_uuid()::text, 'u' || lpad((g % {users} + 1)::text, 35, '0'), 'openai', 'gpt-4o-mini', 1,
         'generation', 'success', 0.001, true, now() - interval '500 days' - (g % 1000) * interval '1 minute'
  FROM generate_series(1, {usage_old}) g;
INSERT INTO usage_events (id, user_id, provider, model, attempt, kind, outcome, cost_usd, cost_known, created_at)
  SELECT gen_random_uuid()::text, 'u' || lpad((g % {users} + 1)::text, 35, '0'), 'openai', 'gpt-4o-mini', 1,
         'generation', 'success', 0.001, true, now() - interval '200 days' - (g % 1000) * interval '1 minute'
  FROM generate_series(1, {usage_mid}) g;
INSERT INTO usage_events (id, user_id, provider, model, attempt, kind, outcome, cost_usd, cost_known, created_at)
  SELECT gen_random_uuid()::text, 'u' || lpad((g % {users} + 1)::text, 35, '0'), 'openai', 'gpt-4o-mini', 1,
         'generation', 'success', 0.001, true, now() - (g % 1000) * interval '1 minute'
  FROM generate_series(1, {usage_live}) g;
INSERT INTO content_items (id, user_id, content_type, topic, audience, language, request, content, quality,
                           quality_overall, quality_passed, provider, model, prompt_version, attempts, created_at)
  SELECT gen_random_uuid()::text, 'u' || lpad((g % {users} + 1)::text, 35, '0'), 'flashcards', 'Topic ' || g,
         'general', 'en', '{{}}', '{{"title": "x"}}', '{{}}', 0.9, true, 'mock', 'mock-1', 'v1', 1,
         now() - interval '400 days' - (g % 1000) * interval '1 minute'
  FROM generate_series(1, {content}) g;
INSERT INTO audit_log (id, created_at, action, actor, count, details)
  SELECT gen_random_uuid()::text, now() - interval '2200 days' - (g % 1000) * interval '1 minute', 'auth.failure',
         'system', 1, '{{}}'
  FROM generate_series(1, {audit}) g;
"""
RETENTION_BASELINE = """
SELECT (SELECT count(*) FROM request_metrics WHERE created_at < now() - interval '30 days')
     + (SELECT count(*) FROM usage_events WHERE created_at < now() - interval '400 days')
     + (SELECT count(*) FROM usage_events WHERE created_at >= now() - interval '400 days'
                                            AND created_at < now() - interval '90 days' AND user_id IS NOT NULL)
     + (SELECT count(*) FROM content_items WHERE created_at < now() - interval '365 days')
     + (SELECT count(*) FROM audit_log WHERE created_at < now() - interval '2190 days')
"""

# Row counts of the retention seed (1M expired rows), scaled by `retention_per_mille`.
RETENTION_ROWS = {"users": 1000, "metrics": 400_000, "usage_old": 300_000, "usage_mid": 100_000,
                  "usage_live": 200_000, "content": 100_000, "audit": 100_000}
FULL = {"retention_per_mille": 1000, "cost_rows": 5_000_000, "cost_runs": 3}  # per mille of RETENTION_ROWS
SMOKE = {"retention_per_mille": 1, "cost_rows": 5_000, "cost_runs": 1}

COST_SEED = """
INSERT INTO users (id, email, role, created_at, updated_at)
  SELECT 'u' || lpad(g::text, 35, '0'), 'bench' || g || '@example.org', 'user', now(), now()
  FROM generate_series(1, 2000) g;
INSERT INTO usage_events (id, user_id, content_type, provider, model, attempt, kind, outcome, cost_usd,
                          cost_known, created_at)
  SELECT gen_random_uuid()::text, 'u' || lpad((g % 2000 + 1)::text, 35, '0'),
         (ARRAY['flashcards','study_guide','podcast_script','faq_collection','one_pager_summary',
                'master_content_outline','detailed_reading_material','reading_guide_questions'])[g % 8 + 1],
         (ARRAY['openai','anthropic','vertex'])[g % 3 + 1],
         (ARRAY['gpt-4o-mini','claude-sonnet-4-5','gemini-2.5-flash','gpt-4o','claude-haiku'])[g % 5 + 1],
         1, CASE WHEN g % 50 = 0 THEN 'reservation' ELSE 'generation' END, 'success',
         CASE WHEN g % 97 = 0 THEN NULL ELSE round((g % 1000) / 100000.0, 8) END, g % 97 <> 0,
         timestamptz '2026-02-22 00:00:00+00' + (g % 3369600) * interval '1 second'
  FROM generate_series(1, {n}) g;
"""
COST_BASELINE = """
SELECT count(*), sum(cost_usd) FROM usage_events
WHERE kind <> 'reservation' AND created_at >= '2026-02-22' AND created_at < '2026-04-01'
"""


def _use_database(url: str, **env: str) -> None:
    from shared.database import dispose_engines
    from shared.settings import get_settings

    os.environ["DATABASE_URL"] = url
    os.environ.update(env)
    get_settings.cache_clear()
    dispose_engines()


def _seed(url: str, sql: str) -> float:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    t0 = time.perf_counter()
    with engine.connect() as conn:
        for statement in filter(str.strip, sql.split(";")):
            conn.execute(text(statement))
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - t0


def _timed_scalar(url: str, sql: str, repeat: int = 3) -> tuple[float, object]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    best, value = float("inf"), None
    with engine.connect() as conn:
        for _ in range(repeat):
            t0 = time.perf_counter()
            value = conn.execute(text(sql)).first()
            best = min(best, time.perf_counter() - t0)
    engine.dispose()
    return best, value


def bench_retention(per_mille: int) -> None:
    from jobs.runner import run_job

    with scratch_postgres("lf_bench_jobs") as url:
        seeded = _seed(url, RETENTION_SEED.format(**{k: max(1, v * per_mille // 1000)
                                                           for k, v in RETENTION_ROWS.items()}))
        base_s, (expired,) = _timed_scalar(url, RETENTION_BASELINE)
        _use_database(url)
        t0 = time.perf_counter()
        code, summary = run_job("retention-expiry")
        took = time.perf_counter() - t0
        assert code == 0, summary
        print(f"retention-expiry: {summary['total']:,} rows changed of {expired:,} expired "
              f"(seeded in {seeded:.1f} s), {summary['batches']} batches")
        row("retention-expiry wall time", took, "s", base_s)
        row("baseline: bare COUNT(*) of the expired rows", base_s, "s")
        row("rows per second", summary["total"] / took, "rows/s")
        row("longest transaction", summary["longest_transaction_s"] * 1000, "ms")
        print(f"  target <= 60 s: {'PASS' if took <= 60 else 'FAIL'}; "
              f"longest transaction <= 1 s: {'PASS' if summary['longest_transaction_s'] <= 1 else 'FAIL'}")


def bench_cost_report(n: int, repeats: int) -> None:
    from jobs.runner import run_job

    with scratch_postgres("lf_bench_jobs") as url, tempfile.TemporaryDirectory() as reports:
        seeded = _seed(url, COST_SEED.format(n=n))
        base_s, (rows, _total) = _timed_scalar(url, COST_BASELINE)
        _use_database(url, COST_REPORT_DAY="2026-03-31", REPORTS_URL=f"file://{reports}")
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            code, summary = run_job("cost-report")
            runs.append(time.perf_counter() - t0)
            assert code in (0, 1), summary
        took = min(runs)
        t0 = time.perf_counter()  # as cron runs it: a fresh process, imports included
        proc = subprocess.run([sys.executable, "-m", "jobs", "cost-report"], cwd=ROOT, env=dict(os.environ),
                              capture_output=True, text=True, timeout=120)
        fresh = time.perf_counter() - t0
        assert proc.returncode in (0, 1), proc.stdout[-500:]
        print(f"cost-report: {n:,} usage rows ({rows:,} spend rows in the window), seeded in {seeded:.1f} s; "
              f"month to date ${summary['spend_usd_month_to_date']}")
        row(f"cost-report wall time (best of {repeats}, incl. JSON/CSV/PNG)", took, "s", base_s)
        row("cost-report as a fresh `python -m jobs` process", fresh, "s", base_s)
        row("baseline: bare COUNT(*), SUM(cost) over the rows", base_s, "s")
        print(f"  target <= 5 s: in-process {'PASS' if took <= 5 else 'FAIL'}, "
              f"fresh process {'PASS' if fresh <= 5 else 'FAIL'}")


def run(sizes: dict[str, int] = FULL) -> None:
    saved = dict(os.environ)
    try:
        bench_retention(sizes["retention_per_mille"])
        bench_cost_report(sizes["cost_rows"], sizes["cost_runs"])
    finally:
        os.environ.clear()
        os.environ.update(saved)
