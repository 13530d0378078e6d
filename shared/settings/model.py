"""Process settings, read once from the environment (names fixed by DESIGN.md).

Every setting is documented in `.env.example`. Production refuses unsafe values
at load time so a misconfigured deploy fails its health check instead of
serving with a development secret or an in-memory provider.
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from pydantic import ValidationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
VAR_DIR = PROJECT_ROOT / "var"
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"
AGE_IDENTITY = re.compile(r"AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}")  # bech32, upper case
PROVIDER_NAMES = ("openai", "anthropic", "vertex", "mock")


class SettingsError(RuntimeError):
    """A setting is malformed or unsafe. Its message is one line naming the variable and
    why, fit for an operator: jobs and the CLI print it and exit 2, never a traceback."""


class UnsafeSettingsError(SettingsError):
    """Raised when production is configured with a value only fit for development."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, case_sensitive=False, extra="ignore", frozen=True
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = f"sqlite:///{VAR_DIR / 'factoria.db'}"
    redis_url: str | None = None
    db_pool_size: int = Field(5, ge=1, le=100)
    db_pgbouncer: bool = False
    # Behind PgBouncer's transaction pooling: a direct URL for what needs a session (pg_dump, pg_restore).
    database_direct_url: str | None = None
    # Bounds on every database call, so a database that accepts and never answers hangs nobody.
    db_connect_timeout_seconds: int = Field(2, ge=1, le=60)
    db_statement_timeout_ms: int = Field(5000, ge=0, le=3_600_000)  # functions; 0: no limit
    job_statement_timeout_ms: int = Field(600_000, ge=0, le=86_400_000)  # jobs and CLI commands
    job_lease_seconds: int = Field(60, ge=1, le=3600)  # a job's lease (jobs/lease.py), renewed every third
    secret_key: str = DEV_SECRET_KEY

    ai_providers: str = "mock"
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    anthropic_model: str = "claude-sonnet-4-5"
    google_api_key: str | None = None
    google_cloud_project: str | None = None
    google_cloud_location: str = "us-central1"
    vertex_base_url: str | None = None
    vertex_model: str = "gemini-2.5-flash"
    provider_timeout_seconds: float = Field(60.0, gt=0, le=600)
    generation_deadline_seconds: float = Field(120.0, gt=0, le=3600)
    generation_cache: Literal["user", "global", "off"] = "user"
    generation_cache_max_age_hours: float = Field(168.0, gt=0)

    quality_threshold_overall: float = Field(0.70, ge=0, le=1)
    quality_threshold_educational: float = Field(0.75, ge=0, le=1)
    quality_threshold_factual: float = Field(0.85, ge=0, le=1)
    # auto: a paid provider other than the generator reviews claims and teaching value; off; or a provider name.
    quality_judge: str = "auto"
    # The model the generator's own provider judges with when no other paid provider is configured.
    quality_judge_model: str | None = None

    rate_limit_per_minute: int = Field(60, ge=1)
    generations_per_day: int = Field(200, ge=1)
    user_daily_budget_usd: Decimal | None = None
    daily_budget_usd: Decimal | None = None
    monthly_budget_usd: Decimal | None = None

    allowed_origins: str = "http://localhost:3000"
    max_body_bytes: int = Field(65536, ge=1024)
    auth_cache_seconds: float = Field(2.0, ge=0, le=30)
    # Serving (shared/serving.py, the gunicorn configuration every function's start command names).
    # Worker processes per instance, each with its own threads, admission gate and engine pool (so the
    # WEB_THREADS, WEB_MAX_IN_FLIGHT, WEB_MAX_CONNECTIONS and DB_POOL_SIZE below are per process).
    web_workers: int = Field(1, ge=1, le=16)
    web_threads: int = Field(320, ge=2, le=4096)  # request threads per worker process
    web_max_in_flight: int = Field(256, ge=1, le=4096)  # admitted at once per process; past it 503 at once
    web_max_connections: int = Field(1024, ge=2, le=65536)  # open client connections per process, kept-alive included
    web_header_timeout_seconds: float = Field(10.0, gt=0, le=300)  # request line + headers, in all
    web_body_timeout_seconds: float = Field(30.0, gt=0, le=600)  # the whole body, in all
    web_keepalive_seconds: int = Field(5, ge=0, le=300)  # an idle kept-alive connection is closed after it
    web_worker_timeout_seconds: int = Field(30, ge=1, le=600)  # a worker whose main loop stalls is restarted
    auth_failures_per_minute: int = Field(30, ge=1)  # failed keys per client address before 429

    backup_url: str = f"file://{VAR_DIR / 'backups'}"
    s3_endpoint_url: str | None = None
    backup_max_age_hours: float = Field(26, gt=0)
    backup_min_bytes: int = Field(1024, ge=0)
    backup_retention_days: int = Field(30, ge=1)
    # age identities (AGE-SECRET-KEY-1...), comma-separated, newest first: the newest encrypts, all decrypt.
    backup_encryption_keys: str | None = None
    # Point-in-time recovery (pgBackRest, docs/OPERATIONS.md): its stanza, and the RPO the WAL archive must meet.
    pitr_stanza: str | None = None
    pitr_rpo_seconds: int = Field(300, ge=30, le=3600)
    # Migrations wait this long for a table lock, then retry (MIGRATION_LOCK_RETRIES times) and give up: exit 3.
    migration_lock_timeout_ms: int = Field(5000, ge=100, le=600_000)
    migration_lock_retries: int = Field(3, ge=0, le=20)
    reports_url: str = f"file://{VAR_DIR / 'reports'}"
    alert_webhook_url: str | None = None
    # Alert delivery (shared/alerts): PagerDuty Events API v2 for critical and error alerts.
    alert_pagerduty_routing_key: str | None = None
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    alert_escalate_minutes: int = Field(30, ge=1)

    # Retention periods (DESIGN.md "Data classes and retention").
    retention_content_days: int = Field(365, ge=1)
    retention_usage_days: int = Field(400, ge=1)
    retention_usage_anonymise_days: int = Field(90, ge=1)
    retention_idempotency_hours: int = Field(24, ge=1)
    retention_metrics_days: int = Field(30, ge=1)
    retention_audit_days: int = Field(6 * 365, ge=1)

    log_level: str = "info"
    health_cache_seconds: float = Field(5.0, ge=0)

    # Request metrics capture (shared/metrics/): buffered, written in batches.
    metrics_enabled: bool = True
    metrics_flush_seconds: float = Field(2.0, gt=0, le=300)
    metrics_batch_size: int = Field(500, ge=1, le=100_000)
    metrics_buffer_max: int = Field(20_000, ge=1)
    metrics_instance_sample_seconds: float = Field(30.0, ge=0.1, le=3600)  # instance resources (RSS, pool)

    # Alert rules of the alert-check job (jobs/alert_rules.py; docs/RUNBOOK.md).
    alert_min_requests: int = Field(20, ge=1)
    alert_min_generations: int = Field(5, ge=1)
    alert_error_rate_critical: float = Field(0.05, ge=0, le=1)
    alert_error_rate_critical_minutes: int = Field(3, ge=1)
    alert_error_rate_warning: float = Field(0.01, ge=0, le=1)
    alert_error_rate_warning_minutes: int = Field(15, ge=1)
    alert_latency_p95_ms: float = Field(500.0, gt=0)
    alert_latency_p95_minutes: int = Field(5, ge=1)
    alert_quality_critical: float = Field(0.65, ge=0, le=1)
    alert_quality_critical_minutes: int = Field(60, ge=1)
    alert_quality_warning: float = Field(0.70, ge=0, le=1)
    alert_quality_warning_minutes: int = Field(60, ge=1)
    alert_generation_success: float = Field(0.90, ge=0, le=1)
    alert_generation_success_minutes: int = Field(30, ge=1)
    alert_generation_p95_seconds: float = Field(45.0, gt=0)
    alert_generation_p95_minutes: int = Field(10, ge=1)
    alert_backup_verified_hours: float = Field(26.0, gt=0)
    alert_job_grace_minutes: int = Field(30, ge=1)
    alert_budget_share: float = Field(0.80, gt=0)
    # Resource rules (DESIGN "Resources and reconciliation"; docs/RUNBOOK.md).
    alert_db_connections_warning: float = Field(0.80, gt=0, le=1)
    alert_db_connections_error: float = Field(0.95, gt=0, le=1)
    alert_db_size_days: float = Field(14.0, gt=0)  # warning when the disk fills within this many days
    alert_long_transaction_minutes: float = Field(5.0, gt=0)
    alert_instance_memory_growth: float = Field(0.50, gt=0)  # RSS growth over the last hour
    db_size_limit_gb: float | None = Field(None, gt=0)  # the volume's size (Railway volume); unset: unknown

    # reconcile-spend: the providers' own cost reports, read with read-only admin keys (that job only).
    openai_admin_key: str | None = None
    anthropic_admin_key: str | None = None
    reconcile_tolerance: float = Field(0.01, ge=0, le=1)
    reconcile_min_usd: Decimal = Field(Decimal("0.01"), ge=0)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_optional_is_unset(cls, value: object, info: ValidationInfo) -> object:
        """An optional setting (default: none) set to an empty string is unset. Railway passes an
        unset shared variable as "", and `USER_DAILY_BUDGET_USD=` must not stop every job with
        exit 2. A required or defaulted setting still refuses "" (fail closed: an empty
        ENVIRONMENT must not quietly mean development)."""
        if (isinstance(value, str) and not value.strip() and info.field_name is not None  # set: a field validator
                and cls.model_fields[info.field_name].default is None):
            return None
        return value

    @field_validator("database_url", "database_direct_url")
    @classmethod
    def _normalise_database_url(cls, value: str | None) -> str | None:
        # Railway and Heroku hand out postgres:// URLs; SQLAlchemy wants a driver.
        for prefix in ("postgres://", "postgresql://"):
            if value and value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix):]
        return value

    @field_validator("database_url", "database_direct_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            scheme = value.split(":", 1)[0] or "empty"
            raise ValueError(f"scheme {scheme!r} is not supported; use postgresql:// or sqlite:///")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"debug", "info", "warning", "error"}:
            raise ValueError("LOG_LEVEL must be debug, info, warning or error")
        return value

    @field_validator("ai_providers")
    @classmethod
    def _providers(cls, value: str) -> str:
        names = [p.strip().lower() for p in value.split(",") if p.strip()]
        if not names:
            raise ValueError("AI_PROVIDERS must name at least one provider")
        unknown = [n for n in names if n not in PROVIDER_NAMES]
        if unknown:
            raise ValueError(f"AI_PROVIDERS has unknown providers: {', '.join(unknown)}")
        if len(set(names)) != len(names):
            raise ValueError("AI_PROVIDERS lists a provider twice")
        return ",".join(names)

    @field_validator("quality_judge_model")
    @classmethod
    def _judge_model(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("backup_encryption_keys")
    @classmethod
    def _age_identities(cls, value: str | None) -> str | None:
        keys = [k.strip() for k in (value or "").split(",") if k.strip()]
        if any(not AGE_IDENTITY.fullmatch(k) for k in keys):
            raise ValueError("every key must be an age identity (AGE-SECRET-KEY-1...); "
                             "`factoria backup keygen` prints one")
        return ",".join(keys) or None

    @field_validator("quality_judge")
    @classmethod
    def _judge(cls, value: str) -> str:
        value = value.strip().lower()
        allowed = {"auto", "off"} | (set(PROVIDER_NAMES) - {"mock"})
        if value not in allowed:
            raise ValueError(f"QUALITY_JUDGE must be one of: {', '.join(sorted(allowed))} (the mock cannot judge)")
        return value

    @model_validator(mode="after")
    def _threads_above_admission(self) -> "Settings":
        # Probes and refusals need a free thread while WEB_MAX_IN_FLIGHT requests are in flight.
        if self.web_threads <= self.web_max_in_flight:
            raise ValueError("WEB_THREADS must be larger than WEB_MAX_IN_FLIGHT (threads left for /livez "
                             "and for refusing at once)")
        if self.web_max_connections <= self.web_threads:
            raise ValueError("WEB_MAX_CONNECTIONS must be larger than WEB_THREADS")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> "Settings":
        if self.environment != "production":
            return self
        problems = []
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("SECRET_KEY is the development value or shorter than 32 characters")
        if self.database_url.startswith("sqlite"):
            problems.append("DATABASE_URL points at SQLite; production needs PostgreSQL")
        if "*" in self.origins:
            problems.append("ALLOWED_ORIGINS contains '*'")
        if "mock" in self.providers:
            problems.append("AI_PROVIDERS contains the offline 'mock' provider")
        if problems:
            raise UnsafeSettingsError("refusing to start in production: " + "; ".join(problems))
        return self

    def require_provider_credentials(self) -> None:
        """Production refuses a provider in `AI_PROVIDERS` without credentials. Only generate
        calls providers, so only generate checks this: health, gdpr and the jobs hold no keys."""
        missing = [f"{name} ({need})" for name in self.providers if (need := self.missing_credentials(name))]
        if self.is_production and missing:
            raise UnsafeSettingsError("refusing to start in production: AI_PROVIDERS names providers without "
                                      "credentials: " + ", ".join(missing))

    def missing_credentials(self, name: str) -> str | None:
        """What provider `name` lacks to be called (None when it has credentials)."""
        if name == "openai" and not self.openai_api_key:
            return "OPENAI_API_KEY missing"
        if name == "anthropic" and not self.anthropic_api_key:
            return "ANTHROPIC_API_KEY missing"
        if name == "vertex" and not (self.google_api_key or self.google_cloud_project):
            return "GOOGLE_API_KEY or GOOGLE_CLOUD_PROJECT missing"
        return None

    @property
    def providers(self) -> list[str]:
        return self.ai_providers.split(",")

    @property
    def origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]

    @property
    def session_database_url(self) -> str:
        """The URL for work that needs one server session throughout (pg_dump's exported snapshot,
        pg_restore, scratch databases): `DATABASE_DIRECT_URL` behind PgBouncer, else `DATABASE_URL`."""
        if not self.db_pgbouncer or self.is_sqlite:
            return self.database_url
        if not self.database_direct_url:
            raise SettingsError("invalid settings: DATABASE_DIRECT_URL: required with DB_PGBOUNCER=true for "
                                "backups and restores (they need a session, not a pooled transaction)")
        return self.database_direct_url

    @property
    def backup_keys(self) -> list[str]:
        """`BACKUP_ENCRYPTION_KEYS` as a list, newest first (empty: backups are not encrypted)."""
        return self.backup_encryption_keys.split(",") if self.backup_encryption_keys else []

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


class _SettingsCache:
    """One `Settings` per process, forgotten by `clear()` (tests and benchmarks, after changing env).

    Unlike `functools.lru_cache`, a load that was already under way when `clear()` ran is not
    stored: a background thread (the metrics writer) reading the old environment must not
    put stale settings back after the environment changed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: Settings | None = None
        self._generation = 0

    def get(self) -> Settings:
        value = self._value
        if value is not None:
            return value
        generation = self._generation
        value = _load_settings()
        with self._lock:
            if self._generation == generation:
                self._value = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._value = None
            self._generation += 1


def _load_settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None


_cache = _SettingsCache()


def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env.

    The one loader for functions, jobs and the CLI: any invalid value becomes a
    `SettingsError` whose message names each variable and why (never its value,
    which may be a secret).
    """
    return _cache.get()


get_settings.cache_clear = _cache.clear  # type: ignore[attr-defined]  # the lru_cache spelling callers use


def describe_errors(exc: ValidationError) -> str:
    """One line for a pydantic ValidationError: `VARIABLE: why; VARIABLE: why`."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        name = "_".join(str(p) for p in err.get("loc", ()) if isinstance(p, str)).upper() or "settings"
        why = err.get("msg", "invalid value").removeprefix("Value error, ")
        parts.append(f"{name}: {why}")
    return "invalid settings: " + "; ".join(parts)
