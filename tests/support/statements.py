"""What a request sends to the database, seen from SQLAlchemy's `before_cursor_execute` event."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.ext.asyncio import AsyncEngine

_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


@contextmanager
def counted(engine: AsyncEngine, *, transaction_control: bool = False) -> Iterator[list[str]]:
    """The statements sent meanwhile (BEGIN, COMMIT and ROLLBACK only if asked: every transaction has them)."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if transaction_control or not statement.lstrip().upper().startswith(_TRANSACTION_CONTROL):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


@contextmanager
def compiled(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements sent meanwhile that SQLAlchemy compiled for this execution instead of taking from
    its cache: a miss, or a statement it cannot cache at all (a multi-row VALUES, say), which it compiles
    every time. Statements sent through `app.db.driver` (compiled once by it) have no execution context
    and are not listed."""
    statements: list[str] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        uncached = getattr(context, "compiled", None) is not None and context.cache_hit is not CacheStats.CACHE_HIT
        if uncached:
            statements.append(f"{context.cache_hit.name}: {statement}")

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)
