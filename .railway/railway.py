"""La Factoria on Railway, as infrastructure as code (railway-sdk; `railway config plan|apply`).

The one source of truth for the deployment: Railway stopped reading
`railway.json` / `railway.toml` config-as-code on 2026-12-01, so every build
and deploy setting lives here, written with `railway_sdk.service()`'s own
arguments (`start`, `preDeploy`, `healthcheck`, `healthcheckTimeout`,
`replicas`, `env`) and the `build` / `deploy` mappings it passes through
(`watchPatterns`, `restartPolicyType`, `cronSchedule`). The SDK drops unknown
arguments silently; tests/test_deploy.py builds this graph with the SDK and
checks every setting landed.

Environments (`ctx.environment`): `production` and `staging` (smaller, spend
capped); any other name is refused. Development is `make run` on a laptop.

Services: three HTTP functions (generate, gdpr, health), each polled on its
own `/readyz` during a deploy and served on its public domain, and one cron
service per scheduled run of the shared job registry (`shared/job_schedule.py`
`SCHEDULED_RUNS`: the six jobs and the daily, weekly and monthly ops reports; a
run added there is scheduled here), plus PostgreSQL and an S3-compatible bucket
for backups and reports. Each service's build installs only its own extra.

The database runs `.railway/postgres/Dockerfile` (POSTGRES_IMAGE): Railway's
PostgreSQL 15 image plus pgBackRest, archiving WAL continuously and taking base
backups into the same bucket, encrypted with its own cipher (point-in-time
recovery, docs/OPERATIONS.md). backup-verify restores from that archive, so
its image also gets the PostgreSQL server and pgBackRest packages.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, NamedTuple

from railway_sdk import bucket, database, define_railway, github, project, service

ROOT = Path(__file__).resolve().parent.parent
REPO = "lafactoria/lafactoria"
FUNCTIONS = ("generate", "gdpr", "health")
# Declared capacity per production instance (shared/serving.py reads these; docs/OPERATIONS.md "Capacity" has the
# arithmetic): worker processes, and per process: threads, requests admitted at once (the rest 503 at once), pooled
# database connections. generate runs two processes so a burst's Python work uses both cores; each admits 160, not
# 128: the kernel spreads connections by hash, not evenly, and the instance must hold 256 at once (>= 4 standard
# deviations of a 256 burst's split).
CAPACITY = {
    "generate": {"WEB_WORKERS": "2", "WEB_THREADS": "224", "WEB_MAX_IN_FLIGHT": "160", "DB_POOL_SIZE": "15"},
    "gdpr": {"WEB_WORKERS": "1", "WEB_THREADS": "48", "WEB_MAX_IN_FLIGHT": "32", "DB_POOL_SIZE": "8"},
    "health": {"WEB_WORKERS": "1", "WEB_THREADS": "48", "WEB_MAX_IN_FLIGHT": "32", "DB_POOL_SIZE": "4"},
}
# Staging: a quarter of production, enough to rehearse a deploy and a class at once (generate with two processes too).
STAGING_CAPACITY = {
    "generate": {"WEB_WORKERS": "2", "WEB_THREADS": "56", "WEB_MAX_IN_FLIGHT": "40", "DB_POOL_SIZE": "4"},
    "gdpr": {"WEB_WORKERS": "1", "WEB_THREADS": "24", "WEB_MAX_IN_FLIGHT": "16", "DB_POOL_SIZE": "2"},
    "health": {"WEB_WORKERS": "1", "WEB_THREADS": "24", "WEB_MAX_IN_FLIGHT": "16", "DB_POOL_SIZE": "2"},
}
# Public hostnames (Railway custom domains, TLS issued by Railway once the CNAME resolves).
DOMAIN = "lafactoria.dev"
PORT = 8080  # gunicorn binds $PORT; the domains route to it


class Environment(NamedTuple):
    """What differs between the Railway environments this file describes.

    Each Railway environment is an isolated copy of the project: its own `postgres` instance
    and volume, its own `lafactoria-data` bucket and credentials, its own shared variables
    (secrets). So the same resource names give staging its own database, bucket and secrets.
    """

    name: str
    replicas: dict[str, int]
    db_pool_size: int  # the cron jobs' pool; each function's comes with its capacity
    capacity: dict[str, dict[str, str]]  # per function: processes; per process threads, admitted at once, pool
    hostnames: dict[str, str]
    # Budgets: None leaves the setting to an (optional) shared variable; a value is fixed here.
    budgets: dict[str, str | None]


ENVIRONMENTS = {
    "production": Environment(
        "production", {"generate": 2, "gdpr": 1, "health": 1}, 5, CAPACITY,
        {"generate": f"api.{DOMAIN}", "gdpr": f"privacy.{DOMAIN}", "health": f"status.{DOMAIN}"},
        {"DAILY_BUDGET_USD": None, "MONTHLY_BUDGET_USD": None, "USER_DAILY_BUDGET_USD": None}),
    # Smaller, and capped: staging rehearses the production configuration at a fixed low spend.
    "staging": Environment(
        "staging", {"generate": 1, "gdpr": 1, "health": 1}, 2, STAGING_CAPACITY,
        {"generate": f"api.staging.{DOMAIN}", "gdpr": f"privacy.staging.{DOMAIN}",
         "health": f"status.staging.{DOMAIN}"},
        {"DAILY_BUDGET_USD": "5", "MONTHLY_BUDGET_USD": "50", "USER_DAILY_BUDGET_USD": "1"}),
}
# pg_dump must be at least the server's major version: the jobs image gets Debian's
# postgresql-client (15), so the database is pinned to the same major as CI.
# Built from .railway/postgres/Dockerfile (FROM ghcr.io/railwayapp-templates/postgres-ssl:15, plus pgBackRest).
POSTGRES_IMAGE = "ghcr.io/lafactoria/postgres-pitr:15"
PITR_STANZA = "lafactoria"
JOBS_NEEDING_PG_TOOLS = ("backup", "backup-verify")
# backup-verify also restores the WAL archive into a scratch cluster: server binaries and pgBackRest.
PITR_TOOLS = "postgresql-client postgresql-15 pgbackrest"
# The providers' read-only admin keys (cost reports) go to this job's service and no other.
ADMIN_KEY_JOB = "reconcile-spend"
ADMIN_KEYS = ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY")
COMMON_WATCH = ["shared/**", "pyproject.toml", "constraints.txt", ".railway/railway.py"]
HEALTHCHECK_TIMEOUT_S = 120


def build_command(extra: str) -> str:
    """Each service installs the base and its own extra (pyproject.toml), pinned: gdpr and health
    ship no LLM SDK and no matplotlib."""
    return f"pip install --no-cache-dir -c constraints.txt '.[{extra}]'"


def scheduled_runs():
    """The shared job registry's cron runs, read from its file (this runs outside the installed package)."""
    spec = importlib.util.spec_from_file_location("lafactoria_job_schedule", ROOT / "shared" / "job_schedule.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SCHEDULED_RUNS


def _build(extra: str, watch: list[str]) -> dict[str, Any]:
    return {"builder": "RAILPACK", "buildCommand": build_command(extra), "watchPatterns": watch + COMMON_WATCH}


def start_command(name: str) -> str:
    """gunicorn with the repository's serving configuration on functions-framework's app for `name`."""
    app = f"functions_framework:create_app(target='{name}', source='functions/{name}/main.py')"
    return f'gunicorn --config python:shared.serving --bind 0.0.0.0:$PORT "{app}"'


def function_service(name: str, env: dict[str, Any], where: Environment):
    return service(
        name,
        source=github(REPO),
        build=_build(name, [f"functions/{name}/**", "functions/__init__.py"]),
        start=start_command(name),
        preDeploy="factoria db upgrade",
        healthcheck="/readyz",
        healthcheckTimeout=HEALTHCHECK_TIMEOUT_S,
        replicas=where.replicas[name],
        domains=[{"domain": where.hostnames[name], "port": PORT}],
        deploy={"restartPolicyType": "ON_FAILURE", "restartPolicyMaxRetries": 10},
        env=env | where.capacity[name] | {"PORT": str(PORT)},
    )


def cron_service(run, env: dict[str, Any]):
    # The process must exit; a failed run waits for the next schedule instead of restarting.
    return service(
        run.service,
        source=github(REPO),
        build=_build("jobs", ["jobs/**"]),
        start=run.command,
        deploy={"cronSchedule": run.schedule, "restartPolicyType": "NEVER"},
        env=env,
    )


@define_railway
def main(ctx=None):
    name = getattr(ctx, "environment", None)
    if name not in ENVIRONMENTS:
        # Fail closed: a typo must not plan production's settings into an unknown environment.
        raise ValueError(f"no Railway environment {name!r} in .railway/railway.py; "
                         f"known: {', '.join(ENVIRONMENTS)} (development is `make run`, not Railway)")
    where = ENVIRONMENTS[name]
    store = bucket("lafactoria-data")
    shared = ctx.shared

    # pgBackRest's repository: where both the archiver (database image) and backup-verify find it.
    pgbackrest = {
        "PGBACKREST_STANZA": PITR_STANZA,
        "PGBACKREST_REPO1_TYPE": "s3",
        "PGBACKREST_REPO1_PATH": "/pgbackrest",
        "PGBACKREST_REPO1_S3_URI_STYLE": "path",
        "PGBACKREST_REPO1_S3_BUCKET": store.env.BUCKET,
        "PGBACKREST_REPO1_S3_ENDPOINT": store.env.ENDPOINT,
        "PGBACKREST_REPO1_S3_REGION": store.env.REGION,
        "PGBACKREST_REPO1_S3_KEY": store.env.ACCESS_KEY_ID,
        "PGBACKREST_REPO1_S3_KEY_SECRET": store.env.SECRET_ACCESS_KEY,
        "PGBACKREST_REPO1_CIPHER_TYPE": "aes-256-cbc",
        "PGBACKREST_REPO1_CIPHER_PASS": shared["PGBACKREST_REPO1_CIPHER_PASS"],
    }
    db = database("postgres", "postgres", image=POSTGRES_IMAGE, output="DATABASE_URL",
                  defaultMountPath="/var/lib/postgresql/data")
    db = db.with_fields(variables={k: v if isinstance(v, dict) else {"type": "literal", "value": v}
                                   for k, v in pgbackrest.items()})

    common = {
        # Staging runs the production settings too: ENVIRONMENT has no staging value, and
        # staging is there to rehearse exactly what production refuses (SQLite, a development
        # SECRET_KEY, '*' origins, the offline mock provider). Its spend is capped instead.
        "ENVIRONMENT": "production",
        "DATABASE_URL": db.env.DATABASE_URL,
        "SECRET_KEY": shared["SECRET_KEY"],  # secrets: the environment's shared variables, never this file
        "AI_PROVIDERS": shared["AI_PROVIDERS"],
        "ALERT_WEBHOOK_URL": shared["ALERT_WEBHOOK_URL"],  # optional: unset arrives as "", read as unset
        "ALLOWED_ORIGINS": shared["ALLOWED_ORIGINS"],
        "DB_POOL_SIZE": str(where.db_pool_size),
        "PITR_STANZA": PITR_STANZA,  # /health and alert-check read the archiver's state
    }
    storage = {
        "BACKUP_URL": "s3://${{lafactoria-data.BUCKET}}/backups",
        "REPORTS_URL": "s3://${{lafactoria-data.BUCKET}}/reports",
        "S3_ENDPOINT_URL": store.env.ENDPOINT,
        "AWS_ACCESS_KEY_ID": store.env.ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": store.env.SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": store.env.REGION,
        "BACKUP_ENCRYPTION_KEYS": shared["BACKUP_ENCRYPTION_KEYS"],
    }
    providers = {key: shared[key] for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY")}
    # A budget fixed for the environment is a literal; otherwise an optional shared variable, which
    # Railway passes as "" while unset and the settings read as unset (no cap), never exit 2.
    budgets = {key: value if value is not None else shared[key] for key, value in where.budgets.items()}

    functions = [
        function_service("generate", common | providers | budgets, where),  # the only holder of provider keys
        function_service("gdpr", common | storage, where),  # writes each erasure's ledger entry to the store
        function_service("health", common | storage, where),  # reports backup age and store
    ]
    crons = []
    for run in scheduled_runs():
        env = common | storage | budgets
        if run.job == "backup-verify":
            env = env | pgbackrest | {"RAILPACK_DEPLOY_APT_PACKAGES": PITR_TOOLS}
        elif run.job in JOBS_NEEDING_PG_TOOLS:
            env = env | {"RAILPACK_DEPLOY_APT_PACKAGES": "postgresql-client"}
        if run.job == ADMIN_KEY_JOB:
            env = env | {key: shared[key] for key in ADMIN_KEYS}
        crons.append(cron_service(run, env))
    return project("lafactoria", resources=[db, store, *functions, *crons])
