"""Issue 15's rule on the source: no production function is longer than 80 lines, except those
still listed in LONG_FUNCTIONS (each to be split; the goal is an empty list)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.source import ROOT, production_modules

MAX_LINES = 80
# Still longer than MAX_LINES, waiting for their split: "path::qualified name".
LONG_FUNCTIONS: set[str] = set()


def long_functions(path: Path, relative: str) -> dict[str, int]:
    """Each function or method in `path` longer than MAX_LINES, with its length in lines
    (decorators excluded, the docstring included)."""
    found = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    length = child.end_lineno - child.lineno + 1
                    if length > MAX_LINES:
                        found[f"{relative}::{name}"] = length
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(), filename=str(path)), "")
    return found


def production_long_functions() -> dict[str, int]:
    found = {}
    for path in production_modules():
        found.update(long_functions(path, path.relative_to(ROOT).as_posix()))
    return found


def test_it_measures_functions_and_methods_by_their_qualified_names(tmp_path):
    body = "".join(f"        x{i} = {i}\n" for i in range(MAX_LINES))
    module = tmp_path / "m.py"
    module.write_text(
        "def short():\n    return 1\n\n\n"
        f"class Agent:\n    def long(self):\n{body}\n\n"
        f"def outer():\n    def inner():\n{body}"
    )

    assert long_functions(module, "m.py") == {
        "m.py::Agent.long": MAX_LINES + 1,
        "m.py::outer": MAX_LINES + 2,
        "m.py::outer.inner": MAX_LINES + 1,
    }


def test_it_keeps_every_production_function_within_80_lines():
    too_long = {
        name: length
        for name, length in production_long_functions().items()
        if name not in LONG_FUNCTIONS
    }

    assert too_long == {}, "split these by concern (one function per step, check or section)"


def test_it_lists_only_functions_that_are_still_too_long():
    stale = LONG_FUNCTIONS - set(production_long_functions())

    assert stale == set(), "these are within the limit now: remove them from LONG_FUNCTIONS"
