"""CostMeter: token usage and LLM cost per step and per run, with the hard per-run budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from agents.errors import BudgetExceeded
from config.core import metrics


@dataclass
class LLMCall:
    agent_id: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    cached: bool = False


@dataclass
class StepUsage:
    tokens_in: int = 0
    tokens_out: int = 0
    token_cost: Decimal = Decimal("0")
    calls: int = 0


@dataclass
class CostMeter:
    """Counts what LLM calls use; refuses a call that would break the run's token or cost cap."""

    max_tokens_per_run: int | None = None
    max_cost_per_run: Decimal | None = None
    run_tokens: int = 0
    run_token_cost: Decimal = Decimal("0")
    calls: list[LLMCall] = field(default_factory=list)
    _step_start: int = 0

    def begin_step(self) -> None:
        self._step_start = len(self.calls)

    def step_usage(self) -> StepUsage:
        usage = StepUsage()
        for call in self.calls[self._step_start :]:
            usage.tokens_in += call.prompt_tokens
            usage.tokens_out += call.completion_tokens
            usage.token_cost += call.cost
            usage.calls += 1
        return usage

    def ensure_within_budget(self, *, projected_tokens: int, projected_cost: Decimal) -> None:
        if (
            self.max_tokens_per_run is not None
            and self.run_tokens + projected_tokens > self.max_tokens_per_run
        ):
            raise BudgetExceeded(
                f"Per-run token budget: {self.run_tokens} used + {projected_tokens} projected "
                f"> max_tokens_per_run {self.max_tokens_per_run}"
            )
        if (
            self.max_cost_per_run is not None
            and self.run_token_cost + projected_cost > self.max_cost_per_run
        ):
            raise BudgetExceeded(
                f"Per-run cost budget: ${self.run_token_cost:.4f} used + ${projected_cost:.4f} "
                f"projected > max_cost_per_run ${self.max_cost_per_run}"
            )

    def record(self, call: LLMCall) -> None:
        self.calls.append(call)
        self.run_tokens += call.prompt_tokens + call.completion_tokens
        self.run_token_cost += call.cost
        metrics.llm_call_recorded(
            model=call.model,
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
            cost=call.cost,
        )
