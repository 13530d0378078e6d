"""Railway deployment: every config file is valid, starts something real, and is served or scheduled right."""

from __future__ import annotations

import ast
import importlib.util
import json
import shlex
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import ROOT

FUNCTIONS = {"health": "railway.json", "generate": "railway/generate.json", "gdpr": "railway/gdpr.json"}
BUILD_KEYS = {"builder", "buildCommand", "watchPatterns", "dockerfilePath", "railpackVersion"}
DEPLOY_KEYS = {"startCommand", "preDeployCommand", "healthcheckPath", "healthcheckTimeout", "restartPolicyType",
               "restartPolicyMaxRetries", "cronSchedule", "numReplicas", "sleepApplication", "overlapSeconds",
               "drainingSeconds", "region"}


def all_configs() -> dict[str, Path]:
    files = {"railway.json": ROOT / "railway.json"}
    files.update({f"railway/{p.name}": p for p in sorted((ROOT / "railway").glob("*.json"))})
    return files


def load(path: str) -> dict:
    return json.loads((ROOT / path).read_text())


def cron_files() -> dict[str, str]:
    return {path: load(path)["deploy"]["startCommand"].split()[-1]
            for path in all_configs() if "cronSchedule" in load(path)["deploy"]}


@pytest.mark.parametrize("path", sorted(all_configs()))
def test_config_follows_railway_schema(path):
    cfg = load(path)
    assert cfg["$schema"] == "https://railway.com/railway.schema.json"
    assert set(cfg) <= {"$schema", "build", "deploy"}
    build, deploy = cfg["build"], cfg["deploy"]
    assert set(build) <= BUILD_KEYS and set(deploy) <= DEPLOY_KEYS, (set(build) - BUILD_KEYS, set(deploy) - DEPLOY_KEYS)
    assert build["builder"] in {"RAILPACK", "DOCKERFILE", "NIXPACKS"}
    assert isinstance(build["buildCommand"], str) and "constraints.txt" in build["buildCommand"]
    assert all(isinstance(p, str) for p in build.get("watchPatterns", []))
    assert path in build["watchPatterns"]  # a change to its own config redeploys the service
    assert isinstance(deploy["startCommand"], str) and deploy["startCommand"].strip()
    assert deploy["restartPolicyType"] in {"ON_FAILURE", "ALWAYS", "NEVER"}
    if "restartPolicyMaxRetries" in deploy:
        assert deploy["restartPolicyType"] == "ON_FAILURE"
        assert isinstance(deploy["restartPolicyMaxRetries"], int) and 0 < deploy["restartPolicyMaxRetries"] <= 20
    if "healthcheckTimeout" in deploy:
        assert isinstance(deploy["healthcheckTimeout"], int) and 0 < deploy["healthcheckTimeout"] <= 300
    if "preDeployCommand" in deploy:
        assert isinstance(deploy["preDeployCommand"], list) and all(isinstance(c, str) for c in deploy["preDeployCommand"])


def test_every_service_has_exactly_one_config():
    from shared.job_schedule import JOBS, SCHEDULED_RUNS

    assert set(all_configs()) == set(FUNCTIONS.values()) | {f"railway/{run.service}.json" for run in SCHEDULED_RUNS}
    assert {run.job for run in SCHEDULED_RUNS} == set(JOBS)  # every job is scheduled


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_start_command_resolves_to_real_source_and_target(name):
    deploy = load(FUNCTIONS[name])["deploy"]
    argv = shlex.split(deploy["startCommand"])
    assert argv[0] == "functions-framework"
    opts = dict(zip(argv[1::2], argv[2::2]))
    assert opts["--source"] == f"functions/{name}/main.py" and opts["--target"] == name and opts["--port"] == "$PORT"
    assert (ROOT / "functions" / name / "__init__.py").exists()
    source = ROOT / opts["--source"]
    if not source.exists():
        pytest.skip(f"functions/{name}/main.py is built in another branch")
    tree = ast.parse(source.read_text())
    assert name in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, f"no def {name} in {source}"
    assert deploy["restartPolicyType"] == "ON_FAILURE"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_pre_deploy_migrates_with_the_real_cli(name):
    from cli.main import build_parser

    [command] = load(FUNCTIONS[name])["deploy"]["preDeployCommand"]
    argv = shlex.split(command)
    assert argv[0] == "factoria"
    args = build_parser().parse_args(argv[1:])
    assert args.func.__module__ == "cli.db" and args.func.__name__ == "_upgrade" and args.revision == "head"


def test_health_paths_are_served(db, client_for):
    """The deploy health check of each function answers 200 on a migrated database."""
    path = load("railway.json")["deploy"]["healthcheckPath"]
    assert path == "/readyz"
    assert client_for("health").get(path).status_code == 200
    for name in ("generate", "gdpr"):
        path = load(FUNCTIONS[name])["deploy"]["healthcheckPath"]
        assert path == "/openapi.json"  # every FunctionApp serves it without auth
        if (ROOT / "functions" / name / "main.py").exists():
            assert client_for(name).get(path).status_code == 200


def test_openapi_health_path_is_served_by_every_function_app():
    from shared.http import FunctionApp

    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    app = FunctionApp("probe", [])
    response = app(Request(EnvironBuilder(path="/openapi.json").get_environ()))
    assert response.status_code == 200 and response.get_json()["openapi"].startswith("3.1")


@pytest.mark.parametrize("path", sorted(cron_files()))
def test_cron_runs_a_real_job_on_a_valid_schedule(path):
    from croniter import croniter

    from shared.job_schedule import JOBS, SCHEDULED_RUNS
    from jobs.runner import build_parser

    deploy = load(path)["deploy"]
    argv = shlex.split(deploy["startCommand"])
    assert argv[:3] == ["python", "-m", "jobs"]
    job = argv[3]
    [run] = [r for r in SCHEDULED_RUNS if path == f"railway/{r.service}.json"]
    assert job in JOBS and run.job == job and deploy["startCommand"] == run.command
    assert build_parser(job=job).parse_args(argv[3:]).name == job
    schedule = deploy["cronSchedule"]
    assert schedule == run.schedule and len(schedule.split()) == 5 and croniter.is_valid(schedule)
    it = croniter(schedule, datetime(2026, 1, 1, tzinfo=timezone.utc))
    fires = [it.get_next(datetime) for _ in range(400)]
    assert min((b - a).total_seconds() for a, b in zip(fires, fires[1:])) >= 300
    assert deploy["restartPolicyType"] == "NEVER"  # a failed run waits for the next schedule
    assert "healthcheckPath" not in deploy and "preDeployCommand" not in deploy
    if importlib.util.find_spec("jobs." + job.replace("-", "_")) is None:
        pytest.skip(f"jobs/{job.replace('-', '_')}.py is built in another branch (schedule checked)")


def test_daily_jobs_are_spaced_and_verify_follows_backup():
    from croniter import croniter

    from shared.job_schedule import JOBS

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    first = {job: croniter(JOBS[job], start).get_next(datetime) for job in JOBS if job != "alert-check"}
    times = sorted(first.values())
    assert min((b - a).total_seconds() for a, b in zip(times, times[1:])) >= 300
    assert first["backup-verify"] > first["backup"]


def load_iac():
    spec = importlib.util.spec_from_file_location("railway_iac", ROOT / ".railway" / "railway.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_railway_iac_builds_the_whole_project():
    from railway_sdk import create_railway_context

    from shared.job_schedule import SCHEDULED_RUNS

    graph = load_iac().main(create_railway_context(environment="production")).to_graph()
    json.dumps(graph)  # serialisable as the CLI expects
    by_type: dict[str, list] = {}
    for res in graph["resources"]:
        by_type.setdefault(res["type"], []).append(res)
    assert [d["engine"] for d in by_type["database"]] == ["postgres"]
    assert len(by_type["bucket"]) == 1
    services = {s["name"]: s for s in by_type["service"]}
    assert set(services) == set(FUNCTIONS) | {run.service for run in SCHEDULED_RUNS}
    for name, path in FUNCTIONS.items():
        svc, cfg = services[name], load(path)
        assert svc["deploy"]["startCommand"] == cfg["deploy"]["startCommand"]
        assert svc["deploy"]["healthcheckPath"] == cfg["deploy"]["healthcheckPath"]
        assert svc["deploy"]["preDeployCommand"] == ["factoria db upgrade"]
    for run in SCHEDULED_RUNS:
        svc = services[run.service]
        assert svc["deploy"]["cronSchedule"] == run.schedule
        assert svc["deploy"]["startCommand"] == run.command
        assert svc["variables"]["DATABASE_URL"]["type"] == "reference"
    # secrets are references to shared variables, never literals in the repo
    for svc in services.values():
        for key in ("SECRET_KEY", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY"):
            if key in svc.get("variables", {}):
                assert svc["variables"][key]["type"] in {"reference", "sharedReference"}
    assert services["cron-backup"]["variables"]["RAILPACK_DEPLOY_APT_PACKAGES"]["value"] == "postgresql-client"


def test_ops_reports_daily_weekly_monthly_at_least_five_minutes_apart():
    """The three ops-report services (UTC): daily 07:00, weekly on Monday, monthly on the 1st, never
    within 5 minutes of each other, also when they fall on the same day."""
    from croniter import croniter

    from shared.job_schedule import SCHEDULED_RUNS

    runs = {r.args[1]: r for r in SCHEDULED_RUNS if r.job == "ops-report"}
    assert set(runs) == {"daily", "weekly", "monthly"}
    assert all(r.args[0] == "--period" for r in runs.values())
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    fires = {p: [croniter(r.schedule, start).get_next(datetime)] for p, r in runs.items()}
    assert fires["daily"][0].hour == 7 and fires["daily"][0].minute == 0
    every = sorted(t for r in runs.values() for t in croniter_range(r.schedule, start, start + timedelta(days=400)))
    assert min((b - a).total_seconds() for a, b in zip(every, every[1:])) >= 300
    assert {t.weekday() for t in croniter_range(runs["weekly"].schedule, start, start + timedelta(days=60))} == {0}
    assert {t.day for t in croniter_range(runs["monthly"].schedule, start, start + timedelta(days=400))} == {1}


def croniter_range(schedule: str, start, end):
    from croniter import croniter

    it = croniter(schedule, start)
    out = []
    while (t := it.get_next(datetime)) < end:
        out.append(t)
    return out
