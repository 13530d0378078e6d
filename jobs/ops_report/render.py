"""The ops report as Markdown, self-contained HTML (inline SVG charts) and JSON, from Jinja2 templates.

`templates/sections.md.j2` writes each section in Markdown (one macro a
section); `report.md.j2` is the Markdown report and `report.html.j2` the HTML
page (autoescaped), which shows the same sections' paragraphs and tables as
HTML. The HTML has no script and no external resource, so it opens anywhere
(a bucket's web view, a mail attachment), plus charts drawn with matplotlib's
SVG backend. The templates are package data (pyproject `package-data`).
"""

from __future__ import annotations

import io
import json
from functools import lru_cache
from typing import Any

from jobs.ops_report.levels import API_P95_MS, QUALITY_WARN, SERVICE_LEVELS

BADGE = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}
TITLES = {
    "alerts": "Alerts and incidents", "availability": "Availability", "latency": "Latency",
    "errors": "Error rates", "generation": "Generation success", "quality": "Quality scores",
    "backups": "Backups", "restore_test": "Test restores", "cost": "Cost", "feedback": "User feedback",
    "jobs": "Scheduled jobs", "alerting": "Alerting (dead-man's check)", "slo": "SLO and error budget",
    "security": "Security events", "compliance": "Compliance", "capacity": "Capacity",
    "reconciliation": "Spend reconciled with the providers' bills", "database": "Database resources",
}


def _duration(seconds: float | None) -> str:
    """Precision that fits the size: 0.24 s, 12.5 s, 4.5 min, 95 min, 3.2 h."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 10:
        return f"{minutes:.1f} min"
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


# Each section: (title, its macro in sections.md.j2, the fact it needs; None: always shown), in order.
SECTIONS = (
    ("Checklist", "checklist", None), ("Incident history", "incidents", None),
    ("Info alerts since the last report", "info", None), ("Open alerts now", "open_alerts", None),
    ("Key metrics", "key_metrics", None), ("Generation and quality", "generation", None),
    ("SLO and error budget", "slo", None), ("Backups and restore-test record", "backups", None),
    ("Cost", "cost", None), ("Spend reconciliation", "reconciliation", "reconciliation"),
    ("User feedback", "feedback", None), ("Scheduled jobs", "jobs", None),
    ("Security events", "security", "security"), ("Compliance report", "compliance", "compliance"),
    ("Capacity", "capacity", "capacity"), ("Cost per user and growth", "per_user", "spend_per_user"),
    ("Database resources", "database", "database"),
)


def _n(value: Any, spec: str = "") -> str:
    """A figure for the page; an unknown one (no data in the period) reads "n/a", never "None"."""
    return "n/a" if value is None else format(value, spec)


def _pairs(items: Any) -> str:
    """`{"a": 1, "b": 2}` (or its items) as "a 1, b 2"."""
    pairs = items.items() if isinstance(items, dict) else items
    return ", ".join(f"{k} {v}" for k, v in pairs)


@lru_cache(maxsize=1)
def _environment():
    """The templates' environment: package data, autoescape for HTML only, and an unknown name is
    an error (StrictUndefined), never an empty cell."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("jobs.ops_report", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(n=_n, duration=_duration, pairs=_pairs)
    env.globals.update(titles=TITLES, badge=BADGE, levels=SERVICE_LEVELS,
                       badge_class={v: k for k, v in BADGE.items()})
    return env


def sections(report: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(title, Markdown lines) for every section, shared by the Markdown and HTML forms."""
    f = report["facts"]
    macros = _environment().get_template("sections.md.j2").module
    out = []
    for heading, macro, needs in SECTIONS:
        if needs is None or needs in f:
            text = str(getattr(macros, macro)(f, report))
            out.append((heading, text.removesuffix("\n").split("\n")))
    return out


def title(report: dict[str, Any]) -> str:
    """Named, like its files (`ops-report/<period>/<date>.*`), by the report date; then the days it covers."""
    return f"La Factoria {report['period']} ops report {report['date']} (covers {_days(report)})"


def markdown(report: dict[str, Any]) -> str:
    return _environment().get_template("report.md.j2").render(report=report, title=title(report),
                                                              sections=sections(report))


def _svg(fig) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg"):]


def _figure(title: str, ylabel: str | None = None):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10)
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=8)
    return fig, ax


def _series_axes(title: str, ylabel: str, labels: list[str]):
    """A chart over the request series: its time labels (every few), a light grid."""
    fig, ax = _figure(title, ylabel)
    x = list(range(len(labels)))
    step = max(1, -(-len(x) // 16))
    ax.set_xticks(x[::step], labels[::step], rotation=45, fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", color="#e5e8e8", linewidth=0.8)
    ax.set_axisbelow(True)
    return fig, ax


def _traffic(series: list[dict], labels: list[str], unit: str) -> str:
    fig, ax = _series_axes(f"Requests per {unit} (API, generation excluded)", "requests", labels)
    x = list(range(len(series)))
    ok = [b["count"] - b["errors_5xx"] for b in series]
    ax.bar(x, ok, color="#4a7bd0", label="answered")
    ax.bar(x, [b["errors_5xx"] for b in series], bottom=ok, color="#c0392b", label="5xx")
    ax.set_ylim(0, max(1, max((b["count"] for b in series), default=0)) * 1.15)
    fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    return _svg(fig)


def _latency(series: list[dict], labels: list[str], unit: str) -> str:
    fig, ax = _series_axes(f"API p95 latency per {unit}", "ms", labels)
    p95 = [b["p95_ms"] if b["p95_ms"] is not None else float("nan") for b in series]
    ax.plot(list(range(len(series))), p95, marker="o", markersize=3, color="#4a7bd0", label="p95")
    ax.axhline(API_P95_MS, color="#c0392b", linestyle="--", linewidth=1, label=f"level {API_P95_MS:.0f} ms")
    ax.set_ylim(0, max([API_P95_MS] + [v for v in p95 if v == v]) * 1.2)
    fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    return _svg(fig)


def _spend(by_day: list[dict]) -> str:
    fig, ax = _figure("Spend per day (USD)")
    cx = list(range(len(by_day)))
    spend = [float(d["spend_usd"]) for d in by_day]
    ax.bar(cx, spend, color="#4a7bd0", label="spend")
    cstep = max(1, -(-len(cx) // 16))
    ax.set_xticks(cx[::cstep], [d["key"][5:] for d in by_day][::cstep], rotation=45, fontsize=7)
    ax.set_ylim(0, max(spend + [0.0]) * 1.15 or 1)
    ax.tick_params(axis="y", labelsize=7)
    return _svg(fig)


def _quality(per_day: list[dict]) -> str:
    fig, ax = _figure("Mean quality per day")
    qx = list(range(len(per_day)))
    ax.plot(qx, [d["quality_mean"] for d in per_day], marker="o", markersize=3, color="#27ae60",
            label="mean quality")
    ax.axhline(QUALITY_WARN, color="#e67e22", linestyle="--", linewidth=1, label=f"level {QUALITY_WARN}")
    ax.set_xticks(qx, [d["day"][5:] for d in per_day], rotation=45, fontsize=7)
    ax.set_ylim(0, 1)
    fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    return _svg(fig)


def charts(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, inline SVG) charts: traffic with 5xx, API p95 against its level, spend, quality."""
    from jobs.cost_report.chart import import_plotting

    import_plotting()
    import matplotlib

    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small and searchable
    f = report["facts"]
    unit = "hour" if report["period"] == "daily" else "day"
    series = f["requests"]["series"]
    labels = [b["at"][11:16] if unit == "hour" else b["at"][5:10] for b in series]
    out = [("Traffic", _traffic(series, labels, unit)), ("Latency", _latency(series, labels, unit)),
           ("Cost", _spend(f["cost"]["by_day"]))]
    per_day = f["generation"]["per_day"]
    if report["period"] != "daily" and per_day:
        out.append(("Quality", _quality(per_day)))
    return out


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in line.strip().strip("|").split(" | ")]


def blocks(lines: list[str]) -> list[tuple[str, Any]]:
    """A section's Markdown lines as the blocks the HTML page shows: ("table", (head, rows)) for a
    table, ("p", [(text, is_code), ...]) for a paragraph (`code` spans kept, **bold** marks dropped)."""
    out: list[tuple[str, Any]] = []
    rows: list[list[str]] = []
    for line in [*lines, ""]:
        if line.startswith("|---"):
            continue
        if line.startswith("| "):
            rows.append(_cells(line))
            continue
        if rows:
            out.append(("table", (rows[0], rows[1:])))
            rows = []
        if line:
            out.append(("p", [(part, i % 2 == 1) for i, part in enumerate(line.replace("**", "").split("`"))]))
    return out


def _days(report: dict[str, Any]) -> str:
    """The period as the days it covers: "2026-03-09 to 2026-03-15" (or one day)."""
    from datetime import datetime, timedelta

    first = report["from"][:10]
    last = (datetime.fromisoformat(report["to"]) - timedelta(days=1)).date().isoformat()
    return first if first == last else f"{first} to {last}"


def html_page(report: dict[str, Any]) -> str:
    """The page: the checklist first, then the charts, then the evidence (autoescaped; the SVG is ours)."""
    from markupsafe import Markup

    parts = [(heading, heading.lower().replace(" ", "-").replace("'", ""), blocks(lines))
             for heading, lines in sections(report)]
    figures = [(name, Markup(svg)) for name, svg in charts(report)]
    return _environment().get_template("report.html.j2").render(report=report, title=title(report),
                                                                sections=parts, charts=figures)


def json_document(report: dict[str, Any]) -> bytes:
    return json.dumps(report, indent=2, default=str).encode()
