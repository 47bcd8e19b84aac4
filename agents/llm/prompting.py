"""Prompt templates (agents/llm/prompts/*.txt) and the crew members' roles (members.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.template import Context, Engine

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"


@dataclass(frozen=True)
class MemberSpec:
    role: str
    goal: str
    backstory: str
    expected_output: str


@cache
def _engine() -> Engine:
    # A standalone engine: prompts are plain text, so no HTML escaping of quotes or <, >.
    return Engine(dirs=[str(PROMPTS_DIR)], autoescape=False)


def render(template: str, data: dict[str, Any]) -> str:
    return _engine().get_template(template).render(Context(data, autoescape=False)).strip()


@cache
def member_specs() -> dict[str, MemberSpec]:
    with (PROMPTS_DIR / "members.toml").open("rb") as file:
        return {key: MemberSpec(**value) for key, value in tomllib.load(file).items()}
