"""La Factoria on Railway, as infrastructure as code (railway-sdk; `railway config plan|apply`).

Railway deprecates `railway.json` config-as-code (read until 2026-12-01) in
favour of this file. To keep one source of truth during the move, each
service's build and deploy settings are read from the same per-service JSON
files Railway still honours (`railway.json` for health, `railway/*.json` for
the others); this file adds what they cannot hold: the project, the database,
the bucket, and the variables wiring them together.

Services: three HTTP functions (generate, gdpr, health) and one cron service
per scheduled run in `shared.job_schedule.SCHEDULED_RUNS` (backup,
backup-verify, retention-expiry, cost-report, alert-check, and the daily,
weekly and monthly ops reports), plus
PostgreSQL and an S3-compatible bucket for backups and cost reports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from railway_sdk import bucket, database, define_railway, github, project, service

ROOT = Path(__file__).resolve().parent.parent
REPO = "lafactoria/lafactoria"
FUNCTIONS = {"health": "railway.json", "generate": "railway/generate.json", "gdpr": "railway/gdpr.json"}
# pg_dump must be at least the server's major version: the jobs image gets Debian's
# postgresql-client (15), so the database is pinned to the same major as CI.
POSTGRES_IMAGE = "ghcr.io/railwayapp-templates/postgres-ssl:15"
JOBS_NEEDING_PG_TOOLS = ("backup", "backup-verify")


def config_file(path: str) -> dict[str, Any]:
    return json.loads((ROOT / path).read_text())


def _service(name: str, path: str, env: dict[str, Any]):
    cfg = config_file(path)
    return service(name, source=github(REPO), build=cfg["build"], deploy=cfg["deploy"], configFile=path, env=env)


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
        _service("generate", FUNCTIONS["generate"], common | providers | budgets),
        _service("gdpr", FUNCTIONS["gdpr"], common),
        _service("health", FUNCTIONS["health"], common | storage),  # reports backup age and store
    ]
    if str(ROOT) not in sys.path:  # run by the Railway CLI from .railway/: the registry is in the package
        sys.path.insert(0, str(ROOT))
    from shared.job_schedule import SCHEDULED_RUNS

    crons = []
    for run in SCHEDULED_RUNS:  # one cron service per scheduled run of the job registry
        env = common | storage | budgets
        if run.job in JOBS_NEEDING_PG_TOOLS:
            env = env | {"RAILPACK_DEPLOY_APT_PACKAGES": "postgresql-client"}
        crons.append(_service(run.service, f"railway/{run.service}.json", env))
    return project("lafactoria", resources=[db, store, *functions, *crons])
