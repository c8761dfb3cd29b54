"""Test clocks: create, read and move them. Firing what a move makes due is the worker's deadline job,
which the advance route runs right after the move commits (the same job the background loop runs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import ensure_utc
from app.db.transactions import for_update, read_transaction, write_transaction
from app.errors import NotFound, ProblemError
from app.ids import new_id
from app.sandbox.models import TestClock
from app.sandbox.schemas import TestClockIn, TestClockOut


async def create_test_clock(session: AsyncSession, data: TestClockIn, now: datetime) -> TestClockOut:
    async with write_transaction(session):
        clock = TestClock(
            id=new_id("clock"), name=data.name, frozen_time=ensure_utc(data.frozen_time), version=1, created_at=now
        )
        session.add(clock)
    return TestClockOut.model_validate(clock)


def _visible(clock: TestClock | None, clock_id: str, own_clock_id: str | None, *, sees_all: bool) -> TestClock:
    """Platform keys see every clock; an organisation's keys only the clock it lives on."""
    if clock is None or not (sees_all or own_clock_id == clock_id):
        raise NotFound("test clock")
    return clock


async def get_test_clock(
    session: AsyncSession, clock_id: str, own_clock_id: str | None, *, sees_all: bool
) -> TestClockOut:
    async with read_transaction(session):
        clock = await session.get(TestClock, clock_id)
    return TestClockOut.model_validate(_visible(clock, clock_id, own_clock_id, sees_all=sees_all))


async def move_test_clock(
    session: AsyncSession, clock_id: str, to: datetime, own_clock_id: str | None, *, sees_all: bool
) -> TestClockOut:
    """Move the clock forward. Moving it to its own time again is allowed: a client whose advance failed
    half-way retries it, and only what is still due fires."""
    to = ensure_utc(to)
    async with write_transaction(session):
        found = (
            await session.execute(for_update(select(TestClock).where(TestClock.id == clock_id)))
        ).scalar_one_or_none()
        clock = _visible(found, clock_id, own_clock_id, sees_all=sees_all)
        if to < clock.frozen_time:
            raise ProblemError(
                422, "clock_cannot_go_back", f"the clock is at {clock.frozen_time.isoformat()}: advance to a later time"
            )
        clock.frozen_time, clock.version = to, clock.version + 1
    return TestClockOut.model_validate(clock)
