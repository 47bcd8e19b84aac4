"""The few hot statements written as SQL: prepared on Django's connection, rows made models.

The engine's step checkpoints and the signal dispatcher run the same statements thousands of
times, where a query's compilation in the ORM and its planning in PostgreSQL cost more than
the work. They run here on a plain psycopg cursor of the connection Django manages (same
transaction, same adapters): Django's own cursors bind client-side, escaping every parameter
into the SQL text in Python; here parameters travel separately and each statement is parsed
and planned once per connection (`prepare=True`; see DATABASE_PREPARED_STATEMENTS).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection
from django.db.models import Model


def fetch_prepared(sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
    """Every row of a prepared statement."""
    with _prepared_cursor(sql, params) as cursor:
        return cursor.fetchall() if cursor.description else []


def fetch_one_prepared(sql: str, params: dict[str, Any] | None = None) -> tuple | None:
    """The first row of a prepared statement (None when it returned none)."""
    with _prepared_cursor(sql, params) as cursor:
        return cursor.fetchone()


@contextmanager
def _prepared_cursor(sql: str, params: dict[str, Any] | None) -> Iterator[psycopg.Cursor]:
    connection.ensure_connection()
    started = time.monotonic()
    # Errors come out as Django's (IntegrityError…), as from any other query.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        try:
            cursor.execute(sql, params, prepare=True)
            yield cursor
        finally:
            if connection.queries_logged:
                # Counted and shown like the ORM's queries (DEBUG, assertNumQueries).
                connection.queries_log.append(
                    {"sql": sql, "time": f"{time.monotonic() - started:.3f}"}
                )


def model_columns(model: type[Model], table: str | None = None) -> str:
    """`table."column", …` for the model's concrete fields, in the order `model_from_row`
    reads them back."""
    table = table or model._meta.db_table
    return ", ".join(f'{table}."{field.column}"' for field in model._meta.concrete_fields)


def model_from_row(model: type[Model], values: Iterator[Any]) -> Model:
    """The next `model` in a row (its `model_columns`), converted as Django's own loading does
    (each field's from_db_value: JSON, encrypted text…). Consumes exactly its columns."""
    row = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(model._meta.concrete_fields, values, strict=False)
    ]
    return model.from_db(connection.alias, None, row)
