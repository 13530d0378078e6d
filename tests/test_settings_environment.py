"""`shared.settings.environment`: the few variables read before the settings load, without
pydantic, and the package's lazy names; `LoggingConfig`, built from either."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from shared.logs import LoggingConfig, configure_logging
from shared.settings.environment import (
    Environment,
    default_library_variable,
    read_environment,
    subprocess_environment,
)
from tests.conftest import ROOT


def test_read_environment_of_a_mapping():
    assert read_environment({}) == Environment(name="", log_level="info", otlp_endpoint=None)
    seen = read_environment({"ENVIRONMENT": " Production ", "LOG_LEVEL": "WARNING",
                             "OTEL_EXPORTER_OTLP_ENDPOINT": " http://collector:4318 "})
    assert seen == Environment("production", "warning", "http://collector:4318") and seen.is_production


@pytest.mark.parametrize("level", ["verbose", "", "  "])
def test_an_invalid_log_level_means_info_before_the_settings_load(level):
    assert read_environment({"LOG_LEVEL": level}).log_level == "info"


@pytest.mark.parametrize("name", ["development", "test", "", "prod"])
def test_only_production_is_production(name):
    assert not read_environment({"ENVIRONMENT": name}).is_production


def test_an_empty_endpoint_is_tracing_off():
    assert read_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}).otlp_endpoint is None


def test_the_light_module_imports_no_pydantic_and_the_package_names_load_the_model():
    code = ("import sys, json\n"
            "import shared.settings.environment\n"
            "light = 'pydantic' in sys.modules or 'shared.settings.model' in sys.modules\n"
            "from shared.settings import Settings, get_settings\n"
            "print(json.dumps([light, Settings.__module__, get_settings.__module__]))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == [False, "shared.settings.model", "shared.settings.model"]


def test_an_unknown_name_of_the_package_is_an_attribute_error():
    import shared.settings

    with pytest.raises(AttributeError, match="no attribute 'get_setting'"):
        shared.settings.get_setting  # noqa: B018 - the lookup is the test


def test_subprocess_environment_drops_a_prefix_and_adds(monkeypatch):
    monkeypatch.setenv("PGHOST", "elsewhere")
    monkeypatch.setenv("PGPASSWORD", "old")
    monkeypatch.setenv("KEEP_ME", "1")
    env = subprocess_environment(drop_prefix="PG", extra={"PGPASSWORD": "new"})
    assert env["KEEP_ME"] == "1" and env["PGPASSWORD"] == "new" and "PGHOST" not in env


def test_a_library_variable_set_by_the_operator_is_kept(monkeypatch):
    import os

    monkeypatch.setenv("LF_TEST_LIBRARY_DIR", "/operator/choice")
    default_library_variable("LF_TEST_LIBRARY_DIR", "/default")
    assert os.environ["LF_TEST_LIBRARY_DIR"] == "/operator/choice"
    monkeypatch.delenv("LF_TEST_LIBRARY_DIR")
    default_library_variable("LF_TEST_LIBRARY_DIR", "/default")
    assert os.environ["LF_TEST_LIBRARY_DIR"] == "/default"
    monkeypatch.delenv("LF_TEST_LIBRARY_DIR")


@pytest.fixture
def root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:], root.level = handlers, level


def test_logging_follows_its_config_not_the_environment(monkeypatch, root_logger):
    monkeypatch.setenv("LOG_LEVEL", "debug")
    configure_logging(LoggingConfig("warning"), force=True)
    assert root_logger.level == logging.WARNING
    configure_logging(LoggingConfig.of(read_environment()), force=True)
    assert root_logger.level == logging.DEBUG


def test_logging_config_of_the_settings():
    from shared.settings import Settings

    assert LoggingConfig.of(Settings(log_level="error")) == LoggingConfig("error")
