"""Functions in the parts stay readable (issue 25): in shared/ and functions/, none of 60 lines or
more (docstring included: `end_lineno - lineno + 1`) and none above radon's grade C (cyclomatic
complexity over 20, radon's count: each boolean operator and comprehension adds to it, which
ruff's C901 does not, so ruff's `max-complexity = 20` alone would let grade D through).

A failure names each offender: split it into named steps. There are no exceptions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from radon.complexity import cc_visit
from radon.visitors import Class, Function

from tests.conftest import ROOT

TREE = ("shared", "functions")
MAX_LINES = 59  # a function of 60 lines or more fails
MAX_COMPLEXITY = 20  # radon grade C ends at 20


def _sources() -> Iterator[tuple[str, str]]:
    for top in TREE:
        for path in sorted((ROOT / top).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path.read_text()


def long_functions(source: str) -> dict[str, int]:
    """Every function (methods and nested ones too) of more than MAX_LINES lines: qualname -> lines."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    lines = (child.end_lineno or child.lineno) - child.lineno + 1
                    if lines > MAX_LINES:
                        found[name] = lines
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def complex_functions(source: str) -> dict[str, int]:
    """Every function (methods and closures too) of cyclomatic complexity above MAX_COMPLEXITY, as
    radon counts it: qualname -> complexity."""
    found: dict[str, int] = {}

    def visit(block: Function | Class, prefix: str) -> None:
        name = prefix + block.name
        if isinstance(block, Class):
            for inner in [*block.methods, *block.inner_classes]:
                visit(inner, name + ".")
            return
        if block.complexity > MAX_COMPLEXITY:
            found[name] = block.complexity
        for closure in block.closures:
            visit(closure, name + ".")

    for block in cc_visit(source):
        if isinstance(block, Class) or not block.is_method:  # methods are visited through their class
            visit(block, "")
    return found


def _offenders(measure: dict[str, dict[str, int]]) -> list[str]:
    return sorted(f"{path}:{name} ({value})" for path, found in measure.items() for name, value in found.items())


def test_no_function_of_60_lines_or_more():
    offenders = _offenders({path: long_functions(source) for path, source in _sources()})
    assert offenders == [], "functions of 60 lines or more (split them):\n" + "\n".join(offenders)


def test_no_function_above_complexity_grade_c():
    offenders = _offenders({path: complex_functions(source) for path, source in _sources()})
    assert offenders == [], f"functions above cyclomatic complexity {MAX_COMPLEXITY} (split them):\n" + "\n".join(
        offenders)

