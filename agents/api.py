"""Agents API: the registry's metadata and JSON-Schema configs, for the builder and scripts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from agents.registry import all_metadata

router = Router(tags=["agents"])


class AgentOut(Schema):
    agent_type: str
    name: str
    description: str
    category: str
    version: str
    icon: str
    pricing_rate: Decimal
    is_free: bool
    requires_timeframes: list[str]
    engines: list[str]
    has_side_effects: bool
    config_schema: dict[str, Any]


@router.get("", response=list[AgentOut], summary="Every agent you can put in a pipeline")
def agents_list(request: HttpRequest):
    return [metadata.model_dump() for metadata in all_metadata()]


class LLMStatusOut(Schema):
    configured: bool
    server: str
    default_model: str
    models: list[str]
    summary: str


@router.get(
    "/llm-status",
    response=LLMStatusOut,
    summary="Whether a language model is configured (otherwise llm-engine agents use rules)",
)
def agents_llm_status(request: HttpRequest):
    from agents.llm.client import llm_status

    status = llm_status()
    return {
        "configured": status.configured,
        "server": status.server,
        "default_model": status.default_model,
        "models": list(status.models),
        "summary": status.summary,
    }
