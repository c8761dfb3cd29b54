"""One transaction per use case, and row locks that work on both databases.

PostgreSQL locks rows with SELECT ... FOR UPDATE. SQLite ignores FOR UPDATE, so a write transaction
there starts with BEGIN IMMEDIATE, which takes the database's single write lock up front: writers
queue (busy_timeout) instead of deadlocking when a reader tries to upgrade. The writers of one process
queue for it in the event loop first (one asyncio lock per engine), in order and without SQLite's busy
handler, which polls with sleeps: a lock taken in a worker thread after such a wait is held across a
loop hop, and every writer arriving meanwhile would wait and poll too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import SQLITE_IMMEDIATE, SQLITE_NO_BEGIN

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


@asynccontextmanager
async def write_transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Begin, yield, commit once at the end; roll back everything if anything raised.

    A use case called inside another's transaction (the HRIS inbox applying an event through the hires
    use cases) joins it in a savepoint: its refusal undoes only its own writes, and the outer owner still
    commits once, so an event's effects and its `applied` mark land together or not at all."""
    if session.in_transaction():
        async with session.begin_nested():
            yield session
        return
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        async with session.begin():
            yield session
        return
    async with _sqlite_writers(engine), session.begin():
        await session.connection(execution_options={SQLITE_IMMEDIATE: True})
        yield session


# Per event loop (tests run several) and engine; both weakly held.
_WRITERS: WeakKeyDictionary[asyncio.AbstractEventLoop, WeakKeyDictionary[Any, asyncio.Lock]] = WeakKeyDictionary()


def _sqlite_writers(engine: Any) -> asyncio.Lock:
    by_engine = _WRITERS.setdefault(asyncio.get_running_loop(), WeakKeyDictionary())
    return by_engine.setdefault(engine, asyncio.Lock())


@asynccontextmanager
async def read_transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    if session.in_transaction():  # reading inside a writer's transaction: its snapshot and locks
        yield session
        return
    async with session.begin():
        yield session


@asynccontextmanager
async def single_read(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A read of one statement outside a writer's transaction needs none of its own: the statement has
    its own snapshot. On PostgreSQL it runs in autocommit, sparing BEGIN and COMMIT, two round trips; on
    SQLite without BEGIN."""
    if session.in_transaction():
        yield session
        return
    postgresql = session.get_bind().dialect.name == "postgresql"
    await session.connection(
        execution_options={"isolation_level": "AUTOCOMMIT"} if postgresql else {SQLITE_NO_BEGIN: True}
    )
    try:
        yield session
    finally:
        await session.close()  # the connection goes back to the pool, its isolation level reset


def for_update(stmt: S, *, skip_locked: bool = False, of: Any = None) -> S:
    """Lock the selected rows (of the `of` entity alone, in a join) until commit. On SQLite the enclosing
    BEGIN IMMEDIATE already serialises writers, and SQLAlchemy drops the clause there."""
    return stmt.with_for_update(skip_locked=skip_locked, of=of)
