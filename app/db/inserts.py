"""INSERT ... ON CONFLICT DO NOTHING on both databases: how an inbox makes a redelivery a no-op."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute

_STATEMENTS: dict[tuple[Any, ...], Insert] = {}


async def insert_new(
    session: AsyncSession,
    model: type[DeclarativeBase],
    rows: Sequence[dict[str, Any]],
    unique: Sequence[str],
    returning: InstrumentedAttribute[Any],
) -> list[Any]:
    """Insert the rows whose `unique` columns are not taken yet; return `returning` of those inserted.
    A row already there (a concurrent first insert included) is skipped, not an error.

    The rows go as parameters of one statement (SQLAlchemy's insertmanyvalues sends them as one
    multi-row VALUES with RETURNING), not in `.values()`: a statement with its rows in it has no cache
    key, and SQLAlchemy would compile it again on every call."""
    dialect = session.get_bind().dialect.name
    key = (model, dialect, tuple(unique), returning.key)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = cast(Table, model.__table__)
        stmt = _STATEMENTS[key] = (
            insert(table).on_conflict_do_nothing(index_elements=list(unique)).returning(returning)
        )
    return list((await session.execute(stmt, list(rows))).scalars())
