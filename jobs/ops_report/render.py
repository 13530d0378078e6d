"""The ops report as Markdown, self-contained HTML (inline SVG charts) and JSON.

The HTML has no script and no external resource, so it opens anywhere (a
bucket's web view, a mail attachment) and shows the same content as the
Markdown, plus charts drawn with matplotlib's SVG backend.
"""

from __future__ import annotations

import html
import io
import json
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


def _n(value: Any, spec: str = "") -> str:
    """A figure for the page; an unknown one (no data in the period) reads "n/a", never "None"."""
    return "n/a" if value is None else format(value, spec)


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_n(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


def sections(report: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(title, Markdown lines) for every section, shared by the Markdown and HTML forms."""
    f, checks = report["facts"], report["checks"]
    out: list[tuple[str, list[str]]] = []
    out.append(("Checklist", _table(["check", "status", "finding"],
                                    [[TITLES[n], BADGE[c["status"]], c["summary"]] for n, c in checks.items()])))
    a = f["alerts"]
    lines = ["Opened in the period: " + ", ".join(f"{k} {v}" for k, v in a["opened_by_severity"].items()) + "."]
    s = a["incident_stats"]
    lines.append(f"Incidents: {s['count']}; mean time to acknowledge {_duration(s['mean_time_to_acknowledge_s'])} "
                 f"(max {_duration(s['max_time_to_acknowledge_s'])}); mean time to resolve "
                 f"{_duration(s['mean_time_to_resolve_s'])} (max {_duration(s['max_time_to_resolve_s'])}).")
    lines.append("")
    lines += _table(["rule", "severity", "opened", "acknowledged", "resolved", "to acknowledge", "to resolve"],
                    [[i["rule"], i["severity"], i["opened_at"], i["acknowledged_at"] or "-",
                      i["resolved_at"] or "open", _duration(i["time_to_acknowledge_s"]),
                      _duration(i["time_to_resolve_s"])] for i in a["incidents"]]) if a["incidents"] else \
        ["No incidents in the period."]
    out.append(("Incident history", lines))
    info = [f"Since {a['info_since']}:", ""] + (
        _table(["opened", "rule", "summary"], [[i["opened_at"], i["rule"], i["summary"]] for i in a["info"]])
        if a["info"] else ["No info alerts."])
    out.append(("Info alerts since the last report", info))
    out.append(("Open alerts now", _table(["rule", "severity", "opened", "acknowledged", "summary"],
                                          [[x["rule"], x["severity"], x["opened_at"],
                                            "yes" if x["acknowledged"] else "no", x["summary"]]
                                           for x in a["open_now"]]) if a["open_now"] else ["No open alerts."]))
    r = f["requests"]
    rows = [[name, v["count"], v["p50_ms"], v["p95_ms"], v["p99_ms"], f"{v['error_rate_4xx']:.2%}",
             f"{v['error_rate_5xx']:.2%}"] for name, v in (("all", r["all"]), ("API (generation excluded)", r["api"]),
                                                           ("health", r["health"]),
                                                           ("generation", r["generation"])) if v]
    out.append(("Key metrics", _table(["requests", "count", "p50 ms", "p95 ms", "p99 ms", "4xx", "5xx"], rows)
                if rows else ["No requests recorded."]))
    g = f["generation"]
    out.append(("Generation and quality", [
        f"{g['count']} item(s) generated; success rate {_n(g['success_rate'], '.2%')}; "
        f"mean quality {_n(g['quality_mean'], '.3f')}; passed the gate {_n(g['passed_share'], '.2%')}.",
        f"Regenerations asked for by the quality gate: {_n(g['regenerations'])} "
        f"({_n(g['regenerations_per_100_requests'])} per 100 requests), costing ${_n(g['regeneration_cost_usd'])}.", "",
        *_table(["quality band", "items"], [[k, v] for k, v in g["histogram"].items()]), "",
        *_table(["content type", "items"], [[k, v] for k, v in g["content_types"].items()])]))
    slo = f["slo"]
    out.append(("SLO and error budget", [
        f"Target: {SERVICE_LEVELS['availability']}.", "",
        *_table(["window", "requests", "5xx", "availability", "budget (requests)", "budget spent"],
                [[name, v["requests"], v["errors_5xx"], _n(v["availability"], ".4%"), v["error_budget_requests"],
                  _n(v["error_budget_consumed"], ".2%")] for name, v in (("period", slo["period"]),
                                                              ("30 days", slo["rolling_30_days"]))]),
        "", "Service levels: " + "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in SERVICE_LEVELS.items()) + "."]))
    b = f["backups"]
    newest = b["newest"]
    lines = [f"Store: {b['store']}."]
    lines.append(f"Newest backup: {newest['backup_id']} ({newest['bytes']} bytes, {newest['age_hours']} h old), "
                 f"manifest {newest['link']}." if newest else "Newest backup: none.")
    lines.append(f"Backups taken in the period: {b['taken_in_period']}; failed backup runs: {b['failed_backup_runs']}.")
    lines.append("")
    lines += _table(["test restore", "status", "backup", "reasons"],
                    [[t["started_at"], t["status"], t["backup_id"], ", ".join(t["reasons"]) or "-"]
                     for t in b["restore_tests"]]) if b["restore_tests"] else ["No test restore in the period."]
    out.append(("Backups and restore-test record", lines))
    c = f["cost"]
    lines = [f"Spend in the period: ${c['spend_usd']} (cost report: `{c['prefix']}.json`, `.csv`, `.png`); "
             f"budgets: " + ", ".join(f"{k} {v}" for k, v in c["budgets"].items()) + ".", ""]
    lines += _table(["provider", "spend USD", "events"], [[p["key"], p["spend_usd"], p["events"]]
                                                          for p in c["by_provider"]]) if c["by_provider"] else \
        ["No spend."]
    out.append(("Cost", lines))
    if "reconciliation" in f:
        rec = f["reconciliation"]
        lines = ["Our ledger against each provider's own cost report (reconcile-spend); a provider without a "
                 "cost API is not assessed, and a day the provider has not reported is missing, never $0.", ""]
        lines += _table(["day", "provider", "status", "ledger USD", "provider USD", "drift", "note"],
                        [[x["day"], x["provider"], x["status"].replace("_", " "), x["ours_usd"],
                          x["theirs_usd"] if x["theirs_usd"] is not None else "-",
                          "-" if x["drift"] in (None, "inf") else f"{float(x['drift']):.2%}", x.get("reason") or ""]
                         for x in rec["rows"]]) if rec["rows"] else ["No reconciliation in the period."]
        out.append(("Spend reconciliation", lines))
    fb = f["feedback"]
    out.append(("User feedback", [f"{fb['count']} rating(s), mean {_n(fb['mean_rating'], '.2f')}.", "",
                                  *_table(["rating", "count"], [[k, v] for k, v in fb["ratings"].items()])]))
    out.append(("Scheduled jobs", _table(
        ["job", "schedule", "runs in period", "last run", "last status", "overdue"],
        [[n, v["schedule"], ", ".join(f"{k} {x}" for k, x in sorted(v["runs"].items())) or "0",
          v["last_run"]["started_at"] if v["last_run"] else "never", v["last_run"]["status"] if v["last_run"] else "-",
          "yes" if v["overdue"] else "no"] for n, v in f["jobs"].items()])))
    if "security" in f:
        out.append(("Security events", _table(["event", "count"], [[k, v] for k, v in f["security"]["events"].items()])))
    if "compliance" in f:
        co = f["compliance"]
        rows = [[k.replace("_", " "), co[k]] for k in ("erasures", "erasure_ledger_entries", "unverified_erasures",
                                                       "exports", "rectifications", "consent_changes",
                                                       "restrictions_set", "restrictions_lifted")]
        lines = _table(["data-subject request", "count"], rows) + [""]
        lines += _table(["consent purpose", "granted", "withdrawn"],
                        [[p, v["granted"], v["withdrawn"]] for p, v in sorted(co["consent_events"].items())]) \
            if co["consent_events"] else ["No consent changes."]
        ret = co["retention"]
        lines += ["", f"Retention expiry: {ret['runs']} run(s), {ret['ok_runs']} ok, on "
                      f"{len(ret['run_days'])} day(s).", ""]
        lines += _table(["data class", "rows expired"], [[k, v] for k, v in sorted(ret["rows_expired"].items())]) \
            if ret["rows_expired"] else ["No rows expired."]
        out.append(("Compliance report", lines))
    if "capacity" in f:
        cap = f["capacity"]
        out.append(("Capacity", [f"Database size {cap['database_bytes']} bytes; "
                                 f"traffic growth {_n(cap['growth'], '+.1%')}.", "",
                                 *_table(["table", "rows"], [[k, v] for k, v in cap["rows"].items()])]))
    if "spend_per_user" in f:
        out.append(("Cost per user and growth", _per_user_lines(f["spend_per_user"])))
    if "database" in f:
        out.append(("Database resources", _database_lines(f["database"])))
    return out


def title(report: dict[str, Any]) -> str:
    """Named, like its files (`ops-report/<period>/<date>.*`), by the report date; then the days it covers."""
    return f"La Factoria {report['period']} ops report {report['date']} (covers {_days(report)})"


def _per_user_lines(u: dict[str, Any]) -> list[str]:
    t, p, r = u["trend"], u["trend"]["projection"], u["requests_per_user"]
    slope = "n/a" if t["slope_usd_per_day"] is None else f"{t['slope_usd_per_day']:+.4f} USD/day"
    growth = "n/a" if t["growth_week_over_week"] is None else f"{t['growth_week_over_week']:+.1%}"
    lines = [f"Trend {slope}; last 7 days against the 7 before {growth}. Projection for {p['month']}: "
             f"{p['statement']}.", "",
             f"Generations per user and day (over {r['user_days']} user-days): p50 {r['p50']}, p90 {r['p90']}, "
             f"p99 {r['p99']}, max {r['max']}.", ""]
    lines += _table(["day", "active users", "cost per active user USD"],
                    [[d["date"], d["active_users"], "-" if d["cost_per_active_user"] is None
                      else f"{d['cost_per_active_user']:.4f}"] for d in u["days"]])
    lines += [""] + (_table(["content type", "spend USD", "active user-days", "cost per active user-day USD"],
                            [[c["content_type"], f"{c['total']:.4f}", c["active_user_days"],
                              "-" if c["cost_per_active_user_day"] is None else f"{c['cost_per_active_user_day']:.4f}"]
                             for c in u["content_types"]]) if u["content_types"] else ["No spend by content type."])
    return lines


def _database_lines(d: dict[str, Any]) -> list[str]:
    if not d["assessed"]:
        return [f"{d['reason']}. Size {d['size_bytes']} bytes."]
    c, size = d["connections"], d["size"]
    lines = [f"Now: {c['in_use']} of {c['max_connections']} connections in use; size {size['size_bytes']} bytes, "
             f"growth per day {size['growth_bytes_per_day'] if size['growth_bytes_per_day'] is not None else 'unknown'}"
             f" bytes, days until full {size['days_until_full'] if size['days_until_full'] is not None else 'unknown'}"
             f"; {len(d['long_transactions'])} long transaction(s); {d['lock_waits']['waiting']} waiting on locks.", ""]
    slow = d["slow_queries"]
    if slow["available"]:
        lines += ["Slowest queries (pg_stat_statements, normalised; p95 estimated as mean + 1.645 sd):", ""]
        lines += _table(["fingerprint", "calls", "mean ms", "p95 ms", "query"],
                        [[q["fingerprint"], q["calls"], q["mean_ms"], q["p95_ms"], f"`{q['query'][:160]}`"]
                         for q in slow["top"]]) if slow["top"] else ["No statements recorded."]
    else:
        lines.append(f"Slow queries: not assessed ({slow['reason']}).")
    doubled = d.get("query_trends", {}).get("doubled", [])
    if doubled:
        lines += ["", "Twice as slow as the week before:", ""]
        lines += _table(["fingerprint", "mean ms before", "mean ms this week", "calls this week"],
                        [[q["fingerprint"], q["mean_ms_previous_week"], q["mean_ms_week"], q["calls_week"]]
                         for q in doubled])
    if d["bloat"]:
        lines += ["", "Biggest tables (bloat is judged on those of 8 MB or more):", "",
                  *_table(["table", "bytes", "live tuples", "dead tuples", "dead share", "bloated"],
                          [[b["table"], b["bytes"], b["live_tuples"], b["dead_tuples"], f"{b['dead_ratio']:.1%}",
                            "yes" if b["bloated"] else "no"] for b in d["bloat"][:10]])]
    return lines


def markdown(report: dict[str, Any]) -> str:
    head = [f"# {title(report)}", "",
            f"Period {report['from']} to {report['to']} (UTC), generated {report['generated_at']}. "
            f"Overall: **{BADGE[report['status']]}**. People appear only as counts.", ""]
    body = []
    for heading, lines in sections(report):
        body += [f"## {heading}", "", *lines, ""]
    return "\n".join(head + body)


def _svg(fig) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg"):]


def charts(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, inline SVG) charts: traffic with 5xx, API p95 against its level, spend, quality."""
    from jobs.cost_report.chart import import_plotting

    import_plotting()
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small and searchable
    f = report["facts"]
    unit = "hour" if report["period"] == "daily" else "day"
    series = f["requests"]["series"]
    labels = [b["at"][11:16] if unit == "hour" else b["at"][5:10] for b in series]
    x = list(range(len(series)))
    step = max(1, -(-len(x) // 16))
    out = []

    def new(title: str, ylabel: str):
        fig = Figure(figsize=(8, 2.8), dpi=100, layout="constrained")
        ax = fig.add_subplot()
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_xticks(x[::step], labels[::step], rotation=45, fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", color="#e5e8e8", linewidth=0.8)
        ax.set_axisbelow(True)
        return fig, ax

    fig, ax = new(f"Requests per {unit} (API, generation excluded)", "requests")
    ok = [b["count"] - b["errors_5xx"] for b in series]
    ax.bar(x, ok, color="#4a7bd0", label="answered")
    ax.bar(x, [b["errors_5xx"] for b in series], bottom=ok, color="#c0392b", label="5xx")
    ax.set_ylim(0, max(1, max((b["count"] for b in series), default=0)) * 1.15)
    fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    out.append(("Traffic", _svg(fig)))

    fig, ax = new(f"API p95 latency per {unit}", "ms")
    p95 = [b["p95_ms"] if b["p95_ms"] is not None else float("nan") for b in series]
    ax.plot(x, p95, marker="o", markersize=3, color="#4a7bd0", label="p95")
    ax.axhline(API_P95_MS, color="#c0392b", linestyle="--", linewidth=1, label=f"level {API_P95_MS:.0f} ms")
    ax.set_ylim(0, max([API_P95_MS] + [v for v in p95 if v == v]) * 1.2)
    fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    out.append(("Latency", _svg(fig)))

    by_day = f["cost"]["by_day"]
    fig = Figure(figsize=(8, 2.8), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    cx = list(range(len(by_day)))
    spend = [float(d["spend_usd"]) for d in by_day]
    ax.bar(cx, spend, color="#4a7bd0", label="spend")
    cstep = max(1, -(-len(cx) // 16))
    ax.set_xticks(cx[::cstep], [d["key"][5:] for d in by_day][::cstep], rotation=45, fontsize=7)
    ax.set_ylim(0, max(spend + [0.0]) * 1.15 or 1)
    ax.set_title("Spend per day (USD)", fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    out.append(("Cost", _svg(fig)))

    per_day = f["generation"]["per_day"]
    if report["period"] != "daily" and per_day:
        fig = Figure(figsize=(8, 2.8), dpi=100, layout="constrained")
        ax = fig.add_subplot()
        qx = list(range(len(per_day)))
        ax.plot(qx, [d["quality_mean"] for d in per_day], marker="o", markersize=3, color="#27ae60",
                label="mean quality")
        ax.axhline(QUALITY_WARN, color="#e67e22", linestyle="--", linewidth=1, label=f"level {QUALITY_WARN}")
        ax.set_xticks(qx, [d["day"][5:] for d in per_day], rotation=45, fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title("Mean quality per day", fontsize=10)
        fig.legend(loc="outside right upper", fontsize=7, frameon=False)
        out.append(("Quality", _svg(fig)))
    return out


_CSS = """body{font:14px/1.45 system-ui,sans-serif;color:#1c2833;max-width:62rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d5d8dc;padding:.25rem .5rem;text-align:left}
th{background:#f4f6f7}.pass{color:#1e8449;font-weight:600}.warn{color:#b9770e;font-weight:600}
.fail{color:#c0392b;font-weight:600}figure{margin:1rem 0}figcaption{font-size:12px;color:#566573}"""


def _md_table_to_html(lines: list[str]) -> str:
    """The few Markdown constructs `sections` emits (tables, paragraphs, code) as HTML."""
    out, rows = [], []

    def cells(line: str) -> list[str]:
        return [c.strip().replace("\\|", "|") for c in line.strip().strip("|").split(" | ")]

    def flush():
        if rows:
            head, *body = rows
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr></thead>"
                       + "<tbody>" + "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>" for r in body)
                       + "</tbody></table>")
            rows.clear()

    for line in lines:
        if line.startswith("|---"):
            continue
        if line.startswith("| "):
            rows.append(cells(line))
            continue
        flush()
        if line:
            text = html.escape(line).replace("**", "")
            parts = text.split("`")
            out.append("<p>" + "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)) + "</p>")
    flush()
    return "\n".join(out)


def _cell(text: str) -> str:
    css = {"PASS": "pass", "WARN": "warn", "FAIL": "fail"}.get(text)
    return f'<td class="{css}">{text}</td>' if css else f"<td>{html.escape(text)}</td>"


def _days(report: dict[str, Any]) -> str:
    """The period as the days it covers: "2026-03-09 to 2026-03-15" (or one day)."""
    from datetime import datetime, timedelta

    first = report["from"][:10]
    last = (datetime.fromisoformat(report["to"]) - timedelta(days=1)).date().isoformat()
    return first if first == last else f"{first} to {last}"


def html_page(report: dict[str, Any]) -> str:
    heading = title(report)
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(heading)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(heading)}</h1>",
             f"<p>Generated {html.escape(report['generated_at'])}. Overall: "
             f"<span class=\"{report['status']}\">{BADGE[report['status']]}</span>. People appear only as counts.</p>"]
    for n, (title_, lines) in enumerate(sections(report)):
        slug = title_.lower().replace(" ", "-").replace("'", "")
        parts.append(f'<section id="{html.escape(slug)}"><h2>{html.escape(title_)}</h2>{_md_table_to_html(lines)}'
                     "</section>")
        if n == 0:  # the verdict first, then the charts, then the evidence
            parts.append('<section id="charts"><h2>Charts</h2>')
            for name, svg in charts(report):
                parts.append(f'<figure class="chart" id="chart-{name.lower()}">{svg}<figcaption>'
                             f"{html.escape(name)}</figcaption></figure>")
            parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def json_document(report: dict[str, Any]) -> bytes:
    return json.dumps(report, indent=2, default=str).encode()
