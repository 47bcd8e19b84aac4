"""Pipelines: the graph, executions and steps, the execution engine, schedules, live events."""
