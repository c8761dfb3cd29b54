"""Deadline rows: armed and settled by transitions inside the caller's transaction (design §3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api.auth import Principal, Role
from app.api.cursors import Keyset, Page, narrowed
from app.audit.service import EventDraft
from app.calendar import Nation
from app.clock import ensure_utc
from app.db.transactions import for_update, read_transaction, write_transaction
from app.deadlines.models import Deadline, TestClock
from app.deadlines.policy import UK_TIME, Anchor, DeadlineSpec, compute, due_at, obligation_due
from app.deadlines.schemas import AdvanceOut, DeadlineCounts, DeadlineOut, TestClockIn, TestClockOut
from app.errors import NotFound, ProblemError
from app.ids import new_id
from app.obligations.models import Obligation
from app.rules.book import RuleBook

OPEN = ("pending", "warned")

#: What a breach does besides being recorded: fire a system action on the case, or open an obligation.
FIRES_ON_BREACH = {"cos_assignment_window": "expire_cos", "visa_application_window": "expire_cos"}
OPENS_ON_BREACH = {"late_start": "late_start"}


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
) -> Deadline:
    """One row per kind: a kind with several warnings (90/60/30 days) keeps them in `pending_warnings`."""
    first = specs[0]
    warnings = sorted({warn_at(s.warn_on) for s in specs if s.warn_on is not None})
    due = due_at(first.due_on)
    next_warning = warnings[0] if warnings else None
    return Deadline(
        id=new_id("dl"),
        organisation_id=organisation_id,
        clock_id=clock_id,
        subject_type=subject_type,
        subject_id=subject_id,
        kind=first.kind,
        status="pending",
        due_at=due,
        warn_at=next_warning,
        pending_warnings=[w.isoformat() for w in warnings[1:]],
        next_fire_at=min(next_warning or due, due),
        fire_action=FIRES_ON_BREACH.get(first.kind),
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


def open_obligation(
    session: AsyncSession,
    kind: str,
    trigger_date: date,
    nation: Nation,
    book: RuleBook,
    *,
    organisation_id: str,
    clock_id: str | None,
    hire_id: str | None,
    details: dict[str, Any],
    now: datetime,
) -> tuple[Obligation, EventDraft]:
    """Stage an SMS reporting obligation and the deadline that watches it."""
    spec = obligation_due(kind, trigger_date, nation, book)
    obligation_id = new_id("obl")
    deadline = _row([spec], organisation_id, clock_id, "obligation", obligation_id, now)
    deadline.kind = f"report_{kind}"
    obligation = Obligation(
        id=obligation_id,
        organisation_id=organisation_id,
        hire_id=hire_id,
        kind=kind,
        status="open",
        version=1,
        trigger_date=trigger_date,
        due_on=spec.due_on,
        rule_id=spec.rule_id,
        nation=nation.value,
        details=details,
        deadline_id=deadline.id,
        created_at=now,
        updated_at=now,
    )
    session.add_all([deadline, obligation])
    event = EventDraft(
        "obligation.created",
        "obligation",
        obligation_id,
        to_state="open",
        case_id=hire_id,
        data={
            "kind": kind,
            "hire_id": hire_id,
            "trigger_date": trigger_date.isoformat(),
            "due_on": spec.due_on.isoformat(),
            "rule_id": spec.rule_id,
            "basis": spec.basis,
        },
    )
    return obligation, event


async def breached_kinds(session: AsyncSession, subject_id: str, kinds: Iterable[str]) -> set[str]:
    rows = await session.execute(
        select(Deadline.kind).where(
            Deadline.subject_id == subject_id, Deadline.kind.in_(list(kinds)), Deadline.status == "breached"
        )
    )
    return {kind for (kind,) in rows}


async def open_for(session: AsyncSession, subject_ids: list[str]) -> dict[str, list[Deadline]]:
    """Open deadlines of these subjects, soonest first, for case summaries."""
    if not subject_ids:
        return {}
    rows = (
        await session.execute(
            select(Deadline)
            .where(Deadline.subject_id.in_(subject_ids), Deadline.status.in_(OPEN))
            .order_by(Deadline.due_at)
        )
    ).scalars()
    found: dict[str, list[Deadline]] = defaultdict(list)
    for row in rows:
        found[row.subject_id].append(row)
    return found


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


async def counts(session: AsyncSession, organisation_id: str, now: datetime) -> DeadlineCounts:
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
        overdue = (
            await session.execute(
                select(func.count()).where(
                    Obligation.organisation_id == organisation_id, Obligation.status == "overdue"
                )
            )
        ).scalar_one()
    return DeadlineCounts(by_status=by_status, due_within_7_days=soon, overdue_obligations=overdue)


# --- test clocks ----------------------------------------------------------------------------------


async def create_test_clock(session: AsyncSession, data: TestClockIn, now: datetime) -> TestClock:
    async with write_transaction(session):
        clock = TestClock(
            id=new_id("clock"), name=data.name, frozen_time=ensure_utc(data.frozen_time), version=1, created_at=now
        )
        session.add(clock)
    return clock


def _sees_clock(principal: Principal, clock_id: str) -> bool:
    """Platform keys see every clock; an organisation's keys only the clock it lives on."""
    return principal.is_platform or (principal.org is not None and principal.org.clock_id == clock_id)


async def get_test_clock(session: AsyncSession, clock_id: str, principal: Principal) -> TestClock:
    async with read_transaction(session):
        clock = await session.get(TestClock, clock_id)
    if clock is None or not _sees_clock(principal, clock_id):
        raise NotFound("test clock")
    return clock


async def advance_test_clock(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    book: RuleBook,
    clock_id: str,
    to: datetime,
    principal: Principal,
    *,
    batch_size: int,
) -> AdvanceOut:
    """Move the clock, then run its due deadlines. Advancing to the clock's own time again is allowed:
    a client whose advance failed half-way retries it, and only what is still due fires."""
    from app.deadlines.scheduler import run_due

    if principal.role not in (Role.platform, Role.admin):
        raise ProblemError(403, "forbidden", "advancing a test clock needs an admin or platform key")
    to = ensure_utc(to)
    async with write_transaction(session):
        clock = (
            await session.execute(for_update(select(TestClock).where(TestClock.id == clock_id)))
        ).scalar_one_or_none()
        if clock is None or not _sees_clock(principal, clock_id):
            raise NotFound("test clock")
        if to < clock.frozen_time:
            raise ProblemError(
                422, "clock_cannot_go_back", f"the clock is at {clock.frozen_time.isoformat()}: advance to a later time"
            )
        clock.frozen_time, clock.version = to, clock.version + 1
    fired = await run_due(sessions, book, to, clock_id=clock_id, batch_size=batch_size)
    return AdvanceOut(clock=TestClockOut.model_validate(clock), fired=fired)
