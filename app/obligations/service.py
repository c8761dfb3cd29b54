"""SMS reporting obligations: open them (with the deadline that watches each), report or waive them,
mark them overdue when that deadline breaches, and record sponsor-level changes that create them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import Keyset, Page, narrowed
from app.api.etags import IfMatch
from app.audit import service as audit
from app.audit.schemas import Actor
from app.audit.service import EventDraft
from app.calendar import Nation
from app.context import Context, uk_today
from app.db.folding import new_row
from app.db.transactions import for_update, read_transaction, write_transaction
from app.deadlines import service as deadlines
from app.errors import Conflict, NotFound, ProblemError
from app.ids import new_id
from app.obligations.models import Obligation
from app.obligations.policy import obligation_due
from app.obligations.schemas import ObligationOut, OrganisationChangeIn, Report, Waive

OWED = ("open", "overdue")
_BY_DUE = Keyset(("due_on", Obligation.due_on, date.fromisoformat), ("id", Obligation.id, str))


def open_obligation(
    session: AsyncSession,
    ctx: Context,
    kind: str,
    trigger_date: date,
    nation: Nation,
    *,
    hire_id: str | None,
    details: dict[str, Any],
) -> tuple[Obligation, EventDraft]:
    """Stage an SMS reporting obligation and the deadline that watches it, in the caller's transaction."""
    spec = obligation_due(kind, trigger_date, nation, ctx.book)
    obligation_id = new_id("obl")
    deadline = deadlines.stage(
        session, ctx, [spec], subject_type="obligation", subject_id=obligation_id, kind=f"report_{kind}"
    )
    obligation = new_row(
        Obligation,
        id=obligation_id,
        organisation_id=ctx.organisation_id,
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
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    session.add(obligation)
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


async def lock_for_breach(session: AsyncSession, obligation_id: str) -> Obligation | None:
    """The obligation whose deadline breaches, unless a person holds it now (then it waits a pass)."""
    stmt = select(Obligation).where(Obligation.id == obligation_id)
    return (await session.execute(for_update(stmt, skip_locked=True))).scalar_one_or_none()


def on_breach(obligation: Obligation, now: datetime) -> list[EventDraft]:
    """Its report deadline passed: an open obligation becomes overdue (reporting stays possible, late)."""
    if obligation.status != "open":
        return []
    obligation.status, obligation.version, obligation.updated_at = "overdue", obligation.version + 1, now
    return [
        EventDraft(
            "obligation.overdue",
            "obligation",
            obligation.id,
            from_state="open",
            to_state="overdue",
            case_id=obligation.hire_id,
            data={"kind": obligation.kind, "due_on": obligation.due_on.isoformat()},
        )
    ]


async def count_overdue(session: AsyncSession, organisation_id: str) -> int:
    async with read_transaction(session):
        found = await session.execute(
            select(func.count()).where(Obligation.organisation_id == organisation_id, Obligation.status == "overdue")
        )
        return int(found.scalar_one())


async def count_open(session: AsyncSession, hire_id: str) -> int:
    return int(
        (
            await session.execute(
                select(func.count()).where(Obligation.hire_id == hire_id, Obligation.status.in_(OWED))
            )
        ).scalar_one()
    )


@dataclass(frozen=True)
class ObligationFilters:
    status: tuple[str, ...] = ()
    kind: str | None = None
    hire_id: str | None = None
    due_before: date | None = None
    due_after: date | None = None


async def list_obligations(
    session: AsyncSession, organisation_id: str, filters: ObligationFilters, cursor: dict[str, Any] | None, limit: int
) -> Page[ObligationOut]:
    """Soonest due first; the cursor carries (due_on, id)."""
    stmt = _BY_DUE.apply(select(Obligation).where(Obligation.organisation_id == organisation_id), cursor, limit)
    stmt = narrowed(
        stmt,
        Obligation.status.in_(filters.status) if filters.status else None,
        Obligation.kind == filters.kind if filters.kind else None,
        Obligation.hire_id == filters.hire_id if filters.hire_id else None,
        Obligation.due_on <= filters.due_before if filters.due_before else None,
        Obligation.due_on >= filters.due_after if filters.due_after else None,
    )
    async with read_transaction(session):
        rows = list((await session.execute(stmt)).scalars())
    return _BY_DUE.page(rows, limit, ObligationOut.model_validate)


async def get_obligation(session: AsyncSession, organisation_id: str, obligation_id: str) -> ObligationOut:
    async with read_transaction(session):
        return ObligationOut.model_validate(await _find(session, organisation_id, obligation_id))


async def _find(session: AsyncSession, organisation_id: str, obligation_id: str, *, lock: bool = False) -> Obligation:
    stmt = select(Obligation).where(Obligation.id == obligation_id, Obligation.organisation_id == organisation_id)
    found = (await session.execute(for_update(stmt) if lock else stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("obligation")
    return found


async def resolve(
    session: AsyncSession,
    organisation_id: str,
    obligation_id: str,
    action: str,
    payload: Report | Waive,
    if_match: IfMatch,
    actor: Actor,
    now: datetime,
) -> ObligationOut:
    """Report (late if after the due date) or waive an obligation, and settle its deadline."""
    today = uk_today(now)
    async with write_transaction(session):
        obligation = await _find(session, organisation_id, obligation_id, lock=True)
        if_match.check(obligation.version)
        if obligation.status not in OWED:
            raise Conflict(
                "obligation_settled", f"the obligation is already {obligation.status}: nothing left to {action}"
            )
        before = obligation.status
        if isinstance(payload, Report):
            reported_on = payload.reported_on or today
            if reported_on > today:
                raise ProblemError(422, "date_in_future", "reported_on cannot be after today")
            obligation.status, obligation.sms_reference, obligation.reported_on = (
                "reported",
                payload.sms_reference,
                reported_on,
            )
            obligation.reported_late = reported_on > obligation.due_on
            outcome = "met"
        else:
            obligation.status, obligation.waived_reason, outcome = "waived", payload.reason, "cancelled"
        obligation.version += 1
        obligation.updated_at = now
        await deadlines.settle_one(session, obligation.deadline_id, outcome, now)
        await audit.record(
            session,
            organisation_id,
            actor,
            [
                EventDraft(
                    f"obligation.{obligation.status}",
                    "obligation",
                    obligation.id,
                    action=action,
                    from_state=before,
                    to_state=obligation.status,
                    case_id=obligation.hire_id,
                    data={"hire_id": obligation.hire_id, "kind": obligation.kind, **payload.model_dump(mode="json")},
                )
            ],
            now,
        )
    return ObligationOut.model_validate(obligation)


async def record_organisation_change(
    session: AsyncSession, ctx: Context, change: OrganisationChangeIn
) -> ObligationOut:
    """A sponsor-level change (name, address, key personnel, ownership, trading, size): 20 working days
    to report it, counted with the bank holidays of the sponsor's main address."""
    if change.effective_date > ctx.today:
        raise ProblemError(422, "date_in_future", "a change is recorded once it has happened")
    async with write_transaction(session):
        obligation, opened = open_obligation(
            session,
            ctx,
            change.kind.value,
            change.effective_date,
            ctx.sponsor_nation,
            hire_id=None,
            details={"description": change.description, **change.details},
        )
        await session.flush()
        await audit.record(session, ctx.organisation_id, ctx.actor, [opened], ctx.now)
    return ObligationOut.model_validate(obligation)
