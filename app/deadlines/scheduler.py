"""The scheduler: finds due deadline rows and acts on them (warn, breach, fire a system action).

One code path serves the embedded loop (SQLite, one process), `sponsorflow worker` processes on
PostgreSQL, and test-clock advances. Rows are claimed with `FOR UPDATE SKIP LOCKED` (on SQLite the write
transaction's BEGIN IMMEDIATE serialises instead), and a row's status change, its events and their
effects commit together: a deadline fires exactly once, and a worker killed mid-batch loses nothing
because its transaction never committed.

Lock order: a user action locks its case, then touches the case's deadlines; the scheduler locks
deadlines, then takes the case with SKIP LOCKED and leaves the row for the next pass if a user holds
it. Neither waits for the other in opposite order, so they cannot deadlock.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import cases
from app.api import idempotency
from app.audit import service as audit
from app.audit.service import SYSTEM, EventDraft
from app.calendar import Nation
from app.clock import Clock
from app.config import Settings
from app.db.transactions import for_update, write_transaction
from app.deadlines.models import Deadline
from app.deadlines.policy import late_start_window_opens
from app.deadlines.schemas import Fired
from app.deadlines.service import OPENS_ON_BREACH, open_obligation
from app.hires.models import Hire
from app.obligations.models import Obligation
from app.organisations.models import Organisation
from app.rules.book import RuleBook
from app.workflow import HIRE

log = logging.getLogger("sponsorflow.scheduler")
T = TypeVar("T")


@dataclass
class _Batch:
    """Events to record per organisation, and what fired, for one transaction."""

    drafts: dict[str, list[EventDraft]] = field(default_factory=lambda: defaultdict(list))
    fired: list[Fired] = field(default_factory=list)
    orgs: dict[str, Organisation] = field(default_factory=dict)


async def run_due(
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
            stmt = (
                select(Deadline)
                .where(Deadline.next_fire_at <= now)
                .where(Deadline.clock_id.is_(None) if clock_id is None else Deadline.clock_id == clock_id)
                # clock_id first matches the index's order; by next_fire_at alone PostgreSQL would fetch
                # and sort every due row before the LIMIT (IS NULL does not pin the first index column).
                .order_by(Deadline.clock_id, Deadline.next_fire_at)
                .limit(batch_size)
            )
            if skipped:
                stmt = stmt.where(Deadline.id.not_in(skipped))
            rows = list((await session.execute(for_update(stmt, skip_locked=True))).scalars())
            batch = _Batch()
            for row in rows:
                if not await _process(session, row, book, now, batch):
                    skipped.add(row.id)
            # Counter rows locked in one global order, so passes spanning organisations cannot deadlock.
            for organisation_id, drafts in sorted(batch.drafts.items()):
                await audit.record(session, organisation_id, SYSTEM, drafts, now)
        fired += batch.fired
        if len(rows) < batch_size:
            return fired


async def _process(session: AsyncSession, row: Deadline, book: RuleBook, now: datetime, batch: _Batch) -> bool:
    """Bring one row up to `now`. False when its case is busy: the row is left for the next pass."""
    breaching = row.due_at <= now
    subject: Hire | Obligation | None = None
    if breaching and (row.subject_type == "obligation" or row.fire_action or row.kind in OPENS_ON_BREACH):
        if row.subject_type == "obligation":
            subject = await _locked(session, select(Obligation).where(Obligation.id == row.subject_id))
        else:
            subject = await _locked(session, select(Hire).where(Hire.id == row.subject_id))
        if subject is None:
            return False
    case_id = subject.hire_id if isinstance(subject, Obligation) else row.subject_id
    drafts = batch.drafts[row.organisation_id]
    while row.warn_at is not None and row.warn_at <= now and row.warn_at < row.due_at:
        drafts.append(_event("deadline.warning", row, case_id, {"warn_at": row.warn_at.isoformat()}))
        batch.fired.append(_fired(row, "warned", ["deadline.warning"]))
        row.status = "warned"
        upcoming = row.pending_warnings
        row.warn_at = datetime.fromisoformat(upcoming[0]) if upcoming else None
        row.pending_warnings = upcoming[1:]
    if not breaching:
        row.next_fire_at = row.warn_at or row.due_at
        return True
    for column, value in Deadline.closed("breached", now).items():
        setattr(row, column, value)
    drafts.append(_event("deadline.breached", row, case_id, {}))
    effects = ["deadline.breached"]
    if isinstance(subject, Obligation):
        effects += _overdue(subject, now, drafts)
    elif isinstance(subject, Hire):
        effects += await _on_case(session, row, subject, book, now, batch)
    batch.fired.append(_fired(row, "breached", effects))
    return True


async def _locked(session: AsyncSession, stmt: Select[T]) -> T | None:
    return (await session.execute(for_update(stmt, skip_locked=True))).scalar_one_or_none()


def _overdue(obligation: Obligation, now: datetime, drafts: list[EventDraft]) -> list[str]:
    if obligation.status != "open":
        return []
    obligation.status, obligation.version, obligation.updated_at = "overdue", obligation.version + 1, now
    drafts.append(
        EventDraft(
            "obligation.overdue",
            "obligation",
            obligation.id,
            from_state="open",
            to_state="overdue",
            case_id=obligation.hire_id,
            data={"kind": obligation.kind, "due_on": obligation.due_on.isoformat()},
        )
    )
    return ["obligation.overdue"]


async def _on_case(
    session: AsyncSession, row: Deadline, hire: Hire, book: RuleBook, now: datetime, batch: _Batch
) -> list[str]:
    """A breach that acts on the case: fire its system action, or open the obligation it triggers."""
    from app.hires import service as hires

    org = batch.orgs.get(row.organisation_id) or await session.get(Organisation, row.organisation_id)
    assert org is not None
    batch.orgs[org.id] = org
    ctx = cases.Context(org.id, SYSTEM, now, book, Nation(org.nation), row.clock_id)
    drafts = batch.drafts[org.id]
    if row.fire_action:
        found = HIRE.find_action(row.fire_action)
        if found is None or hire.state not in found.sources:
            return []
        events = await hires.fire_system_action(session, ctx, hire, row.fire_action)
    else:
        nation = Nation(hire.work_nation) if hire.work_nation else ctx.sponsor_nation
        opens_from = late_start_window_opens(hires.anchor_for(hire, ctx.today, nation))
        if opens_from is None:
            return []
        _, event = open_obligation(
            session,
            OPENS_ON_BREACH[row.kind],
            opens_from,
            nation,
            book,
            organisation_id=org.id,
            clock_id=row.clock_id,
            hire_id=hire.id,
            details={"deadline_id": row.id},
            now=now,
        )
        events = [event]
    drafts += events
    return [e.type for e in events]


def _event(type_: str, row: Deadline, case_id: str | None, extra: dict[str, str]) -> EventDraft:
    return EventDraft(
        type_,
        row.subject_type,
        row.subject_id,
        case_id=case_id,
        data={
            "deadline_id": row.id,
            "kind": row.kind,
            "due_at": row.due_at.isoformat(),
            "rule_id": row.rule_id,
            **extra,
        },
    )


def _fired(row: Deadline, outcome: str, effects: list[str]) -> Fired:
    return Fired(
        deadline_id=row.id,
        kind=row.kind,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        outcome=outcome,
        effects=effects,
    )


async def run_forever(
    sessions: async_sessionmaker[AsyncSession], book: RuleBook, clock: Clock, settings: Settings
) -> None:
    """The worker loop: a pass, then a pause. An error is logged and the next pass tries again."""
    while True:
        try:
            now = clock.now()
            fired = await run_due(sessions, book, now, batch_size=settings.scheduler_batch_size)
            pruned = await idempotency.prune(sessions, now - timedelta(hours=settings.idempotency_retention_hours))
            if fired or pruned:
                log.info("scheduler pass", extra={"fired": len(fired), "idempotency_keys_pruned": pruned})
        except Exception:
            log.exception("scheduler pass failed; retrying after the interval")
        await asyncio.sleep(settings.scheduler_interval_seconds)
