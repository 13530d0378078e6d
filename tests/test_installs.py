"""Lean installs: each Railway service installs the runtime base and its own extra (pyproject.toml).

The dependency closure of an extra is resolved offline from pyproject.toml and the installed
distributions' own metadata (importlib.metadata: every `Requires-Dist`, markers evaluated for
the extras asked for), so the test is fast and needs no network. The gdpr and health services
must not install an LLM SDK or matplotlib, and must not import them either: a subprocess loads
each function as functions-framework does and serves a request.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LLM_SDKS = {"openai", "anthropic", "google-genai"}
HEAVY = LLM_SDKS | {"matplotlib", "numpy"}
# Imported module names for the same distributions.
HEAVY_MODULES = ("openai", "anthropic", "google.genai", "matplotlib", "numpy")


def _applies(req: Requirement, extra: str | None) -> bool:
    if req.marker is None:
        return True
    return req.marker.evaluate(default_environment() | {"extra": extra or ""})


def closure(*extras: str) -> set[str]:
    """Canonical names of every distribution `pip install '.[extras]'` would install."""
    wanted = [Requirement(r) for r in PYPROJECT["dependencies"]]
    for extra in extras:
        wanted += [Requirement(r) for r in PYPROJECT["optional-dependencies"][extra]]
    seen: set[str] = set()
    while wanted:
        req = wanted.pop()
        name = canonicalize_name(req.name)
        if name == "lafactoria":  # an extra that names others (dev)
            for extra in req.extras:
                wanted += [Requirement(r) for r in PYPROJECT["optional-dependencies"][extra]]
            continue
        key = name + "[" + ",".join(sorted(req.extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        for raw in metadata.requires(req.name) or []:
            dep = Requirement(raw)
            if dep.marker is None or any(_applies(dep, e) for e in (None, *req.extras)):
                wanted.append(Requirement(str(dep).split(";")[0]))
    return {k.split("[")[0] for k in seen}


def constraints() -> set[str]:
    out = set()
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            out.add(canonicalize_name(Requirement(line).name))
    return out


def test_the_closure_resolver_sees_what_it_must():
    """The resolver itself: generate and jobs do pull the heavy packages, transitively included."""
    assert LLM_SDKS <= closure("generate")
    assert {"matplotlib", "numpy"} <= closure("jobs")  # numpy only through matplotlib
    assert "numpy" not in {canonicalize_name(Requirement(r).name) for r in PYPROJECT["optional-dependencies"]["jobs"]}
    assert {"pytest", "playwright"} <= closure("dev") and closure("generate", "jobs") <= closure("dev")


@pytest.mark.parametrize("extra", ["gdpr", "health"])
def test_gdpr_and_health_install_no_llm_sdk_and_no_matplotlib(extra):
    got = closure(extra)
    assert {"functions-framework", "sqlalchemy", "alembic"} <= got
    assert not got & HEAVY, sorted(got & HEAVY)
    assert not got & {"pytest", "playwright", "moto", "schemathesis"}


@pytest.mark.parametrize("extra", ["generate", "gdpr", "health", "jobs"])
def test_every_service_install_is_pinned(extra):
    """Each build installs with `-c constraints.txt`: every package of its closure has a pin."""
    unpinned = closure(extra) - constraints()
    assert not unpinned, sorted(unpinned)


@pytest.mark.parametrize("name", ["gdpr", "health"])
def test_gdpr_and_health_never_import_an_llm_sdk_or_matplotlib(name, tmp_path):
    """Lazy imports: loading the function and serving a request leaves them out of sys.modules."""
    code = f"""
import sys, json
from functions_framework import create_app
app = create_app({name!r}, {str(ROOT / "functions" / name / "main.py")!r})
client = app.test_client()
statuses = [client.get(path).status_code for path in ("/openapi.json", "/livez", "/readyz", "/health")]
print(json.dumps({{"statuses": statuses, "loaded": [m for m in {HEAVY_MODULES!r} if m in sys.modules]}}))
"""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'lf.db'}", "BACKUP_URL": f"file://{tmp_path}/b",
           "METRICS_ENABLED": "false"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["statuses"][0] == 200 and all(s < 500 or s == 503 for s in got["statuses"])
    assert got["loaded"] == []


def test_a_job_on_an_install_without_the_jobs_extra_says_what_to_install(db, monkeypatch, capsys):
    """`make run` installs no matplotlib: a report job there exits 2 with the extra to install."""
    from jobs.runner import run_job

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ModuleNotFoundError
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    code, summary = run_job("cost-report")
    assert code == 2 and summary["error"].startswith("missing package 'matplotlib'")
    assert "'.[jobs]'" in summary["error"] and "Traceback" not in capsys.readouterr().err
