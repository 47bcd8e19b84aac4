"""Running a CrewAI crew whose every model call goes through our LLMClient.

CrewAI is imported here, and only when a crew runs (it costs seconds and ~190 MB). Each crew
member is a CrewAI Agent with one Task whose `output_pydantic` is the member's answer model;
the Agent's LLM is `MeteredLLM`, a thin BaseLLM that hands the call to LLMClient.ask — replay
cache, budget, retries, metering and validation — and returns the validated pydantic answer,
which CrewAI stores as the task's output (so it never makes a converter call of its own).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel

from agents.llm.client import LLMClient, LLMUnavailable
from agents.llm.pricing import estimate_prompt_tokens
from agents.llm.prompting import member_specs, render

# CrewAI reads these when it is first imported; settings set the first three too. Tracing off
# also skips its first-run "view your traces?" prompt, which waits 10 s for an answer.
CREWAI_ENVIRONMENT = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
}
# MeteredLLM tells CrewAI its window is this large so CrewAI never summarises a conversation
# (which would be a model call of its own, outside our metering); prompts are a few kB.
CONTEXT_WINDOW = 128_000


def crewai():
    for name, value in CREWAI_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    import crewai as crewai_module

    return crewai_module


@cache
def metered_llm_class() -> type:
    """The BaseLLM subclass (built on first use, so CrewAI loads only then)."""
    from crewai.llms.base_llm import BaseLLM
    from pydantic import PrivateAttr

    class MeteredLLM(BaseLLM):
        llm_type: str = "tradecrew"
        _answer: Callable[[list[dict[str, Any]]], BaseModel] | None = PrivateAttr(default=None)

        def call(
            self,
            messages,
            tools=None,
            callbacks=None,
            available_functions=None,
            from_task=None,
            from_agent=None,
            response_model=None,
        ):
            if isinstance(messages, str):
                messages = [{"role": "user", "content": messages}]
            return self._answer(list(messages))

        def supports_function_calling(self) -> bool:
            return False

        def supports_stop_words(self) -> bool:
            return False

        def get_context_window_size(self) -> int:
            return CONTEXT_WINDOW

        def get_input_tokens_count(self, messages, tools=None, response_model=None) -> int:
            # BaseLLM's fallback logs a warning on every call; this is the same estimate.
            if isinstance(messages, str):
                messages = [{"content": messages}]
            return estimate_prompt_tokens(list(messages))

    return MeteredLLM


class _Courier:
    """Runs our half of each model call on the thread that started the crew.

    CrewAI calls the LLM from a worker thread of its own event loop. The replay cache goes
    through the Django ORM (connections are per thread: a worker thread would open — and leak —
    its own, outside the step's transaction) and the run's CostMeter is not thread-safe, so the
    worker hands each call over and waits while the starting thread does the work.
    """

    def __init__(self):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._owner = threading.get_ident()
        self._closed = False
        self.failure: BaseException | None = None

    def run(self, job: Callable[[], Any]) -> Any:
        if threading.get_ident() == self._owner:
            return job()
        if self._closed:
            raise LLMUnavailable("The crew was stopped.")
        box: Future = Future()
        self._jobs.put((job, box))
        return box.result()

    def serve(self, kickoff: Callable[[], Any]) -> Any:
        """Run `kickoff` on a helper thread and do the jobs it sends until it returns. Our own
        error (budget, invalid answer, server down) is re-raised as is, whatever CrewAI made
        of it."""
        outcome: dict[str, Any] = {}

        def work():
            try:
                outcome["value"] = kickoff()
            except BaseException as error:  # handed to the starting thread below
                outcome["error"] = error
            finally:
                self._jobs.put(None)

        worker = threading.Thread(target=work, name="crew-kickoff", daemon=True)
        worker.start()
        try:
            while (item := self._jobs.get()) is not None:
                job, box = item
                try:
                    box.set_result(job())
                except BaseException as error:
                    self.failure = self.failure or error
                    box.set_exception(error)
                    if not isinstance(error, Exception):
                        raise  # a Celery time limit or interrupt: stop serving
        finally:
            self._closed = True
        worker.join()
        if self.failure is not None:
            raise self.failure
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]


@dataclass(frozen=True)
class Member:
    """One crew member: its role (members.toml), task template and answer, the earlier members
    whose answers it reads, and a check of its answer (which may look at earlier answers)."""

    key: str
    template: str
    answer_model: type[BaseModel]
    reads: tuple[str, ...] = ()
    check: Callable[[Any, dict[str, BaseModel]], None] | None = None


def run_crew(
    client: LLMClient,
    *,
    members: list[Member],
    data: dict[str, Any],
    model: str,
    temperature: float | None,
    what: str,
) -> dict[str, BaseModel]:
    """Run the members as a sequential CrewAI crew; returns each member's validated answer."""
    crew_module = crewai()
    specs = member_specs()
    courier = _Courier()
    answers: dict[str, BaseModel] = {}
    agents, tasks = [], {}
    for member in members:
        spec = specs[member.key]
        llm = metered_llm_class()(model=model, provider="openai", temperature=temperature)

        def answer(messages, member=member, role=spec.role):
            def check(reply):
                # A member's check may compare with the answers before it (stop vs entry).
                member.check(reply, answers)

            def job():
                reply = client.ask(
                    messages,
                    answer_model=member.answer_model,
                    model=model,
                    temperature=temperature,
                    what=f"{what} ({role.lower()})",
                    check=check if member.check is not None else None,
                )
                answers[member.key] = reply
                return reply

            return courier.run(job)

        llm._answer = answer
        agent = crew_module.Agent(
            role=spec.role,
            goal=spec.goal,
            backstory=spec.backstory,
            llm=llm,
            allow_delegation=False,
            # One model call per member: the answer is structured, so there is no ReAct loop
            # to iterate, and CrewAI must not retry a task we failed on purpose (budget).
            max_iter=1,
            max_retry_limit=0,
            respect_context_window=False,
            verbose=False,
        )
        tasks[member.key] = crew_module.Task(
            description=render(member.template, data),
            expected_output=spec.expected_output,
            agent=agent,
            output_pydantic=member.answer_model,
            context=[tasks[key] for key in member.reads],
        )
        agents.append(agent)
    crew = crew_module.Crew(
        agents=agents,
        tasks=list(tasks.values()),
        process=crew_module.Process.sequential,
        verbose=False,
        tracing=False,
    )
    _keep_task_outputs_in_memory(crew)
    courier.serve(crew.kickoff)
    missing = [member.key for member in members if member.key not in answers]
    if missing:
        raise LLMUnavailable(f"{what}: the crew ended without an answer from {', '.join(missing)}.")
    return answers


class _NoTaskOutputStorage:
    """CrewAI writes every task's output to one SQLite file under CREWAI_STORAGE_DIR, for its
    `crewai replay` command. We replay from our own cache; traders' plans do not belong in a
    file shared by every tenant and worker thread (which also contend for its lock)."""

    def reset(self) -> None:
        pass

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass

    def add(self, *args: Any, **kwargs: Any) -> None:
        pass

    def load(self) -> None:
        return None


def _keep_task_outputs_in_memory(crew: Any) -> None:
    if hasattr(crew, "_task_output_handler"):
        crew._task_output_handler = _NoTaskOutputStorage()
