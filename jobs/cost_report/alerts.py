"""The report's alerts: a budget breach (warning) or near it (info), an anomaly in the period (warning);
each resolved when its condition is gone. A dry run raises and resolves nothing."""

from __future__ import annotations

from typing import Any

from jobs.cost_report.anomalies import inside
from jobs.runner import JobContext


def _budget_alerts(ctx: JobContext, period: str, b: dict[str, Any]) -> None:
    rule = f"cost-report:{period}-budget"
    if b["status"] == "breach":
        ctx.alert(rule, "warning", f"{period.capitalize()} spend ${b['spend_usd']} is over the budget "
                                   f"of ${b['limit_usd']}", b)
    else:
        ctx.resolve(rule)
    if b["status"] == "near":
        ctx.alert(rule + "-near", "info", f"{period.capitalize()} spend ${b['spend_usd']} is at "
                                          f"{b['used']:.0%} of the ${b['limit_usd']} budget", b)
    else:
        ctx.resolve(rule + "-near")


def _anomaly_alert(ctx: JobContext, report: dict[str, Any], found: list[dict[str, Any]]) -> None:
    if not found:
        ctx.resolve("cost-report:anomaly")
        return
    latest = found[-1]
    ctx.alert("cost-report:anomaly", "warning",
              f"Spend on {latest['day']} (${latest['spend_usd']}) is {latest['ratio']}x its "
              f"trailing {report['anomaly_rule']['trailing_days']}-day mean", latest)


def problems(report: dict[str, Any]) -> list[str]:
    """What makes the run a problem (exit 1): a budget breached, an anomalous day inside the period."""
    found = [f"{period}_budget" for period in ("daily", "monthly") if report["budgets"][period]["status"] == "breach"]
    if inside(report["anomalies"], report["period"]["from"], report["period"]["to"]):
        found.append("anomaly")
    return found


def raise_alerts(ctx: JobContext, report: dict[str, Any]) -> list[str]:
    """Raise or resolve the budget and anomaly alerts (not on a dry run); returns the problems found."""
    if not ctx.dry_run:
        for period in ("daily", "monthly"):
            _budget_alerts(ctx, period, report["budgets"][period])
        _anomaly_alert(ctx, report, inside(report["anomalies"], report["period"]["from"], report["period"]["to"]))
    return problems(report)
