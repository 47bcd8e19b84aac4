"""Fixtures of the agents tests: the custom-strategy ones (OpenAI fake, reviewer) are shared."""

from agents.tests.custom_support import (  # noqa: F401 - fixtures
    no_llm,
    openai_fake,
    plain_staff,
    reviewer,
)
