"""The report as CSV: one row per (window, dimension, key), then the top users (by pseudonym only)."""

from __future__ import annotations

import csv
import io
from typing import Any

from jobs.cost_report.cells import DIMENSIONS


def to_csv(report: dict[str, Any]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["window", "dimension", "key", "spend_usd", "events", "unknown_cost_events"])
    for name, win in report["windows"].items():
        w.writerow([name, "total", "", win["spend_usd"], win["events"], win["unknown_cost_events"]])
        for dim in ("day",) + DIMENSIONS:
            for row in win.get(f"by_{dim}", []):
                w.writerow([name, dim, row["key"], row["spend_usd"], row["events"], row["unknown_cost_events"]])
    for row in report["top_users"]:
        w.writerow([report["top_users_window"]["name"], "user", row["user"], row["spend_usd"], row["events"], ""])
    return buf.getvalue().encode()
