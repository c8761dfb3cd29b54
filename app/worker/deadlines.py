"""The deadline job: find due rows, warn and breach them, and let each row's owning domain act.

Rows are claimed with `FOR UPDATE SKIP LOCKED` (on SQLite the write transaction's BEGIN IMMEDIATE
serialises instead), and a row's status change, its events and their effects commit together: a deadline
fires exactly once, and a worker killed mid-batch loses nothing because its transaction never committed.

Lock order: a user action locks its case, then touches the case's deadlines; this job locks deadlines,
then takes the case with SKIP LOCKED and leaves the row for the next pass if a user holds it. Neither
waits for the other in opposite order, so they cannot deadlock.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.audit.service import SYSTEM, EventDraft
from app.calendar import Nation
from app.context import Context
from app.db.transactions import write_transaction
from app.deadlines import service as deadlines
from app.deadlines.models import Deadline
from app.deadlines.schemas import Fired
from app.hires import actions as hires
from app.hires import queries as hire_queries
from app.hires.models import Hire
from app.obligations import service as obligations
from app.obligations.models import Obligation
from app.ops import metrics
from app.organisations.models import Organisation
from app.rules.book import RuleBook


@dataclass
class _Batch:
    """Events to record per organisation, and what fired, for one transaction."""

    drafts: dict[str, list[EventDraft]] = field(default_factory=lambda: defaultdict(list))
    fired: list[Fired] = field(default_factory=list)
    orgs: dict[str, Organisation] = field(default_factory=dict)


async def fire_due(
    sessions: async_sessionmaker[AsyncSession],
    book: RuleBook,
    now: datetime,
    *,
    clock_id: str | None = None,
    batch_size: int = 200,
) -> list[Fired]:
    """Process every row due at `now` on the given clock (None: real time), one transaction per batch."""
    fired: list[Fired] = []
    skipped: set[str] = set()
    while True:
        async with sessions() as session, write_transaction(session):
            rows = await deadlines.claim_due(session, now, clock_id, batch_size, skipped)
            batch = _Batch()
            for row in rows:
                if not await _process(session, row, book, now, batch):
                    skipped.add(row.id)
            # Counter rows locked in one global order, so passes spanning organisations cannot deadlock.
            for organisation_id, drafts in sorted(batch.drafts.items()):
                await audit.record(session, organisation_id, SYSTEM, drafts, now)
        # Counted once committed: a rolled-back batch fired nothing.
        metrics.SCHEDULER_DUE_ROWS.inc(len(rows))
        for item in batch.fired:
            metrics.SCHEDULER_FIRED.labels(item.outcome, item.kind).inc()
        fired += batch.fired
        if len(rows) < batch_size:
            return fired


async def _process(session: AsyncSession, row: Deadline, book: RuleBook, now: datetime, batch: _Batch) -> bool:
    """Bring one row up to `now`. False when its subject is busy: the row is left for the next pass."""
    subject: Hire | Obligation | None = None
    if deadlines.is_breaching(row, now):
        if row.subject_type == "obligation":
            subject = await obligations.lock_for_breach(session, row.subject_id)
        elif row.subject_type == "hire" and hires.acts_on_breach(row.kind):
            subject = await hire_queries.lock_for_breach(session, row.subject_id)
        if subject is None and (row.subject_type == "obligation" or hires.acts_on_breach(row.kind)):
            return False
    case_id = subject.hire_id if isinstance(subject, Obligation) else row.subject_id
    progress = deadlines.bring_up_to(row, now, case_id)
    drafts = batch.drafts[row.organisation_id]
    drafts += progress.events
    batch.fired += progress.fired
    if progress.breached:
        effects: list[EventDraft] = []
        if isinstance(subject, Obligation):
            effects = obligations.on_breach(subject, now)
        elif isinstance(subject, Hire):
            effects = await hires.on_breach(session, await _context(session, row, book, now, batch), subject, row)
        drafts += effects
        batch.fired.append(deadlines.fired(row, "breached", ["deadline.breached", *(e.type for e in effects)]))
    return True


async def _context(session: AsyncSession, row: Deadline, book: RuleBook, now: datetime, batch: _Batch) -> Context:
    org = batch.orgs.get(row.organisation_id) or await session.get(Organisation, row.organisation_id)
    assert org is not None  # the row's foreign key
    batch.orgs[org.id] = org
    return Context(org.id, SYSTEM, now, book, Nation(org.nation), row.clock_id, org.sponsor_size)
