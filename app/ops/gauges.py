"""Domain gauges: cases by state, deadlines and obligations by status.

Counted by the background loop with one GROUP BY per table, each read from an index that holds the
grouped column (so PostgreSQL answers from the index, not the table), at most every
`metrics_refresh_seconds`. A scrape reads the last values and touches no table.
"""

from __future__ import annotations

import time

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from app.db.transactions import read_transaction
from app.deadlines.models import Deadline
from app.hires.models import Hire
from app.obligations.models import Obligation
from app.ops.metrics import CASES, DEADLINES, DOMAIN_REFRESHED, OBLIGATIONS
from app.workflow import HIRE

DEADLINE_STATUSES = ("pending", "warned", "breached")
OBLIGATION_STATUSES = ("open", "overdue")


async def refresh(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Count now and set the gauges; a label with no rows is set to 0, so a series never goes stale."""
    async with sessions() as session, read_transaction(session):
        cases = await _count_by(session, Hire.state)
        deadlines = await _count_by(session, Deadline.status, Deadline.status.in_(DEADLINE_STATUSES))
        obligations = await _count_by(session, Obligation.status, Obligation.status.in_(OBLIGATION_STATUSES))
    for state in HIRE.states:
        CASES.labels(state.name).set(cases.get(state.name, 0))
    for status in DEADLINE_STATUSES:
        DEADLINES.labels(status).set(deadlines.get(status, 0))
    for status in OBLIGATION_STATUSES:
        OBLIGATIONS.labels(status).set(obligations.get(status, 0))
    DOMAIN_REFRESHED.set(time.time())


async def _count_by(
    session: AsyncSession, column: InstrumentedAttribute[str], *where: ColumnElement[bool]
) -> dict[str, int]:
    rows = await session.execute(select(column, func.count()).where(*where).group_by(column))
    return {str(value): int(n) for value, n in rows}


class DomainGauges:
    """Refreshes the domain gauges when the last count is older than `interval` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._counted_at: float | None = None

    async def refresh_if_stale(self, sessions: async_sessionmaker[AsyncSession]) -> bool:
        now = time.monotonic()
        if self._counted_at is not None and now - self._counted_at < self.interval:
            return False
        await refresh(sessions)
        self._counted_at = now
        return True
