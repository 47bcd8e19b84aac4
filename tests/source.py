"""The production source the rules on the code read: the apps, config and bin, without tests
and migrations (used by tests/test_module_size.py and tests/test_function_length.py)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = [
    "accounts",
    "agents",
    "analytics",
    "billing",
    "bin",
    "config",
    "pipelines",
    "signals",
    "trading",
]


def production_modules(root: Path = ROOT) -> list[Path]:
    """The production Python modules under `root`: tests and migrations left out."""
    found = []
    for folder in PRODUCTION:
        for path in sorted((root / folder).rglob("*.py")):
            parts = set(path.relative_to(root).parts)
            if {"tests", "migrations"} & parts or path.name.startswith("test_"):
                continue
            found.append(path)
    return found
