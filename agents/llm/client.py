"""The model client: cached, budgeted, retried and metered chat completions (`openai` SDK).

Any OpenAI-compatible server will do: answers come from the replay cache when it has them,
live calls are checked against the per-run budget first, retried with backoff on 429/5xx, and
metered from the provider's usage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from agents.errors import AgentError
from agents.llm import cache
from agents.llm.config import LLMSettings, llm_settings
from agents.llm.pricing import estimate_prompt_tokens, token_cost
from agents.llm.validation import InvalidAnswer, parse_answer
from agents.metering import CostMeter, LLMCall

if TYPE_CHECKING:
    from agents.context import AgentContext

logger = logging.getLogger(__name__)

# Waits between attempts double from LLM_RETRY_BACKOFF_SECONDS up to this; a server's
# Retry-After is honoured up to the same cap (a longer wait belongs to a later run).
MAX_BACKOFF_SECONDS = 30.0
RETRY_PROMPT = (
    "Your previous answer was rejected: {error}. Reply again with only one JSON object that "
    "follows the schema and fixes this."
)


class LLMUnavailable(AgentError):
    """The model server could not answer (down, refusing, misconfigured)."""


class LLMAnswerRejected(AgentError):
    """The model's answer was still invalid after one retry with the validation error."""


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, str]]
    temperature: float
    max_tokens: int
    response_format: dict[str, Any] | None

    def cache_key(self) -> str:
        return cache.prompt_hash(
            {
                "messages": self.messages,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "response_format": self.response_format,
            }
        )


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    cached: bool


_sdk_clients: dict[tuple[str, str, float], Any] = {}
_sdk_lock = threading.Lock()


def _sdk_client(config: LLMSettings):
    """One `openai.OpenAI` per server (it pools connections and is thread-safe). Its own
    retries are off: ours are below, where each attempt is visible and budgeted."""
    key = (config.base_url, config.api_key, config.timeout)
    with _sdk_lock:
        client = _sdk_clients.get(key)
        if client is None:
            from openai import OpenAI

            client = OpenAI(
                base_url=config.base_url or None,
                # The SDK insists on a key; local servers (Ollama, llama.cpp) ignore it.
                api_key=config.api_key or "not-needed",
                timeout=config.timeout,
                max_retries=0,
            )
            _sdk_clients[key] = client
        return client


def _host(config: LLMSettings) -> str:
    return urlsplit(config.base_url).netloc if config.base_url else "api.openai.com"


def _retry_after(error: Any) -> float | None:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _message(message: dict[str, Any]) -> dict[str, str]:
    content = message.get("content")
    if not isinstance(content, str):
        content = "" if content is None else str(content)
    return {"role": str(message.get("role") or "user"), "content": content}


@dataclass
class LLMClient:
    """Asks one agent's questions. Every call — live or replayed — is recorded on the run's
    CostMeter as an LLMCall; the engine writes them to the StepRun and the cost ledger."""

    config: LLMSettings
    meter: CostMeter
    agent_id: str
    owner_id: str | None = None
    replay: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def for_agent(self, agent_id: str) -> LLMClient:
        return replace(self, agent_id=agent_id)

    # --- structured answers ----------------------------------------------------------------

    def response_format(self, answer_model: type[BaseModel]) -> dict[str, Any] | None:
        if self.config.response_format == "json_object":
            return {"type": "json_object"}
        if self.config.response_format == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {
                    "name": answer_model.__name__,
                    "schema": answer_model.model_json_schema(),
                },
            }
        return None

    def ask[T: BaseModel](
        self,
        messages: list[dict[str, Any]],
        *,
        answer_model: type[T],
        model: str,
        what: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        check: Callable[[T], None] | None = None,
    ) -> T:
        """The model's answer as `answer_model`, parsed and checked. An invalid answer is
        asked again once, quoting the problem; a second invalid answer raises
        LLMAnswerRejected. The answers of a successful exchange go to the replay cache."""
        conversation = [_message(message) for message in messages]
        answered: list[tuple[ChatRequest, Completion]] = []
        error = ""
        for _ in range(2):
            request = ChatRequest(
                model=model,
                messages=conversation,
                temperature=self.config.temperature if temperature is None else temperature,
                max_tokens=max_tokens or self.config.max_completion_tokens,
                response_format=self.response_format(answer_model),
            )
            completion = self.complete(request)
            answered.append((request, completion))
            try:
                answer = parse_answer(completion.text, answer_model)
                if check is not None:
                    check(answer)
            except InvalidAnswer as invalid:
                error = str(invalid)
                conversation = [
                    *conversation,
                    {"role": "assistant", "content": completion.text},
                    {"role": "user", "content": RETRY_PROMPT.format(error=error)},
                ]
                continue
            self._remember(answered)
            return answer
        raise LLMAnswerRejected(
            f"{what}: the model's answer was invalid twice ({error}); nothing was traded on it."
        )

    # --- one completion ----------------------------------------------------------------------

    def complete(self, request: ChatRequest) -> Completion:
        """One chat completion: a replay when the cache has it, else a budgeted live call."""
        if self.replay:
            hit = cache.replay_lookup(
                owner_id=self.owner_id, model=request.model, prompt_hash=request.cache_key()
            )
            if hit is not None:
                # A replay costs nothing and counts no tokens against the budget.
                self.meter.record(
                    LLMCall(self.agent_id, request.model, 0, 0, Decimal(0), cached=True)
                )
                return Completion(hit.answer, 0, 0, Decimal(0), cached=True)
        price = self.config.price(request.model)
        projected_prompt = estimate_prompt_tokens(request.messages)
        # Fail closed before spending: the prompt's estimate plus the most the answer may use.
        self.meter.ensure_within_budget(
            projected_tokens=projected_prompt + request.max_tokens,
            projected_cost=token_cost(
                price, prompt_tokens=projected_prompt, completion_tokens=request.max_tokens
            ),
        )
        text, prompt_tokens, completion_tokens = self._post(request, projected_prompt)
        cost = token_cost(price, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        self.meter.record(
            LLMCall(self.agent_id, request.model, prompt_tokens, completion_tokens, cost)
        )
        return Completion(text, prompt_tokens, completion_tokens, cost, cached=False)

    def _remember(self, answered: list[tuple[ChatRequest, Completion]]) -> None:
        if not self.replay:
            return
        for request, completion in answered:
            if completion.cached:
                continue
            cache.replay_store(
                owner_id=self.owner_id,
                model=request.model,
                prompt_hash=request.cache_key(),
                answer=completion.text,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost=completion.cost,
            )

    def _post(self, request: ChatRequest, projected_prompt: int) -> tuple[str, int, int]:
        """(text, prompt tokens, completion tokens), retrying 429, 5xx, timeouts and dropped
        connections with backoff. The error raised after the last attempt is built outside
        any `except` block, so CrewAI's own rate-limit retry (which follows exception chains
        looking for a 429) does not retry it again."""
        import openai

        client = _sdk_client(self.config)
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.response_format is not None:
            kwargs["response_format"] = request.response_format
        attempts = self.config.max_retries + 1
        failure = ""
        for attempt in range(1, attempts + 1):
            wait: float | None = None
            try:
                response = client.chat.completions.create(**kwargs)
            except openai.APIStatusError as error:
                failure = f"HTTP {error.status_code}: {_short(error)}"
                if error.status_code != 429 and error.status_code < 500:
                    break  # a bad request, key or model name: asking again will not help
                wait = _retry_after(error)
            except (openai.APITimeoutError, openai.APIConnectionError) as error:
                failure = f"{type(error).__name__}: {error}"
            else:
                return self._read(response, request, projected_prompt)
            if attempt < attempts:
                backoff = self.config.retry_backoff * 2 ** (attempt - 1)
                delay = min(MAX_BACKOFF_SECONDS, backoff if wait is None else wait)
                logger.warning(
                    "LLM call to %s failed (%s); attempt %d of %d, next in %.1f s",
                    _host(self.config),
                    failure,
                    attempt,
                    attempts,
                    delay,
                )
                self.sleep(delay)
        raise LLMUnavailable(
            f"The language model server at {_host(self.config)} did not answer for "
            f"{request.model} ({failure}, after {attempt} attempt{'s' if attempt > 1 else ''})."
        )

    @staticmethod
    def _read(response: Any, request: ChatRequest, projected_prompt: int) -> tuple[str, int, int]:
        choices = getattr(response, "choices", None) or []
        message = choices[0].message if choices else None
        text = (getattr(message, "content", None) or "") if message is not None else ""
        usage = getattr(response, "usage", None)
        if usage is not None and usage.prompt_tokens is not None:
            return text, int(usage.prompt_tokens), int(usage.completion_tokens or 0)
        # Some local servers leave usage out; bill the estimate rather than nothing.
        logger.warning("LLM response for %s carried no usage; estimating tokens", request.model)
        return text, projected_prompt, -(-len(text) // 4)


def _short(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        detail = body.get("error", body)
        if isinstance(detail, dict):
            detail = detail.get("message") or detail
        return str(detail)[:200]
    return str(getattr(error, "message", error))[:200]


# --- Where agents get a client ---------------------------------------------------------------


def llm_client_for(ctx: AgentContext, *, agent_id: str) -> LLMClient | None:
    """The client an agent's LLM engine uses, bound to its run's meter and owner; None when
    no language model is configured (the agent then runs its rules engine and says so)."""
    if isinstance(ctx.llm, LLMClient):
        return ctx.llm.for_agent(agent_id)
    config = llm_settings()
    if not config.configured:
        return None
    return LLMClient(
        config=config,
        meter=ctx.meter,
        agent_id=agent_id,
        owner_id=ctx.pipeline.owner_id or None,
        replay=bool(ctx.pipeline.settings.get("replay_cache", True)),
    )


@dataclass(frozen=True)
class LLMStatus:
    configured: bool
    server: str
    default_model: str
    models: tuple[str, ...]

    @property
    def summary(self) -> str:
        if not self.configured:
            return (
                "No language model is configured (OPENAI_API_KEY / OPENAI_BASE_URL): agents set "
                "to the llm engine run their rules engine instead."
            )
        return f"Language model: {self.default_model} at {self.server}."


def llm_status() -> LLMStatus:
    """What the pages and the API show about the LLM engine."""
    config = llm_settings()
    return LLMStatus(config.configured, _host(config), config.default_model, config.models)
