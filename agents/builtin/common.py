"""Pieces the built-in agents share: schema fragments, bar fetching, bar timing and rounding."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from agents.context import AgentContext
from agents.llm.config import llm_available, model_choices
from agents.state import PipelineState
from trading import calendar
from trading.marketdata.base import TIMEFRAME_DELTAS, TIMEFRAMES, MarketDataError

CENTS = Decimal("0.01")
ENGINES = ["rules", "llm"]
# Providers answering from memory or local files gain nothing from threads (the GIL serialises
# their pandas work and the pool costs more than it saves); network providers wait on sockets.
_REMOTE_PROVIDERS = frozenset({"alpaca", "finnhub"})
_MAX_FETCH_THREADS = 8


# --- JSON-Schema fragments (the pipeline builder renders forms from these) -------------------


def timeframe_property(title: str, description: str, default: str) -> dict[str, Any]:
    return {
        "type": "string",
        "title": title,
        "description": description,
        "enum": list(TIMEFRAMES),
        "default": default,
    }


def timeframes_property(title: str, description: str, default: list[str]) -> dict[str, Any]:
    return {
        "type": "array",
        "title": title,
        "description": description,
        "items": {"type": "string", "enum": list(TIMEFRAMES)},
        "uniqueItems": True,
        "minItems": 1,
        "default": default,
    }


def engine_properties(what: str) -> dict[str, dict[str, Any]]:
    """The `engine`, `model` and `fallback_to_rules` properties every LLM-capable agent offers."""
    return {
        "engine": {
            "type": "string",
            "title": "Reasoning engine",
            "description": (
                f"'rules' {what} with deterministic indicator rules; 'llm' asks the configured "
                "language model (falls back to rules when no model is configured)."
            ),
            "enum": ENGINES,
            "default": "rules",
        },
        "model": {
            "type": "string",
            "title": "Model",
            "description": "LLM model; empty uses the configured default. Unused by rules.",
            # The models this deployment offers (LLM_MODELS), read when the agents load.
            "enum": ["", *model_choices()],
            "default": "",
        },
        "fallback_to_rules": {
            "type": "boolean",
            "title": "Fall back to rules",
            "description": (
                "When the model's answer is still invalid after one retry, or the model server "
                "is down, use the rules engine for that symbol instead of failing the step. "
                "Never applies to an exhausted budget."
            ),
            "default": False,
        },
    }


def check_interval_property(default: int, *, zero_means: str) -> dict[str, Any]:
    return {
        "type": "integer",
        "title": "Check again after (seconds)",
        "description": f"When the condition does not hold, when to look again; 0 = {zero_means}.",
        "minimum": 0,
        "maximum": 86400,
        "default": default,
    }


# --- Engines --------------------------------------------------------------------------------


def rules_engine_fallback(state: PipelineState, ctx: AgentContext, agent_id: str, name: str) -> str:
    """The engine that runs for a config asking for 'llm' when no language model is configured:
    the deterministic rules, with a warning saying so (the step summary repeats it)."""
    state.add_warning(
        agent_id, f"{name}: no language model is configured, so the rules engine was used instead."
    )
    return "rules"


def pick_engine(
    config: dict[str, Any], state: PipelineState, ctx: AgentContext, agent_id: str, name: str
) -> str:
    """'llm' when the config asks for it and a model is configured, else 'rules'."""
    if config.get("engine", "rules") != "llm":
        return "rules"
    if llm_available(ctx):
        return "llm"
    return rules_engine_fallback(state, ctx, agent_id, name)


def llm_fell_back(state: PipelineState, agent_id: str) -> bool:
    """Whether this agent's 'llm' engine gave way to rules in this run (for its summary)."""
    return any(
        message.agent_id == agent_id and "the rules engine was used" in message.message
        for message in state.warnings
    )


def use_rules_after_llm_failure(
    config: dict[str, Any],
    state: PipelineState,
    agent_id: str,
    name: str,
    error: Exception,
    symbol: str | None = None,
) -> None:
    """After the model failed (invalid answers, server down): carry on with the rules engine if
    the config allows it, with a warning; otherwise re-raise, failing the step. A budget
    error never reaches here — it fails the step closed."""
    if not config.get("fallback_to_rules", False):
        raise error
    what = f" for {symbol}" if symbol else ""
    state.add_warning(
        agent_id, f"{name}: {error} So the rules engine was used{what} instead.", symbol
    )


# --- Numbers --------------------------------------------------------------------------------


def to_cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENTS, rounding=ROUND_HALF_UP)


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator / denominator to two decimals, half up: risk/reward as the trader sees it and
    as the strategy and the risk manager both compare it with their minimums."""
    return (numerator / denominator).quantize(CENTS, rounding=ROUND_HALF_UP)


def round_price(value: float) -> float:
    """A price rounded half-up to cents (float: the state keeps strategy prices as floats)."""
    return float(to_cents(value))


def money(value: Decimal) -> str:
    return f"${value:,.2f}"


# --- Fetching -------------------------------------------------------------------------------


def is_remote_provider(provider: Any) -> bool:
    return bool(getattr(provider, "is_remote", getattr(provider, "name", "") in _REMOTE_PROVIDERS))


def run_all[T](ctx: AgentContext, jobs: dict[Any, Callable[[], T]]) -> dict[Any, T | Exception]:
    """Run `jobs` (key → no-argument callable) and return key → result, or the data error
    (MarketDataError, ValueError) it raised; anything else is a bug and propagates.

    Threads are used only for providers that go over the network; in-memory providers run inline.
    """
    results: dict[Any, T | Exception] = {}

    def guarded(job: Callable[[], T]) -> T | Exception:
        try:
            return job()
        except (MarketDataError, ValueError) as error:
            return error

    if len(jobs) > 1 and is_remote_provider(ctx.market_data):
        workers = min(_MAX_FETCH_THREADS, len(jobs))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-fetch") as pool:
            futures = {key: pool.submit(guarded, job) for key, job in jobs.items()}
            for key, future in futures.items():
                results[key] = future.result()
    else:
        for key, job in jobs.items():
            results[key] = guarded(job)
    return results


# --- Bar timing -----------------------------------------------------------------------------


def _intraday_close_after(now: datetime, step: timedelta) -> datetime:
    """Close of the bar in progress at `now` (or of the first bar of the next session)."""
    session_day = calendar.session_at(now)
    if session_day is None:
        session_open = calendar.next_open(now)
        _, session_close = calendar.session_open_close(session_open)
        return min(session_open + step, session_close)
    session_open, session_close = calendar.session_open_close(session_day)
    # Bars are aligned on the session open (a 1h bar covers 9:30 to 10:30); the last one is cut
    # short by the close, which is how early closes end a session at 13:00.
    elapsed = now - session_open
    bars_done = elapsed // step
    return min(session_open + (bars_done + 1) * step, session_close)


def next_bar_close(now: datetime, timeframe: str) -> datetime:
    """The moment the next bar of `timeframe` closes, after `now`, following XNYS sessions."""
    now = now.astimezone(UTC)
    if timeframe == "1d":
        return calendar.next_close(now)
    return _intraday_close_after(now, TIMEFRAME_DELTAS[timeframe])


def next_check_time(now: datetime, timeframes: Iterable[str], interval_seconds: int) -> datetime:
    """When an unmet trigger looks again: a fixed interval, or the earliest next bar close."""
    if interval_seconds > 0:
        return now + timedelta(seconds=interval_seconds)
    closes = [next_bar_close(now, timeframe) for timeframe in set(timeframes)]
    return min(closes) if closes else now + timedelta(minutes=1)


def waiting_reason(symbols: list[str], condition: str, next_check_at: datetime) -> str:
    """Why a symbol trigger waits, e.g. 'None of AAPL, MSFT meets rsi_14 > 70; next check …'."""
    local = next_check_at.astimezone(calendar.NEW_YORK)
    who = symbols[0] if len(symbols) == 1 else f"none of {', '.join(symbols[:5])}"
    verb = "does not meet" if len(symbols) == 1 else "meets"
    if len(symbols) > 5:
        who += f" and {len(symbols) - 5} more"
    return f"{who[0].upper()}{who[1:]} {verb} {condition}; next check {local:%a %H:%M} ET."


def timeframe_sort_key(timeframe: str) -> int:
    return TIMEFRAMES.index(timeframe) if timeframe in TIMEFRAMES else len(TIMEFRAMES)


def no_symbols(state: PipelineState) -> bool:
    return not state.symbols


def trigger_met(
    agent,
    state,
    *,
    kept: list[str],
    condition: str,
    details: dict,
    now: datetime,
    failed: dict[str, str] | None = None,
):
    """A trigger that holds for the `kept` symbols: the others leave the run (a symbol whose data
    failed says why), and the result goes on the state."""
    from agents.state import TriggerResult

    dropped = [symbol for symbol in state.symbols if symbol not in kept]
    for symbol in dropped:
        if failed and symbol in failed:
            state.add_error(agent.agent_id, f"{symbol}: {failed[symbol]}", symbol)
        state.drop_symbol(symbol)
    state.trigger = TriggerResult(
        agent_id=agent.agent_id,
        agent_type=agent.agent_type,
        met=True,
        condition=condition,
        details={**details, "kept": kept, "dropped": dropped},
        checked_at=now,
    )
    return state
