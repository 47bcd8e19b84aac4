"""The agent registry: agent_type → class, metadata for the API and the builder, instantiation."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from agents.base import AgentMetadata, BaseAgent
from agents.config import FieldError, validate_config

AGENT_REGISTRY: dict[str, type[BaseAgent]] = {}
_loaded = False


def register(agent_class: type[BaseAgent]) -> type[BaseAgent]:
    agent_type = agent_class.metadata.agent_type
    if agent_type in AGENT_REGISTRY and AGENT_REGISTRY[agent_type] is not agent_class:
        raise ValueError(f"agent type {agent_type!r} is registered twice")
    AGENT_REGISTRY[agent_type] = agent_class
    return agent_class


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        import importlib

        from django.conf import settings

        import agents.builtin  # noqa: F401 - registers the built-in agents
        from agents.custom import agent as custom_agent  # noqa: F401 - registers it

        for module in settings.AGENT_PLUGINS:
            importlib.import_module(module)
        _loaded = True


def agent_types() -> dict[str, type[BaseAgent]]:
    _ensure_loaded()
    return AGENT_REGISTRY


def agent_class(agent_type: str) -> type[BaseAgent] | None:
    return agent_types().get(agent_type)


def all_metadata(*, include_system: bool = False) -> list[AgentMetadata]:
    return [
        cls.metadata
        for cls in agent_types().values()
        if include_system or not cls.metadata.is_system_agent
    ]


def _checked_config(cls: type[BaseAgent], config: Any) -> tuple[dict[str, Any], list[FieldError]]:
    """The schema first; then the agent's own rules on the defaulted config, so everything a
    run would refuse for configuration is refused when the graph is checked or saved."""
    filled, errors = validate_config(cls.metadata.config_schema, config)
    if not errors:
        errors = list(cls.config_rules(filled))
    return filled, errors


def validate_node_config(agent_type: str, config: Any) -> tuple[dict[str, Any], list[FieldError]]:
    cls = agent_class(agent_type)
    if cls is None:
        return {}, [FieldError("agent_type", f"unknown agent type {agent_type!r}")]
    return _checked_config(cls, config)


@lru_cache(maxsize=2048)
def _filled_config(agent_type: str, config_json: str) -> tuple[str, tuple[FieldError, ...]]:
    cls = agent_class(agent_type)
    filled, errors = _checked_config(cls, json.loads(config_json))
    return json.dumps(filled), tuple(errors)


def create_agent(agent_id: str, agent_type: str, config: Any) -> BaseAgent:
    """An agent with its config validated and defaulted (validation is cached: the same node
    config runs on every execution of a pipeline)."""
    if agent_class(agent_type) is None:
        raise ValueError(f"unknown agent type {agent_type!r}")
    filled, errors = _filled_config(agent_type, json.dumps(config or {}, sort_keys=True))
    if errors:
        details = "; ".join(f"{e.field}: {e.message}" for e in errors)
        raise ValueError(f"invalid config for {agent_id} ({agent_type}): {details}")
    return agent_class(agent_type)(agent_id, json.loads(filled))
