"""Issue 15's rule on the source: no production module (the apps, config and bin; not tests,
migrations or bench) is longer than 500 lines, except those listed in LONG_MODULES with the
reason it is one concern (or that it is being split)."""

from __future__ import annotations

from pathlib import Path

from tests.source import PRODUCTION, ROOT, production_modules

MAX_LINES = 500
# Longer than MAX_LINES on purpose (one concern), or still waiting for their split: path → why.
LONG_MODULES: dict[str, str] = {
    "config/settings.py": "one env-driven settings module by design (ARCHITECTURE.md §2)",
    "pipelines/models.py": "the pipelines app's models and their choices, one concern",
}


def line_count(path: Path) -> int:
    """The lines of a file, as `wc -l` counts them (a last line without a newline counts)."""
    return len(path.read_text().splitlines())


def long_modules(root: Path = ROOT) -> dict[str, int]:
    """Each production module longer than MAX_LINES, with its length in lines."""
    lengths = {
        path.relative_to(root).as_posix(): line_count(path) for path in production_modules(root)
    }
    return {name: length for name, length in lengths.items() if length > MAX_LINES}


def test_it_finds_a_long_module_and_leaves_tests_and_migrations_out(tmp_path):
    long_body = "x = 1\n" * (MAX_LINES + 1)
    for relative, body in {
        "pipelines/engine.py": long_body,
        "pipelines/short.py": "x = 1\n" * MAX_LINES,
        "pipelines/tests/test_engine.py": long_body,
        "pipelines/migrations/0001_initial.py": long_body,
        "trading/test_helpers.py": long_body,
    }.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    for folder in PRODUCTION:
        (tmp_path / folder).mkdir(exist_ok=True)

    assert long_modules(tmp_path) == {"pipelines/engine.py": MAX_LINES + 1}


def test_it_keeps_every_production_module_within_500_lines():
    too_long = {name: length for name, length in long_modules().items() if name not in LONG_MODULES}

    assert too_long == {}, (
        "split these by concern (a package whose __init__ re-exports the names importers use), "
        "or list one with the reason it is one concern in LONG_MODULES"
    )


def test_it_lists_only_modules_that_are_still_too_long():
    stale = set(LONG_MODULES) - set(long_modules())

    assert stale == set(), "these are within the limit now: remove them from LONG_MODULES"


def test_it_gives_every_long_module_a_reason():
    assert all(reason.strip() for reason in LONG_MODULES.values())
