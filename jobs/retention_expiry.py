"""`retention-expiry`: delete or anonymise data past its retention period (DESIGN.md data classes).

| class | table | rule (setting) | action |
|---|---|---|---|
| content | content_items | created > RETENTION_CONTENT_DAYS (365) | delete (feedback cascades) |
| usage | usage_events | created > RETENTION_USAGE_DAYS (400) | delete |
| usage_user_link | usage_events | created > RETENTION_USAGE_ANONYMISE_DAYS (90) | user_id set NULL |
| idempotency | idempotency_records | past expires_at | delete |
| idempotency_age | idempotency_records | created > RETENTION_IDEMPOTENCY_HOURS (24) | delete |
| rate_limit_counters | rate_limit_counters | expires_at more than 1 minute ago | delete |
| spend_totals | spend_totals | budget period ended more than 1 day ago | delete |
| request_metrics | request_metrics | created > RETENTION_METRICS_DAYS (30) | delete |
| audit_log | audit_log | created > RETENTION_AUDIT_DAYS (6 years) | delete |
| job_runs | job_runs | started > RETENTION_JOB_RUNS_DAYS (400) | delete |

Backups are pruned by the backup job (BACKUP_RETENTION_DAYS).

How it stays safe on a busy database: rows are walked in (time, key) order
with a keyset cursor and changed in bounded batches, one short transaction
each. The batch shrinks when a transaction takes longer than
RETENTION_MAX_TRANSACTION_SECONDS / 2 and grows back up to RETENTION_BATCH_SIZE,
so no transaction holds its locks for long. Each batch commits together
with a checkpoint (cursor and counts so far) in `job_checkpoints`, so a run
killed at any point is resumed by the next run, with the cutoffs of the
interrupted run, and finishes with the same totals an uninterrupted run
would have had. The final transaction writes one audit entry with the counts
and clears the checkpoint. Anonymised rows stay in their table, so the next
run starts the anonymisation walk a day before the previous run's cutoff
(a watermark checkpoint) rather than rescanning months of rows. `--dry-run`
only counts.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from jobs.runner import JobConfigError, JobContext, JobResult
from shared.metric_totals import fold_deleted
from shared.models import (
    AuditEntry,
    ContentItem,
    IdempotencyRecord,
    JobRun,
    RateLimitCounter,
    RequestMetric,
    SpendTotal,
    UsageEvent,
)
from shared.settings import Settings

CHECKPOINT = "progress"
WATERMARKS = "watermarks"


class RetentionOptions(BaseSettings):
    """Operator knobs of this job (environment, prefix RETENTION_)."""

    model_config = SettingsConfigDict(env_prefix="RETENTION_", extra="ignore", frozen=True)

    batch_size: int = Field(5000, ge=1, le=100_000)
    max_transaction_seconds: float = Field(1.0, gt=0)
    job_runs_days: int = Field(400, ge=1)
    # Test hook: SIGKILL this process after N committed batches (proves crash-resumability).
    test_kill_after_batches: int | None = None


@dataclass(frozen=True)
class DataClass:
    name: str
    model: Any
    time_col: Any
    key_col: Any
    action: str  # "delete" | "anonymise"
    cutoff: Callable[[Settings, RetentionOptions, datetime], datetime]
    extra: Callable[[], ColumnElement[bool]] | None = None


DATA_CLASSES: tuple[DataClass, ...] = (
    DataClass("content", ContentItem, ContentItem.created_at, ContentItem.id, "delete",
              lambda s, o, now: now - timedelta(days=s.retention_content_days)),
    DataClass("usage", UsageEvent, UsageEvent.created_at, UsageEvent.id, "delete",
              lambda s, o, now: now - timedelta(days=s.retention_usage_days)),
    DataClass("usage_user_link", UsageEvent, UsageEvent.created_at, UsageEvent.id, "anonymise",
              lambda s, o, now: now - timedelta(days=s.retention_usage_anonymise_days),
              lambda: UsageEvent.user_id.is_not(None)),
    DataClass("idempotency", IdempotencyRecord, IdempotencyRecord.expires_at, IdempotencyRecord.id, "delete",
              lambda s, o, now: now),
    DataClass("idempotency_age", IdempotencyRecord, IdempotencyRecord.created_at, IdempotencyRecord.id, "delete",
              lambda s, o, now: now - timedelta(hours=s.retention_idempotency_hours)),
    DataClass("rate_limit_counters", RateLimitCounter, RateLimitCounter.expires_at, RateLimitCounter.bucket,
              "delete", lambda s, o, now: now - timedelta(minutes=1)),
    DataClass("spend_totals", SpendTotal, SpendTotal.period_end, SpendTotal.bucket, "delete",
              lambda s, o, now: now - timedelta(days=1)),  # a budget period over for a day is never read again
    DataClass("request_metrics", RequestMetric, RequestMetric.created_at, RequestMetric.id, "delete",
              lambda s, o, now: now - timedelta(days=s.retention_metrics_days)),
    DataClass("audit_log", AuditEntry, AuditEntry.created_at, AuditEntry.id, "delete",
              lambda s, o, now: now - timedelta(days=s.retention_audit_days)),
    DataClass("job_runs", JobRun, JobRun.started_at, JobRun.id, "delete",
              lambda s, o, now: now - timedelta(days=o.job_runs_days)),
)


_ANONYMISING = tuple(dc.name for dc in DATA_CLASSES if dc.action == "anonymise")


def _due(dc: DataClass, cutoff: datetime) -> ColumnElement[bool]:
    cond = dc.time_col < cutoff
    return and_(cond, dc.extra()) if dc.extra else cond


def _after(dc: DataClass, cursor: list[Any] | None) -> ColumnElement[bool] | None:
    """Rows strictly after the cursor in (time, key) order; the `>=` lets the time index start there."""
    if not cursor:
        return None
    t = datetime.fromisoformat(cursor[0])
    return and_(dc.time_col >= t, or_(dc.time_col > t, dc.key_col > cursor[1]))


class _Batcher:
    """Adapts the batch size so each transaction stays well under the limit."""

    def __init__(self, opts: RetentionOptions) -> None:
        self.max = opts.batch_size
        self.size = opts.batch_size
        self.target = opts.max_transaction_seconds / 2
        self.longest = 0.0
        self.batches = 0

    def record(self, seconds: float) -> None:
        self.batches += 1
        self.longest = max(self.longest, seconds)
        if seconds > self.target and self.size > 1:
            self.size = max(1, self.size // 2)
        elif seconds < self.target / 4:
            self.size = min(self.max, self.size * 2)


def _run_class(ctx: JobContext, dc: DataClass, state: dict[str, Any], batcher: _Batcher,
               opts: RetentionOptions) -> None:
    from shared.database import session_scope

    cutoff = datetime.fromisoformat(state["cutoffs"][dc.name])
    lower = state.get("lower", {}).get(dc.name)
    while True:
        started = time.monotonic()
        with session_scope() as s:
            q = select(dc.key_col, dc.time_col).where(_due(dc, cutoff))
            if lower:
                q = q.where(dc.time_col >= datetime.fromisoformat(lower))
            after = _after(dc, state["cursors"].get(dc.name))
            if after is not None:
                q = q.where(after)
            rows = s.execute(q.order_by(dc.time_col, dc.key_col).limit(batcher.size)).all()
            if not rows:
                state["done"].append(dc.name)
                ctx.set_checkpoint(CHECKPOINT, state, session=s)
                return
            keys = [r[0] for r in rows]
            if dc.action == "delete":
                # Counters on GET /metrics must not go down: fold the rows into rollups first.
                fold_deleted(s, dc.model, dc.key_col.in_(keys))
                result = s.execute(delete(dc.model).where(dc.key_col.in_(keys)))
            else:
                result = s.execute(update(dc.model).where(dc.key_col.in_(keys)).values(user_id=None))
            # DML without RETURNING yields a CursorResult; Session.execute is typed for any statement.
            changed = cast(CursorResult[Any], result).rowcount
            last = rows[-1]
            state["cursors"][dc.name] = [last[1].astimezone(timezone.utc).isoformat(), last[0]]
            state["counts"][dc.name] += changed
            ctx.set_checkpoint(CHECKPOINT, state, session=s)
        batcher.record(time.monotonic() - started)
        if opts.test_kill_after_batches and batcher.batches >= opts.test_kill_after_batches:
            os.kill(os.getpid(), signal.SIGKILL)


def _count_due(cutoffs: dict[str, str]) -> dict[str, int]:
    """What a real run would change: rows an earlier class deletes are not counted again."""
    from shared.database import session_scope

    counts = {}
    with session_scope() as s:
        for i, dc in enumerate(DATA_CLASSES):
            cond = _due(dc, datetime.fromisoformat(cutoffs[dc.name]))
            for prev in DATA_CLASSES[:i]:
                if prev.model is dc.model and prev.action == "delete":
                    cond = and_(cond, ~_due(prev, datetime.fromisoformat(cutoffs[prev.name])))
            counts[dc.name] = s.execute(select(func.count()).select_from(dc.model).where(cond)).scalar_one()
    return counts


def run(ctx: JobContext) -> JobResult:
    from shared.database import session_scope

    try:
        opts = RetentionOptions()
    except ValidationError as exc:
        raise JobConfigError(f"bad RETENTION_* setting: {exc.errors()[0]['loc'][0]}") from None
    now = datetime.now(timezone.utc)
    fresh = {dc.name: dc.cutoff(ctx.settings, opts, now).isoformat() for dc in DATA_CLASSES}
    if ctx.dry_run:
        counts = _count_due(fresh)
        for name, n in counts.items():
            ctx.emit({"class": name, "would_change": n, "cutoff": fresh[name]})
        return JobResult.ok(would_change=counts, total=sum(counts.values()), cutoffs=fresh)

    state = ctx.get_checkpoint(CHECKPOINT)
    resumed = state is not None
    if state is None:
        # Anonymised rows stay in the table: start where the last completed run stopped (less a day
        # of margin) instead of walking months of already anonymised rows every night.
        marks = ctx.get_checkpoint(WATERMARKS) or {}
        lower = {name: (datetime.fromisoformat(mark) - timedelta(days=1)).isoformat()
                 for name, mark in marks.items() if name in _ANONYMISING}
        state = {"cutoffs": fresh, "cursors": {}, "counts": {dc.name: 0 for dc in DATA_CLASSES}, "done": [],
                 "lower": lower, "started_at": now.isoformat()}
    else:
        ctx.log.info("resuming an interrupted run", extra={"done": state["done"], "counts": state["counts"]})
    batcher = _Batcher(opts)
    for dc in ctx.progress(DATA_CLASSES, total=len(DATA_CLASSES), desc="retention classes"):
        if dc.name not in state["done"]:
            _run_class(ctx, dc, state, batcher, opts)
    with session_scope() as s:
        s.add(AuditEntry(action="retention.expiry", actor="system", actor_role="job", count=sum(state["counts"].values()),
                         details={"counts": state["counts"], "cutoffs": state["cutoffs"], "run_id": ctx.run_id,
                                  "resumed": resumed}))
        ctx.set_checkpoint(CHECKPOINT, None, session=s)
        ctx.set_checkpoint(WATERMARKS, {n: state["cutoffs"][n] for n in _ANONYMISING}, session=s)
    return JobResult.ok(counts=state["counts"], total=sum(state["counts"].values()), resumed=resumed,
                        batches=batcher.batches, longest_transaction_s=round(batcher.longest, 3),
                        cutoffs=state["cutoffs"])
