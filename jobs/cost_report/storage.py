"""Where the report goes in `REPORTS_URL`: `cost/<day>/cost-report.{json,csv,png}` for one day,
`cost/<from>_<to>/...` for a longer period."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from jobs.cost_report import chart
from jobs.cost_report.csv_export import to_csv


def report_prefix(first: date, last: date) -> str:
    """Where a period's files go in `REPORTS_URL` (other reports link to it)."""
    name = first.isoformat() if first == last else f"{first}_{last}"
    return f"cost/{name}/cost-report"


def _exists(store, prefix: str) -> bool:
    return any(o.key in (prefix + ".json", prefix + ".json.age") for o in store.list(prefix.rsplit("/", 1)[0]))


def write_report(store, report: dict[str, Any], daily_budget: Decimal | None, *,
                 only_if_missing: bool = False) -> list[str]:
    """Write the report's JSON, CSV and chart; returns the keys written. With `only_if_missing`
    (the ops report linking to the cost report of its period) an existing report is left as is.

    A report naming users by id (COST_REPORT_INCLUDE_USER_IDS) holds personal data: with
    BACKUP_ENCRYPTION_KEYS set its JSON is encrypted like backups (`.json.age`; the CSV names
    users by pseudonym only).
    """
    from shared.backup_crypto import Keyring

    prefix = report_prefix(date.fromisoformat(report["period"]["from"]), date.fromisoformat(report["period"]["to"]))
    if only_if_missing and _exists(store, prefix):
        return []
    keyring = Keyring.from_settings()
    document = json.dumps(report, indent=2).encode()
    json_key = prefix + ".json"
    if keyring.enabled and any("user_id" in row for row in report["top_users"]):
        json_key, document = json_key + ".age", keyring.seal(document)
    store.put_bytes(json_key, document, "application/json")
    store.delete(prefix + (".json" if json_key.endswith(".age") else ".json.age"))  # no stale twin
    store.put_bytes(prefix + ".csv", to_csv(report), "text/csv")
    store.put_bytes(prefix + ".png", chart.png(report, daily_budget), "image/png")
    return [json_key, prefix + ".csv", prefix + ".png"]
