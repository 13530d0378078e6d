"""Schemathesis over every function present, each on a real functions-framework server.

Each operation is exercised with generated valid (positive) and invalid
(negative) requests carrying a key of a role the route admits; the checks are
no server error, responses that match their own schema, and only documented
status codes. Generation is derandomised (fixed seed per test) and bounded, so
the run is deterministic and takes seconds, not minutes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from cli.dev import load_apps
from shared.openapi import openapi_path
from tests.conftest import auth, make_user

APPS = load_apps()
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 6}
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def _role_for(app, path: str, method: str) -> str | None:
    for route in app.routes:
        if openapi_path(route.rule) == path and method.upper() in route.methods:
            if route.roles is None:
                return None
            return next(r for r in ("user", "admin", "ops") if r in route.roles)
    raise AssertionError(f"{method} {path} is documented but not routed")


def fuzz(server, app) -> list[str]:
    """Run every operation of `app`'s served document; the failures, one line each."""
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    keys = {role: make_user(role)[1] for role in ("user", "admin", "ops")}
    http = requests.Session()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the served document lists no operation"
    for operation in operations:
        role = _role_for(app, operation.path, operation.method)
        headers = auth(keys[role]) if role else {}
        for mode, examples in EXAMPLES.items():
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case):
                response = case.call(base_url=server.url, session=http, headers=headers, timeout=30)
                try:
                    case.validate_response(response, checks=CHECKS)
                except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failures, then report them all
                    failures.append(f"{operation.method.upper()} {operation.path} [{mode.value}]: "
                                    f"{type(exc).__name__}: {str(exc)[:500]}")
                    raise

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # no input to get wrong (no parameters or body)
            except (Exception, BaseExceptionGroup):  # noqa: BLE001 - already recorded in `failures`
                if not failures:
                    raise
    return failures


SERVER_ENV = {"RATE_LIMIT_PER_MINUTE": "1000000", "GENERATIONS_PER_DAY": "1000000"}


@pytest.mark.parametrize("name", list(APPS))
def test_schemathesis(pg, function_server, name):
    server = function_server(name, env={"DATABASE_URL": pg.url} | SERVER_ENV)
    failures = fuzz(server, APPS[name])
    assert not failures, "\n".join(failures)


def test_the_fuzzer_catches_server_errors_and_undocumented_statuses(pg, function_server):
    """Proof the harness can fail: the test-only function has a crashing and an undocumented route."""
    from tests.fixtures import limited_function

    server = function_server("limited", env={"DATABASE_URL": pg.url} | SERVER_ENV,
                             source=Path(limited_function.__file__))
    failures = fuzz(server, limited_function.app)
    assert any("/v1/crash" in f for f in failures), failures
    assert any("/v1/teapot" in f for f in failures), failures
    assert not any("/v1/ping" in f for f in failures), failures
