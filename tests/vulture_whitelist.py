"""Names vulture reports as unused that a framework (or a caller outside the scanned tree) uses.

Vulture (https://github.com/jendrikseipp/vulture) reads the tree statically, so it cannot see a
handler named in a `"module:attr"` string, a pydantic field read by serialisation, a column the
ORM writes or a gunicorn setting read from this module's namespace. This is vulture's whitelist
format: a module, scanned along with the tree (`vulture shared functions jobs cli
tests/vulture_whitelist.py`; tests/test_dead_code.py runs it), whose attribute reads count as
uses. Vulture matches by name only, so an entry covers that name everywhere.

One section per framework, each saying why its names are entry points; inside a section,
entries are grouped by the module that defines them, so a module that moves or splits is one
block to refresh (`vulture shared functions jobs cli --make-whitelist` lists the candidates).
Dead code never belongs here: delete it. tests/test_dead_code.py fails on an entry that no
longer names anything vulture would report, so stale entries do not pile up.
"""

from vulture.whitelists.whitelist_utils import Whitelist

_ = Whitelist()

# --- HTTP routes (shared.http.Route) ---------------------------------------------------------
# Each function's main.py names its handlers and payload models as "module:attr" strings,
# imported on the first request that needs them (docs/ARCHITECTURE.md, "Lazy imports").

# functions/gdpr (consent, erasure, export, rectification, restriction, schemas)
_.list_consents
_.set_consent
_.erase
_.export
_.show
_.rectify
_.restrict
_.lift
_.ExportDocument  # response=_schema("ExportDocument")

# functions/generate (handlers, payloads)
_.list_content_types
_.create_content
_.list_content
_.get_content
_.delete_content
_.ItemPage
_.ListQuery
_.FeedbackIn
_.FeedbackOut
_.ContentTypeList

# functions/health (alerts, console, jobs_status, metrics, prometheus, spend)
_.list_alerts
_.ack
_.AlertList
_.asset
_.Page
_.list_jobs
_.JobList
_.metrics  # metrics:metrics and prometheus:metrics
_.MetricsReport
_.Exposition
_.SpendReport

# --- Provider registry (functions/generate/providers/__init__.py) ----------------------------
# Providers are "module:Class" strings, imported only when configured.
_.AnthropicProvider
_.MockProvider
_.OpenAIProvider
_.VertexProvider

# --- functions-framework ---------------------------------------------------------------------
# The HTTP target is named on the command line (`functions-framework --target gdpr`).
_.gdpr  # functions/gdpr/main.py

# --- Flask -----------------------------------------------------------------------------------
# Routes registered by the @flask_app.route decorator.
_.dispatch  # cli/dev.py

# --- pydantic --------------------------------------------------------------------------------
# Model configuration, fields (read by validation and serialisation: the wire format and the
# OpenAPI documents) and validators (registered by their decorators).
_.model_config  # every model and BaseSettings

# functions/gdpr/schemas.py
_.confirm
_.restricted
_.verified
_.api_keys  # also shared/models.py User.api_keys (relationship)
_.format_version
_._something_to_change

# functions/generate/content_types.py (the generated documents' schemas)
_.key_points
_.overview
_._numbered_from_one
_.introduction
_.main_content
_.conclusion
_.speaker_notes
_.estimated_duration_minutes
_.key_concepts
_.detailed_content
_.practice_exercises
_.assessment_questions
_.executive_summary
_.key_takeaways
_.difficulty
_._distinct

# functions/generate/payloads.py
_.dimension
_.schema_

# functions/health/jobs_status.py
_.ended_at
_.duration_s

# functions/health/metrics.py
_.functions
_.mean_rating
_.from_  # also spend.py
_.to  # also spend.py

# functions/health/spend.py
_.active_users
_.cost_per_active_user
_.active_user_days
_.cost_per_active_user_day
_.user_days
_.p90
_.month_to_date_usd
_.projected_month_usd
_.budget_reached_on
_.slope_usd_per_day
_.intercept_usd
_.growth_week_over_week
_.fitted_days

# shared/settings/model.py (pydantic-settings: fields come from the environment)
_._empty_optional_is_unset
_._normalise_database_url
_._supported_database
_._log_level
_._judge_model
_._age_identities
_._judge
_._threads_above_admission
_._refuse_unsafe_production

# --- SQLAlchemy ------------------------------------------------------------------------------
# shared/models.py: the declarative base's configuration, TypeDecorator hooks, and mapped
# columns and relationships the ORM reads and writes (some only written by code, e.g.
# AlertOutbox.last_error in shared/alerts/outbox.py, DatabaseSample.max_connections in
# shared/db_resources.py: the row is the point).
_.type_annotation_map
_.cache_ok
_.process_bind_param
_.process_result_value
_.last_error
_.pool_checkouts
_.max_connections

# Event listeners, registered by @event.listens_for; SQLAlchemy calls them with its signature.
_._sqlite_pragmas  # shared/database.py
_._local_timeout
_._fresh
_._returned
_._ping
_._checked_out  # shared/pool_usage.py
_.parameters  # before/after_cursor_execute arguments
_.executemany

# --- Alembic ---------------------------------------------------------------------------------
# shared/migrations/versions/*: revision identifiers Alembic reads from each revision module.
_.down_revision
_.branch_labels
_.depends_on
# shared/migrations/online.py: the online-DDL helpers later revisions call (each tested in
# tests/test_migrations.py); no revision has needed a new foreign key since it was written.
_.add_foreign_key

# --- gunicorn (shared/serving.py, the config module) -----------------------------------------
# Settings gunicorn reads from the config module's namespace, its server hook, and the worker
# class it loads from worker_class with the method it calls (and that method's arguments).
_.workers
_.worker_class
_.worker_connections
_.keepalive
_.graceful_timeout
_.limit_request_line
_.limit_request_fields
_.limit_request_field_size
_.loglevel
_.accesslog
_.forwarded_allow_ips
_.post_worker_init
_.reuse_port
_.preload_app
_.BoundedThreadWorker
_.handle_error
_.addr

# --- prometheus_client -----------------------------------------------------------------------
# A registered collector's collect() is called on every scrape.
_.collect  # functions/health/prometheus.py DatabaseCollector

# --- werkzeug --------------------------------------------------------------------------------
# Request.get_data() returns Request._cached_data: shared/http.py fills it once the body is read.
_._cached_data

# --- Python ----------------------------------------------------------------------------------
# A module's __getattr__ answers a name the module does not define (PEP 562): shared/settings
# loads its pydantic model when `from shared.settings import Settings` first asks for it.
_.__getattr__

# --- Type checking ---------------------------------------------------------------------------
# Names used only inside quoted annotations, which vulture does not read.
_.sqlite  # shared/database.py (TYPE_CHECKING imports)
_.TableClause
_.StartResponse  # shared/serving.py (the WSGI wrapper's types)
_.WSGIApplication
_.WSGIEnvironment

# --- Callers outside the scanned tree ---------------------------------------------------------
# Not framework entry points: code the deploy tooling, the tests or the benchmarks call.
# .railway/railway.py generates the cron services from the schedule (shared/job_schedule.py).
_.SCHEDULED_RUNS
_.service
# The lru_cache spelling of resetting settings, used by tests and benchmarks (shared/settings/model.py).
_.cache_clear
# Test seams: waiting for an erasure's background disk work (functions/gdpr/erasure.py),
# dropping buffered metrics between test databases (shared/metrics/recorder.py), and a base
# backup taken the way the database image's schedule takes one (jobs/pitr.py, tests/test_pitr.py).
_.wait_for_disk_work
_.discard
_.base_backup
