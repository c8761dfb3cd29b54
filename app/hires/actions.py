"""Workflow actions on a locked hire case: run the shared machine, keep what the action states on the
case, apply the effects the definition declares; plus what the licence and deadlines do to cases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import cases
from app.audit.service import EventDraft
from app.context import Context
from app.db.transactions import for_update
from app.deadlines.models import Deadline
from app.deadlines.policy import UK_TIME, breach_trigger
from app.hires import counting, eligibility, impacts, new_cos
from app.hires.anchors import anchor_for, trigger_date, worker_nation
from app.hires.models import Hire
from app.hires.queries import USES_ALLOCATION, Standing, assess, lock_standing
from app.hires.queries import facts as hire_facts
from app.hires.queries import standing as read_standing
from app.hires.schemas import (
    ACTION_PAYLOADS,
    AbandonNewCos,
    AssignCos,
    AssignNewCos,
    ChangeJob,
    ChangeSalary,
    ChangeWorkLocation,
    CompleteRtwCheck,
    EndSponsorship,
    GrantCos,
    GrantNewPermission,
    GrantVisa,
    RecordAbsence,
    RecordPermissionChange,
    RecordReturn,
    RecordUnpaidLeave,
    RefusalPayload,
    RequestCos,
    StartEmployment,
    SubmitVisaApplication,
    Withdraw,
)
from app.hires.views import OpenItems
from app.licences.models import CosAllocation
from app.obligations import service as obligations
from app.workflow import HIRE, Applied, GuardInput
from app.workflow.guards import ELIGIBLE, UNDEFINED_COS_STATES

BEFORE_VISA_APPLICATION = frozenset({"cos_assigned"})  # an undefined CoS withdrawn here goes back
_VISA_DECIDED_FROM = frozenset({"visa_applied", "new_visa_applied"})


@dataclass(frozen=True)
class Acted:
    """What an action did: the events to record, and the transition with its effects."""

    events: list[EventDraft]
    applied: Applied
    settled_ids: list[str]  # deadlines settled besides the kinds the transition settles


async def act(
    session: AsyncSession,
    ctx: Context,
    hire: Hire,
    action: str,
    payload: BaseModel,
    standing: Standing,
    allocation: CosAllocation | None,
    *,
    by_system: bool,
    items: OpenItems | None = None,
) -> Acted:
    """Run one action on a locked case and apply its effects; the caller records the events.
    `allocation` is the locked allocation an action in USES_ALLOCATION changes; `items` the case's open
    deadlines and obligations when the caller has read them under the lock (else read here as needed)."""
    if isinstance(payload, AssignCos):
        # The rules apply by the CoS assignment date, which this action fixes.
        hire.cos_assigned_on = payload.assigned_on or ctx.today
    declared = HIRE.find_action(action)
    assessed: eligibility.Assessment | None
    if isinstance(payload, AssignNewCos):
        assessed = new_cos.assess(hire, payload, ctx.book, ctx.today)  # the new CoS's own date and job
    else:
        if declared is not None and ELIGIBLE in declared.guards:
            await assess(session, ctx, hire)  # the rules in force now, not on the day of the last edit
        assessed = eligibility.stored(hire)
    open_obligations = len(items.obligations) if items is not None else None
    if open_obligations is None and declared is not None and "open_obligations" in declared.reads:
        open_obligations = await obligations.count_open(session, hire.id)
    counted = await counting.count(session, hire, payload, ctx.book, ctx.today, worker_nation(ctx, hire))
    facts = hire_facts(standing, ctx.today, assessed, open_obligations or 0, counted)
    applied = cases.run(HIRE, hire, action, GuardInput(hire, facts, payload.model_dump()), by_system=by_system)
    record(hire, applied.from_state, payload, ctx.today)
    if applied.to_state != applied.from_state:
        hire.state_entered_at = ctx.now
    if isinstance(payload, AssignNewCos) and assessed is not None:
        new_cos.keep(hire, payload, assessed, ctx.book, ctx.today)
    if applied.action in ("assign_cos", "assign_new_cos") and applied.from_state in UNDEFINED_COS_STATES:
        assert allocation is not None  # the undefined_cos_left guard refused otherwise
        allocation.used += 1
        hire.uses_allocation = True
    if applied.action == "withdraw" and hire.uses_allocation and applied.from_state in BEFORE_VISA_APPLICATION:
        if allocation is not None:
            allocation.used = max(allocation.used - 1, 0)
        hire.uses_allocation = False
    hire.version += 1
    hire.updated_at = ctx.now
    nation = worker_nation(ctx, hire)
    events = [cases.transition_event("hire", hire.id, applied, payload)]
    events += await cases.apply_effects(
        session,
        ctx,
        applied,
        subject_type="hire",
        subject_id=hire.id,
        anchor=anchor_for(hire, ctx.today, nation),
        reporting=cases.Reporting(
            counted.report_trigger or trigger_date(payload, ctx.today),
            nation,
            hire.id,
            {"action": applied.action, **payload.model_dump(mode="json", exclude_none=True), **counted.details},
        ),
    )
    reconciled = await impacts.reconcile(session, ctx, hire, items.deadlines if items is not None else None)
    return Acted(events, applied, reconciled.settled)


def record(hire: Hire, from_state: str, payload: BaseModel, today: date) -> None:
    """Keep the dates and facts an action states on the case itself."""
    match payload:
        case RequestCos():
            hire.cos_type, hire.cos_requested_on = "defined", payload.requested_on or today
        case GrantCos():
            hire.cos_granted_on = payload.granted_on or today
        case AssignCos():
            hire.cos_reference, hire.cos_salary = payload.cos_reference, hire.salary
            hire.cos_type = "defined" if from_state == "cos_granted" else "undefined"
        case SubmitVisaApplication():
            hire.visa_applied_on, hire.visa_service = payload.application_date, payload.service.value
        case GrantVisa():
            hire.permission_start_date = payload.permission_start_date
            hire.permission_end_date = payload.permission_end_date
            hire.visa_granted_on = payload.granted_on or today
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
            hire.ended_on, hire.end_reason, hire.pending_cos = payload.ended_on, payload.reason, None
        case GrantNewPermission():
            hire.permission_start_date = payload.permission_start_date
            hire.permission_end_date = payload.permission_end_date
            hire.visa_granted_on = payload.granted_on or today
            new_cos.take_effect(hire)
        case RecordPermissionChange():
            hire.permission_end_date = payload.permission_end_date
        case AbandonNewCos():
            hire.pending_cos = None
        case ChangeSalary():
            hire.salary = payload.new_salary
        case ChangeJob():
            hire.job_title = payload.job_title
        case ChangeWorkLocation():
            hire.work_location = payload.work_location
            hire.work_nation = payload.work_nation.value if payload.work_nation else hire.work_nation
        case RecordAbsence():
            if payload.absence_end_date is None:
                hire.absent_since = payload.absence_start_date
        case RecordReturn():
            hire.absent_since = None
        case RecordUnpaidLeave():
            hire.unpaid_leave = counting.with_leave(hire, payload.leave_start_date, payload.leave_end_date)
        case Withdraw():
            hire.ended_on, hire.end_reason = payload.withdrawn_on or today, payload.reason
        case RefusalPayload():
            hire.ended_on, hire.end_reason = payload.refused_on or today, payload.reason
            if from_state in _VISA_DECIDED_FROM:
                # A refused visa makes the ISC paid on the CoS refundable (facts §2.4, older material).
                hire.isc_refundable, hire.pending_cos = True, None
        case _:
            reason = getattr(payload, "reason", None)
            if hire.state == "sponsorship_ended":  # record_no_show
                hire.ended_on, hire.end_reason = today, reason


# --- cascades from the licence (design §2.1) ------------------------------------------------------

_ENDS_SPONSORSHIP = frozenset({"revoked", "surrendered"})


async def follow_licence(session: AsyncSession, ctx: Context, to_state: str, effective: date) -> list[EventDraft]:
    """The licence entered `to_state` on `effective`: entering `active` releases waiting hires;
    revocation or surrender ends sponsorship for everyone."""
    if to_state == "active":
        return await release_waiting(session, ctx)
    if to_state in _ENDS_SPONSORSHIP:
        return await end_all_sponsorship(session, ctx, f"sponsor licence {to_state} on {effective}", effective)
    return []


async def release_waiting(session: AsyncSession, ctx: Context) -> list[EventDraft]:
    """The licence became active: every hire waiting for it moves on to draft."""
    return await _cascade(session, ctx, ("awaiting_licence",), "licence_activated", {})


async def end_all_sponsorship(session: AsyncSession, ctx: Context, reason: str, on: date) -> list[EventDraft]:
    """Revocation or surrender: pre-employment cases are withdrawn, workers' sponsorship ends."""
    before = [s for s in HIRE.find_action("withdraw").sources if s != "rtw_verified"]  # type: ignore[union-attr]
    events = await _cascade(session, ctx, before, "withdraw", {"reason": reason, "withdrawn_on": on.isoformat()})
    employed = HIRE.find_action("end_sponsorship").sources  # type: ignore[union-attr]
    events += await _cascade(session, ctx, employed, "end_sponsorship", {"ended_on": on.isoformat(), "reason": reason})
    return events


async def _cascade(
    session: AsyncSession, ctx: Context, states: Sequence[str], action: str, raw: dict[str, Any]
) -> list[EventDraft]:
    # The caller holds the licence; the allocation next, then the cases: the writers' lock order.
    standing, allocation = await lock_standing(
        session, ctx.organisation_id, _reads(action), uses_allocation=action in USES_ALLOCATION
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
        events += (await act(session, ctx, hire, action, payload, standing, allocation, by_system=True)).events
    return events


async def fire_system_action(session: AsyncSession, ctx: Context, hire: Hire, action: str) -> list[EventDraft]:
    """A deadline's breach fires a system action (`expire_cos`) on a case the caller has locked."""
    # Read, not locked: the locks of a hire writer come before the case's, which the caller holds.
    standing = await read_standing(session, ctx.organisation_id, _reads(action))
    return (await act(session, ctx, hire, action, _Empty(), standing, None, by_system=True)).events


def _reads(action: str) -> frozenset[str]:
    declared = HIRE.find_action(action)
    return declared.reads if declared is not None else frozenset()


class _Empty(BaseModel):
    """The payload of a system action, which carries no fields."""


# --- deadlines that act on the case (their effect is declared in the workflow's `on_breach`) --------


def acts_on_breach(kind: str) -> bool:
    return HIRE.breach_of(kind) is not None


async def on_breach(session: AsyncSession, ctx: Context, hire: Hire, row: Deadline) -> list[EventDraft]:
    """A deadline of this case breached: do what the definition declares, on the case the caller locked."""
    breach = HIRE.breach_of(row.kind)
    if breach is None:
        return []
    if breach.fires is not None:
        found = HIRE.find_action(breach.fires)
        if found is None or hire.state not in found.sources:
            return []
        return await fire_system_action(session, ctx, hire, breach.fires)
    assert breach.opens_obligation is not None  # the definition is checked: one or the other
    nation = worker_nation(ctx, hire)
    due_on = row.due_at.astimezone(UK_TIME).date()
    opens_from = breach_trigger(row.kind, anchor_for(hire, ctx.today, nation), due_on)
    if opens_from is None:
        return []
    _, event = obligations.open_obligation(
        session, ctx, breach.opens_obligation, opens_from, nation, hire_id=hire.id, details={"deadline_id": row.id}
    )
    return [event]
