"""Deadline rows: armed and settled by transitions inside the caller's transaction (design §3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import Keyset, Page, narrowed
from app.audit.service import EventDraft
from app.clock import ensure_utc
from app.context import Context
from app.db.folding import new_row
from app.db.transactions import for_update, read_transaction
from app.deadlines.models import Deadline
from app.deadlines.policy import UK_TIME, Anchor, DeadlineSpec, compute, due_at
from app.deadlines.schemas import DeadlineOut, Fired
from app.ids import new_id
from app.rules.book import RuleBook

OPEN = ("pending", "warned")

#: Kinds the scheduler never fires. The retention date is when records may go, not a duty missed: the
#: retention job settles it (met) when it erases the case's personal data, or a legal hold keeps it open.
NOT_SCHEDULED = frozenset({"record_retention"})


async def due_lag(session: AsyncSession, now: datetime) -> float:
    """Seconds the oldest due real-time row has waited (0 when none is due): the due index's first entry."""
    oldest = (
        await session.execute(
            select(func.min(Deadline.next_fire_at)).where(Deadline.clock_id.is_(None), Deadline.next_fire_at <= now)
        )
    ).scalar_one_or_none()
    return max((now - ensure_utc(oldest)).total_seconds(), 0.0) if oldest is not None else 0.0


def warn_at(warn_on: date) -> datetime:
    """Warnings go out at the start of their day (UK time), so a person can still act that day."""
    return datetime.combine(warn_on, time(0, 0), tzinfo=UK_TIME).astimezone(UTC)


def _row(
    specs: list[DeadlineSpec],
    organisation_id: str,
    clock_id: str | None,
    subject_type: str,
    subject_id: str,
    now: datetime,
    kind: str | None = None,
) -> Deadline:
    """One row per kind: a kind with several warnings (90/60/30 days) keeps them in `pending_warnings`."""
    first = specs[0]
    warnings = sorted({warn_at(s.warn_on) for s in specs if s.warn_on is not None})
    due = due_at(first.due_on)
    next_warning = warnings[0] if warnings else None
    return new_row(
        Deadline,
        id=new_id("dl"),
        organisation_id=organisation_id,
        clock_id=clock_id,
        subject_type=subject_type,
        subject_id=subject_id,
        kind=kind or first.kind,
        status="pending",
        due_at=due,
        warn_at=next_warning,
        pending_warnings=[w.isoformat() for w in warnings[1:]],
        next_fire_at=None if first.kind in NOT_SCHEDULED else min(next_warning or due, due),
        rule_id=first.rule_id,
        rule_source=first.rule_source.model_dump(mode="json"),
        nation=first.nation.value,
        basis=first.basis,
        created_at=now,
        settled_at=None,
    )


def arm(
    session: AsyncSession,
    kinds: Iterable[str],
    anchor: Anchor,
    book: RuleBook,
    *,
    organisation_id: str,
    clock_id: str | None,
    subject_type: str,
    subject_id: str,
    now: datetime,
) -> list[Deadline]:
    """Stage the deadlines a state arms. A kind whose anchor date is unknown yet arms nothing."""
    by_kind: dict[str, list[DeadlineSpec]] = defaultdict(list)
    for kind in kinds:
        for spec in compute(kind, anchor, book):
            by_kind[spec.kind].append(spec)
    rows = [_row(specs, organisation_id, clock_id, subject_type, subject_id, now) for specs in by_kind.values()]
    session.add_all(rows)
    return rows


def stage(
    session: AsyncSession,
    ctx: Context,
    specs: list[DeadlineSpec],
    *,
    subject_type: str,
    subject_id: str,
    kind: str | None = None,
) -> Deadline:
    """Stage one deadline for a due date computed elsewhere (an obligation's report, a rule change
    ahead, the allocation year's end): one spec per warning; `kind` names the row when not the spec's."""
    row = _row(specs, ctx.organisation_id, ctx.clock_id, subject_type, subject_id, ctx.now, kind)
    session.add(row)
    return row


async def open_of_kind(session: AsyncSession, subject_id: str, kind: str) -> list[Deadline]:
    rows = await session.execute(
        select(Deadline).where(Deadline.subject_id == subject_id, Deadline.kind == kind, Deadline.status.in_(OPEN))
    )
    return list(rows.scalars())


async def settle(session: AsyncSession, subject_id: str, outcomes: Mapping[str, str], now: datetime) -> None:
    """Mark the subject's open deadlines of these kinds met or cancelled; breached ones stay breached."""
    by_outcome: dict[str, list[str]] = defaultdict(list)
    for kind, outcome in outcomes.items():
        by_outcome[outcome].append(kind)
    for outcome, kinds in by_outcome.items():
        await _close(session, outcome, now, Deadline.subject_id == subject_id, Deadline.kind.in_(kinds))


async def settle_one(session: AsyncSession, deadline_id: str, outcome: str, now: datetime) -> None:
    """Mark one deadline met or cancelled, unless it already fired."""
    await _close(session, outcome, now, Deadline.id == deadline_id)


async def _close(session: AsyncSession, outcome: str, now: datetime, *where: ColumnElement[bool]) -> None:
    await session.execute(
        update(Deadline).where(*where, Deadline.status.in_(OPEN)).values(**Deadline.closed(outcome, now))
    )


async def breached_kinds(session: AsyncSession, subject_id: str, kinds: Iterable[str]) -> set[str]:
    rows = await session.execute(
        select(Deadline.kind).where(
            Deadline.subject_id == subject_id, Deadline.kind.in_(list(kinds)), Deadline.status == "breached"
        )
    )
    return {kind for (kind,) in rows}


# --- views ----------------------------------------------------------------------------------------


_BY_DUE = Keyset(("due_at", Deadline.due_at, datetime.fromisoformat), ("id", Deadline.id, str))


@dataclass(frozen=True)
class DeadlineFilters:
    status: tuple[str, ...] = ()
    kind: str | None = None
    subject_id: str | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None


async def list_deadlines(
    session: AsyncSession, organisation_id: str, filters: DeadlineFilters, cursor: dict[str, Any] | None, limit: int
) -> Page[DeadlineOut]:
    stmt = _BY_DUE.apply(select(Deadline).where(Deadline.organisation_id == organisation_id), cursor, limit)
    stmt = narrowed(
        stmt,
        Deadline.status.in_(filters.status) if filters.status else None,
        Deadline.kind == filters.kind if filters.kind else None,
        Deadline.subject_id == filters.subject_id if filters.subject_id else None,
        Deadline.due_at >= filters.due_after if filters.due_after else None,
        Deadline.due_at <= filters.due_before if filters.due_before else None,
    )
    async with read_transaction(session):
        rows = list((await session.execute(stmt)).scalars())
    return _BY_DUE.page(rows, limit, DeadlineOut.model_validate)


async def counts(session: AsyncSession, organisation_id: str, now: datetime) -> tuple[dict[str, int], int]:
    """Deadlines by status, and how many open ones are due within 7 days."""
    async with read_transaction(session):
        rows = await session.execute(
            select(Deadline.status, func.count())
            .where(Deadline.organisation_id == organisation_id)
            .group_by(Deadline.status)
        )
        by_status = {status: int(n) for status, n in rows}
        soon = (
            await session.execute(
                select(func.count()).where(
                    Deadline.organisation_id == organisation_id,
                    Deadline.status.in_(OPEN),
                    Deadline.due_at <= now + timedelta(days=7),
                )
            )
        ).scalar_one()
    return by_status, int(soon)


# --- firing: the worker's deadline job drives these ---------------------------------------------------


async def claim_due(
    session: AsyncSession, now: datetime, clock_id: str | None, limit: int, skipped: set[str]
) -> list[Deadline]:
    """Lock up to `limit` rows due at `now` on the clock (None: real time) that no other worker holds."""
    stmt = (
        select(Deadline)
        .where(Deadline.next_fire_at <= now)
        .where(Deadline.clock_id.is_(None) if clock_id is None else Deadline.clock_id == clock_id)
        # clock_id first matches the index's order; by next_fire_at alone PostgreSQL would fetch
        # and sort every due row before the LIMIT (IS NULL does not pin the first index column).
        .order_by(Deadline.clock_id, Deadline.next_fire_at)
        .limit(limit)
    )
    if skipped:
        stmt = stmt.where(Deadline.id.not_in(skipped))
    return list((await session.execute(for_update(stmt, skip_locked=True))).scalars())


def is_breaching(row: Deadline, now: datetime) -> bool:
    return row.due_at <= now


@dataclass
class Progress:
    """What bringing one row up to a time did: the events to record and what fired."""

    events: list[EventDraft]
    fired: list[Fired]
    breached: bool


def bring_up_to(row: Deadline, now: datetime, case_id: str | None) -> Progress:
    """Send the row's due warnings and, once due, mark it breached. What a breach does to the subject
    is the owning domain's business, not this layer's."""
    progress = Progress([], [], breached=False)
    while row.warn_at is not None and row.warn_at <= now and row.warn_at < row.due_at:
        progress.events.append(_event("deadline.warning", row, case_id, {"warn_at": row.warn_at.isoformat()}))
        progress.fired.append(fired(row, "warned", ["deadline.warning"]))
        row.status = "warned"
        upcoming = row.pending_warnings
        row.warn_at = datetime.fromisoformat(upcoming[0]) if upcoming else None
        row.pending_warnings = upcoming[1:]
    if not is_breaching(row, now):
        row.next_fire_at = row.warn_at or row.due_at
        return progress
    for column, value in Deadline.closed("breached", now).items():
        setattr(row, column, value)
    progress.events.append(_event("deadline.breached", row, case_id, {}))
    progress.breached = True
    return progress


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


def fired(row: Deadline, outcome: str, effects: list[str]) -> Fired:
    return Fired(
        deadline_id=row.id,
        kind=row.kind,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        outcome=outcome,
        effects=effects,
    )
