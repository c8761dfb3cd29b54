"""Statements sent straight to the driver (app.db.driver) behave as the same statements sent through
SQLAlchemy: the same types on the way in, the same exceptions on failure, nothing of a failed batch
kept, every statement seen by the engine's listeners (the statement budgets count them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, bindparam, event, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, object_session

from app.db.base import UTCDateTime
from app.db.driver import Step, adopt, holds, mapped_columns, send, snapshot
from app.db.engine import create_sessionmaker
from app.db.errors import is_unique_violation
from app.db.transactions import write_transaction

_probe = MetaData()
PROBE = Table(
    "driver_probe",
    _probe,
    Column("id", String(20), primary_key=True),
    Column("n", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=True),
    Column("data", JSON, nullable=True),
)
WITH_DEFAULT = Table(
    "driver_probe_defaults", MetaData(), Column("id", String(20), primary_key=True), Column("n", Integer, default=0)
)


class _Base(DeclarativeBase):
    pass


class Probe(_Base):
    __table__ = PROBE


_INSERT = insert(PROBE)
_BUMP = update(PROBE).where(PROBE.c.id == "a").values(n=PROBE.c.n + 1).returning(PROBE.c.n)


@pytest.fixture
async def probe(db: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    async with db.begin() as conn:
        await conn.run_sync(_probe.create_all)
    yield db
    async with db.begin() as conn:
        await conn.run_sync(_probe.drop_all)


async def _rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(select(PROBE).order_by(PROBE.c.id)))


async def test_values_go_in_with_their_types_and_later_steps_read_earlier_results(probe: AsyncEngine) -> None:
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    async with create_sessionmaker(probe)() as session, write_transaction(session):
        results = await send(
            session,
            Step(_INSERT, [{"id": "a", "n": 1, "at": at, "data": {"k": [1, 2]}}]),
            Step(_BUMP, [{}]),
            # rows made from what the UPDATE returned, as the audit append numbers its events
            Step(_INSERT, lambda done: [{"id": f"b{done[1][0][0]}", "n": done[1][0][0], "at": None, "data": None}]),
        )
    assert results[0] == [] and [tuple(r) for r in results[1]] == [(2,)]
    rows = await _rows(probe)
    assert [(r.id, r.n, r.at, r.data) for r in rows] == [("a", 2, at, {"k": [1, 2]}), ("b2", 2, None, None)]


async def test_a_failed_statement_raises_as_sqlalchemy_would_and_the_batch_leaves_nothing(probe: AsyncEngine) -> None:
    row = {"id": "a", "n": 1, "at": None, "data": None}
    with pytest.raises(IntegrityError) as raised:
        async with create_sessionmaker(probe)() as session, write_transaction(session):
            await send(session, Step(_INSERT, [row]), Step(_INSERT, [{**row, "n": 2}]))
    assert is_unique_violation(raised.value)  # what the use cases read to answer 409
    assert await _rows(probe) == []


async def test_every_statement_is_seen_by_the_engine_listeners(probe: AsyncEngine) -> None:
    seen: list[tuple[str, bool]] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement.split()[0], many))

    event.listen(probe.sync_engine, "before_cursor_execute", listener)
    try:
        async with create_sessionmaker(probe)() as session, write_transaction(session):
            rows = [{"id": f"r{i}", "n": i, "at": None, "data": None} for i in range(3)]
            await send(session, Step(_INSERT, rows), Step(_BUMP, []), Step(_INSERT, rows[:0]))
    finally:
        event.remove(probe.sync_engine, "before_cursor_execute", listener)
    # BEGIN may be seen too (SQLite: BEGIN IMMEDIATE); a step without rows sends nothing
    assert [s for s in seen if s[0] != "BEGIN"] == [("INSERT", True)]


async def test_a_statement_that_would_lose_a_python_default_is_refused(probe: AsyncEngine) -> None:
    async with create_sessionmaker(probe)() as session, write_transaction(session):
        with pytest.raises(ValueError, match="Python defaults"):
            await send(session, Step(insert(WITH_DEFAULT), [{"id": "a"}]))


async def test_a_select_returns_its_values_as_sqlalchemy_would(probe: AsyncEngine) -> None:
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    async with create_sessionmaker(probe)() as session, write_transaction(session):
        await send(session, Step(_INSERT, [{"id": "a", "n": 1, "at": at, "data": {"k": [1, 2]}}]))
        (sent,) = await send(session, Step(select(PROBE).where(PROBE.c.id == bindparam("id")), [{"id": "a"}]))
    # SQLite stores the time and the JSON as text: their types' result processors make them values again
    assert sent == [["a", 1, at, {"k": [1, 2]}]]
    assert [list(r) for r in await _rows(probe)] == sent


async def _written(probe: AsyncEngine) -> tuple[async_sessionmaker[AsyncSession], list[Any], Probe]:
    """One probe row written, its mapped columns as the driver reads them, and the ORM's object of it."""
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    sessions = create_sessionmaker(probe)
    async with sessions() as session, write_transaction(session):
        await send(session, Step(_INSERT, [{"id": "a", "n": 1, "at": at, "data": {"k": [1]}}]))
        (rows,) = await send(session, Step(select(*mapped_columns(Probe.__mapper__)), [{}]))
    async with sessions() as session:
        loaded = await session.get(Probe, "a")
    assert loaded is not None
    return sessions, rows[0], loaded


def _values(obj: object) -> list[Any]:
    return [getattr(obj, c.key) for c in PROBE.columns]


async def test_an_adopted_row_is_the_object_the_orm_loads_and_its_changes_are_written(probe: AsyncEngine) -> None:
    mapper = Probe.__mapper__
    sessions, values, loaded = await _written(probe)
    async with sessions() as session, write_transaction(session):
        assert not holds(session, mapper, "a")
        adopted = adopt(session, mapper, values)
        assert holds(session, mapper, "a") and await session.get(Probe, "a") is adopted  # no second object
        assert _values(adopted) == _values(loaded)
        assert not session.dirty
        adopted.n = 5
        assert list(session.dirty) == [adopted]
    assert [(r.id, r.n) for r in await _rows(probe)] == [("a", 5)]


async def test_a_snapshot_reads_as_the_loaded_row_and_belongs_to_no_session(probe: AsyncEngine) -> None:
    """A reader's case (app.hires.views) is a snapshot: the same values as the ORM's object, and nothing
    the session would write at commit."""
    mapper = Probe.__mapper__
    sessions, values, loaded = await _written(probe)
    async with sessions() as session, write_transaction(session):
        read = snapshot(mapper, values)
        assert _values(read) == _values(loaded)
        assert object_session(read) is None and not holds(session, mapper, "a")
        read.n = 9
        assert not session.dirty
    assert [(r.id, r.n) for r in await _rows(probe)] == [("a", 1)]
