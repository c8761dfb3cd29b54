"""An action's new rows made by `app.db.folding.new_row` are the rows their constructors make: the same
values taken for the audit append's statement, the same row written by the ORM's flush when the writes
are not folded; a name that is no column, or a class whose rows are not folded, is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Date, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.db.base import UTCDateTime
from app.db.engine import create_sessionmaker
from app.db.folding import fold_writes, new_row, take_pending
from app.db.transactions import write_transaction


class _Base(DeclarativeBase):
    pass


class FoldProbe(_Base):
    __tablename__ = "fold_probe"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    on: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(String(40))


class NotFolded(_Base):
    __tablename__ = "fold_probe_not_folded"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)


fold_writes(FoldProbe)
_AT = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
_VALUES = {"n": 3, "on": date(2026, 12, 16), "at": _AT, "note": None}


@pytest.fixture
async def probe(db: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    async with db.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)
    yield db
    async with db.begin() as conn:
        await conn.run_sync(_Base.metadata.drop_all)


async def test_a_new_row_is_taken_for_the_fold_as_its_constructor_s_is(probe: AsyncEngine) -> None:
    async with create_sessionmaker(probe)() as session:
        session.add(FoldProbe(id="made", **_VALUES))
        session.add(new_row(FoldProbe, id="fast", **_VALUES))
        folded = take_pending(session)
        assert folded is not None
        (rows,) = folded.inserts.values()
        assert sorted(rows, key=lambda r: r["id"]) == [{"id": "fast", **_VALUES}, {"id": "made", **_VALUES}]


async def test_a_new_row_the_orm_flushes_is_written_whole(probe: AsyncEngine) -> None:
    sessions = create_sessionmaker(probe)
    async with sessions() as session, write_transaction(session):
        session.add(new_row(FoldProbe, id="fast", **_VALUES))
    async with sessions() as session:
        written = (await session.execute(select(FoldProbe))).scalar_one()
        assert (written.id, written.n, written.on, written.at, written.note) == ("fast", *_VALUES.values())


async def test_folded_rows_leave_the_session_and_what_it_also_holds_stays(probe: AsyncEngine) -> None:
    sessions = create_sessionmaker(probe)
    async with sessions() as session, write_transaction(session):
        session.add(FoldProbe(id="kept", **_VALUES))
    for also_held in (False, True):
        async with sessions() as session, write_transaction(session):
            kept = (await session.execute(select(FoldProbe).where(FoldProbe.id == "kept"))).scalar_one()
            if not also_held:
                kept.n = 4  # then it is folded too, and the session holds only what was folded
            written = new_row(FoldProbe, id=f"new-{also_held}", **_VALUES)
            session.add(written)
            folded = take_pending(session)
            assert folded is not None
            folded.forget(session)
            assert written not in session
            assert (kept in session) is also_held
            assert written.n == 3  # still readable


def test_a_new_row_refuses_a_name_that_is_no_column_and_a_class_not_folded() -> None:
    with pytest.raises(TypeError, match="no columns"):
        new_row(FoldProbe, id="x", colour="red")
    with pytest.raises(TypeError, match="not registered"):
        new_row(NotFolded, id="x")
