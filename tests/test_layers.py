"""The layering rules of ARCHITECTURE.md §2, checked on the source: an app's own tests import
only that app and the apps below it; a test that needs a higher app lives in tests/integration/."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Lowest first: an app may import the apps before it in this list, never those after it.
LAYERS = ["accounts", "trading", "agents", "billing", "pipelines", "signals", "analytics"]


def imported_apps(path: Path) -> set[str]:
    """The Tradecrew apps a module imports, at any depth (lazy imports count too)."""
    apps = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        apps.update(name.split(".")[0] for name in names if name.split(".")[0] in LAYERS)
    return apps


def upward_imports_in_tests() -> dict[str, list[str]]:
    found = {}
    for rank, app in enumerate(LAYERS):
        higher = set(LAYERS[rank + 1 :])
        for path in sorted((ROOT / app / "tests").rglob("*.py")):
            if upward := imported_apps(path) & higher:
                found[str(path.relative_to(ROOT))] = sorted(upward)
    return found


def test_it_finds_an_upward_import(tmp_path):
    module = tmp_path / "test_x.py"
    module.write_text("def test_x():\n    from pipelines.models import Pipeline\n")
    assert imported_apps(module) == {"pipelines"}


def test_it_keeps_each_apps_tests_within_its_layer():
    assert upward_imports_in_tests() == {}, "move these to tests/integration/"
