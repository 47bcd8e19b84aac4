"""Fixtures the integration tests share with the apps' own tests."""

from accounts.tests.channel_support import queued  # noqa: F401 - delivery-queue fixture
from agents.tests.custom_support import (  # noqa: F401 - custom-strategy fixtures
    no_llm,
    openai_fake,
    reviewer,
)
