"""A loopback fake of an OpenAI-compatible chat-completions server, for the `openai` SDK.

Point a client at `fake.base_url` (the server URL plus /v1). Each completion's answer comes from
the script for the asking crew member (`fake.answer_as("Target analyst", ...)`), else the general
script (`fake.answer(...)`), both first in first out, or else from `fake.responder(request)`;
its usage is scripted or counted (about four characters a token), and every completion is
kept in `fake.completions` so tests can compare what was billed with what was served.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response

_ROLE = re.compile(r"You are (.+?)\.")


@dataclass
class Scripted:
    """One scripted answer: its text and, optionally, the usage to report for it."""

    content: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class ServedCompletion:
    model: str
    messages: list[dict[str, Any]]
    request: dict[str, Any]
    content: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def role(self) -> str:
        return role_of(self.request)


def count_tokens(text: str) -> int:
    return -(-len(text) // 4)


def role_of(request: dict[str, Any]) -> str:
    """The crew member a request comes from: CrewAI's system message starts 'You are <role>.'"""
    for message in request.get("messages", []):
        if message.get("role") == "system":
            match = _ROLE.search(str(message.get("content") or ""))
            if match:
                return match.group(1)
    return ""


def prompt_of(request: dict[str, Any]) -> str:
    """The text of every message in a request, one after another."""
    return "\n".join(str(m.get("content") or "") for m in request.get("messages", []))


Responder = Callable[[dict[str, Any]], "str | dict | Scripted"]


class FakeOpenAI(FakeHTTPServer):
    """POST /v1/chat/completions and GET /v1/models, with one valid key (None = any key)."""

    def __init__(
        self,
        *,
        api_key: str | None = "test-key",
        responder: Responder | None = None,
        latency: float = 0.0,
        models: tuple[str, ...] = ("gpt-4o-mini", "gpt-4o"),
    ):
        super().__init__()
        self.api_key = api_key
        self.responder = responder
        self.latency = latency
        self.models = models
        self.completions: list[ServedCompletion] = []
        self._script: deque[Scripted] = deque()
        self._by_role: dict[str, deque[Scripted]] = {}
        self._script_lock = threading.Lock()
        self.add_route("POST", r"/v1/chat/completions", self._chat)
        self.add_route("GET", r"/v1/models", self._models)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- scripting ---------------------------------------------------------------------------

    def answer(self, *answers: str | dict | Scripted) -> None:
        """Queue answers for the next completions (a dict is sent as its JSON)."""
        with self._script_lock:
            self._script.extend(_scripted(answer) for answer in answers)

    def answer_as(self, role: str, *answers: str | dict | Scripted) -> None:
        """Queue answers for the next completions asked by the crew member `role`."""
        with self._script_lock:
            self._by_role.setdefault(role, deque()).extend(_scripted(a) for a in answers)

    @property
    def pending(self) -> int:
        return len(self._script) + sum(len(queue) for queue in self._by_role.values())

    def totals(self) -> tuple[int, int]:
        """(prompt tokens, completion tokens) reported over every completion so far."""
        return (
            sum(c.prompt_tokens for c in self.completions),
            sum(c.completion_tokens for c in self.completions),
        )

    def reset(self) -> None:
        super().reset()
        with self._script_lock:
            self._script.clear()
            self._by_role.clear()
        self.completions.clear()

    # -- serving -----------------------------------------------------------------------------

    def _authorised(self, request: RecordedRequest) -> Response | None:
        if self.api_key is None:
            return None
        if request.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        return Response(
            401,
            {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error"}},
        )

    def _models(self, request: RecordedRequest) -> Response:
        denied = self._authorised(request)
        if denied:
            return denied
        return Response(
            body={
                "object": "list",
                "data": [{"id": m, "object": "model", "owned_by": "fake"} for m in self.models],
            }
        )

    def _chat(self, request: RecordedRequest) -> Response:
        denied = self._authorised(request)
        if denied:
            return denied
        body = request.json
        if self.latency:
            time.sleep(self.latency)
        with self._script_lock:
            for_role = self._by_role.get(role_of(body))
            if for_role:
                scripted = for_role.popleft()
            else:
                scripted = self._script.popleft() if self._script else None
        if scripted is None:
            if self.responder is None:
                return Response(500, {"error": {"message": "the fake has no answer scripted"}})
            scripted = _scripted(self.responder(body))
        messages = body.get("messages", [])
        prompt_tokens = scripted.prompt_tokens
        if prompt_tokens is None:
            # Roughly what a tokenizer makes of it: the text plus a few tokens per message.
            prompt_tokens = count_tokens(prompt_of(body)) + 3 * len(messages)
        completion_tokens = scripted.completion_tokens
        if completion_tokens is None:
            completion_tokens = count_tokens(scripted.content)
        served = ServedCompletion(
            model=body["model"],
            messages=messages,
            request=body,
            content=scripted.content,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        with self._script_lock:
            self.completions.append(served)
            number = len(self.completions)
        return Response(
            body={
                "id": f"chatcmpl-fake-{number}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": scripted.content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )


def _scripted(answer: str | dict | Scripted) -> Scripted:
    if isinstance(answer, Scripted):
        return answer
    if isinstance(answer, dict):
        return Scripted(json.dumps(answer))
    return Scripted(str(answer))


# --- A desk of sensible answers ------------------------------------------------------------------


def task_of(request: dict[str, Any]) -> str:
    """The first user message: CrewAI's task prompt with its context (a retry adds more)."""
    for message in request.get("messages", []):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def _number(pattern: str, text: str, default: float | None = None) -> float | None:
    match = re.search(pattern, text)
    if match is None:
        return default
    try:
        return float(match.group(1).replace(",", ""))
    except ValueError:
        return default


def _last_json_value(key: str, text: str) -> str | None:
    found = re.findall(rf'"{key}"\s*:\s*"?([^",}}\s]+)', text)
    return found[-1] if found else None


class TradingDesk:
    """A responder that answers each Tradecrew crew member the way a careful model would,
    reading the numbers it needs from the prompt: the bias follows the indicator rules, the
    entry is the last close, the stop 1.5 ATR away, the targets at 2R and 3.5R. Every answer
    passes the guardrails, so a test scripts only the answers it wants to go wrong."""

    def __init__(self, *, bias: str | None = None):
        self.bias = bias  # force "bullish" / "bearish" / "neutral"; None follows the rules

    def __call__(self, request: dict[str, Any]) -> str:
        role = role_of(request)
        # The task alone: on a retry the rejected answer follows it, and must not be read back.
        prompt = task_of(request)
        handler = {
            "Market analyst": self.market,
            "Sentiment analyst": self.sentiment,
            "Bias synthesizer": self.synthesizer,
            "Pattern analyst": self.pattern,
            "Entry analyst": self.entry,
            "Risk analyst": self.stop,
            "Target analyst": self.targets,
            "News sentiment analyst": self.news,
            "Report writer": self.report,
        }.get(role)
        if handler is None:
            raise ValueError(f"the desk has no answer for role {role!r}")
        return json.dumps(handler(prompt))

    def _direction(self, prompt: str) -> str:
        if self.bias:
            return self.bias
        scores = [
            float(s) for s in re.findall(r"\b(?:bullish|bearish|neutral) \(([+-][\d.]+)\)", prompt)
        ]
        return "bearish" if sum(scores) < 0 else "bullish"

    def market(self, prompt: str) -> dict[str, Any]:
        direction = self._direction(prompt)
        return {
            "direction": direction,
            "strength": 70,
            "factors": ["price above the 20-bar average", "MACD histogram positive"],
            "summary": f"The higher timeframes lean {direction}.",
        }

    def sentiment(self, prompt: str) -> dict[str, Any]:
        return {
            "sentiment": 0.2,
            "confidence": 40,
            "factors": ["no decisive headline"],
            "summary": "Quiet news; price holds above VWAP.",
        }

    def synthesizer(self, prompt: str) -> dict[str, Any]:
        direction = self._direction(prompt)
        return {
            "bias": direction,
            "confidence": 75,
            "bias_score": 0.0 if direction == "neutral" else 0.75,
            "reasoning": f"Trend on the higher timeframes is {direction}; news is quiet.",
            "factors": ["1d trend", "4h momentum"],
        }

    def pattern(self, prompt: str) -> dict[str, Any]:
        close = _number(r"close ([\d,]+(?:\.\d+)?); ATR", prompt, 100.0)
        return {
            "patterns": ["higher lows"],
            "support_levels": [round(close * 0.99, 2)],
            "resistance_levels": [round(close * 1.01, 2)],
            "summary": "Price climbs in higher lows above the 20-bar average.",
        }

    def entry(self, prompt: str) -> dict[str, Any]:
        side = re.search(r"entry for a (buy|sell) trade", prompt).group(1)
        close = _number(r"The last close is ([\d,]+(?:\.\d+)?)", prompt)
        return {"action": side, "entry_price": close, "reasoning": "Enter at the last close."}

    def stop(self, prompt: str) -> dict[str, Any]:
        action = _last_json_value("action", prompt)
        entry = float(_last_json_value("entry_price", prompt))
        atr = _number(r"ATR\(14\) on \w+: ([\d,]+(?:\.\d+)?)", prompt) or entry * 0.01
        sign = 1 if action == "buy" else -1
        return {
            "stop_loss": round(entry - sign * 1.5 * atr, 2),
            "reasoning": "1.5 ATR beyond the entry, past the last swing.",
        }

    def targets(self, prompt: str) -> dict[str, Any]:
        action = _last_json_value("action", prompt)
        entry = float(_last_json_value("entry_price", prompt))
        stop = float(_last_json_value("stop_loss", prompt))
        minimum = _number(r"must be at least ([\d]+(?:\.\d+)?)", prompt, 1.5)
        sign = 1 if action == "buy" else -1
        risk = abs(entry - stop)
        first, second = max(2.0, minimum + 0.5), max(3.5, minimum + 2.0)
        return {
            "action": action,
            "conviction": 70,
            "entry_price": entry,
            "stop_loss": stop,
            "target_1": round(entry + sign * first * risk, 2),
            "target_2": round(entry + sign * second * risk, 2),
            "risk_reward_ratio": first,
            "reasoning": "With the bias, risking 1.5 ATR for 2R and 3.5R.",
            "entry_reasoning": "The last close.",
            "stop_loss_reasoning": "1.5 ATR beyond the entry.",
            "target_1_reasoning": f"{first:g}R at the prior swing.",
            "target_2_reasoning": f"{second:g}R, the measured move.",
            "technical_factors": ["higher lows", "rising EMA20"],
        }

    def news(self, prompt: str) -> dict[str, Any]:
        from trading.marketdata.news import score_headline_sentiment

        headlines = re.findall(r"^(\d+)\. (.+)$", prompt, flags=re.MULTILINE)
        scores = []
        for index, text in headlines:
            rule = score_headline_sentiment(text)
            sentiment = 0.0 if rule == 0 else (0.8 if rule > 0 else -0.8)
            scores.append({"index": int(index), "sentiment": sentiment, "confidence": 0.9})
        return {"scores": scores}

    def report(self, prompt: str) -> dict[str, Any]:
        match = re.search(r"Outcome: (.+?)\.", prompt)
        outcome = f"Outcome: {match.group(1)}." if match else ""
        return {
            "headline": "Run summary",
            "summary": f"The crew reviewed the run. {outcome}",
            "key_points": ["Bias and plan came from the LLM crews."],
        }
