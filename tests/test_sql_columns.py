"""The hand-written INSERT statements know every column their model has: a column added to a
model without a database default fails here until the statement writes it (or the field gets a
`db_default`), instead of failing in production with a NOT NULL violation or a silent NULL."""

from __future__ import annotations

import importlib
import re

import pytest
from django.apps import apps
from django.db import models

# The production modules that hold raw SQL; every module-level string with an INSERT is checked.
SQL_MODULES = [
    "billing.reservations",
    "billing.services",
    "pipelines.execution_state",
    "pipelines.services.executions",
    "signals.services.dispatch",
]
INSERT = re.compile(r"INSERT INTO (\w+)\s*\(([^)]*)\)", re.IGNORECASE)


def insert_statements() -> list[tuple[str, str, set[str]]]:
    """(where, table, columns) of each INSERT in the modules' string constants."""
    found = []
    for name in SQL_MODULES:
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if isinstance(value, str):
                for table, columns in INSERT.findall(value):
                    listed = {column.strip().strip('"') for column in columns.split(",")}
                    found.append((f"{name}.{attribute}", table, listed))
    return found


def may_be_left_out(field: models.Field) -> bool:
    """The database fills it alone: the generated key, a db_default, or NULL as the default."""
    if field.primary_key and isinstance(field, models.AutoField):
        return True
    if field.db_default is not models.NOT_PROVIDED:
        return True
    return field.null and field.get_default() is None


def uncovered_columns(table: str, columns: set[str]) -> set[str]:
    model = next(m for m in apps.get_models() if m._meta.db_table == table)
    return {
        field.column
        for field in model._meta.concrete_fields
        if field.column not in columns and not may_be_left_out(field)
    }


def test_it_finds_the_statements():
    tables = {table for _where, table, _columns in insert_statements()}
    assert {"pipelines_steprun", "pipelines_pipelineexecution", "billing_costentry"} <= tables
    assert {"signals_signalevent", "signals_signalmatch", "pipelines_report"} <= tables


def test_it_names_a_column_a_statement_leaves_out():
    columns = next(c for _w, t, c in insert_statements() if t == "pipelines_steprun")
    assert uncovered_columns("pipelines_steprun", columns - {"node_id"}) == {"node_id"}


def _label(value) -> str:
    return value if isinstance(value, str) else ""


@pytest.mark.parametrize(("where", "table", "columns"), insert_statements(), ids=_label)
def test_it_writes_every_column_without_a_database_default(where, table, columns):
    assert uncovered_columns(table, columns) == set(), f"{where} does not write them"
