"""The sponsor licence and the undefined-CoS allocation. One transaction per use case, committed here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app import cases
from app.api.etags import IfMatch
from app.audit import service as audit
from app.audit.service import SYSTEM, EventDraft
from app.context import Context, uk_today
from app.db.transactions import for_update, read_transaction, write_transaction
from app.deadlines import service as deadlines
from app.deadlines.policy import Anchor, allocation_year_end, cooling_off_ends
from app.errors import Conflict, NotFound, ProblemError
from app.ids import new_id
from app.licences.models import CosAllocation, Licence
from app.licences.schemas import (
    LICENCE_ACTION_PAYLOADS,
    AllocationIn,
    AllocationOut,
    ChangeOfOwnership,
    Grant,
    LicenceOut,
    Submit,
)
from app.workflow import LICENCE, Facts, GuardInput


def view(licence: Licence, now: datetime) -> LicenceOut:
    return LicenceOut(
        id=licence.id,
        organisation_id=licence.organisation_id,
        state=licence.state,
        version=licence.version,
        licence_number=licence.licence_number,
        priority_service=licence.priority_service,
        submitted_on=licence.submitted_on,
        decided_on=licence.decided_on,
        state_changed_on=licence.state_changed_on,
        created_at=licence.created_at,
        updated_at=licence.updated_at,
        available_actions=cases.available(LICENCE, licence, GuardInput(licence, Facts(today=uk_today(now)))),
    )


async def current_licence(session: AsyncSession, organisation_id: str, *, lock: bool = False) -> Licence | None:
    stmt = Licence.current_of(organisation_id)
    return (await session.execute(for_update(stmt) if lock else stmt)).scalar_one_or_none()


async def create_application(session: AsyncSession, ctx: Context) -> LicenceOut:
    organisation_id, actor, now = ctx.organisation_id, ctx.actor, ctx.now
    async with write_transaction(session):
        existing = await current_licence(session, organisation_id, lock=True)
        if existing is not None:
            if not LICENCE.state(existing.state).terminal:
                raise Conflict(
                    "licence_exists",
                    f"the organisation already has a licence in state {existing.state}: act on it instead",
                )
            _check_cooling_off(existing, ctx)
            existing.is_current = False  # a refused or ended licence stays as history
            await session.flush()
        licence = Licence(
            id=new_id("lic"),
            organisation_id=organisation_id,
            is_current=True,
            state=LICENCE.initial,
            version=1,
            priority_service=False,
            created_at=now,
            updated_at=now,
        )
        session.add(licence)
        await session.flush()
        await audit.record(
            session,
            organisation_id,
            actor,
            [EventDraft("licence.created", "licence", licence.id, to_state=licence.state)],
            now,
        )
    return view(licence, now)


def _check_cooling_off(previous: Licence, ctx: Context) -> None:
    """No new application until the cooling-off period after a revocation has passed (facts §1.4)."""
    if previous.state != "revoked" or previous.state_changed_on is None:
        return
    revoked_on = previous.state_changed_on
    last_day = cooling_off_ends(revoked_on, ctx.sponsor_nation, ctx.book)
    if ctx.today <= last_day:
        raise Conflict(
            "cooling_off",
            f"the licence was revoked on {revoked_on}: the cooling-off period runs to {last_day}, so a new "
            f"application can be made from {last_day + timedelta(days=1)}",
        )


async def get_licence(session: AsyncSession, organisation_id: str, now: datetime) -> LicenceOut:
    async with read_transaction(session):
        licence = await current_licence(session, organisation_id)
    if licence is None:
        raise NotFound("licence")
    return view(licence, now)


#: What the licence's cases do when it changes state (design §2.1): given by the caller, because the hire
#: domain reads the licence and so sits above it.
FollowLicence = Callable[[AsyncSession, Context, str, date], Awaitable[list[EventDraft]]]


async def apply_action(
    session: AsyncSession,
    ctx: Context,
    action: str,
    raw_payload: dict[str, object] | None,
    if_match: IfMatch,
    follow: FollowLicence,
) -> LicenceOut:
    cases.check_action_exists(LICENCE, action)
    payload = cases.parse_payload(LICENCE_ACTION_PAYLOADS[action], raw_payload)
    organisation_id, now, today = ctx.organisation_id, ctx.now, ctx.today
    async with write_transaction(session):
        licence = await current_licence(session, organisation_id, lock=True)
        if licence is None:
            raise NotFound("licence")
        if_match.check(licence.version)
        applied = cases.run(
            LICENCE,
            licence,
            action,
            GuardInput(licence, Facts(today=today), payload.model_dump()),
            by_system=False,
        )
        _record_payload(licence, action, payload, today)
        licence.version += 1
        licence.updated_at = now
        events = [cases.transition_event("licence", licence.id, applied, payload)]
        effective = _effective(payload, today)
        anchor = Anchor(
            today=effective,
            nation=ctx.sponsor_nation,
            licence_priority=licence.priority_service,
            new_licence_needed=isinstance(payload, ChangeOfOwnership) and payload.needs_new_licence,
        )
        # Sponsor events are reported with the sponsor's main-address calendar (design §3).
        reporting = cases.Reporting(
            effective,
            ctx.sponsor_nation,
            None,
            {"action": action, **payload.model_dump(mode="json", exclude_none=True)},
        )
        events += await cases.apply_effects(
            session, ctx, applied, subject_type="licence", subject_id=licence.id, anchor=anchor, reporting=reporting
        )
        if applied.to_state != applied.from_state:
            licence.state_changed_on = effective
            events += await follow(session, ctx.as_system(), applied.to_state, effective)
        await audit.record(session, organisation_id, ctx.actor, events[:1], now)
        await audit.record(session, organisation_id, SYSTEM, events[1:], now)
    return view(licence, now)


def _effective(payload: BaseModel, today: date) -> date:
    given = getattr(payload, "effective_date", None) or getattr(payload, "submitted_on", None)
    return given if isinstance(given, date) else today


def _record_payload(licence: Licence, action: str, payload: BaseModel, today: date) -> None:
    if isinstance(payload, Submit):
        licence.submitted_on = _effective(payload, today)
        licence.priority_service = payload.priority_service
    if isinstance(payload, Grant):
        licence.licence_number = payload.licence_number
    if action in {"grant", "refuse"}:
        licence.decided_on = _effective(payload, today)


# --- undefined CoS allocation ---------------------------------------------------------------------


def allocation_view(allocation: CosAllocation) -> AllocationOut:
    return AllocationOut(
        year_start=allocation.year_start,
        year_end=allocation.year_end,
        granted=allocation.granted,
        used=allocation.used,
        remaining=allocation.remaining,
        version=allocation.version,
        updated_at=allocation.updated_at,
    )


async def get_allocation(session: AsyncSession, organisation_id: str) -> AllocationOut:
    async with read_transaction(session):
        allocation = await _allocation(session, organisation_id)
    if allocation is None:
        raise NotFound("CoS allocation")
    return allocation_view(allocation)


async def _allocation(session: AsyncSession, organisation_id: str, *, lock: bool = False) -> CosAllocation | None:
    stmt = CosAllocation.of(organisation_id)
    return (await session.execute(for_update(stmt) if lock else stmt)).scalar_one_or_none()


async def set_allocation(
    session: AsyncSession, ctx: Context, data: AllocationIn, if_match: IfMatch | None
) -> AllocationOut:
    """Record the allocation year the SMS shows. A new year starts `used` again from zero. The year's
    last day is a reminder (`allocation_year_end`): a new year meets the last one's, a correction
    replaces it."""
    organisation_id, actor, now = ctx.organisation_id, ctx.actor, ctx.now
    async with write_transaction(session):
        allocation = await _allocation(session, organisation_id, lock=True)
        if allocation is None:
            allocation = CosAllocation(
                id=new_id("alloc"),
                organisation_id=organisation_id,
                year_start=data.year_start,
                year_end=data.year_end,
                granted=data.granted,
                used=0,
                version=1,
                updated_at=now,
            )
            session.add(allocation)
            new_year = True
        else:
            if if_match is None:
                raise ProblemError(
                    428,
                    "precondition_required",
                    "the allocation exists: send If-Match with its ETag to change it",
                )
            if_match.check(allocation.version)
            new_year = data.year_start != allocation.year_start
            if new_year:
                allocation.used = 0
            allocation.year_start, allocation.year_end, allocation.granted = (
                data.year_start,
                data.year_end,
                data.granted,
            )
            allocation.version += 1
            allocation.updated_at = now
        await session.flush()
        await _remind_year_end(session, ctx, allocation, new_year)
        await audit.record(
            session,
            organisation_id,
            actor,
            [
                EventDraft(
                    "cos_allocation.updated",
                    "cos_allocation",
                    allocation.id,
                    data=data.model_dump(mode="json"),
                )
            ],
            now,
        )
    return allocation_view(allocation)


async def _remind_year_end(session: AsyncSession, ctx: Context, allocation: CosAllocation, new_year: bool) -> None:
    for row in await deadlines.open_of_kind(session, allocation.id, "allocation_year_end"):
        await deadlines.settle_one(session, row.id, "met" if new_year else "cancelled", ctx.now)
    if allocation.year_end < ctx.today:
        return  # a year already over: nothing left to remind of
    specs = allocation_year_end(
        allocation.year_end, ctx.today, allocation.remaining, allocation.granted, ctx.sponsor_nation, ctx.book
    )
    deadlines.stage(session, ctx, specs, subject_type="cos_allocation", subject_id=allocation.id)
