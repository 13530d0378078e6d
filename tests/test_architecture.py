"""The arrows between parts, checked from the source (docs/ARCHITECTURE.md, "Arrows").

Every import of every module is read with `ast`: module-level imports, imports
inside functions (the lazy ones), and `"package.module:attr"` references (how a
`main.py` names its handlers). The rules:

- `functions/<name>/` imports only `shared` and itself (never a sibling function, never jobs or cli);
- `jobs/` imports only `shared` and itself;
- `shared/` imports no part;
- no import cycle inside `shared/`, `if TYPE_CHECKING:` imports included (a cycle for the type
  checker is one between concerns too);
- `cli/` may import anything.

Railway redeploys a service only when a file matching its watch patterns
changes, so each service's patterns must cover every directory its entry
point reaches through that same import graph.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

PARTS = ("shared", "functions", "jobs", "cli")
_REFERENCE = re.compile(r"^((?:shared|functions|jobs|cli)(?:\.\w+)+):\w+$")


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (a project module)
    path: Path
    line: int
    type_checking: bool = False

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.source} -> {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {_module_name(p): p for part in PARTS for p in sorted((ROOT / part).rglob("*.py"))}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines inside `if TYPE_CHECKING:` blocks (annotations only, never executed)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every project module `name` imports, wherever the import statement is."""
    tree = ast.parse(path.read_text(), str(path))
    guarded = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def add(target: str, node: ast.AST) -> None:
        if target.split(".")[0] not in PARTS:
            return
        while target not in modules and "." in target:  # `from shared.x import attr` -> shared.x
            target = target.rpartition(".")[0]
        found.append(Import(name, target, path, node.lineno, node.lineno in guarded))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                if sub in modules:  # `from shared.metrics import store`: the module, read from the package's
                    add(sub, node)  # namespace, so the package (its __init__) is an edge too
                add(module, node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _REFERENCE.match(node.value)
            if match:
                add(match.group(1), node)
    return found


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, Path], list[Import]]:
    modules = project_modules()
    edges = [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]
    return modules, edges


def part_of(module: str) -> str:
    pieces = module.split(".")
    return ".".join(pieces[:2]) if pieces[0] == "functions" and len(pieces) > 1 else pieces[0]


def allowed(source: str, target: str) -> bool:
    src, dst = part_of(source), part_of(target)
    if src == "cli" or src == dst:
        return True
    if src == "shared":
        return False
    return dst == "shared"  # functions.X and jobs: only shared besides themselves


def test_the_reader_sees_lazy_imports_and_references(graph):
    """The checks below are only as good as the reader: it must see what a newcomer would miss."""
    modules, edges = graph
    seen = {(e.source, e.target) for e in edges}
    assert ("shared.middleware", "shared.ratelimit") in seen  # module level
    assert ("shared.ratelimit.backend", "shared.ratelimit.redis") in seen  # inside a function
    assert ("functions.gdpr.app", "functions.gdpr.erasure") in seen  # a "module:attr" handler reference
    assert ("functions.generate.store", "functions.generate.ledger") in seen  # lazy, from-import of a name
    assert ("shared.health_checks", "shared.job_status") in seen
    assert ("shared.job_status", "shared.job_schedule") in seen
    assert allowed("jobs.alert_rules", "shared.window_stats") and not allowed("jobs.alert_rules", "functions.health")
    assert not allowed("shared.x", "cli.dev") and not allowed("functions.gdpr.x", "functions.generate.y")
    assert allowed("cli.dev", "functions.health.main") and allowed("functions.gdpr.x", "functions.gdpr.y")


def test_arrows_flow_one_way(graph):
    """functions -> shared, jobs -> shared, cli -> anything; shared imports no part; no sibling imports."""
    _, edges = graph
    wrong = [str(e) for e in edges if not allowed(e.source, e.target)]
    assert wrong == [], "imports against the arrows:\n" + "\n".join(wrong)


def _cycles(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                out.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a", "b", "c"}, {"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a", "b"}, {"a": {"b"}}) == []


def test_the_reader_counts_type_checking_and_package_namespace_imports(tmp_path):
    """`if TYPE_CHECKING:` imports are edges (marked), and `from package import module` is an
    edge to the module and to the package whose namespace it reads; `from package.module import
    name` names only the module (the package `__init__` Python runs on the way is not counted,
    or every package re-exporting its pieces would be a cycle with them)."""
    source = tmp_path / "recorder.py"
    source.write_text("from typing import TYPE_CHECKING\n"
                      "from shared.metrics import store\n"
                      "from shared.metrics.config import MetricsConfig\n"
                      "if TYPE_CHECKING:\n"
                      "    from shared.http import RequestContext\n")
    modules = {m: source for m in ("shared.metrics", "shared.metrics.store", "shared.metrics.config",
                                   "shared.metrics.recorder", "shared.http")}
    found = {(i.target, i.type_checking) for i in imports_of("shared.metrics.recorder", source, modules)}
    assert found == {("shared.metrics", False), ("shared.metrics.store", False), ("shared.metrics.config", False),
                     ("shared.http", True)}


def test_no_import_cycles_inside_shared(graph):
    """Lazy and `if TYPE_CHECKING:` imports included: a cycle hidden inside a function, or one
    only the type checker follows, is still a cycle between concerns."""
    modules, edges = graph
    shared = {m for m in modules if part_of(m) == "shared"}
    adjacency: dict[str, set[str]] = {}
    for e in edges:
        if e.source in shared and e.target in shared and e.source != e.target:
            adjacency.setdefault(e.source, set()).add(e.target)
    assert _cycles(shared, adjacency) == []


def test_every_registered_job_has_its_module():
    """The job schedule registry is static: every name has `jobs/<name>.py` with `run(ctx)`."""
    import importlib

    from jobs.runner import module_name
    from shared.job_schedule import JOBS

    for job in JOBS:
        assert callable(importlib.import_module(module_name(job)).run), job


def test_every_route_reference_resolves():
    """`"module:attr"` references load on first use, so a typo would be a 500: resolve them all now."""
    from cli.dev import load_apps
    from shared.http import resolve

    for name, app in load_apps().items():
        for route in app.routes:
            assert callable(route.handler), (name, route.rule)
            for model in (route.body, route.query, route.response):
                assert model is None or isinstance(model, type), (name, route.rule, model)
            for key, value in route.options.items():
                if isinstance(value, str) and _REFERENCE.match(value):
                    assert callable(resolve(value)), (name, route.rule, key)


# -- Railway watch patterns ------------------------------------------------------------------


def entry_modules(start_command: str) -> set[str]:
    """The modules a service's start command runs first."""
    argv = shlex.split(start_command)
    if argv[0] == "gunicorn":  # gunicorn's config module, then functions-framework's app for the source
        import ast

        config = argv[argv.index("--config") + 1].removeprefix("python:")
        call = ast.parse(argv[-1].partition(":")[2], mode="eval").body
        source = next(ast.literal_eval(k.value) for k in call.keywords if k.arg == "source")
        return {config, _module_name(ROOT / source)}
    if argv[:3] == ["python", "-m", "jobs"]:
        from jobs.runner import module_name

        return {"jobs.__main__", module_name(argv[3])}  # the runner imports the job by name
    raise AssertionError(f"cannot tell the entry point of {start_command!r}")


def reached_directories(start_command: str, modules: dict[str, Path], edges: list[Import]) -> set[str]:
    """Directories holding code the entry point can import: `functions/<name>`, `shared`, `jobs`, `cli`.

    Importing `a.b.c` also runs `a/__init__.py` and `a/b/__init__.py`, so parents count here,
    except `functions/__init__.py`: the container of the function parts, kept empty (tested).
    """
    reached = reached_modules(start_command, modules, edges)
    return {part_of(m).replace(".", "/") for m in reached if m != "functions"}


def reached_modules(start_command: str, modules: dict[str, Path], edges: list[Import]) -> set[str]:
    """Every project module the entry point can import, lazily or not (TYPE_CHECKING aside)."""
    return reach(entry_modules(start_command), modules, edges)


def reach(entries: set[str], modules: dict[str, Path], edges: list[Import]) -> set[str]:
    """`entries` and every project module they can import, their parent packages included."""
    adjacency: dict[str, set[str]] = {}
    for e in edges:
        if not e.type_checking:
            adjacency.setdefault(e.source, set()).add(e.target)
    todo = list(entries)
    reached: set[str] = set()
    while todo:
        module = todo.pop()
        if module in reached or module not in modules:
            continue
        reached.add(module)
        pieces = module.split(".")
        todo += [".".join(pieces[:i]) for i in range(1, len(pieces))]
        todo += sorted(adjacency.get(module, ()))
    return reached


HEAVY_PACKAGES = ("openai", "anthropic", "google.genai", "matplotlib", "numpy")


def heavy_imports(path: Path) -> list[str]:
    """`file:line: package` for every import of an LLM SDK or matplotlib/numpy in the file, lazy included."""
    tree = ast.parse(path.read_text(), str(path))
    guarded = _type_checking_lines(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:  # `from google import genai` too
            names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if node.lineno not in guarded and any(name == h or name.startswith(h + ".") for h in HEAVY_PACKAGES):
                out.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    return out


def test_gdpr_and_health_cannot_reach_an_llm_sdk_or_matplotlib(graph):
    """Their Railway services do not install them (pyproject extras), so no code path they can
    import may import them, lazily or not. A service ships its whole package, and handlers are
    named by strings the reader may not see (f-strings): every module of the package is an entry.
    Generate and the report jobs do reach them: the check sees those."""
    modules, edges = graph

    def found(package: str) -> list[str]:
        entries = {m for m in modules if m == package or m.startswith(package + ".")}
        return [hit for m in sorted(reach(entries, modules, edges)) for hit in heavy_imports(modules[m])]

    assert found("functions.gdpr") == [] and found("functions.health") == []
    assert {hit.rsplit(": ", 1)[1] for hit in found("functions.generate")} >= {"openai", "anthropic", "google.genai"}
    assert any(hit.endswith(": matplotlib") or "matplotlib." in hit for hit in found("jobs.ops_report"))


def test_the_functions_container_is_empty():
    assert (ROOT / "functions" / "__init__.py").read_text().strip() == ""


def _find(tree, key: str):
    """The first value under `key` anywhere in a nested dict/list (the IaC graph's layout may change)."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        children = tree.values()
    elif isinstance(tree, list):
        children = tree
    else:
        return None
    for child in children:
        found = _find(child, key)
        if found is not None:
            return found
    return None


def railway_services() -> dict[str, dict]:
    from railway_sdk import create_railway_context

    from tests.test_deploy import load_iac

    graph = load_iac().main(create_railway_context(environment="production")).to_graph()
    return {r["name"]: r for r in graph["resources"] if r["type"] == "service"}


def watch_patterns(service: dict) -> list[str] | None:
    """Declared in the IaC graph, else in the service's config file; None: Railway watches everything."""
    patterns = _find(service, "watchPatterns")
    if patterns is None and _find(service, "configFile"):
        import json

        config = json.loads((ROOT / _find(service, "configFile")).read_text())
        patterns = _find(config, "watchPatterns")
    return patterns


def uncovered(directories: set[str], patterns: list[str] | None) -> set[str]:
    if patterns is None:
        return set()
    return {d for d in directories if not any(fnmatch.fnmatch(f"{d}/any_module.py", p) for p in patterns)}


def test_watch_pattern_check_catches_a_miss():
    assert uncovered({"functions/health", "shared"}, ["functions/health/**", "shared/**"]) == set()
    assert uncovered({"functions/health", "jobs"}, ["functions/health/**", "shared/**"]) == {"jobs"}
    assert uncovered({"jobs"}, None) == set()


def test_watch_patterns_cover_what_each_service_imports(graph):
    modules, edges = graph
    services = railway_services()
    assert services, "the IaC file declares no service"
    problems = {}
    for name, service in sorted(services.items()):
        command = _find(service, "startCommand")
        assert command, f"service {name} has no start command"
        reached = reached_directories(command, modules, edges)
        assert "shared" in reached, (name, reached)
        missing = uncovered(reached, watch_patterns(service))
        if missing:
            problems[name] = sorted(missing)
    assert problems == {}, f"watch patterns miss directories the service imports: {problems}"
