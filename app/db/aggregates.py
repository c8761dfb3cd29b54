"""Rows of a correlated subquery as one JSON array of arrays, on either database.

A view that needs a case and its open items reads them in one statement: each kind of item comes back as
one JSON value beside the case's row, instead of a second statement. PostgreSQL writes it
`json_agg(json_build_array(...))`, SQLite `json_group_array(json_array(...))`; values come back as JSON
renders them (timestamps as text: PostgreSQL's in the session's time zone, SQLite's naive UTC).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction


class json_rows(GenericFunction[Any]):
    """`json_rows(a, b, ...)`: an aggregate, one `[a, b, ...]` per row, NULL (PostgreSQL) or `[]` (SQLite)
    over no rows."""

    type = JSON()
    inherit_cache = True


@compiles(json_rows)
def _postgresql(element: json_rows, compiler: Any, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


@compiles(json_rows, "sqlite")
def _sqlite(element: json_rows, compiler: Any, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"
