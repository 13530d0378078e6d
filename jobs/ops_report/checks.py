"""The checklist items: each turns facts into pass / warn / fail with the evidence behind it.

Which items a report answers depends on its period (the operations plan's
daily, weekly and monthly checklists); `CHECKLISTS` lists them in the order
the report shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobs.ops_report import levels

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass
class Check:
    status: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "summary": self.summary, "evidence": self.evidence}


def _pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def alerts(f: dict) -> Check:
    a = f["alerts"]
    paging = [x for x in a["open_now"] if x["severity"] in ("critical", "error")]
    unacked = [x for x in paging if not x["acknowledged"]]
    opened = a["opened_by_severity"]
    evidence = {"opened": opened, "open_now": len(a["open_now"]), "incidents": a["incident_stats"],
                "info_since_last_report": len(a["info"])}
    if unacked:
        return Check(FAIL, f"{len(unacked)} critical/error alert(s) open and unacknowledged: "
                           + ", ".join(x["rule"] for x in unacked), evidence)
    noisy = opened["critical"] + opened["error"] + opened["warning"]
    if noisy or a["open_now"]:
        return Check(WARN, f"{noisy} alert(s) opened in the period, {len(a['open_now'])} open now", evidence)
    return Check(PASS, "no alerts opened in the period and none open", evidence)


def availability(f: dict) -> Check:
    p = f["slo"]["period"]
    if not p["requests"]:
        return Check(WARN, "no requests recorded in the period: availability unknown", p)
    status = FAIL if p["availability"] < levels.AVAILABILITY else PASS
    return Check(status, f"{_pct(p['availability'], 3)} of {p['requests']} requests without a 5xx "
                         f"(target {_pct(levels.AVAILABILITY, 1)})", p)


def latency(f: dict) -> Check:
    api, health, gen = f["requests"]["api"], f["requests"]["health"], f["requests"]["generation"]
    evidence = {"api": api, "health": health, "generation": gen}
    if api is None:
        return Check(WARN, "no API requests recorded in the period", evidence)
    problems, warnings = [], []
    if api["p95_ms"] is not None and api["p95_ms"] > levels.API_P95_MS:
        problems.append(f"API p95 {_ms(api['p95_ms'])} > {levels.API_P95_MS:.0f} ms")
    if api["p99_ms"] is not None and api["p99_ms"] > levels.API_P99_MS:
        problems.append(f"API p99 {_ms(api['p99_ms'])} > {levels.API_P99_MS:.0f} ms")
    if api["p50_ms"] is not None and api["p50_ms"] > levels.API_P50_MS:
        warnings.append(f"API p50 {_ms(api['p50_ms'])} > {levels.API_P50_MS:.0f} ms")
    if health and health["p99_ms"] is not None and health["p99_ms"] > levels.HEALTH_P99_MS:
        warnings.append(f"health p99 {_ms(health['p99_ms'])} > {levels.HEALTH_P99_MS:.0f} ms")
    if gen and gen["p95_ms"] is not None and gen["p95_ms"] > levels.GENERATION_P95_MS:
        warnings.append(f"generation p95 {gen['p95_ms'] / 1000:.1f} s > {levels.GENERATION_P95_MS / 1000:.0f} s")
    text = f"API p50 {_ms(api['p50_ms'])}, p95 {_ms(api['p95_ms'])}, p99 {_ms(api['p99_ms'])}"
    if problems:
        return Check(FAIL, "; ".join(problems + warnings), evidence)
    if warnings:
        return Check(WARN, "; ".join(warnings), evidence)
    return Check(PASS, text + " within the service levels", evidence)


def errors(f: dict) -> Check:
    every = f["requests"]["all"]
    if every is None:
        return Check(WARN, "no requests recorded in the period", {})
    text = f"5xx {_pct(every['error_rate_5xx'])}, 4xx {_pct(every['error_rate_4xx'])} of {every['count']} requests"
    if every["error_rate_5xx"] >= levels.ERROR_RATE_5XX:
        return Check(FAIL, text + f" (5xx limit {_pct(levels.ERROR_RATE_5XX, 0)})", every)
    if every["error_rate_4xx"] >= levels.ERROR_RATE_4XX:
        return Check(WARN, text + f" (4xx limit {_pct(levels.ERROR_RATE_4XX, 0)})", every)
    return Check(PASS, text, every)


def generation(f: dict) -> Check:
    g = f["generation"]
    evidence = {k: g[k] for k in ("count", "requests", "succeeded", "success_rate", "content_types")}
    if not g["requests"]:
        return Check(WARN, "no generation requests reached a provider in the period", evidence)
    text = f"{_pct(g['success_rate'], 1)} of {g['requests']} generation requests succeeded"
    if g["success_rate"] < levels.GENERATION_SUCCESS_FAIL:
        return Check(FAIL, text + f" (below {_pct(levels.GENERATION_SUCCESS_FAIL, 0)})", evidence)
    if g["success_rate"] <= levels.GENERATION_SUCCESS:
        return Check(WARN, text + f" (target > {_pct(levels.GENERATION_SUCCESS, 0)})", evidence)
    return Check(PASS, text, evidence)


def quality(f: dict) -> Check:
    g = f["generation"]
    evidence = {k: g[k] for k in ("count", "quality_mean", "passed_share", "histogram")}
    if not g["count"]:
        return Check(WARN, "no content generated in the period", evidence)
    text = f"mean quality {g['quality_mean']:.3f}, {_pct(g['passed_share'], 1)} passed the gate"
    if g["quality_mean"] < levels.QUALITY_FAIL:
        return Check(FAIL, text + f" (below {levels.QUALITY_FAIL})", evidence)
    if g["quality_mean"] < levels.QUALITY_WARN:
        return Check(WARN, text + f" (below {levels.QUALITY_WARN})", evidence)
    return Check(PASS, text, evidence)


def backups(f: dict, max_age_hours: float) -> Check:
    b = f["backups"]
    evidence = {k: b[k] for k in ("store", "newest", "taken_in_period", "failed_backup_runs", "store_error",
                                  "encrypted")}
    if b["store_error"]:
        return Check(FAIL, f"backup store unreadable: {b['store_error']}", evidence)
    if b["newest"] is None:
        return Check(FAIL, "no complete backup in the store", evidence)
    age = b["newest"]["age_hours"]
    if age > max_age_hours:
        return Check(FAIL, f"newest backup {b['newest']['backup_id']} is {age:.1f} h old "
                           f"(limit {max_age_hours:.0f} h)", evidence)
    text = f"newest backup {b['newest']['backup_id']} is {age:.1f} h old, {b['newest']['bytes']} bytes"
    if b["failed_backup_runs"]:
        return Check(WARN, text + f"; {b['failed_backup_runs']} failed backup run(s) in the period", evidence)
    if b["production"] and not b["encrypted"]:
        return Check(WARN, text + "; backups are not encrypted (BACKUP_ENCRYPTION_KEYS is not set)", evidence)
    return Check(PASS, text, evidence)


def restore_test(f: dict) -> Check:
    b, now = f["backups"], f["window"]["now"]
    tests = b["restore_tests"]
    evidence = {"restore_tests": tests, "last_verified_ok": b["last_verified_ok"]}
    last_ok = b["last_verified_ok"]
    from datetime import datetime

    if last_ok is None or datetime.fromisoformat(now) - datetime.fromisoformat(last_ok["started_at"]) \
            > levels.RESTORE_TEST_EVERY:
        return Check(FAIL, "no successful test restore in the last 7 days", evidence)
    failed = [t for t in tests if t["status"] != "ok"]
    backup = f" (backup {last_ok['backup_id']})" if last_ok["backup_id"] else ""
    text = f"{len(tests) - len(failed)} of {len(tests)} test restores in the period passed; last good " \
           f"{last_ok['started_at']}{backup}"
    if tests and tests[-1]["status"] != "ok":
        return Check(FAIL, text + "; the latest one failed: " + ", ".join(tests[-1]["reasons"] or ["error"]),
                     evidence)
    return Check(WARN if failed else PASS, text, evidence)


def cost(f: dict) -> Check:
    c = f["cost"]
    evidence = {"spend_usd": c["spend_usd"], "budgets": c["budgets"], "anomalies": c["anomalies"],
                "unknown_cost_events": c["unknown_cost_events"], "report": c["prefix"] + ".json"}
    text = f"${c['spend_usd']} spent in the period"
    if "breach" in c["budgets"].values():
        return Check(FAIL, text + "; over budget: " + ", ".join(k for k, v in c["budgets"].items()
                                                                if v == "breach"), evidence)
    if c["anomalies"] or "near" in c["budgets"].values() or c["unknown_cost_events"]:
        notes = ([f"{len(c['anomalies'])} anomalous day(s)"] if c["anomalies"] else []) + \
                ([f"{k} budget at 80 %+" for k, v in c["budgets"].items() if v == "near"]) + \
                ([f"{c['unknown_cost_events']} event(s) of unknown cost"] if c["unknown_cost_events"] else [])
        return Check(WARN, text + "; " + ", ".join(notes), evidence)
    return Check(PASS, text + ", within budget, no anomaly", evidence)


def feedback(f: dict) -> Check:
    fb = f["feedback"]
    if not fb["count"]:
        return Check(PASS, "no feedback in the period", fb)
    text = f"{fb['count']} rating(s), mean {fb['mean_rating']:.2f} of 5"
    if fb["count"] >= levels.FEEDBACK_MIN_RATINGS and fb["mean_rating"] < levels.FEEDBACK_WARN_MEAN:
        return Check(WARN, text + f" (below {levels.FEEDBACK_WARN_MEAN})", fb)
    return Check(PASS, text, fb)


def jobs(f: dict) -> Check:
    j = f["jobs"]
    broken = [n for n, v in j.items() if v["last_run"] and v["last_run"]["status"] == "error"]
    overdue = [n for n, v in j.items() if v["overdue"]]
    evidence = {n: {"last_run": v["last_run"], "runs": v["runs"], "overdue": v["overdue"]} for n, v in j.items()}
    if broken:
        return Check(FAIL, "last run could not complete: " + ", ".join(broken), evidence)
    if overdue:
        return Check(WARN, "missed their schedule: " + "; ".join(f"{n} {j[n]['missed']}" for n in overdue), evidence)
    never = [n for n, v in j.items() if v["last_run"] is None]
    if never:
        return Check(PASS, f"no job missed its schedule; not due yet since install: {', '.join(never)}", evidence)
    return Check(PASS, f"all {len(j)} jobs ran on schedule", evidence)


def alerting(f: dict) -> Check:
    """The dead-man's check: alerts only reach anyone while alert-check keeps running."""
    j = f["jobs"].get("alert-check")
    last = j["last_run"] if j else None
    evidence = {"last_run": last, "schedule": j["schedule"] if j else None}
    if j is None:
        return Check(FAIL, "alert-check is not scheduled: nobody would be alerted", evidence)
    if j["overdue"]:
        return Check(FAIL, f"alert-check missed its schedule ({j['missed']}): nobody would be alerted", evidence)
    if j["silent"]:
        return Check(FAIL, f"alert-check {j['silent']}", evidence)
    if last is None:
        return Check(PASS, "alert-check not due yet since install", evidence)
    return Check(PASS, f"alert-check last started {last['started_at']}", evidence)


def slo(f: dict) -> Check:
    r = f["slo"]["rolling_30_days"]
    if not r["requests"]:
        return Check(WARN, "no requests in the last 30 days: SLO unknown", r)
    consumed = r["error_budget_consumed"] or 0.0
    text = f"30-day availability {_pct(r['availability'], 3)}, {_pct(consumed, 1)} of the error budget spent"
    if r["availability"] < levels.AVAILABILITY:
        return Check(FAIL, text + " (SLO missed)", r)
    if consumed >= levels.ERROR_BUDGET_WARN_SHARE:
        return Check(WARN, text, r)
    return Check(PASS, text, r)


def security(f: dict) -> Check:
    ev = f["security"]["events"]
    if ev["gdpr.erasure.unverified"]:
        return Check(FAIL, f"{ev['gdpr.erasure.unverified']} erasure(s) could not be verified", ev)
    text = f"{ev['auth.failed']} failed authentication(s), {ev['key.created']} key(s) created, " \
           f"{ev['key.revoked']} revoked, {ev['user.role_changed']} role change(s), " \
           f"{ev['admin.content.read'] + ev['admin.content.delete']} admin access(es) to others' content"
    if ev["auth.failed"] > levels.AUTH_FAILURES_WARN:
        return Check(WARN, text, ev)
    return Check(PASS, text, ev)


def compliance(f: dict) -> Check:
    c = f["compliance"]
    days = f["window"]["days"]
    r = c["retention"]
    text = (f"{c['erasures']} erasure(s), {c['exports']} export(s), {c['rectifications']} rectification(s), "
            f"{c['consent_changes']} consent change(s), {c['restrictions_set']} restriction(s); "
            f"retention ran on {len(r['run_days'])} of {days} day(s)")
    if c["unverified_erasures"]:
        return Check(FAIL, text + f"; {c['unverified_erasures']} erasure(s) unverified", c)
    if not r["ok_runs"]:
        return Check(FAIL, text + "; retention expiry never completed in the period", c)
    if len(r["run_days"]) < days or r["ok_runs"] < r["runs"]:
        return Check(WARN, text, c)
    return Check(PASS, text, c)


def capacity(f: dict) -> Check:
    cap = f["capacity"]
    growth = cap["growth"]
    text = f"database {cap['database_bytes'] / 1e6:.1f} MB; traffic peak {cap['requests_peak_bucket']} " \
           f"requests per {'hour' if f['window']['period'] == 'daily' else 'day'}"
    if growth is not None:
        text += f"; second half vs first half {growth:+.0%}"
    if growth is not None and growth > levels.CAPACITY_GROWTH_WARN:
        return Check(WARN, text, cap)
    return Check(PASS, text, cap)


def database(f: dict, settings) -> Check:
    """PostgreSQL's resources now: connections, disk, long transactions, bloat, slower queries."""
    d = f["database"]
    if not d["assessed"]:
        return Check(PASS, d["reason"], {"size_bytes": d["size_bytes"]})
    c, size = d["connections"], d["size"]
    evidence = {"connections": c, "size": size, "long_transactions": len(d["long_transactions"]),
                "lock_waits": d["lock_waits"], "bloated": [b["table"] for b in d["bloat"] if b["bloated"]],
                "queries_doubled": len(d["query_trends"]["doubled"]),
                "slow_queries": "available" if d["slow_queries"]["available"] else d["slow_queries"]["reason"]}
    text = f"{c['in_use']} of {c['max_connections']} connections; {size['size_bytes'] / 1e6:.1f} MB"
    if size["growth_bytes_per_day"] is not None:
        text += f", {size['growth_bytes_per_day'] / 1e6:+.1f} MB/day"
    if size["days_until_full"] is not None:
        text += f", full in {size['days_until_full']:.0f} days"
    notes = []
    if c["share"] >= settings.alert_db_connections_warning:
        notes.append(f"connections at {c['share']:.0%}")
    if size["days_until_full"] is not None and size["days_until_full"] < settings.alert_db_size_days:
        notes.append("disk fills soon")
    if d["long_transactions"]:
        notes.append(f"{len(d['long_transactions'])} long transaction(s)")
    if evidence["bloated"]:
        notes.append("bloated: " + ", ".join(evidence["bloated"]))
    if evidence["queries_doubled"]:
        notes.append(f"{evidence['queries_doubled']} query(ies) twice as slow as the week before")
    return Check(WARN if notes else PASS, text + ("; " + "; ".join(notes) if notes else ""), evidence)


def reconciliation(f: dict) -> Check:
    """The ledger against the providers' bills (reconcile-spend's verdicts for the period)."""
    r = f["reconciliation"]
    counts = r["statuses"]
    evidence = {"runs": r["runs"], "statuses": counts}
    if not r["runs"]:
        return Check(WARN, "reconcile-spend did not run in the period: spend not reconciled", evidence)
    text = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items())) or "no provider days"
    if counts.get("drift"):
        drifting = [f"{x['provider']} {x['day']}" for x in r["rows"] if x["status"] == "drift"]
        return Check(WARN, f"ledger drifts from the bill on {', '.join(drifting[:5])}" +
                     (f" and {len(drifting) - 5} more" if len(drifting) > 5 else "") + f" ({text})", evidence)
    if counts.get("missing") or counts.get("incomplete"):
        return Check(WARN, f"provider data missing for some days ({text})", evidence)
    return Check(PASS, f"provider days reconciled: {text}", evidence)


CHECKLISTS: dict[str, tuple[str, ...]] = {
    "daily": ("alerts", "availability", "latency", "errors", "generation", "quality", "backups", "restore_test",
              "cost", "feedback", "jobs", "alerting"),
    "weekly": ("alerts", "availability", "latency", "errors", "generation", "quality", "slo", "security",
               "compliance", "capacity", "database", "backups", "restore_test", "cost", "jobs", "alerting"),
    "monthly": ("cost", "reconciliation", "availability", "latency", "errors", "generation", "quality", "slo", "restore_test",
                "backups", "security", "compliance", "capacity", "database", "jobs", "alerting"),
}


def evaluate(period: str, facts: dict, settings) -> dict[str, Check]:
    run = {
        "alerts": alerts, "availability": availability, "latency": latency, "errors": errors,
        "generation": generation, "quality": quality, "restore_test": restore_test, "cost": cost,
        "feedback": feedback, "jobs": jobs, "alerting": alerting, "slo": slo, "security": security,
        "compliance": compliance, "capacity": capacity, "reconciliation": reconciliation,
        "backups": lambda f: backups(f, float(settings.backup_max_age_hours)),
        "database": lambda f: database(f, settings),
    }
    return {name: run[name](facts) for name in CHECKLISTS[period]}
