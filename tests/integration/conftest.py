"""Fixtures the integration tests share with the apps' own tests."""

from agents.tests.custom_support import (  # noqa: F401 - custom-strategy fixtures
    no_llm,
    openai_fake,
    reviewer,
)
