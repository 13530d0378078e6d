"""The service levels the operations plan asks for (docs/OPERATIONS.md, "Service levels").

One place for the numbers every ops-report check is judged against.
"""

from __future__ import annotations

from datetime import timedelta

AVAILABILITY = 0.995  # share of requests answered without a 5xx, per 30 days
ERROR_BUDGET_WINDOW = timedelta(days=30)
ERROR_BUDGET_WARN_SHARE = 0.75  # warn once three quarters of the budget is spent
API_P50_MS, API_P95_MS, API_P99_MS = 100.0, 200.0, 500.0  # generation excluded
HEALTH_P99_MS = 100.0
GENERATION_P95_MS = 30_000.0
ERROR_RATE_4XX, ERROR_RATE_5XX = 0.05, 0.01
GENERATION_SUCCESS, GENERATION_SUCCESS_FAIL = 0.95, 0.90
QUALITY_WARN, QUALITY_FAIL = 0.70, 0.65
RESTORE_TEST_EVERY = timedelta(days=7)  # the plan: at least weekly (we verify daily)
FEEDBACK_WARN_MEAN, FEEDBACK_MIN_RATINGS = 3.0, 5
AUTH_FAILURES_WARN = 100  # failed authentications in one report period
CAPACITY_GROWTH_WARN = 0.5  # traffic in the period's second half vs its first half

SERVICE_LEVELS = {
    "availability": f"{AVAILABILITY:.1%} of requests without a 5xx per 30 days (error budget {1 - AVAILABILITY:.1%})",
    "api_latency": f"p50 < {API_P50_MS:.0f} ms, p95 < {API_P95_MS:.0f} ms, p99 < {API_P99_MS:.0f} ms "
                   "(generation excluded)",
    "health_latency": f"p99 < {HEALTH_P99_MS:.0f} ms",
    "generation_latency": f"p95 < {GENERATION_P95_MS / 1000:.0f} s end to end",
    "error_rates": f"4xx < {ERROR_RATE_4XX:.0%}, 5xx < {ERROR_RATE_5XX:.0%}",
    "generation_success": f"> {GENERATION_SUCCESS:.0%}",
    "quality": f"mean overall >= {QUALITY_WARN:.2f} (below {QUALITY_FAIL:.2f} fails)",
    "backups": "daily, verified by a test restore at least weekly (daily here); RPO < 24 h, RTO < 4 h",
}
