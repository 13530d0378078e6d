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


ENVIRONMENTS = ("production", "staging")


def graph(environment: str = "production") -> dict:
    """The project graph as the Railway CLI gets it, built by railway-sdk itself."""
    from railway_sdk import create_railway_context

    return load_iac().main(create_railway_context(environment=environment)).to_graph()


def services(environment: str = "production") -> dict[str, dict]:
    return {r["name"]: r for r in graph(environment)["resources"] if r["type"] == "service"}


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
    served = served_app(deploy["startCommand"])
    assert served["config"] == "python:shared.serving" and served["bind"] == "0.0.0.0:$PORT"
    assert served["source"] == f"functions/{name}/main.py" and served["target"] == name
    tree = ast.parse((ROOT / served["source"]).read_text())
    assert name in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert deploy["healthcheckPath"] == "/readyz" and 0 < deploy["healthcheckTimeout"] <= 300
    assert deploy["restartPolicyType"] == "ON_FAILURE" and 0 < deploy["restartPolicyMaxRetries"] <= 20
    assert deploy["numReplicas"] >= 1
    from cli.main import build_parser

    [command] = deploy["preDeployCommand"]
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert shlex.split(command)[0] == "factoria"
    assert args.func.__module__ == "cli.db" and args.func.__name__ == "_upgrade" and args.revision == "head"


def served_app(start_command: str) -> dict[str, str]:
    """gunicorn's config and bind, and the functions-framework target and source it serves."""
    argv = shlex.split(start_command)
    assert argv[0] == "gunicorn" and len(argv) == 6, argv
    opts = dict(zip(argv[1:-1:2], argv[2:-1:2]))
    module, _, factory = argv[-1].partition(":")
    call = ast.parse(factory, mode="eval").body
    assert module == "functions_framework" and isinstance(call, ast.Call) and ast.unparse(call.func) == "create_app"
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    return {"config": opts["--config"], "bind": opts["--bind"], **kwargs}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_capacity_is_declared_not_inherited(name):
    """Processes, threads, admission and pool are literal variables of each service, consistent with
    each other. generate holds 256 at once even when the kernel's hash splits a 256 burst unevenly
    over its processes: each admits its even share plus four standard deviations of the split."""
    from shared.settings import Settings

    keys = ("WEB_WORKERS", "WEB_THREADS", "WEB_MAX_IN_FLIGHT", "DB_POOL_SIZE")
    declared = {k: v.get("value") for k, v in services()[name]["variables"].items()}
    for key in keys:
        assert declared.get(key), (name, key)
    settings = Settings(**{k.lower(): declared[k] for k in keys})
    assert settings.web_threads > settings.web_max_in_flight
    if name == "generate":
        workers, share = settings.web_workers, 256 / settings.web_workers
        spread = (256 * (1 / workers) * (1 - 1 / workers)) ** 0.5  # binomial split of 256 connections
        assert settings.web_max_in_flight >= share + 4 * spread, (workers, settings.web_max_in_flight)


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
        server = function_server(name, env=env, clean_env=True, deployed=True)
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


# -- environments, domains, per-service installs, optional settings ---------------------------------------
def test_production_and_staging_evaluate_and_anything_else_is_refused():
    from railway_sdk import create_railway_context

    prod, staging = services("production"), services("staging")
    assert set(prod) == set(staging)  # the same project; each environment has its own instances
    for env in (prod, staging):
        for svc in env.values():
            assert svc["variables"]["ENVIRONMENT"] == {"type": "literal", "value": "production"}
            assert svc["variables"]["DATABASE_URL"] == {"type": "reference", "resource": "database.postgres",
                                                        "output": "DATABASE_URL"}
            assert svc["variables"]["SECRET_KEY"] == {"type": "sharedReference", "name": "SECRET_KEY"}
    # Staging is smaller: fewer replicas, a smaller pool, and its spend capped in the file.
    replicas = lambda env: sum(env[n]["deploy"]["numReplicas"] for n in FUNCTIONS)  # noqa: E731
    assert replicas(staging) < replicas(prod)
    assert int(staging["generate"]["variables"]["DB_POOL_SIZE"]["value"]) < \
        int(prod["generate"]["variables"]["DB_POOL_SIZE"]["value"])
    for key in ("DAILY_BUDGET_USD", "MONTHLY_BUDGET_USD", "USER_DAILY_BUDGET_USD"):
        assert staging["generate"]["variables"][key]["type"] == "literal"
        assert prod["generate"]["variables"][key] == {"type": "sharedReference", "name": key}
    for bad in ("development", "prod", None):
        with pytest.raises(ValueError, match="no Railway environment"):
            load_iac().main(create_railway_context(environment=bad) if bad else create_railway_context())


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_http_services_have_public_domains_routed_to_their_port(environment):
    svcs = services(environment)
    hosts = []
    for name in FUNCTIONS:
        domains = svcs[name]["networking"]["customDomains"]
        [(host, target)] = domains.items()
        assert target["port"] == int(svcs[name]["variables"]["PORT"]["value"])
        assert "$PORT" in svcs[name]["deploy"]["startCommand"]
        hosts.append(host)
    assert len(set(hosts)) == 3
    assert all(("staging." in h) == (environment == "staging") for h in hosts)
    assert not any("networking" in svc for name, svc in svcs.items() if name.startswith("cron-"))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_service_builds_its_own_extra(environment):
    """The build installs the base and the service's extra from pyproject.toml, pinned."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name, svc in services(environment).items():
        argv = shlex.split(svc["build"]["buildCommand"])
        assert argv[:2] == ["pip", "install"] and argv[argv.index("-c") + 1] == "constraints.txt"
        [target] = [a for a in argv if a.startswith(".[")]
        extra = target[2:-1]
        assert extra == ("jobs" if name.startswith("cron-") else name) and extra in extras


def test_empty_optional_settings_are_unset_for_the_cli_and_the_jobs(tmp_path):
    """Railway passes an unset shared variable as "": every optional one the file wires (budgets,
    webhook, provider keys) empty must not make `factoria db upgrade` or a cron exit 2."""
    import os
    import subprocess
    import sys

    svcs = services("production")
    optional = sorted({v["name"] for svc in svcs.values() for v in svc["variables"].values()
                       if v.get("type") == "sharedReference"} - {"SECRET_KEY", "AI_PROVIDERS", "ALLOWED_ORIGINS"})
    assert {"USER_DAILY_BUDGET_USD", "DAILY_BUDGET_USD", "MONTHLY_BUDGET_USD", "ALERT_WEBHOOK_URL"} <= set(optional)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "ENVIRONMENT"))}
    env |= {key: "" for key in optional} | {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
                                            "REPORTS_URL": f"file://{tmp_path}/reports",
                                            "BACKUP_URL": f"file://{tmp_path}/backups"}
    upgrade = subprocess.run([str(Path(sys.executable).parent / "factoria"), "db", "upgrade"], env=env,
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert upgrade.returncode == 0, upgrade.stderr
    cron = subprocess.run([sys.executable, "-m", "jobs", "cost-report", "--dry-run"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert cron.returncode == 0, cron.stdout + cron.stderr
    # A malformed value is still refused with exit 2 and one line naming the variable.
    bad = subprocess.run([sys.executable, "-m", "jobs", "cost-report", "--dry-run"],
                         env=env | {"USER_DAILY_BUDGET_USD": "ten"}, capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert bad.returncode == 2 and "USER_DAILY_BUDGET_USD" in bad.stdout + bad.stderr


def test_database_image_archives_wal_with_pgbackrest_to_the_bucket():
    """The database service runs the image built from .railway/postgres/ (archiver configured), with
    pgBackRest's repository on the project's bucket and its cipher pass a shared secret."""
    iac = load_iac()
    [db] = [r for r in graph()["resources"] if r["type"] == "database"]
    assert db["image"] == iac.POSTGRES_IMAGE
    dockerfile = (ROOT / ".railway" / "postgres" / "Dockerfile").read_text()
    assert "pgbackrest" in dockerfile and "archive_command=pgbackrest archive-push %p" in dockerfile
    assert "archive_timeout=60" in dockerfile  # the RPO (PITR_RPO_SECONDS, 300) is met with room
    variables = db["variables"]
    assert variables["PGBACKREST_REPO1_CIPHER_TYPE"]["value"] == "aes-256-cbc"
    assert variables["PGBACKREST_REPO1_CIPHER_PASS"]["type"] == "sharedReference"
    assert variables["PGBACKREST_REPO1_S3_BUCKET"]["type"] == "reference"
    verify = services()["cron-backup-verify"]["variables"]
    assert verify["PGBACKREST_STANZA"]["value"] == verify["PITR_STANZA"]["value"] == iac.PITR_STANZA
    assert "pgbackrest" in verify["RAILPACK_DEPLOY_APT_PACKAGES"]["value"]
    assert services()["health"]["variables"]["BACKUP_ENCRYPTION_KEYS"]["type"] == "sharedReference"


def test_provider_admin_keys_are_held_only_by_reconcile_spend():
    from railway_sdk import create_railway_context

    graph = load_iac().main(create_railway_context(environment="production")).to_graph()
    services = {r["name"]: r for r in graph["resources"] if r["type"] == "service"}
    holders = {name for name, svc in services.items()
               for key in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY") if key in svc.get("variables", {})}
    assert holders == {"cron-reconcile-spend"}
    for key in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY"):
        assert services["cron-reconcile-spend"]["variables"][key]["type"] in {"reference", "sharedReference"}
