"""`reconcile-spend [--from DATE --to DATE]`: our ledger against the providers' own cost reports.

The ledger (`usage_events`) is our estimate of what each call cost; the
providers' bills are the truth. This job reads, per UTC day, what each provider
says we spent and compares it with the ledger, per provider and day (and per
model where the report allows):

- OpenAI: `GET {OPENAI_BASE_URL}/organization/costs` (admin key
  `OPENAI_ADMIN_KEY`; `bucket_width=1d`, `group_by=line_item`; pages through
  `next_page` while `has_more`), read with the official `openai` SDK, which
  covers this endpoint (`client.admin.organization.usage.costs`). A line item
  reads "<model>, <input|output|...>", so the report splits by model.
- Anthropic: `GET {ANTHROPIC_BASE_URL}/v1/organizations/cost_report` (admin key
  `ANTHROPIC_ADMIN_KEY`, `anthropic-version: 2023-06-01`; `bucket_width=1d`,
  `group_by[]=description`, which adds `model` to each result; pages through
  `next_page` while `has_more`). `amount` is a decimal string in cents. The
  `anthropic` SDK has no client for this endpoint (only the beta analytics
  report), so a small client reads it with `httpx2` (pydantic's httpx, the HTTP
  library both SDKs already use) and the shared retry policy (`shared.retry`) on 429, 5xx and transport
  errors.
- Vertex AI has no such API (its costs are in the Cloud Billing export): "not
  assessed", said in every result; so is a provider whose admin key is unset.

Per provider and day the result is one of: `match` (within
`RECONCILE_TOLERANCE` relative to the provider's figure, or within
`RECONCILE_MIN_USD`), `drift` (both figures given), `missing` (the provider's
report has no bucket for the day, or could not be read: never taken as $0),
`incomplete` (the provider's day has not closed yet), `not_assessed`.

Late data: without `--from/--to`, the run covers yesterday plus every day of the
last `RECHECK_DAYS` that an earlier run left `missing`, `incomplete` or `drift`,
so a provider's late bucket is compared when it arrives and a drift that a late
correction removes is resolved.

Drift opens (or refreshes) the warning alert `spend_drift` naming each provider,
day and both figures; it resolves once every day it named matches. Exit 1 when
a day drifts or a provider's report could not be read, else 0. The summary's
`rows` are what the monthly ops report's reconciliation table shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from jobs.runner import JobContext, JobResult
from shared.timestamps import as_utc

if TYPE_CHECKING:
    import argparse

    from shared.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

NOT_ASSESSED_REASON = {
    "vertex": "no cost API: Vertex AI costs are in the Cloud Billing export",
    "mock": "the offline mock provider bills nothing",
}
ANTHROPIC_VERSION = "2023-06-01"
RECHECK_DAYS = 7
PAGE_LIMIT = 31  # buckets per page (both APIs allow at least this with 1d buckets)
MAX_PAGES = 100
ALERT_RULE = "spend_drift"
CENTS = Decimal(100)


class ReportUnavailable(Exception):
    """A provider's cost report could not be read (its reason is safe to show: no key in it)."""


@dataclass
class DayCost:
    """What one provider reports for one UTC day."""

    total: Decimal = Decimal(0)
    by_model: dict[str, Decimal] = field(default_factory=dict)
    closed: bool = True

    def add(self, model: str | None, amount: Decimal) -> None:
        self.total += amount
        key = model or "(other)"
        self.by_model[key] = self.by_model.get(key, Decimal(0)) + amount


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """The job's own flags (see jobs.runner)."""
    from jobs.cost_report.options import iso_date

    group.add_argument("--from", dest="date_from", metavar="DATE", type=iso_date,
                       help="first UTC day to reconcile, YYYY-MM-DD (default: --to, else yesterday and the "
                            f"unsettled days of the last {RECHECK_DAYS})")
    group.add_argument("--to", dest="date_to", metavar="DATE", type=iso_date,
                       help="last UTC day to reconcile, included, YYYY-MM-DD (default: --from, else yesterday)")


def _at(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.utc)


def _retrying() -> Callable[[F], F]:
    """The admin API calls under the shared retry policy: 4 tries, 0.5 s doubling to 8 s, on
    transport errors, 429 and 5xx."""
    import functools

    import httpx2

    from shared.retry import RetryPolicy

    policy = RetryPolicy(attempts=4, first=0.5, longest_backoff=8)

    def transient(exc: BaseException) -> bool:
        if isinstance(exc, httpx2.TransportError):
            return True
        return isinstance(exc, httpx2.HTTPStatusError) and (exc.response.status_code == 429
                                                           or exc.response.status_code >= 500)

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def retried(*args: Any, **kwargs: Any) -> Any:
            return policy.run(lambda: fn(*args, **kwargs), transient)
        return retried  # type: ignore[return-value]  # same signature as fn (functools.wraps)
    return decorate


# -- OpenAI -----------------------------------------------------------------------------
def openai_costs(settings: Settings, first: date, last: date, now: datetime) -> dict[date, DayCost]:
    """Daily costs by model from OpenAI's organization costs report (the official SDK)."""
    import openai

    client = openai.OpenAI(admin_api_key=settings.openai_admin_key, base_url=settings.openai_base_url or None,
                           timeout=30.0, max_retries=3)
    days: dict[date, DayCost] = {}
    page: str | None = None
    try:
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {"page": page} if page else {}
            got = client.admin.organization.usage.costs(
                start_time=int(_at(first).timestamp()), end_time=int(_at(last + timedelta(days=1)).timestamp()),
                bucket_width="1d", group_by=["line_item"], limit=PAGE_LIMIT, **kwargs)
            for bucket in got.data:
                day = datetime.fromtimestamp(bucket.start_time, timezone.utc).date()
                cost = days.setdefault(day, DayCost())
                cost.closed = bucket.end_time <= now.timestamp()
                for result in bucket.results:
                    amount = getattr(result, "amount", None)
                    if amount is None or amount.value is None:
                        continue
                    if (amount.currency or "usd").lower() != "usd":
                        raise ReportUnavailable(f"OpenAI reports in {amount.currency}, not USD")
                    line = getattr(result, "line_item", None) or ""
                    cost.add(line.split(",", 1)[0].strip() or None, Decimal(str(amount.value)))
            if not got.has_more or not got.next_page:
                break
            page = got.next_page
        else:
            raise ReportUnavailable(f"OpenAI costs report longer than {MAX_PAGES} pages")
    except openai.APIStatusError as exc:
        raise ReportUnavailable(f"OpenAI costs report answered HTTP {exc.status_code}") from None
    except openai.APIError as exc:
        raise ReportUnavailable(f"OpenAI costs report unreachable ({type(exc).__name__})") from None
    return days


# -- Anthropic --------------------------------------------------------------------------
def anthropic_costs(settings: Settings, first: date, last: date, now: datetime) -> dict[date, DayCost]:
    """Daily costs by model from Anthropic's Admin API cost report (httpx2 + `shared.retry`)."""
    import httpx2

    base = (settings.anthropic_base_url or "https://api.anthropic.com").rstrip("/")
    headers = {"x-api-key": settings.anthropic_admin_key or "", "anthropic-version": ANTHROPIC_VERSION}
    params: dict[str, Any] = {
        "starting_at": _at(first).isoformat().replace("+00:00", "Z"),
        "ending_at": _at(last + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "bucket_width": "1d", "group_by[]": "description", "limit": PAGE_LIMIT,
    }

    @_retrying()
    def fetch(client: httpx2.Client, query: dict[str, Any]) -> dict[str, Any]:
        response = client.get(f"{base}/v1/organizations/cost_report", params=query)
        response.raise_for_status()
        return response.json()

    days: dict[date, DayCost] = {}
    try:
        with httpx2.Client(headers=headers, timeout=30.0) as client:
            query = dict(params)
            for _ in range(MAX_PAGES):
                body = fetch(client, query)
                if not isinstance(body.get("data"), list) or "has_more" not in body:
                    raise ReportUnavailable("Anthropic cost report has an unexpected shape")
                for bucket in body["data"]:
                    start, end = as_utc(bucket["starting_at"]), as_utc(bucket["ending_at"])
                    cost = days.setdefault(start.date(), DayCost())
                    cost.closed = end <= now
                    for result in bucket.get("results") or []:
                        if (result.get("currency") or "USD").upper() != "USD":
                            raise ReportUnavailable(f"Anthropic reports in {result.get('currency')}, not USD")
                        cost.add(result.get("model"), Decimal(str(result["amount"])) / CENTS)
                if not body["has_more"] or not body.get("next_page"):
                    break
                query = dict(params, page=body["next_page"])
            else:
                raise ReportUnavailable(f"Anthropic cost report longer than {MAX_PAGES} pages")
    except httpx2.HTTPStatusError as exc:
        raise ReportUnavailable(f"Anthropic cost report answered HTTP {exc.response.status_code}") from None
    except httpx2.HTTPError as exc:
        raise ReportUnavailable(f"Anthropic cost report unreachable ({type(exc).__name__})") from None
    except (KeyError, ValueError, TypeError):
        raise ReportUnavailable("Anthropic cost report has an unexpected shape") from None
    return days


READERS = {"openai": (openai_costs, "openai_admin_key", "OPENAI_ADMIN_KEY"),
           "anthropic": (anthropic_costs, "anthropic_admin_key", "ANTHROPIC_ADMIN_KEY")}


# -- our side ---------------------------------------------------------------------------
@dataclass
class Ours:
    total: Decimal = Decimal(0)
    by_model: dict[str, Decimal] = field(default_factory=dict)
    unknown_cost_events: int = 0


def ledger(first: date, last: date) -> dict[tuple[date, str], Ours]:
    """Spend per (day, provider) with its models, from the cost report's one GROUP BY."""
    from jobs.cost_report.queries import cube, in_session

    out: dict[tuple[date, str], Ours] = {}
    for (day, provider, model, _ctype), cell in in_session(cube, first, last + timedelta(days=1)).items():
        ours = out.setdefault((date.fromisoformat(day), provider), Ours())
        ours.total += cell.spend
        ours.by_model[model] = ours.by_model.get(model, Decimal(0)) + cell.spend
        ours.unknown_cost_events += cell.unknown
    return out


# -- comparing --------------------------------------------------------------------------
def money(value: Decimal | None) -> str | None:
    from jobs.cost_report.cells import money as exact

    return None if value is None else exact(value)


def drift_of(ours: Decimal, theirs: Decimal) -> float | None:
    """Relative difference against the provider's figure (the bill); None when both are zero."""
    if theirs == 0:
        return None if ours == 0 else float("inf")
    return float(abs(ours - theirs) / theirs)


def judge(ours: Decimal, theirs: Decimal, tolerance: float, min_usd: Decimal) -> str:
    if abs(ours - theirs) <= min_usd:
        return "match"
    d = drift_of(ours, theirs)
    return "match" if d is not None and d <= tolerance else "drift"


def model_rows(ours: dict[str, Decimal], theirs: dict[str, Decimal]) -> list[dict[str, Any]]:
    """Per model where the report allows: a provider's model name ("gpt-4o-mini-2024-07-18")
    is matched to the longest ledger model it equals or extends with "-"."""
    mapped: dict[str, Decimal] = {}
    for name, amount in theirs.items():
        owner = max((m for m in ours if name == m or name.startswith(m + "-")), key=len, default=name)
        mapped[owner] = mapped.get(owner, Decimal(0)) + amount
    rows = []
    for model in sorted(set(ours) | set(mapped)):
        a, b = ours.get(model), mapped.get(model)
        d = drift_of(a or Decimal(0), b or Decimal(0))
        rows.append({"model": model, "ours_usd": money(a or Decimal(0)), "theirs_usd": money(b or Decimal(0)),
                     "drift": None if d is None else (round(d, 4) if d != float("inf") else "inf")})
    return rows


def compare(days: list[date], providers: list[str], ours: dict[tuple[date, str], Ours],
            reports: dict[str, dict[date, DayCost] | str], tolerance: float, min_usd: Decimal) -> list[dict]:
    """One row per (provider, day): status and both figures (`theirs` absent when unknown)."""
    rows = []
    for provider in providers:
        report = reports.get(provider)
        for day in days:
            mine = ours.get((day, provider), Ours())
            row: dict[str, Any] = {"provider": provider, "day": day.isoformat(), "ours_usd": money(mine.total),
                                   "theirs_usd": None, "drift": None,
                                   "unknown_cost_events": mine.unknown_cost_events}
            if provider not in READERS:
                row |= {"status": "not_assessed", "reason": NOT_ASSESSED_REASON.get(provider, "no cost API")}
            elif isinstance(report, str):
                row |= {"status": "not_assessed" if report.endswith(" not set") else "missing", "reason": report}
            elif report is None or day not in report:
                row |= {"status": "missing", "reason": "no bucket for this day in the provider's report (yet)"}
            elif not report[day].closed:
                row |= {"status": "incomplete", "reason": "the provider's day has not closed",
                        "theirs_usd": money(report[day].total)}
            else:
                theirs = report[day]
                d = drift_of(mine.total, theirs.total)
                row |= {"status": judge(mine.total, theirs.total, tolerance, min_usd),
                        "theirs_usd": money(theirs.total),
                        "drift": None if d is None else (round(d, 4) if d != float("inf") else "inf"),
                        "models": model_rows(mine.by_model, theirs.by_model)}
            rows.append(row)
    return rows


# -- the run ----------------------------------------------------------------------------
def _days(ctx: JobContext, now: datetime) -> tuple[list[date], bool]:
    """The days to reconcile, and whether they were chosen by flags."""
    from jobs.cost_report.options import period

    explicit = ctx.options.get("date_from") or ctx.options.get("date_to")
    first, last = period(ctx.options, None)
    days = [first + timedelta(n) for n in range((last - first).days + 1)]
    if explicit:
        return days, True
    return sorted(set(days) | unsettled_days(now.date() - timedelta(days=RECHECK_DAYS), first)), False


def unsettled_days(since: date, before: date) -> set[date]:
    """Days an earlier run left missing, incomplete or drifting, from its ledger summary."""
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import JobRun

    latest: dict[tuple[str, str], tuple[datetime, str]] = {}
    with session_scope() as session:
        runs = session.scalars(select(JobRun).where(
            JobRun.job == "reconcile-spend", JobRun.dry_run.is_(False), JobRun.status.in_(("ok", "problem")),
            JobRun.started_at >= _at(since) - timedelta(days=1)).order_by(JobRun.started_at)).all()
        for run in runs:
            for row in (run.summary or {}).get("rows", []):
                latest[(row["provider"], row["day"])] = (run.started_at, row["status"])
    return {date.fromisoformat(day) for (_, day), (_, status) in latest.items()
            if status in ("missing", "incomplete", "drift") and since <= date.fromisoformat(day) < before}


def _providers(settings: Settings, ours: dict[tuple[date, str], Ours]) -> list[str]:
    seen = {p for _, p in ours} | set(settings.providers) | {p for p in READERS
                                                            if getattr(settings, READERS[p][1])}
    order = {p: i for i, p in enumerate(("openai", "anthropic", "vertex", "mock"))}
    return sorted(seen - {"mock"}, key=lambda p: order.get(p, 99))


def _alert(ctx: JobContext, rows: list[dict[str, Any]]) -> tuple[list[dict], bool]:
    """Open, refresh or resolve `spend_drift`; returns the drifts still open and whether it is open."""
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import Alert

    with session_scope() as session:
        current = session.scalars(select(Alert).where(Alert.rule == ALERT_RULE, Alert.status == "open")).first()
        previous = list((current.details or {}).get("drifts", [])) if current else []
    checked = {(r["provider"], r["day"]) for r in rows if r["status"] in ("match", "drift")}
    drifts = [d for d in previous if (d["provider"], d["day"]) not in checked]
    drifts += [{k: r[k] for k in ("provider", "day", "ours_usd", "theirs_usd", "drift")}
               for r in rows if r["status"] == "drift"]
    drifts.sort(key=lambda d: (d["day"], d["provider"]))
    if ctx.dry_run:
        return drifts, bool(drifts)
    if drifts:
        parts = [f"{d['provider']} {d['day']}: ledger ${d['ours_usd']}, provider ${d['theirs_usd']}"
                 + (f" ({float(d['drift']):.1%})" if d["drift"] not in (None, "inf") else "") for d in drifts[:5]]
        more = f" and {len(drifts) - 5} more" if len(drifts) > 5 else ""
        ctx.alert(ALERT_RULE, "warning", "Spend drifts from the provider's bill: " + "; ".join(parts) + more,
                  {"drifts": drifts, "tolerance": ctx.settings.reconcile_tolerance})
    elif current is not None:
        ctx.resolve(ALERT_RULE, "Resolved: the ledger matches the providers' bills for every day that drifted")
    return drifts, bool(drifts)


def run(ctx: JobContext) -> JobResult:
    settings = ctx.settings
    now = datetime.now(timezone.utc)
    days, explicit = _days(ctx, now)
    ours = ledger(days[0], days[-1])
    providers = _providers(settings, ours)
    reports: dict[str, dict[date, DayCost] | str] = {}
    unreadable = []
    for provider in providers:
        if provider not in READERS:
            continue
        reader, key_field, key_name = READERS[provider]
        if not getattr(settings, key_field):
            reports[provider] = f"{key_name} not set"
            continue
        try:
            reports[provider] = reader(settings, days[0], days[-1], now)
        except ReportUnavailable as exc:
            reports[provider] = str(exc)
            unreadable.append(provider)
            ctx.log.warning("provider cost report unavailable", extra={"provider": provider, "error": str(exc)})
    rows = compare(days, providers, ours, reports, settings.reconcile_tolerance, settings.reconcile_min_usd)
    for row in rows:
        ctx.emit({k: v for k, v in row.items() if k != "models"})
    open_drifts, _ = _alert(ctx, rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    summary = {"from": days[0].isoformat(), "to": days[-1].isoformat(), "days": [d.isoformat() for d in days],
               "rechecked": not explicit and len(days) > 1, "tolerance": settings.reconcile_tolerance,
               "statuses": counts, "unreadable": unreadable, "open_drifts": len(open_drifts),
               "rows": [{k: v for k, v in r.items() if k != "models" or r["status"] == "drift"} for r in rows]}
    problem = any(r["status"] == "drift" for r in rows) or unreadable
    return JobResult.problem(**summary) if problem else JobResult.ok(**summary)
