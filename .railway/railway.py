"""La Factoria on Railway, as infrastructure as code (railway-sdk; `railway config plan|apply`).

The one source of truth for the deployment: Railway stopped reading
`railway.json` / `railway.toml` config-as-code on 2026-12-01, so every build
and deploy setting lives here, written with `railway_sdk.service()`'s own
arguments (`start`, `preDeploy`, `healthcheck`, `healthcheckTimeout`,
`replicas`, `env`) and the `build` / `deploy` mappings it passes through
(`watchPatterns`, `restartPolicyType`, `cronSchedule`). The SDK drops unknown
arguments silently; tests/test_deploy.py builds this graph with the SDK and
checks every setting landed.

Services: three HTTP functions (generate, gdpr, health), each polled on its
own `/readyz` during a deploy, and one cron service per scheduled run of the
shared job registry (`shared/job_schedule.py` `SCHEDULED_RUNS`: the five jobs
and the daily, weekly and monthly ops reports; a run added there is scheduled here),
plus PostgreSQL and an S3-compatible bucket for backups and reports.

The database runs `.railway/postgres/Dockerfile` (POSTGRES_IMAGE): Railway's
PostgreSQL 15 image plus pgBackRest, archiving WAL continuously and taking base
backups into the same bucket, encrypted with its own cipher (point-in-time
recovery, docs/OPERATIONS.md). backup-verify restores from that archive, so
its image also gets the PostgreSQL server and pgBackRest packages.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from railway_sdk import bucket, database, define_railway, github, project, service

ROOT = Path(__file__).resolve().parent.parent
REPO = "lafactoria/lafactoria"
FUNCTIONS = ("generate", "gdpr", "health")
REPLICAS = {"generate": 2, "gdpr": 1, "health": 1}
# pg_dump must be at least the server's major version: the jobs image gets Debian's
# postgresql-client (15), so the database is pinned to the same major as CI.
# Built from .railway/postgres/Dockerfile (FROM ghcr.io/railwayapp-templates/postgres-ssl:15, plus pgBackRest).
POSTGRES_IMAGE = "ghcr.io/lafactoria/postgres-pitr:15"
PITR_STANZA = "lafactoria"
JOBS_NEEDING_PG_TOOLS = ("backup", "backup-verify")
# backup-verify also restores the WAL archive into a scratch cluster: server binaries and pgBackRest.
PITR_TOOLS = "postgresql-client postgresql-15 pgbackrest"
BUILD_COMMAND = "pip install --no-cache-dir -c constraints.txt ."
COMMON_WATCH = ["shared/**", "pyproject.toml", "constraints.txt", ".railway/railway.py"]
HEALTHCHECK_TIMEOUT_S = 120


def scheduled_runs():
    """The shared job registry's cron runs, read from its file (this runs outside the installed package)."""
    spec = importlib.util.spec_from_file_location("lafactoria_job_schedule", ROOT / "shared" / "job_schedule.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SCHEDULED_RUNS


def _build(watch: list[str]) -> dict[str, Any]:
    return {"builder": "RAILPACK", "buildCommand": BUILD_COMMAND, "watchPatterns": watch + COMMON_WATCH}


def function_service(name: str, env: dict[str, Any]):
    return service(
        name,
        source=github(REPO),
        build=_build([f"functions/{name}/**", "functions/__init__.py"]),
        start=f"functions-framework --source functions/{name}/main.py --target {name} --port $PORT",
        preDeploy="factoria db upgrade",
        healthcheck="/readyz",
        healthcheckTimeout=HEALTHCHECK_TIMEOUT_S,
        replicas=REPLICAS[name],
        deploy={"restartPolicyType": "ON_FAILURE", "restartPolicyMaxRetries": 10},
        env=env,
    )


def cron_service(run, env: dict[str, Any]):
    # The process must exit; a failed run waits for the next schedule instead of restarting.
    return service(
        run.service,
        source=github(REPO),
        build=_build(["jobs/**"]),
        start=run.command,
        deploy={"cronSchedule": run.schedule, "restartPolicyType": "NEVER"},
        env=env,
    )


@define_railway
def main(ctx=None):
    store = bucket("lafactoria-data")
    shared = getattr(ctx, "shared", None)

    def secret(name: str) -> Any:
        # Secrets live in Railway's shared variables, never in this file.
        return shared[name] if shared is not None else {"type": "sharedReference", "name": name}

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
        "PGBACKREST_REPO1_CIPHER_PASS": secret("PGBACKREST_REPO1_CIPHER_PASS"),
    }
    db = database("postgres", "postgres", image=POSTGRES_IMAGE, output="DATABASE_URL",
                  defaultMountPath="/var/lib/postgresql/data")
    db = db.with_fields(variables={k: v if isinstance(v, dict) else {"type": "literal", "value": v}
                                   for k, v in pgbackrest.items()})

    common = {
        "ENVIRONMENT": "production",
        "DATABASE_URL": db.env.DATABASE_URL,
        "SECRET_KEY": secret("SECRET_KEY"),
        "AI_PROVIDERS": secret("AI_PROVIDERS"),
        "ALERT_WEBHOOK_URL": secret("ALERT_WEBHOOK_URL"),
        "ALLOWED_ORIGINS": secret("ALLOWED_ORIGINS"),
        "DB_POOL_SIZE": "5",
        "PITR_STANZA": PITR_STANZA,  # /health and alert-check read the archiver's state
    }
    storage = {
        "BACKUP_URL": "s3://${{lafactoria-data.BUCKET}}/backups",
        "REPORTS_URL": "s3://${{lafactoria-data.BUCKET}}/reports",
        "S3_ENDPOINT_URL": store.env.ENDPOINT,
        "AWS_ACCESS_KEY_ID": store.env.ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": store.env.SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": store.env.REGION,
        "BACKUP_ENCRYPTION_KEYS": secret("BACKUP_ENCRYPTION_KEYS"),
    }
    providers = {key: secret(key) for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY")}
    budgets = {key: secret(key) for key in ("DAILY_BUDGET_USD", "MONTHLY_BUDGET_USD", "USER_DAILY_BUDGET_USD")}

    functions = [
        function_service("generate", common | providers | budgets),  # the only holder of provider keys
        function_service("gdpr", common),
        function_service("health", common | storage),  # reports backup age and store
    ]
    crons = []
    for run in scheduled_runs():
        env = common | storage | budgets
        if run.job == "backup-verify":
            env = env | pgbackrest | {"RAILPACK_DEPLOY_APT_PACKAGES": PITR_TOOLS}
        elif run.job in JOBS_NEEDING_PG_TOOLS:
            env = env | {"RAILPACK_DEPLOY_APT_PACKAGES": "postgresql-client"}
        crons.append(cron_service(run, env))
    return project("lafactoria", resources=[db, store, *functions, *crons])
