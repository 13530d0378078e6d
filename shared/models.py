"""The data model of the whole product (SQLAlchemy 2 declarative).

Alembic migrations in `shared/migrations/` create exactly this schema; a test
compares the two so they never drift. Identifiers are UUID strings. Every
timestamp is stored in UTC and read back timezone-aware.

Personal data lives in `users`; everything that refers to a person either
cascades from `users` (deleted on erasure), is set to NULL (usage ledger,
request metrics: kept for accounting and statistics), or holds a keyed
pseudonym (audit log, erasure ledger), never an email.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.timestamps import as_utc

if TYPE_CHECKING:
    from sqlalchemy import Table

ROLES = ("user", "admin", "ops")
CONSENT_PURPOSES = ("analytics", "product_improvement", "marketing")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None:
            value = as_utc(value).astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return as_utc(value)


JSONType = JSON().with_variant(JSONB(), "postgresql")
Money = Numeric(18, 8)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, Decimal: Money}

    if TYPE_CHECKING:
        # Every model maps a Table (none maps a join or a subquery); SQLAlchemy types it FromClause.
        __table__: ClassVar[Table]


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="user")
    restricted_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    api_keys: Mapped[list["ApiKey"]] = relationship(back_populates="user", passive_deletes=True)

    __table_args__ = (CheckConstraint("role IN ('user', 'admin', 'ops')", name="ck_users_role"),)


class ApiKey(Base):
    """An API key: only a SHA-256 hash of the secret is stored; `prefix` finds the row."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(back_populates="api_keys")


class ContentItem(Base):
    __tablename__ = "content_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    content_type: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16), default="en")
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    content: Mapped[dict[str, Any]] = mapped_column()
    quality: Mapped[dict[str, Any]] = mapped_column()
    quality_overall: Mapped[float] = mapped_column(Float)
    quality_passed: Mapped[bool] = mapped_column(Boolean)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    prompt_version: Mapped[str] = mapped_column(String(32))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[Decimal | None] = mapped_column()
    cached_input_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Generation cache: an original (cached = false) with a key can serve later identical requests;
    # a copy served from it has cached = true and is never itself a cache entry.
    cached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    cache_key: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_content_items_user_created", "user_id", "created_at", "id"),
        Index("ix_content_items_created", "created_at"),
        Index("ix_content_items_cache_key", "cache_key", "created_at"),
    )


class UsageEvent(Base):
    """The cost ledger: one row per provider attempt (and budget reservations).

    `user_id` is set to NULL on erasure and after the anonymisation period;
    the totals stay for accounting. Unknown token counts or prices are NULL with
    `cost_known = false`, never recorded as $0.
    """

    __tablename__ = "usage_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    content_id: Mapped[str | None] = mapped_column(String(36))
    generation_id: Mapped[str | None] = mapped_column(String(36))  # server-side: the rows of one request
    request_id: Mapped[str | None] = mapped_column(String(64))  # the client's X-Request-ID: a label only
    content_type: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(16), default="generation")  # generation|repair|judge|cache_hit|reservation
    outcome: Mapped[str] = mapped_column(String(24))  # success|error|timeout|rate_limited|invalid_output|low_quality|reserved|released
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)  # reasoning/thinking included
    cached_input_tokens: Mapped[int | None] = mapped_column(Integer)  # inside input_tokens
    cache_write_tokens: Mapped[int | None] = mapped_column(Integer)  # inside input_tokens (5-minute writes)
    cache_write_1h_tokens: Mapped[int | None] = mapped_column(Integer)  # inside input_tokens (1-hour writes)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)  # inside output_tokens
    cost_usd: Mapped[Decimal | None] = mapped_column()
    cost_avoided_usd: Mapped[Decimal | None] = mapped_column()  # cache_hit rows: what the original cost
    reserved_usd: Mapped[Decimal | None] = mapped_column()
    cost_known: Mapped[bool] = mapped_column(Boolean, default=True)
    price_version: Mapped[str | None] = mapped_column(String(32))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_usage_events_created", "created_at"),
        Index("ix_usage_events_user_created", "user_id", "created_at"),
        Index("ix_usage_events_generation", "generation_id"),
    )


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    content_id: Mapped[str] = mapped_column(ForeignKey("content_items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="ck_feedback_rating"),)


class Consent(Base):
    """Current consent per purpose; absent means not granted (privacy by default)."""

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "purpose", name="uq_consents_user_purpose"),)


class ConsentEvent(Base):
    """Consent history: who changed what, when (Art. 7 accountability)."""

    __tablename__ = "consent_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    actor_role: Mapped[str] = mapped_column(String(16))  # self | admin
    actor: Mapped[str] = mapped_column(String(64))  # pseudonym of who made the change
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Security and data-protection events. Holds pseudonyms, never emails or content."""

    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(64))  # pseudonym, or 'system' / 'cli'
    actor_role: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(64))  # pseudonym of the person concerned
    request_id: Mapped[str | None] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer, default=1)  # aggregated events (auth failures)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        Index("ix_audit_log_created", "created_at"),
        Index("ix_audit_log_subject", "subject"),
    )


class Erasure(Base):
    """The erasure ledger: lets a restored backup have past erasures re-applied."""

    __tablename__ = "erasures"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subject: Mapped[str] = mapped_column(String(64), unique=True)  # HMAC pseudonym of the user id
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_by: Mapped[str] = mapped_column(String(16))  # self | admin
    deleted: Mapped[dict[str, Any]] = mapped_column(default=dict)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # in_progress | completed
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()

    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),
        Index("ix_idempotency_expires", "expires_at"),
    )


class RateLimitCounter(Base):
    """Fixed-window counters shared by every instance (when Redis is not configured)."""

    __tablename__ = "rate_limit_counters"

    bucket: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RequestMetric(Base):
    """One row per handled request; `user_id` only with the analytics consent."""

    __tablename__ = "request_metrics"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    function: Mapped[str] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("ix_request_metrics_created_function", "created_at", "function"),
        Index("ix_request_metrics_user_id", "user_id"),  # erasure and its FK action find a person's rows
    )


class ProviderCircuit(Base):
    """Circuit-breaker state per provider, shared by every instance."""

    __tablename__ = "provider_circuits"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    open_until: Mapped[datetime | None] = mapped_column()
    probe_until: Mapped[datetime | None] = mapped_column()  # half-open: the one probe's lease
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JobRun(Base):
    """The job ledger: every run of every job."""

    __tablename__ = "job_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    job: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # running | ok | problem | error | skipped
    exit_code: Mapped[int | None] = mapped_column(Integer)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)


class JobCheckpoint(Base):
    """Progress a job keeps between batches so a killed run resumes where it stopped."""

    __tablename__ = "job_checkpoints"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JobLease(Base):
    """Who runs a job now: one row per running job, valid until `expires_at`.

    A lease is a row, not a lock held by a connection, so it works through
    PgBouncer's transaction pooling; the holder renews it while it runs, and a
    killed run's lease simply expires (jobs/lease.py).
    """

    __tablename__ = "job_leases"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))  # host:pid:nonce
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class SpendTotal(Base):
    """Running spend per budget period, so a cap check is one row update, not a ledger sum.

    `bucket` is `day:YYYY-MM-DD`, `month:YYYY-MM` or `user-day:<user id>:YYYY-MM-DD`;
    `total_usd` counts settled costs plus live reservations. A user's buckets
    are deleted on erasure; ended periods are expired by retention.
    """

    __tablename__ = "spend_totals"

    bucket: Mapped[str] = mapped_column(String(80), primary_key=True)
    total_usd: Mapped[Decimal] = mapped_column(default=Decimal(0))
    period_end: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_spend_totals_period_end", "period_end"),)

    @staticmethod
    def user_prefix(user_id: str) -> str:
        return f"user-day:{user_id}:"


class Alert(Base):
    """Alerts raised by jobs and rules: one open alert per rule, notified by severity.

    The incident history (opened, acknowledged, escalated, resolved) is read by
    the ops report; `acknowledged_by` is the acknowledging operator's user id
    (set to NULL if that person is erased) and `acknowledged_via` says where
    (`api`, `console` or `cli`).
    """

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    rule: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(16))  # critical | error | warning | info
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    notified_at: Mapped[datetime | None] = mapped_column()
    dedup_key: Mapped[str | None] = mapped_column(String(255))
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_via: Mapped[str | None] = mapped_column(String(16))
    escalated_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_alerts_rule_status", "rule", "status"),
        Index("ix_alerts_opened", "opened_at"),
        CheckConstraint("severity IN ('critical', 'error', 'warning', 'info')", name="ck_alerts_severity"),
    )


class AlertSilence(Base):
    """`factoria alerts silence RULE --for 2h`: alerts of matching rules are recorded, not notified.

    `rule` is a rule name or an fnmatch pattern (`job:*:missed`).
    """

    __tablename__ = "alert_silences"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    rule: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(64))  # cli | api
    reason: Mapped[str | None] = mapped_column(Text)


class MetricRollup(Base):
    """Totals of rows the retention job deleted, per metric and label set, so the counters
    and histograms of `GET /metrics` (live rows + rollups) never go down."""

    __tablename__ = "metric_rollups"

    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    labels: Mapped[str] = mapped_column(String(500), primary_key=True)  # canonical JSON of the label values
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    buckets: Mapped[dict[str, Any]] = mapped_column(default=dict)  # upper bound -> cumulative count
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AlertOutbox(Base):
    """One notification for one channel, waiting to be delivered (shared/alerts/outbox.py).

    A request that raises an alert only adds rows here, in its own transaction; a sender
    outside any request (each instance's background thread, and `alert-check`) delivers
    them with retries and backoff. `next_attempt_at` is also the claim: a sender moves it
    ahead before sending, so two senders never send one row at once.
    """

    __tablename__ = "alert_outbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(16))  # webhook | pagerduty
    alert_id: Mapped[str | None] = mapped_column(String(36))
    rule: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_alert_outbox_due", "delivered_at", "next_attempt_at"),)


class InstanceSample(Base):
    """One function instance's resources at one moment, written with its request metrics.

    `instance` is host:pid (no person in it); the pool counters are cumulative for the
    process, so a rule reads their increase between two samples of one instance.
    """

    __tablename__ = "instance_samples"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    instance: Mapped[str] = mapped_column(String(200))
    function: Mapped[str] = mapped_column(String(32))
    rss_bytes: Mapped[int] = mapped_column(BigInteger)
    threads: Mapped[int] = mapped_column(Integer)
    in_flight: Mapped[int] = mapped_column(Integer)
    pool_size: Mapped[int] = mapped_column(Integer)
    pool_checked_out: Mapped[int] = mapped_column(Integer)
    pool_checkouts: Mapped[int] = mapped_column(BigInteger)
    pool_waits: Mapped[int] = mapped_column(BigInteger)
    pool_timeouts: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_instance_samples_at", "at"), Index("ix_instance_samples_instance_at", "instance", "at"))


class DatabaseSample(Base):
    """The database's size and connections at one moment (alert-check, at most one an hour),
    with `pg_stat_statements` totals per normalised query once a day, for growth per day and
    week-over-week query times."""

    __tablename__ = "database_samples"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    connections: Mapped[int | None] = mapped_column(Integer)
    max_connections: Mapped[int | None] = mapped_column(Integer)
    queries: Mapped[dict[str, Any] | None] = mapped_column()  # queryid -> {calls, total_ms, query}

    __table_args__ = (Index("ix_database_samples_at", "at"),)
