"""The model's two jobs for custom strategies: writing code from English, and reviewing code.

Both go through the shared LLM client (cached per owner, retried, metered on a CostMeter whose
calls the service charges to the owner's ledger). The strategy API and an example are in the
generation prompt; the reviewer gets the same API and returns a structured verdict.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agents.llm.client import LLMClient
from agents.llm.validation import InvalidAnswer

STRATEGY_API = """\
A strategy is Python (a restricted subset) that defines exactly one function:

    def strategy(bars, indicators, position, params):
        ...
        return {"signal": "BUY", "stop_loss": 99.5, "targets": [101.0, 102.0], "reason": "..."}

Inputs (plain lists, dicts and numbers):
- bars[timeframe] = {"open": [...], "high": [...], "low": [...], "close": [...], "volume": [...]},
  oldest first, the last element is the latest bar. Timeframes are those in TIMEFRAMES
  (default ["5m"]; allowed: 1m 5m 15m 30m 1h 4h 1d).
- indicators[key] = a list aligned with the bars of the first timeframe; None during warm-up.
  Declare what you need in INDICATORS by name: SMA_<n>, EMA_<n>, RSI_<n>, ATR_<n>,
  AVG_VOLUME_<n>, MACD (keys macd, macd_signal, macd_hist), BB (keys bb_upper, bb_middle,
  bb_lower), VWAP. Keys are lower case: INDICATORS = ["EMA_9"] gives indicators["ema_9"].
- position = None when flat, else {"side": "long" or "short", "quantity": int, "entry": float}.
- params[name] = the trader's setting, declared with defaults in PARAMS = {"name": default}
  (numbers, text or True/False).
Output: a dict with "signal" in BUY, SELL, HOLD (SELL closes a long or opens a short), and
optionally "stop_loss" (a price), "targets" (up to 3 prices) and "reason" (short text); or just
the signal as a string.
Rules: no imports, classes, decorators, try/except, global, generators, lambdas are fine; no
names or attributes starting with "_"; no type/getattr/vars/globals/eval/exec/open/print.
Available: abs min max sum len range round enumerate zip sorted reversed any all map filter
int float bool str list dict tuple set, and math.sqrt/log/exp/floor/ceil/fabs/isnan/pi.
Module level holds only PARAMS, INDICATORS, TIMEFRAMES, UPPER_CASE constants and functions.
"""

EXAMPLE = """\
PARAMS = {"fast": 9, "slow": 21, "min_volume": 1000000}
INDICATORS = ["EMA_9", "EMA_21", "ATR_14"]
TIMEFRAMES = ["5m"]


def strategy(bars, indicators, position, params):
    fast = indicators["ema_" + str(params["fast"])]
    slow = indicators["ema_" + str(params["slow"])]
    close = bars["5m"]["close"]
    atr = indicators["atr_14"][-1]
    if fast[-1] is None or slow[-2] is None or fast[-2] is None or atr is None:
        return {"signal": "HOLD", "reason": "indicators are warming up"}
    if bars["5m"]["volume"][-1] < params["min_volume"]:
        return {"signal": "HOLD", "reason": "volume too low"}
    if fast[-2] <= slow[-2] and fast[-1] > slow[-1]:
        return {"signal": "BUY", "stop_loss": close[-1] - 1.5 * atr,
                "targets": [close[-1] + 2 * atr, close[-1] + 3 * atr],
                "reason": "fast EMA crossed above the slow EMA"}
    if fast[-2] >= slow[-2] and fast[-1] < slow[-1]:
        return {"signal": "SELL", "stop_loss": close[-1] + 1.5 * atr,
                "reason": "fast EMA crossed below the slow EMA"}
    return {"signal": "HOLD"}
"""

GENERATION_SYSTEM = (
    "You are Strategy programmer. You turn a trader's plain-English trading rules into a "
    "strategy for Tradecrew's sandbox, following its API exactly.\n\n"
    f"{STRATEGY_API}\nExample:\n{EXAMPLE}"
)
GENERATION_USER = (
    "Write the strategy for these rules:\n\n{description}\n\n"
    'Answer with one JSON object: {{"code": "<the Python source>", "explanation": "<one '
    'paragraph for the trader>"}}.'
)

REVIEW_SYSTEM = (
    "You are Security reviewer. You review user-submitted strategy code before it may run in "
    "Tradecrew's sandbox. Look for attempts to escape the sandbox or reach the host (dunder "
    "attributes, introspection, frames, imports, files, network, environment, the database), "
    "for denial of service (unbounded loops or allocations), and for code that does not do "
    "what its description says.\n\n"
    f"The strategy API it must follow:\n{STRATEGY_API}"
)
REVIEW_USER = (
    "Description: {description}\n\nCode:\n```python\n{code}\n```\n\n"
    'Answer with one JSON object: {{"approved": true or false, "issues": ["..."], '
    '"risk_level": "low" | "medium" | "high", "explanation": "..."}}.'
)


class GeneratedStrategy(BaseModel):
    code: str = Field(min_length=1, max_length=20_000)
    explanation: str = Field(default="", max_length=4_000)


class SecurityVerdict(BaseModel):
    approved: bool
    issues: list[str] = Field(default_factory=list)
    risk_level: Literal["low", "medium", "high"]
    explanation: str = Field(default="", max_length=4_000)


def _defines_strategy(answer: GeneratedStrategy) -> None:
    if "def strategy(" not in answer.code:
        raise InvalidAnswer("the code must define strategy(bars, indicators, position, params)")


def strategy_generate_code(*, client: LLMClient, description: str) -> GeneratedStrategy:
    """The model's code for the trader's English description."""
    return client.ask(
        [
            {"role": "system", "content": GENERATION_SYSTEM},
            {"role": "user", "content": GENERATION_USER.format(description=description)},
        ],
        answer_model=GeneratedStrategy,
        model=client.config.model_for("strategy"),
        what="Custom strategy generation",
        temperature=0.2,
        max_tokens=2_000,
        check=_defines_strategy,
    )


def strategy_security_review(*, client: LLMClient, description: str, code: str) -> SecurityVerdict:
    """Layer 2 of the review: the model's structured security verdict on the code."""
    return client.ask(
        [
            {"role": "system", "content": REVIEW_SYSTEM},
            {"role": "user", "content": REVIEW_USER.format(description=description, code=code)},
        ],
        answer_model=SecurityVerdict,
        model=client.config.model_for("strategy"),
        what="Custom strategy security review",
        temperature=0.0,
        max_tokens=800,
    )
