"""Print the README's configuration table, generated from .env.example."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_VARIABLE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def variables(path: Path = ROOT / ".env.example") -> list[tuple[str, str, str, str]]:
    """(section, name, example, explanation) for every variable, in file order."""
    rows, section, comment = [], "", []
    for line in path.read_text().splitlines():
        if line.startswith("# ---"):
            section, comment = line.strip("# -"), []
        elif line.startswith("#"):
            comment.append(line.lstrip("# ").strip())
        elif match := _VARIABLE.match(line):
            rows.append((section, match.group(1), match.group(2), " ".join(comment[-1:])))
            comment = []
    return rows


def table() -> str:
    lines = ["| variable | default / example | what it does |", "|---|---|---|"]
    current = None
    for section, name, example, explanation in variables():
        if section != current:
            lines.append(f"| **{section}** | | |")
            current = section
        shown = f"`{example}`" if example else ""
        lines.append(f"| `{name}` | {shown} | {explanation.replace('|', '/')} |")
    return "\n".join(lines)


def write_readme(path: Path = ROOT / "README.md") -> None:
    """Replace the table between the README's env-table markers."""
    text = path.read_text()
    head, rest = text.split("<!-- env-table:start -->", 1)
    _, tail = rest.split("<!-- env-table:end -->", 1)
    path.write_text(f"{head}<!-- env-table:start -->\n{table()}\n<!-- env-table:end -->{tail}")


if __name__ == "__main__":
    import sys

    if "--write" in sys.argv:
        write_readme()
    else:
        print(table())
