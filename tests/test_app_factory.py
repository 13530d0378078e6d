"""App factories: only the three `main.py` entry modules do work at import.

Every other module imports cleanly under an unsafe production environment (no
settings validation, no provider-credential check, no host-app registration at
import); `create_app` with that environment's startup settings raises the same
clear error as loading the settings; and two apps with different settings live
side by side in one process without reloading a module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shared.http import startup_settings
from shared.settings import Settings, UnsafeSettingsError, get_settings
from tests.conftest import ROOT
from tests.test_architecture import project_modules
from tests.test_settings import SAFE_PROD

# Run by a tool, never imported as a library: the three functions-framework targets; gunicorn's
# configuration module (its start command's `--config`, read when the server starts, so an unsafe
# production setting stops gunicorn there too); and alembic's environment script (run inside alembic).
ENTRY_MODULES = {"functions.generate.main", "functions.gdpr.main", "functions.health.main",
                 "shared.serving", "shared.migrations.env"}
UNSAFE_PRODUCTION = {"ENVIRONMENT": "production", "SECRET_KEY": "short", "AI_PROVIDERS": "mock,openai"}
FUNCTIONS = ("generate", "gdpr", "health")

_IMPORT_ALL = """
import importlib, json, sys, traceback
failed = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except BaseException as exc:  # SystemExit too: a module that runs a command at import
        failed[name] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
print(json.dumps(failed))
"""


def _import_all(modules: list[str], env: dict[str, str]) -> dict[str, str]:
    proc = subprocess.run([sys.executable, "-c", _IMPORT_ALL, json.dumps(modules)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _unsafe_env(tmp_path) -> dict[str, str]:
    return {**os.environ, **UNSAFE_PRODUCTION, "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'lf.db'}"}


def test_every_module_but_the_entry_points_imports_under_an_unsafe_production_environment(tmp_path):
    bench = {f"bench.{p.stem}" for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__"}
    modules = sorted((set(project_modules()) | bench) - ENTRY_MODULES)
    assert len(modules) > 100 and "functions.generate.app" in modules and "shared.http._app" in modules
    assert _import_all(modules, _unsafe_env(tmp_path)) == {}


def test_the_import_check_sees_an_entry_point_refuse(tmp_path):
    """The check above can fail: the same environment stops an entry module at import."""
    failed = _import_all(["functions.health.main"], _unsafe_env(tmp_path))
    assert "UnsafeSettingsError: refusing to start in production" in failed["functions.health.main"]


def _expected_error(monkeypatch) -> str:
    for name, value in UNSAFE_PRODUCTION.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with pytest.raises(UnsafeSettingsError) as raised:
        Settings()
    return str(raised.value)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_create_app_with_the_unsafe_environment_raises_the_clear_error(function, monkeypatch):
    import importlib

    expected = _expected_error(monkeypatch)
    assert expected.startswith("refusing to start in production: SECRET_KEY") and "mock" in expected
    create_app = importlib.import_module(f"functions.{function}.app").create_app
    with pytest.raises(UnsafeSettingsError) as raised:
        create_app(startup_settings())
    assert str(raised.value) == expected


def test_generate_refuses_production_settings_without_provider_credentials():
    from functions.generate.app import create_app

    settings = Settings(**{**SAFE_PROD, "anthropic_api_key": None})
    with pytest.raises(UnsafeSettingsError, match="ANTHROPIC_API_KEY missing"):
        create_app(settings)
    assert create_app(Settings(**SAFE_PROD)).settings.is_production


def test_startup_settings_outside_production_are_left_to_first_use(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "short")  # would be refused in production; here nothing is loaded
    assert startup_settings() is None


def test_two_apps_with_different_settings_side_by_side():
    """Settings are the app's: CORS origins and the HTTPS check differ per app, in one process."""
    from functions.health.app import create_app

    first = create_app(Settings(allowed_origins="https://one.example")).test_client()
    second = create_app(Settings(allowed_origins="https://two.example")).test_client()
    production = create_app(Settings(**SAFE_PROD)).test_client()
    origin = {"Origin": "https://one.example"}
    assert first.get("/livez", headers=origin).headers.get("Access-Control-Allow-Origin") == "https://one.example"
    assert "Access-Control-Allow-Origin" not in second.get("/livez", headers=origin).headers
    plain = {"X-Forwarded-Proto": "http"}
    assert first.get("/openapi.json", headers=plain).status_code == 200
    assert production.get("/openapi.json", headers=plain).status_code == 403


def test_building_an_app_registers_nothing_on_the_host_flask_app():
    """Only `main.py` adopts the host app (`app.adopt_host_app()`): a factory inside a Flask
    app's context leaves that app's error handlers alone."""
    from flask import Flask

    from functions.gdpr.app import create_app

    host = Flask("host")
    with host.app_context():
        app = create_app(None)
        assert host.error_handler_spec == {}
        app.adopt_host_app()
    assert host.error_handler_spec != {}


def test_startup_settings_follow_the_environment_they_are_given(monkeypatch):
    from shared.settings.environment import Environment

    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("SECRET_KEY", "short")
    get_settings.cache_clear()
    assert startup_settings(Environment("development")) is None
    monkeypatch.setenv("ENVIRONMENT", "production")  # what the settings then load and refuse
    with pytest.raises(UnsafeSettingsError):
        startup_settings(Environment("production"))


def test_create_app_hands_each_utility_a_config_of_its_settings():
    """Metrics, rate limits and logging of two apps of one function differ, side by side."""
    from functions.health.app import create_app
    from shared.logs import LoggingConfig
    from shared.metrics import MetricsConfig, RequestMetricsMiddleware
    from shared.ratelimit import RateLimitConfig, RateLimitMiddleware

    def of(app, kind):
        return next(m for m in app.middleware if isinstance(m, kind)).config

    quiet = Settings(metrics_enabled=False, rate_limit_per_minute=5, log_level="error")
    busy = Settings(metrics_flush_seconds=9, generations_per_day=3, database_url="sqlite:///busy.db")
    one, two = create_app(quiet), create_app(busy)
    assert of(one, RequestMetricsMiddleware) == MetricsConfig.of(quiet) and not of(one, RequestMetricsMiddleware).enabled
    assert of(two, RequestMetricsMiddleware).flush_seconds == 9
    assert of(two, RequestMetricsMiddleware).database_url == "sqlite:///busy.db"
    assert of(one, RateLimitMiddleware) == RateLimitConfig(5, 200, None)
    assert of(two, RateLimitMiddleware) == RateLimitConfig(60, 3, None)
    assert (one.logging, two.logging) == (LoggingConfig("error"), LoggingConfig("info"))
    lazy = create_app(None)  # settings loaded on first use: capture deferred, limits from the request's
    assert of(lazy, RequestMetricsMiddleware).deferred and of(lazy, RateLimitMiddleware) is None
