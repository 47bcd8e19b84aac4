"""A test-only agent plugin (loaded through AGENT_PLUGINS) whose first run kills its process."""

from __future__ import annotations

import os
import time
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


@register
class HangOnceAgent(BaseAgent):
    metadata = AgentMetadata(
        agent_type="hang_once_agent",
        name="Hang once (test)",
        description="The first time it runs, marks a file and blocks until its worker is killed.",
        category="analysis",
        config_schema={
            "type": "object",
            "properties": {"marker": {"type": "string", "title": "Marker file", "default": ""}},
            "additionalProperties": False,
        },
    )

    def process(self, state, ctx):
        marker = Path(self.config["marker"])
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(3600)  # a step that outlives its worker: the test kills the process
        return state

    def summarize(self, state):
        return "survived"
