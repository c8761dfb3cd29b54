"""Records retention (facts §4): a sponsor keeps a worker's records for the employment and two years
after it ends, and no longer.

Closing a case arms its `record_retention` deadline (the end of employment plus the period of the
`records.retention` rule). Once that date has passed, `erase_due` erases the case's personal data and
keeps the skeleton that statistics and proof of process need: states, dates, SOC code, pay, hours, CoS
type, eligibility, and each event's type, action, states, actor and time. The audit trail holds personal
data too (the fields a case was created with, free-text reasons), so the case's event payloads, their
webhook outbox copies and its obligations' details are scrubbed of the same keys. The erasure is itself
an audit event, naming the fields erased but none of their values. A legal hold stops it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.audit.models import Event, OutboxMessage
from app.audit.schemas import Actor
from app.audit.service import SYSTEM, EventDraft
from app.db.transactions import for_update, read_transaction, write_transaction
from app.deadlines.models import Deadline
from app.deadlines.service import OPEN
from app.errors import Conflict, NotFound
from app.hires.models import Hire
from app.obligations.models import Obligation
from app.retention.schemas import LegalHoldIn, LegalHoldOut, PlannedErasure

RETENTION_KIND = "record_retention"
#: What a required name becomes once erased (the column cannot be empty).
ERASED = "[erased]"
#: Personal columns of a case and what each is erased to. The CoS reference and the HRIS employee id
#: identify the worker in other systems; the work location and the end reason are free text that may
#: name a home address or a person.
PERSONAL_FIELDS: dict[str, str | None] = {
    "given_name": ERASED,
    "family_name": ERASED,
    "nationality": None,
    "date_of_birth": None,
    "email": None,
    "external_id": None,
    "rtw_share_code": None,
    "cos_reference": None,
    "work_location": None,
    "end_reason": None,
}
#: Keys of event payloads and obligation details holding the same data, or free text about the worker.
PERSONAL_KEYS = frozenset(
    {
        "given_name",
        "family_name",
        "nationality",
        "date_of_birth",
        "email",
        "external_id",
        "share_code",
        "cos_reference",
        "work_location",
        "end_reason",
        "reason",
        "description",
    }
)
ERASED_KEYS_FIELD = "erased_fields"


def _due(now: datetime) -> Select[Deadline, Hire]:
    """Closed cases whose retention date has passed and whose personal data is still held, read from
    the deadlines' (status, kind, due_at) index."""
    return (
        select(Deadline, Hire)
        .join(Hire, Hire.id == Deadline.subject_id)
        .where(
            Deadline.status.in_(OPEN),
            Deadline.kind == RETENTION_KIND,
            Deadline.due_at <= now,
            Hire.state == "closed",
            Hire.personal_data_erased_at.is_(None),
        )
        .order_by(Deadline.status, Deadline.kind, Deadline.due_at, Deadline.id)
    )


#: Erases what a package above this one keeps about a case (the HRIS inbox's raw deliveries), in the
#: erasure's own transaction; answers how many rows it erased. Given by the caller, as layers require.
AlsoErase = Callable[[AsyncSession, str], Awaitable[int]]


async def erase_due(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    batch_size: int = 100,
    also: Sequence[AlsoErase] = (),
) -> int:
    """Erase every case due at `now` that no legal hold keeps, one transaction per batch; returns how
    many. Rows are claimed with SKIP LOCKED, so several workers share the work and a case locked by a
    person setting a legal hold is left to the next pass, which sees the hold."""
    erased = 0
    while True:
        async with sessions() as session, write_transaction(session):
            stmt = _due(now).where(Hire.legal_hold.is_(False)).limit(batch_size)
            rows = list((await session.execute(for_update(stmt, skip_locked=True))).all())
            drafts: dict[str, list[EventDraft]] = defaultdict(list)
            for deadline, hire in rows:
                drafts[hire.organisation_id].append(await _erase(session, deadline, hire, now, also))
            for organisation_id, events in sorted(drafts.items()):
                await audit.record(session, organisation_id, SYSTEM, events, now)
        erased += len(rows)
        if len(rows) < batch_size:
            return erased


async def _erase(
    session: AsyncSession, deadline: Deadline, hire: Hire, now: datetime, also: Sequence[AlsoErase]
) -> EventDraft:
    fields = sorted(name for name, erased_to in PERSONAL_FIELDS.items() if getattr(hire, name) != erased_to)
    for name, erased_to in PERSONAL_FIELDS.items():
        setattr(hire, name, erased_to)
    hire.personal_data_erased_at, hire.version, hire.updated_at = now, hire.version + 1, now

    events = list((await session.execute(select(Event).where(Event.case_id == hire.id))).scalars())
    scrubbed = {e.id for e in events if _scrub_into(e, "data")}
    if scrubbed:
        outbox = (await session.execute(select(OutboxMessage).where(OutboxMessage.event_id.in_(scrubbed)))).scalars()
        for message in outbox:
            message.payload = {**message.payload, "data": _scrubbed(message.payload.get("data") or {})}
    obligations = list((await session.execute(select(Obligation).where(Obligation.hire_id == hire.id))).scalars())
    for obligation in obligations:
        _scrub_into(obligation, "details")
        obligation.waived_reason = None if obligation.waived_reason is None else ERASED
    elsewhere = sum([await erase(session, hire.id) for erase in also])
    for column, value in Deadline.closed("met", now).items():
        setattr(deadline, column, value)
    return EventDraft(
        "hire.personal_data_erased",
        "hire",
        hire.id,
        data={
            "fields": fields,
            "events_scrubbed": len(scrubbed),
            "obligations": len(obligations),
            "rows_erased_elsewhere": elsewhere,
            "retention_date": deadline.due_at.isoformat(),
            "rule_id": deadline.rule_id,
            "basis": deadline.basis,
        },
    )


def _scrubbed(data: dict[str, Any]) -> dict[str, Any]:
    removed = sorted(PERSONAL_KEYS & set(data))
    if not removed:
        return data
    kept = {k: v for k, v in data.items() if k not in PERSONAL_KEYS}
    return {**kept, ERASED_KEYS_FIELD: sorted({*data.get(ERASED_KEYS_FIELD, []), *removed})}


def _scrub_into(row: Event | Obligation, column: str) -> bool:
    """Replace the JSON column with its scrubbed copy (a new object, so the ORM sees the change)."""
    before: dict[str, Any] = getattr(row, column)
    after = _scrubbed(before)
    if after is before:
        return False
    setattr(row, column, after)
    return True


async def plan(sessions: async_sessionmaker[AsyncSession], now: datetime) -> list[PlannedErasure]:
    """What `erase_due` would erase at `now`, and what a legal hold keeps (`sponsorflow retention
    --dry-run`). Reads only."""
    async with sessions() as session, read_transaction(session):
        rows = list((await session.execute(_due(now))).all())
        counts = dict(
            (
                await session.execute(
                    select(Event.case_id, func.count())
                    .where(Event.case_id.in_([h.id for _, h in rows]))
                    .group_by(Event.case_id)
                )
            ).all()
        )
    return [
        PlannedErasure(
            hire_id=hire.id,
            organisation_id=hire.organisation_id,
            retention_date=deadline.due_at,
            basis=deadline.basis,
            closed_at=hire.state_entered_at,
            legal_hold=hire.legal_hold,
            legal_hold_reason=hire.legal_hold_reason,
            fields=sorted(n for n, erased_to in PERSONAL_FIELDS.items() if getattr(hire, n) != erased_to),
            events=int(counts.get(hire.id, 0)),
        )
        for deadline, hire in rows
    ]


# --- legal hold -----------------------------------------------------------------------------------


async def set_legal_hold(
    session: AsyncSession, organisation_id: str, hire_id: str, data: LegalHoldIn, actor: Actor, now: datetime
) -> LegalHoldOut:
    """Keep the case's personal data past its retention date (a claim, an investigation, a Home Office
    request). Setting it again with another reason replaces the reason."""
    async with write_transaction(session):
        hire = await _locked(session, organisation_id, hire_id)
        if hire.personal_data_erased_at is not None:
            raise Conflict(
                "personal_data_erased",
                f"the case's personal data was erased on {hire.personal_data_erased_at.date()}: "
                "nothing is left to hold",
            )
        if not hire.legal_hold or hire.legal_hold_reason != data.reason:
            hire.legal_hold_since = hire.legal_hold_since if hire.legal_hold else now
            hire.legal_hold, hire.legal_hold_reason = True, data.reason
            await _changed(session, hire, actor, now, "hire.legal_hold_set", {"reason": data.reason})
        return await _view(session, hire)


async def clear_legal_hold(
    session: AsyncSession, organisation_id: str, hire_id: str, actor: Actor, now: datetime
) -> LegalHoldOut:
    """Lift the hold: a case past its retention date is erased on the next pass."""
    async with write_transaction(session):
        hire = await _locked(session, organisation_id, hire_id)
        if hire.legal_hold:
            hire.legal_hold, hire.legal_hold_reason, hire.legal_hold_since = False, None, None
            await _changed(session, hire, actor, now, "hire.legal_hold_cleared", {})
        return await _view(session, hire)


async def get_legal_hold(session: AsyncSession, organisation_id: str, hire_id: str) -> LegalHoldOut:
    async with read_transaction(session):
        hire = (
            await session.execute(select(Hire).where(Hire.id == hire_id, Hire.organisation_id == organisation_id))
        ).scalar_one_or_none()
        if hire is None:
            raise NotFound("hire")
        return await _view(session, hire)


async def _locked(session: AsyncSession, organisation_id: str, hire_id: str) -> Hire:
    stmt = select(Hire).where(Hire.id == hire_id, Hire.organisation_id == organisation_id)
    hire = (await session.execute(for_update(stmt))).scalar_one_or_none()
    if hire is None:
        raise NotFound("hire")
    return hire


async def _changed(
    session: AsyncSession, hire: Hire, actor: Actor, now: datetime, event_type: str, data: dict[str, Any]
) -> None:
    hire.version, hire.updated_at = hire.version + 1, now
    await audit.record(session, hire.organisation_id, actor, [EventDraft(event_type, "hire", hire.id, data=data)], now)


async def _view(session: AsyncSession, hire: Hire) -> LegalHoldOut:
    retention = (
        await session.execute(
            select(Deadline.due_at).where(Deadline.subject_id == hire.id, Deadline.kind == RETENTION_KIND)
        )
    ).scalar_one_or_none()
    return LegalHoldOut(
        hire_id=hire.id,
        version=hire.version,
        legal_hold=hire.legal_hold,
        reason=hire.legal_hold_reason,
        since=hire.legal_hold_since,
        retention_date=retention,
        personal_data_erased_at=hire.personal_data_erased_at,
    )
