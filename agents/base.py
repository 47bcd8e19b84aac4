"""BaseAgent and AgentMetadata: what every agent declares and implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from agents.config import FieldError
    from agents.context import AgentContext
    from agents.state import PipelineState

CATEGORIES = ("system", "trigger", "data", "analysis", "risk", "execution", "reporting")


class AgentMetadata(BaseModel):
    agent_type: str
    name: str
    description: str
    category: str
    version: str = "1.0.0"
    icon: str = "bolt"
    # Rental price in USD per hour of runtime, charged per second while the agent works.
    pricing_rate: Decimal = Decimal("0")
    is_free: bool = True
    is_system_agent: bool = False
    requires_timeframes: list[str] = Field(default_factory=list)
    # Reasoning engines: "rules" (deterministic) and, for LLM agents, "llm".
    engines: list[str] = Field(default_factory=lambda: ["rules"])
    # True when the agent acts outside the process (places orders): never re-run blindly.
    has_side_effects: bool = False
    config_schema: dict[str, Any] = Field(default_factory=dict)


class BaseAgent(ABC):
    """An agent reads the PipelineState, does one job, writes its result back to the state.

    Subclasses set `metadata` and implement `process`. They get everything from outside the
    state — time, market data, the executor, the cost meter — through `ctx`, never from globals.
    """

    metadata: ClassVar[AgentMetadata]

    def __init__(self, agent_id: str, config: dict[str, Any]):
        self.agent_id = agent_id
        self.config = config

    @classmethod
    def get_metadata(cls) -> AgentMetadata:
        return cls.metadata

    @property
    def agent_type(self) -> str:
        return self.metadata.agent_type

    @classmethod
    def required_timeframes(cls, config: dict[str, Any]) -> set[str]:
        """Timeframes this agent reads from market data, given its (defaulted) config."""
        return set(cls.metadata.requires_timeframes)

    @classmethod
    def config_rules(cls, config: dict[str, Any]) -> list[FieldError]:
        """Refusals a JSON Schema cannot state (a cron expression that does not parse, a split
        that must add up to 100), checked on the defaulted config at Check graph and Save.
        Whatever `process` would refuse for configuration belongs here or in the schema."""
        return []

    @abstractmethod
    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState: ...

    def summarize(self, state: PipelineState) -> str:
        """A one-line description of what this step produced, for the live monitor."""
        return "done"
