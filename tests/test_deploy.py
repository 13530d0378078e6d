"""Railway deployment: every config file is valid, starts something real, and is served or scheduled right."""

from __future__ import annotations

import ast
import importlib.util
import json
import shlex
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import ROOT

FUNCTIONS = ("generate", "gdpr", "health")


def load_iac():
    spec = importlib.util.spec_from_file_location("railway_iac", ROOT / ".railway" / "railway.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def graph() -> dict:
    """The project graph as the Railway CLI gets it, built by railway-sdk itself."""
    from railway_sdk import create_railway_context

    return load_iac().main(create_railway_context(environment="production")).to_graph()


def services() -> dict[str, dict]:
    return {r["name"]: r for r in graph()["resources"] if r["type"] == "service"}


def test_no_config_as_code_files_left():
    """Railway no longer reads railway.json / railway.toml (since 2026-12-01): one source of truth."""
    assert not (ROOT / "railway.json").exists() and not (ROOT / "railway.toml").exists()
    assert not list((ROOT / "railway").glob("*.json")) if (ROOT / "railway").exists() else True


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_service_settings_reach_the_graph(name):
    svc = services()[name]
    build, deploy = svc["build"], svc["deploy"]
    assert build["builder"] == "RAILPACK" and "constraints.txt" in build["buildCommand"]
    assert ".railway/railway.py" in build["watchPatterns"]
    argv = shlex.split(deploy["startCommand"])
    assert argv[0] == "functions-framework"
    opts = dict(zip(argv[1::2], argv[2::2]))
    assert opts["--source"] == f"functions/{name}/main.py" and opts["--target"] == name and opts["--port"] == "$PORT"
    tree = ast.parse((ROOT / opts["--source"]).read_text())
    assert name in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert deploy["healthcheckPath"] == "/readyz" and 0 < deploy["healthcheckTimeout"] <= 300
    assert deploy["restartPolicyType"] == "ON_FAILURE" and 0 < deploy["restartPolicyMaxRetries"] <= 20
    assert deploy["numReplicas"] >= 1
    from cli.main import build_parser

    [command] = deploy["preDeployCommand"]
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert shlex.split(command)[0] == "factoria"
    assert args.func.__module__ == "cli.db" and args.func.__name__ == "_upgrade" and args.revision == "head"


def _imported_files(code: str) -> set[str]:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted({m.__file__ for m in list(sys.modules.values()) "
                          "if getattr(m, '__file__', None)})))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    root = str(ROOT) + "/"
    return {f[len(root):] for f in json.loads(out.stdout.strip().splitlines()[-1])
            if f.startswith(root) and "/.venv/" not in f}


@pytest.mark.parametrize("name", FUNCTIONS + ("cron-backup",))
def test_watch_patterns_follow_the_real_import_graph(name):
    """Every repository file a service imports is watched, so a change to it redeploys the service."""
    from fnmatch import fnmatch

    if name.startswith("cron-"):
        code = "import jobs.runner, pkgutil, importlib, jobs\n" \
               "[importlib.import_module('jobs.' + m.name) for m in pkgutil.iter_modules(jobs.__path__) if m.name != '__main__']"
    else:
        code = (f"import pkgutil, importlib, functions.{name} as p, functions.{name}.main\n"
                f"[importlib.import_module('functions.{name}.' + m.name) for m in pkgutil.walk_packages(p.__path__)]")
    watch = services()[name]["build"]["watchPatterns"]
    unwatched = sorted(f for f in _imported_files(code) if not any(fnmatch(f, pat) for pat in watch))
    assert not unwatched, unwatched


def test_health_paths_are_served(db, client_for):
    for name, svc in services().items():
        if name in FUNCTIONS:
            assert client_for(name).get(svc["deploy"]["healthcheckPath"]).status_code == 200


def test_each_service_is_ready_with_exactly_the_environment_railway_declares(pg, function_server):
    """Each HTTP service started with the variables railway.py gives it (secrets faked, references
    resolved to the test's own database) answers /readyz 200: health needs no provider key."""
    import urllib.request

    fake = {"SECRET_KEY": "s" * 48, "AI_PROVIDERS": "openai", "ALERT_WEBHOOK_URL": "",
            "ALLOWED_ORIGINS": "https://app.example", "OPENAI_API_KEY": "sk-test-not-real",
            "ANTHROPIC_API_KEY": "", "GOOGLE_API_KEY": ""}
    for name in FUNCTIONS:
        declared = services()[name]["variables"]
        env = {"PATH": str(ROOT / ".venv" / "bin") + ":/usr/bin:/bin", "HOME": "/tmp"}
        for key, value in declared.items():
            if key == "DATABASE_URL":
                env[key] = pg.url
            elif value.get("type") == "sharedReference":
                if fake.get(value["name"]):
                    env[key] = fake[value["name"]]
            elif value.get("type") == "reference":
                env[key] = {"BACKUP_URL": "file:///tmp/lf-none", "REPORTS_URL": "file:///tmp/lf-none"}.get(key, "x")
            else:
                env[key] = str(value.get("value", ""))
        env["BACKUP_URL"] = env.get("BACKUP_URL", "") and "file:///tmp/lf-none"
        env = {k: v for k, v in env.items() if v}
        server = function_server(name, env=env, clean_env=True)
        with urllib.request.urlopen(server.url + "/readyz", timeout=30) as resp:
            assert resp.status == 200, (name, resp.read())


def test_cron_services_come_from_the_job_registry():
    from croniter import croniter

    from jobs.runner import build_parser
    from shared.job_schedule import JOBS, SCHEDULED_RUNS

    svcs = services()
    assert {n for n in svcs if n.startswith("cron-")} == {run.service for run in SCHEDULED_RUNS}
    assert {run.job for run in SCHEDULED_RUNS} == set(JOBS)  # every job is scheduled
    for run in SCHEDULED_RUNS:
        deploy = svcs[run.service]["deploy"]
        argv = shlex.split(deploy["startCommand"])
        assert argv[:3] == ["python", "-m", "jobs"] and build_parser(job=run.job).parse_args(argv[3:]).name == run.job
        schedule = deploy["cronSchedule"]
        assert schedule == run.schedule and len(schedule.split()) == 5 and croniter.is_valid(schedule)
        # UTC, at least 5 minutes apart, also across midnight
        it = croniter(schedule, datetime(2026, 1, 1, tzinfo=timezone.utc))
        fires = [it.get_next(datetime) for _ in range(400)]
        assert min((b - a).total_seconds() for a, b in zip(fires, fires[1:])) >= 300
        assert deploy["restartPolicyType"] == "NEVER"
        assert "healthcheckPath" not in deploy and "preDeployCommand" not in deploy
        job = run.job
        assert importlib.util.find_spec("jobs." + job.replace("-", "_")) is not None, f"no module for job {job}"


def test_openapi_health_path_is_served_by_every_function_app():
    from shared.http import FunctionApp

    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    app = FunctionApp("probe", [])
    response = app(Request(EnvironBuilder(path="/openapi.json").get_environ()))
    assert response.status_code == 200 and response.get_json()["openapi"].startswith("3.1")


def test_daily_jobs_are_spaced_and_verify_follows_backup():
    from croniter import croniter

    from shared.job_schedule import JOBS

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    first = {job: croniter(JOBS[job], start).get_next(datetime) for job in JOBS if job != "alert-check"}
    times = sorted(first.values())
    assert min((b - a).total_seconds() for a, b in zip(times, times[1:])) >= 300
    assert first["backup-verify"] > first["backup"]


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
    for name in FUNCTIONS:
        assert services[name]["deploy"]["preDeployCommand"] == ["factoria db upgrade"]
    assert not any(key.endswith("_API_KEY") for name in ("gdpr", "health") for key in services[name]["variables"])
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


def test_provider_admin_keys_are_held_only_by_reconcile_spend():
    from railway_sdk import create_railway_context

    graph = load_iac().main(create_railway_context(environment="production")).to_graph()
    services = {r["name"]: r for r in graph["resources"] if r["type"] == "service"}
    holders = {name for name, svc in services.items()
               for key in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY") if key in svc.get("variables", {})}
    assert holders == {"cron-reconcile-spend"}
    for key in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY"):
        assert services["cron-reconcile-spend"]["variables"][key]["type"] in {"reference", "sharedReference"}
