"""LLM engines: the OpenAI-compatible client, pricing, the replay cache and the CrewAI crews.

Importing this package is cheap: the `openai` SDK and CrewAI load only when a model is called.
"""
