"""Hire cases: create, read, list, correct details, and apply workflow actions.

Every write is one transaction that locks the case row first (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE
on SQLite), checks If-Match, runs the shared hire machine, applies the effects and appends the audit
event and its outbox row; a refusal or error at any step rolls everything back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import cases
from app.api.cursors import Keyset, Page, narrowed
from app.api.etags import IfMatch
from app.audit import service as audit
from app.audit.service import EventDraft
from app.calendar import Nation
from app.db.transactions import for_update, read_transaction, write_transaction
from app.deadlines import service as deadlines
from app.deadlines.models import Deadline
from app.deadlines.policy import Anchor
from app.errors import Conflict, NotFound, ProblemError, Reason
from app.hires import eligibility
from app.hires.models import Hire
from app.hires.schemas import (
    ACTION_PAYLOADS,
    AssignCos,
    ChangeJob,
    ChangeSalary,
    ChangeWorkLocation,
    CompleteRtwCheck,
    DeadlineSummary,
    EndSponsorship,
    GrantCos,
    GrantVisa,
    HireCreate,
    HireOut,
    HireUpdate,
    ObligationSummary,
    RequestCos,
    StartEmployment,
    SubmitVisaApplication,
)
from app.ids import new_id
from app.job_mappings.service import soc_for_job_code
from app.licences.models import CosAllocation, Licence
from app.obligations import service as obligations
from app.obligations.models import Obligation
from app.rules.book import RuleBook
from app.workflow import HIRE, Facts, GuardInput
from app.workflow.guards import ELIGIBLE

# Details a person may correct in each phase; later changes go through actions that open SMS reports.
_PRE_COS_STATES = frozenset({"awaiting_licence", "draft"})
_IN_PROCESS_STATES = frozenset(
    {"cos_requested", "cos_granted", "cos_assigned", "visa_applied", "visa_granted", "rtw_verified"}
)
_ALWAYS_EDITABLE = frozenset({"email", "external_id"})
_IN_PROCESS_EDITABLE = _ALWAYS_EDITABLE | {"start_date", "date_of_birth", "nationality"}
_BEFORE_VISA_APPLICATION = frozenset({"cos_assigned"})  # an undefined CoS withdrawn here goes back
#: The deadline kinds each editable date or flag feeds; a new work nation changes every calendar.
_REARMS = {"start_date": ("rtw_check_before_start", "late_start"), "inside_uk": ("visa_decision",)}
_ANCHOR_FIELDS = frozenset(_REARMS) | {"work_nation"}
#: The date the case entered each state, which its deadlines count from.
_ENTERED_ON = {
    "cos_requested": "cos_requested_on",
    "cos_granted": "cos_granted_on",
    "cos_assigned": "cos_assigned_on",
    "visa_applied": "visa_applied_on",
    "visa_granted": "visa_granted_on",
    "employed": "actual_start_date",
}


# --- reads ----------------------------------------------------------------------------------------


#: Actions that change the undefined-CoS allocation's `used` count.
_USES_ALLOCATION = frozenset({"assign_cos", "withdraw"})


async def _licence_and_allocation(
    session: AsyncSession, organisation_id: str, *, lock_licence: bool = False, lock_allocation: bool = False
) -> tuple[Licence | None, CosAllocation | None]:
    """The organisation's licence and allocation. Writers take them in this order (licence, allocation,
    then the case), the order licence cascades use too, so concurrent writers cannot deadlock. A share
    lock keeps the licence from changing between a guard's check and our commit; the allocation is
    locked for update and re-read, so two cases racing for the last CoS see each other's use."""
    stmt = Licence.current_of(organisation_id)
    licence = (await session.execute(stmt.with_for_update(read=True) if lock_licence else stmt)).scalar_one_or_none()
    alloc_stmt = CosAllocation.of(organisation_id)
    if lock_allocation:
        alloc_stmt = for_update(alloc_stmt).execution_options(populate_existing=True)
    allocation = (await session.execute(alloc_stmt)).scalar_one_or_none()
    return licence, allocation


def _facts(
    licence: Licence | None,
    allocation: CosAllocation | None,
    today: date,
    assessed: eligibility.Assessment | None,
    open_obligations: int = 0,
) -> Facts:
    return Facts(
        today=today,
        licence_state=licence.state if licence else None,
        undefined_cos_remaining=None if allocation is None else allocation.remaining,
        undefined_cos_year=None if allocation is None else (allocation.year_start, allocation.year_end),
        eligibility_status=assessed[0] if assessed else None,
        eligibility_reasons=eligibility.blocking_reasons(assessed),
        open_obligations=open_obligations,
    )


@dataclass(frozen=True)
class Summaries:
    deadlines: dict[str, list[Deadline]]
    obligations: dict[str, list[Obligation]]

    @classmethod
    async def load(cls, session: AsyncSession, hire_ids: list[str]) -> Summaries:
        return cls(await deadlines.open_for(session, hire_ids), await obligations.open_for(session, hire_ids))

    def of(
        self, hire: Hire, licence: Licence | None, allocation: CosAllocation | None, today: date, book: RuleBook
    ) -> HireOut:
        owed = self.obligations.get(hire.id, [])
        assessed = eligibility.current(hire, book, today)
        facts = _facts(licence, allocation, today, assessed, len(owed))
        return view(hire, facts, self.deadlines.get(hire.id, []), owed, assessed)


def view(
    hire: Hire,
    facts: Facts,
    open_deadlines: list[Deadline],
    open_obligations: list[Obligation],
    assessed: eligibility.Assessment | None,
) -> HireOut:
    fields = {name: getattr(hire, name) for name in HireOut.model_fields if hasattr(Hire, name)}
    fields["eligibility_status"], fields["eligibility"] = assessed or (None, None)
    return HireOut(
        **fields,
        available_actions=cases.available(HIRE, hire, GuardInput(hire, facts)),
        open_deadlines=[
            DeadlineSummary(id=d.id, kind=d.kind, status=d.status, due_at=d.due_at, warn_at=d.warn_at)
            for d in open_deadlines
        ],
        open_obligations=[
            ObligationSummary(id=o.id, kind=o.kind, status=o.status, due_on=o.due_on) for o in open_obligations
        ],
    )


async def get_hire(session: AsyncSession, organisation_id: str, hire_id: str, today: date, book: RuleBook) -> HireOut:
    async with read_transaction(session):
        hire = await _find(session, organisation_id, hire_id)
        licence, allocation = await _licence_and_allocation(session, organisation_id)
        return (await Summaries.load(session, [hire.id])).of(hire, licence, allocation, today, book)


async def ensure_exists(session: AsyncSession, organisation_id: str, hire_id: str) -> None:
    """404 unless the organisation has this hire."""
    async with read_transaction(session):
        await _find(session, organisation_id, hire_id)


async def _find(session: AsyncSession, organisation_id: str, hire_id: str, *, lock: bool = False) -> Hire:
    stmt = select(Hire).where(Hire.id == hire_id, Hire.organisation_id == organisation_id)
    hire = (await session.execute(for_update(stmt) if lock else stmt)).scalar_one_or_none()
    if hire is None:
        raise NotFound("hire")
    return hire


_BY_ID = Keyset(("id", Hire.id, str))


@dataclass(frozen=True)
class HireFilters:
    state: Sequence[str] = ()
    external_id: str | None = None
    soc_code: str | None = None
    start_date_from: date | None = None
    start_date_to: date | None = None
    updated_since: datetime | None = None


async def list_hires(
    session: AsyncSession,
    organisation_id: str,
    filters: HireFilters,
    cursor: dict[str, Any] | None,
    limit: int,
    today: date,
    book: RuleBook,
) -> Page[HireOut]:
    stmt = _BY_ID.apply(select(Hire).where(Hire.organisation_id == organisation_id), cursor, limit)
    unknown = set(filters.state) - {s.name for s in HIRE.states}
    if unknown:
        raise ProblemError(400, "unknown_state", f"no hire state {sorted(unknown)}")
    stmt = narrowed(
        stmt,
        Hire.state.in_(filters.state) if filters.state else None,
        Hire.external_id == filters.external_id if filters.external_id is not None else None,
        Hire.soc_code == filters.soc_code if filters.soc_code is not None else None,
        Hire.start_date >= filters.start_date_from if filters.start_date_from is not None else None,
        Hire.start_date <= filters.start_date_to if filters.start_date_to is not None else None,
        Hire.updated_at >= filters.updated_since if filters.updated_since is not None else None,
    )
    async with read_transaction(session):
        rows = list((await session.execute(stmt)).scalars())
        licence, allocation = await _licence_and_allocation(session, organisation_id)
        summaries = await Summaries.load(session, [h.id for h in rows[:limit]])
    return _BY_ID.page(rows, limit, lambda h: summaries.of(h, licence, allocation, today, book))


# --- writes ---------------------------------------------------------------------------------------


async def create_hire(session: AsyncSession, ctx: cases.Context, data: HireCreate) -> HireOut:
    values = data.model_dump(exclude_unset=True, exclude_none=True)
    async with write_transaction(session):
        licence, allocation = await _licence_and_allocation(session, ctx.organisation_id, lock_licence=True)
        hire = Hire(
            id=new_id("hire"),
            organisation_id=ctx.organisation_id,
            version=1,
            state="draft" if licence is not None and licence.state == "active" else HIRE.initial,
            salary_option="standard",
            held_skilled_worker_permission_before_2025_07_22=False,
            first_sponsored_before_2024_04_04=False,
            uses_allocation=False,
            created_at=ctx.now,
            updated_at=ctx.now,
            **{k: (v.value if hasattr(v, "value") else v) for k, v in values.items()},
        )
        await _assess(session, ctx, hire)
        session.add(hire)
        await _flush_unique(session, hire)
        await audit.record(
            session,
            ctx.organisation_id,
            ctx.actor,
            [
                EventDraft(
                    "hire.created",
                    "hire",
                    hire.id,
                    to_state=hire.state,
                    data=data.model_dump(mode="json", exclude_none=True),
                )
            ],
            ctx.now,
        )
        assessed = eligibility.stored(hire)
        return view(hire, _facts(licence, allocation, ctx.today, assessed), [], [], assessed)


async def update_hire(
    session: AsyncSession, ctx: cases.Context, hire_id: str, data: HireUpdate, if_match: IfMatch
) -> HireOut:
    changes = data.model_dump(exclude_unset=True)
    async with write_transaction(session):
        hire = await _find(session, ctx.organisation_id, hire_id, lock=True)
        if_match.check(hire.version)
        locked = sorted(set(changes) - _editable(hire.state))
        if locked:
            raise Conflict(
                "fields_locked",
                f"in state {hire.state} these details can no longer be changed here: {', '.join(locked)}",
                reasons=[
                    Reason(
                        code="field_locked",
                        message=f"{name} is fixed once the CoS is in process; "
                        "after employment starts use the change_* actions, which open SMS reports",
                    )
                    for name in locked
                ],
            )
        for name, value in changes.items():
            setattr(hire, name, value.value if hasattr(value, "value") else value)
        if eligibility.INPUT_FIELDS & set(changes):
            await _assess(session, ctx, hire)
        if _ANCHOR_FIELDS & set(changes):
            await _rearm(session, ctx, hire, _ANCHOR_FIELDS & set(changes))
        hire.version += 1
        hire.updated_at = ctx.now
        await _flush_unique(session, hire)
        licence, allocation = await _licence_and_allocation(session, ctx.organisation_id)
        out = (await Summaries.load(session, [hire.id])).of(hire, licence, allocation, ctx.today, ctx.book)
        await audit.record(
            session,
            ctx.organisation_id,
            ctx.actor,
            [EventDraft("hire.updated", "hire", hire.id, data=data.model_dump(mode="json", exclude_unset=True))],
            ctx.now,
        )
        return out


async def _rearm(session: AsyncSession, ctx: cases.Context, hire: Hire, changed: frozenset[str]) -> None:
    """A date or calendar a deadline counts by changed: recompute the current state's deadlines that
    read it, counted from the day the case entered the state. A kind that already breached stays
    breached and is not armed again."""
    armed = HIRE.state(hire.state).arms
    kinds = set(armed) if "work_nation" in changed else {k for f in changed for k in _REARMS.get(f, ()) if k in armed}
    kinds -= await deadlines.breached_kinds(session, hire.id, kinds)
    if kinds:
        await deadlines.settle(session, hire.id, dict.fromkeys(kinds, "cancelled"), ctx.now)
        entered = getattr(hire, _ENTERED_ON.get(hire.state, ""), None) or ctx.today
        _arm(session, ctx, hire, sorted(kinds), counted_from=entered)


def _editable(state: str) -> frozenset[str]:
    if state in _PRE_COS_STATES:
        return frozenset(HireUpdate.model_fields)
    return _IN_PROCESS_EDITABLE if state in _IN_PROCESS_STATES else _ALWAYS_EDITABLE


async def _flush_unique(session: AsyncSession, hire: Hire) -> None:
    external_id = hire.external_id  # read now: a failed flush expires the row
    try:
        await session.flush()
    except IntegrityError as exc:
        if "external_id" not in str(exc.orig):
            raise
        raise Conflict(
            "external_id_taken", f"another hire of this organisation already has external_id {external_id!r}"
        ) from exc


async def _assess(session: AsyncSession, ctx: cases.Context, hire: Hire) -> None:
    unmapped = None
    if hire.hris_job_code and hire.soc_code is None:
        hire.soc_code = await soc_for_job_code(session, ctx.organisation_id, hire.hris_job_code)
        unmapped = hire.hris_job_code if hire.soc_code is None else None
    eligibility.assess(hire, ctx.book, ctx.today, unmapped_job_code=unmapped)


async def apply_action(
    session: AsyncSession,
    ctx: cases.Context,
    hire_id: str,
    action: str,
    raw_payload: dict[str, Any] | None,
    if_match: IfMatch,
) -> HireOut:
    cases.check_action_exists(HIRE, action)
    payload = cases.parse_payload(ACTION_PAYLOADS[action], raw_payload)
    async with write_transaction(session):
        licence, allocation = await _licence_and_allocation(
            session, ctx.organisation_id, lock_licence=True, lock_allocation=action in _USES_ALLOCATION
        )
        hire = await _find(session, ctx.organisation_id, hire_id, lock=True)
        if_match.check(hire.version)
        events = await _act(session, ctx, hire, action, payload, licence, allocation, by_system=False)
        await session.flush()
        out = (await Summaries.load(session, [hire.id])).of(hire, licence, allocation, ctx.today, ctx.book)
        await audit.record(session, ctx.organisation_id, ctx.actor, events, ctx.now)
        return out


async def _act(
    session: AsyncSession,
    ctx: cases.Context,
    hire: Hire,
    action: str,
    payload: BaseModel,
    licence: Licence | None,
    allocation: CosAllocation | None,
    *,
    by_system: bool,
) -> list[EventDraft]:
    """Run one action on a locked case and apply its effects; the caller records the events."""
    if isinstance(payload, AssignCos):
        # The rules apply by the CoS assignment date, which this action fixes.
        hire.cos_assigned_on = payload.assigned_on or ctx.today
    declared = HIRE.find_action(action)
    if declared is not None and ELIGIBLE in declared.guards:
        await _assess(session, ctx, hire)  # the rules in force now, not on the day of the last edit
    open_obligations = await obligations.count_open(session, hire.id)
    facts = _facts(licence, allocation, ctx.today, eligibility.stored(hire), open_obligations)
    applied = cases.run(HIRE, hire, action, GuardInput(hire, facts, payload.model_dump()), by_system=by_system)
    _record(hire, applied.from_state, payload, ctx.today)
    if applied.action == "assign_cos" and applied.from_state == "draft":
        assert allocation is not None  # the undefined_cos_left guard refused otherwise
        allocation.used += 1
        hire.uses_allocation = True
    if applied.action == "withdraw" and hire.uses_allocation and applied.from_state in _BEFORE_VISA_APPLICATION:
        if allocation is not None:
            allocation.used = max(allocation.used - 1, 0)
        hire.uses_allocation = False
    hire.version += 1
    hire.updated_at = ctx.now
    events = [cases.transition_event("hire", hire.id, applied, payload)]
    if applied.settled:
        await deadlines.settle(session, hire.id, applied.settled, ctx.now)
    if applied.armed:
        _arm(session, ctx, hire, applied.armed)
    if applied.opens_obligation:
        _, opened = deadlines.open_obligation(
            session,
            applied.opens_obligation,
            _trigger_date(payload, ctx.today),
            _worker_nation(ctx, hire),
            ctx.book,
            organisation_id=ctx.organisation_id,
            clock_id=ctx.clock_id,
            hire_id=hire.id,
            details={"action": applied.action, **payload.model_dump(mode="json", exclude_none=True)},
            now=ctx.now,
        )
        events.append(opened)
    return events


def _worker_nation(ctx: cases.Context, hire: Hire) -> Nation:
    """Worker deadlines count the work location's bank holidays; until it is known, the sponsor's."""
    return Nation(hire.work_nation) if hire.work_nation else ctx.sponsor_nation


def anchor_for(hire: Hire, today: date, nation: Nation) -> Anchor:
    return Anchor(
        today=today,
        nation=nation,
        start_date=hire.start_date,
        cos_granted_on=hire.cos_granted_on,
        cos_assigned_on=hire.cos_assigned_on,
        visa_applied_on=hire.visa_applied_on,
        visa_service=hire.visa_service,
        inside_uk=hire.inside_uk,
        permission_start_date=hire.permission_start_date,
        permission_end_date=hire.permission_end_date,
        permission_notified_on=hire.visa_granted_on,
        ended_on=hire.ended_on,
    )


def _arm(
    session: AsyncSession, ctx: cases.Context, hire: Hire, kinds: Sequence[str], *, counted_from: date | None = None
) -> None:
    """Stage the deadlines of these kinds, counted from `counted_from` (default: today, the trigger)."""
    deadlines.arm(
        session,
        kinds,
        anchor_for(hire, counted_from or ctx.today, _worker_nation(ctx, hire)),
        ctx.book,
        organisation_id=ctx.organisation_id,
        clock_id=ctx.clock_id,
        subject_type="hire",
        subject_id=hire.id,
        now=ctx.now,
    )


#: The payload date each reportable event counts from (facts §5.1); otherwise the day it is recorded.
_TRIGGER_FIELDS = ("ended_on", "absence_start_date", "leave_start_date", "effective_date")


def _trigger_date(payload: BaseModel, today: date) -> date:
    for name in _TRIGGER_FIELDS:
        value = getattr(payload, name, None)
        if isinstance(value, date):
            return value
    return today


def _record(hire: Hire, from_state: str, payload: BaseModel, today: date) -> None:
    """Keep the dates and facts an action states on the case itself."""
    match payload:
        case RequestCos():
            hire.cos_type, hire.cos_requested_on = "defined", payload.requested_on or today
        case GrantCos():
            hire.cos_granted_on = payload.granted_on or today
        case AssignCos():
            hire.cos_reference = payload.cos_reference
            hire.cos_type = "defined" if from_state == "cos_granted" else "undefined"
        case SubmitVisaApplication():
            hire.visa_applied_on, hire.visa_service = payload.application_date, payload.service.value
        case GrantVisa():
            hire.permission_start_date = payload.permission_start_date
            hire.permission_end_date = payload.permission_end_date
            hire.visa_granted_on = today
        case CompleteRtwCheck():
            hire.rtw_check_date, hire.rtw_method, hire.rtw_share_code = (
                payload.rtw_check_date,
                payload.method.value,
                payload.share_code,
            )
            new_end = getattr(payload, "new_permission_end_date", None)
            if new_end is not None:
                hire.permission_end_date = new_end
        case StartEmployment():
            hire.actual_start_date = payload.actual_start_date
        case EndSponsorship():
            hire.ended_on, hire.end_reason = payload.ended_on, payload.reason
        case ChangeSalary():
            hire.salary = payload.new_salary
        case ChangeJob():
            hire.job_title = payload.job_title
        case ChangeWorkLocation():
            hire.work_location = payload.work_location
            hire.work_nation = payload.work_nation.value if payload.work_nation else hire.work_nation
        case _:
            reason = getattr(payload, "reason", None)
            if hire.state in {"withdrawn", "sponsorship_ended"}:  # withdraw, record_no_show
                hire.ended_on, hire.end_reason = today, reason


# --- cascades from the licence (design §2.1) ------------------------------------------------------


async def release_waiting(session: AsyncSession, ctx: cases.Context) -> list[EventDraft]:
    """The licence became active: every hire waiting for it moves on to draft."""
    return await _cascade(session, ctx, ("awaiting_licence",), "licence_activated", {})


async def end_all_sponsorship(session: AsyncSession, ctx: cases.Context, reason: str, on: date) -> list[EventDraft]:
    """Revocation or surrender: pre-employment cases are withdrawn, workers' sponsorship ends."""
    before = [s for s in HIRE.find_action("withdraw").sources if s != "rtw_verified"]  # type: ignore[union-attr]
    events = await _cascade(session, ctx, before, "withdraw", {"reason": reason})
    events += await _cascade(
        session, ctx, ("rtw_verified", "employed"), "end_sponsorship", {"ended_on": on.isoformat(), "reason": reason}
    )
    return events


async def _cascade(
    session: AsyncSession, ctx: cases.Context, states: Sequence[str], action: str, raw: dict[str, Any]
) -> list[EventDraft]:
    # The caller holds the licence; the allocation next, then the cases: the writers' lock order.
    licence, allocation = await _licence_and_allocation(
        session, ctx.organisation_id, lock_allocation=action in _USES_ALLOCATION
    )
    hires = list(
        (
            await session.execute(
                for_update(select(Hire).where(Hire.organisation_id == ctx.organisation_id, Hire.state.in_(states)))
            )
        ).scalars()
    )
    payload = ACTION_PAYLOADS[action].model_validate(raw) if action in ACTION_PAYLOADS else _Empty()
    events: list[EventDraft] = []
    for hire in hires:
        events += await _act(session, ctx, hire, action, payload, licence, allocation, by_system=True)
    return events


async def fire_system_action(session: AsyncSession, ctx: cases.Context, hire: Hire, action: str) -> list[EventDraft]:
    """A deadline's breach fires a system action (`expire_cos`) on a case the caller has locked."""
    licence, allocation = await _licence_and_allocation(session, ctx.organisation_id)
    return await _act(session, ctx, hire, action, _Empty(), licence, allocation, by_system=True)


class _Empty(BaseModel):
    """The payload of a system action, which carries no fields."""
