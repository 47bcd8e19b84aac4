"""Agents: BaseAgent, metadata and config schemas, the registry, PipelineState, built-in agents."""
