"""INSERT ... ON CONFLICT DO NOTHING on both databases: how an inbox makes a redelivery a no-op."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute


async def insert_new(
    session: AsyncSession,
    model: type[DeclarativeBase],
    rows: Sequence[dict[str, Any]],
    unique: Sequence[str],
    returning: InstrumentedAttribute[Any],
) -> list[Any]:
    """Insert the rows whose `unique` columns are not taken yet; return `returning` of those inserted.
    A row already there (a concurrent first insert included) is skipped, not an error."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(model).values(list(rows)).on_conflict_do_nothing(index_elements=list(unique)).returning(returning)
    return list((await session.execute(stmt)).scalars())
