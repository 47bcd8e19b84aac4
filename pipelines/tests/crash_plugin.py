"""A test-only agent plugin (loaded through AGENT_PLUGINS) whose first run kills its process."""

from __future__ import annotations

import os
from pathlib import Path

from agents.base import AgentMetadata, BaseAgent
from agents.registry import register


@register
class CrashOnceAgent(BaseAgent):
    metadata = AgentMetadata(
        agent_type="crash_once_agent",
        name="Crash once (test)",
        description="Kills the worker process the first time it runs; passes afterwards.",
        category="analysis",
        config_schema={
            "type": "object",
            "properties": {"marker": {"type": "string", "title": "Marker file", "default": ""}},
            "additionalProperties": False,
        },
    )

    def process(self, state, ctx):
        marker = Path(self.config["marker"] or os.environ["CRASH_MARKER"])
        if not marker.exists():
            marker.write_text("crashed once")
            os._exit(1)  # the worker child dies mid-step, as on an OOM kill
        return state

    def summarize(self, state):
        return "survived"
