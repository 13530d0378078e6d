"""No dead code in the parts: vulture finds nothing, at its default confidence, in shared, functions,
jobs and cli beyond the framework entry points tests/vulture_whitelist.py names.

A finding means: delete the code, or, if a framework calls it (a route named in a string, a
pydantic field, an ORM column, a gunicorn setting...), add its name to the whitelist's section
for that framework. The whitelist itself stays exact: an entry vulture would not report
without it is stale and fails here too.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

TREE = ("shared", "functions", "jobs", "cli")
WHITELIST = ROOT / "tests" / "vulture_whitelist.py"
_FINDING = re.compile(r"^(?P<where>\S+:\d+): unused \w+ '(?P<name>\w+)' \(\d+% confidence\)$")


def _vulture(*paths: str | Path) -> list[str]:
    """Vulture's findings (one line each) over `paths`, at its default confidence."""
    done = subprocess.run([sys.executable, "-m", "vulture", *map(str, paths)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 3), done.stderr  # 3: dead code found; anything else is a failed run
    return done.stdout.splitlines()


def _whitelisted() -> set[str]:
    """The names the whitelist marks as used (`_.name` lines)."""
    tree = ast.parse(WHITELIST.read_text())
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "_"}


def test_no_dead_code_in_the_parts():
    findings = _vulture(*TREE, WHITELIST)
    assert findings == [], "dead code (delete it, or whitelist a framework entry point):\n" + "\n".join(findings)


def test_every_whitelist_entry_is_still_needed():
    reported = {m["name"] for line in _vulture(*TREE) if (m := _FINDING.match(line))}
    stale = sorted(_whitelisted() - reported)
    assert stale == [], f"whitelist entries vulture no longer reports (remove them): {stale}"


def test_an_unused_function_is_found_despite_the_whitelist(tmp_path):
    # The check can fail: the whitelist names entry points, it does not silence vulture.
    module = tmp_path / "planted.py"
    module.write_text("def planted_dead_helper() -> int:\n    return 1\n")
    findings = _vulture(*TREE, WHITELIST, module)
    assert [line for line in findings if "planted_dead_helper" in line] == [
        f"{module}:1: unused function 'planted_dead_helper' (60% confidence)"]


def test_the_whitelist_is_read_as_names():
    names = _whitelisted()
    assert {"model_config", "down_revision", "worker_class"} <= names  # one per kind of section
    assert "Whitelist" not in names and "_" not in names
