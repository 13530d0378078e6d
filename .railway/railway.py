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
shared job registry (`shared/job_schedule.py` `SCHEDULED_RUNS`: the six jobs
and the daily, weekly and monthly ops reports; a run added there is scheduled here),
plus PostgreSQL and an S3-compatible bucket for backups and reports.
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
POSTGRES_IMAGE = "ghcr.io/railwayapp-templates/postgres-ssl:15"
JOBS_NEEDING_PG_TOOLS = ("backup", "backup-verify")
# The providers' read-only admin keys (cost reports) go to this job's service and no other.
ADMIN_KEY_JOB = "reconcile-spend"
ADMIN_KEYS = ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY")
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
    db = database("postgres", "postgres", image=POSTGRES_IMAGE, output="DATABASE_URL",
                  defaultMountPath="/var/lib/postgresql/data")
    store = bucket("lafactoria-data")
    shared = getattr(ctx, "shared", None)

    def secret(name: str) -> Any:
        # Secrets live in Railway's shared variables, never in this file.
        return shared[name] if shared is not None else {"type": "sharedReference", "name": name}

    common = {
        "ENVIRONMENT": "production",
        "DATABASE_URL": db.env.DATABASE_URL,
        "SECRET_KEY": secret("SECRET_KEY"),
        "AI_PROVIDERS": secret("AI_PROVIDERS"),
        "ALERT_WEBHOOK_URL": secret("ALERT_WEBHOOK_URL"),
        "ALLOWED_ORIGINS": secret("ALLOWED_ORIGINS"),
        "DB_POOL_SIZE": "5",
    }
    storage = {
        "BACKUP_URL": "s3://${{lafactoria-data.BUCKET}}/backups",
        "REPORTS_URL": "s3://${{lafactoria-data.BUCKET}}/reports",
        "S3_ENDPOINT_URL": store.env.ENDPOINT,
        "AWS_ACCESS_KEY_ID": store.env.ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": store.env.SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": store.env.REGION,
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
        if run.job in JOBS_NEEDING_PG_TOOLS:
            env = env | {"RAILPACK_DEPLOY_APT_PACKAGES": "postgresql-client"}
        if run.job == ADMIN_KEY_JOB:
            env = env | {key: secret(key) for key in ADMIN_KEYS}
        crons.append(cron_service(run, env))
    return project("lafactoria", resources=[db, store, *functions, *crons])
