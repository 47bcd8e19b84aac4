"""The README's configuration table and .env.example describe exactly what settings read."""

import re
from pathlib import Path

from bin.env_table import table, variables

ROOT = Path(__file__).resolve().parent.parent


def _variables_read_by_settings() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r'env_\w+\(\s*"([A-Z][A-Z0-9_]*)"', source))


def test_every_setting_read_from_the_environment_is_documented():
    documented = {name for _, name, _, _ in variables()}
    missing = _variables_read_by_settings() - documented
    assert not missing, f"add these to .env.example: {sorted(missing)}"


def test_every_documented_variable_has_an_explanation():
    assert all(explanation for _, _, _, explanation in variables())


def test_the_readme_table_is_generated_from_env_example():
    readme = (ROOT / "README.md").read_text()
    between = readme.split("<!-- env-table:start -->")[1].split("<!-- env-table:end -->")[0]
    assert between.strip() == table().strip(), "run `python bin/env_table.py --write`"
