"""The inbox worker: applies stored HRIS events to cases, each exactly once.

Each event is claimed and applied in a transaction of its own: `FOR UPDATE SKIP LOCKED` on PostgreSQL
(so any number of workers share the inbox), BEGIN IMMEDIATE on SQLite. Its effects (through the hires use
cases, which join the transaction in a savepoint) and its new status commit together, so a worker killed
mid-way leaves the event `received` and nothing half-written; the next pass applies it. One event per
transaction keeps the lock order of an HTTP write (employee link, licence, allocation, case, the
organisation's event counter last), and on SQLite holds the write lock for one event only, so a
receiver never waits behind a batch.

An employee's events apply one at a time in the order received: an event is claimed only when no
earlier event of the same employee is still waiting. An event older than the newest one applied for the
employee changes nothing (a late retry).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Select, exists, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from app.api.etags import IfMatch
from app.audit import service as audit
from app.audit.schemas import Actor
from app.audit.service import EventDraft
from app.calendar import Nation
from app.context import Context, uk_today
from app.db.errors import is_contention, is_sqlite_busy, is_unique_violation
from app.db.transactions import for_update, write_transaction
from app.errors import ProblemError
from app.hires import service as hires
from app.hires.corrections import editable
from app.hires.models import Hire
from app.hires.schemas import HireCreate, HireOut, HireUpdate
from app.integrations.hris.mapping import CaseData, MappingError, Selector, read_record
from app.integrations.hris.models import HrisConnection, HrisEmployee, HrisEvent
from app.integrations.hris.providers import ADAPTERS, EmployeeEvent, Kind, Provider, Unreadable
from app.organisations.models import Organisation
from app.rules.book import RuleBook
from app.sandbox.models import TestClock
from app.workflow import HIRE

log = logging.getLogger("sponsorflow.hris")

#: The connection acts on the case as it is under the row lock, not on a version it read.
_CURRENT = IfMatch(any=True, tags=frozenset())
_ENDED = frozenset({"sponsorship_ended", "closed", "withdrawn", "refused", "expired"})
_END_SPONSORSHIP = frozenset(HIRE.find_action("end_sponsorship").sources)  # type: ignore[union-attr]
_WITHDRAW = frozenset(HIRE.find_action("withdraw").sources)  # type: ignore[union-attr]
#: Once employed, these changes are reported through an in-state action (each opens its SMS report).
_EMPLOYED_ACTIONS = (
    ("change_salary", ("salary",)),
    ("change_job", ("job_title", "hris_job_code")),
    ("change_work_location", ("work_location", "work_nation")),
)
_PENDING = "received"


@dataclass
class Outcome:
    status: str
    code: str | None = None
    reason: str | None = None
    effects: list[str] = field(default_factory=list)
    hire_id: str | None = None
    #: The event's facts are now on the case: later events older than it change nothing.
    applied: bool = False


def _ignored(code: str, reason: str, **kw: Any) -> Outcome:
    return Outcome("ignored", code, reason, **kw)


@dataclass(frozen=True)
class _Setup:
    """What applying needs to know about a connection and its organisation (cached for a pass)."""

    connection: HrisConnection
    actor: Actor
    nation: Nation
    clock_id: str | None
    clock_time: datetime | None

    def context(self, now: datetime, book: RuleBook) -> Context:
        c = self.connection
        return Context(c.organisation_id, self.actor, self.clock_time or now, book, self.nation, self.clock_id)


def claim_statement() -> Select[HrisEvent]:
    """The oldest waiting event whose employee has no earlier event waiting, skipping those another
    worker holds."""
    earlier = aliased(HrisEvent)
    blocked = exists().where(
        earlier.connection_id == HrisEvent.connection_id,
        earlier.employee_id == HrisEvent.employee_id,
        earlier.status == _PENDING,
        earlier.id < HrisEvent.id,
    )
    stmt = select(HrisEvent).where(HrisEvent.status == _PENDING, ~blocked).order_by(HrisEvent.id).limit(1)
    return for_update(stmt, skip_locked=True)


async def apply_pending(sessions: async_sessionmaker[AsyncSession], book: RuleBook, now: datetime) -> int:
    """Apply every waiting event that can be applied now; returns how many were handled. An event a
    database conflict interrupted stays waiting for the next pass."""
    handled = 0
    retry_later: set[str] = set()
    setups: dict[str, _Setup] = {}
    while True:
        async with sessions() as session, write_transaction(session):
            stmt = claim_statement()
            if retry_later:
                stmt = stmt.where(HrisEvent.id.not_in(retry_later))
            row = (await session.execute(stmt)).scalar_one_or_none()
            if row is None:
                return handled
            if await apply_event(session, row, book, now, setups):
                handled += 1
            else:
                retry_later.add(row.id)


async def apply_event(
    session: AsyncSession, row: HrisEvent, book: RuleBook, now: datetime, setups: dict[str, _Setup] | None = None
) -> bool:
    """Apply one locked event inside the caller's transaction and record the outcome on it. False when
    a transient database error interrupted it: it stays waiting, nothing of it written."""
    setups = {} if setups is None else setups
    row.attempts += 1
    row.processed_at = now
    try:
        async with session.begin_nested():
            outcome = await _apply(session, row, await _setup(session, row.connection_id, setups), book, now)
    except ProblemError as exc:
        outcome = Outcome("failed", exc.code, _words(exc))
    except MappingError as exc:
        outcome = Outcome("failed", exc.code, exc.message)
    except Unreadable as exc:
        outcome = Outcome(exc.status, exc.code, exc.message)
    except DBAPIError as exc:
        # Busy, deadlocked, or a lost race to create the employee's link row: the next pass retries it.
        if not (is_sqlite_busy(exc) or is_contention(exc) or is_unique_violation(exc)):
            raise
        log.warning("hris event deferred by a database conflict", extra={"hris_event_id": row.id})
        return False
    row.status, row.reason_code, row.reason = outcome.status, outcome.code, outcome.reason
    row.effects = outcome.effects
    row.hire_id = outcome.hire_id or row.hire_id
    return True


def _words(exc: ProblemError) -> str:
    reasons = "; ".join(r.message for r in exc.reasons or ())
    return f"{exc.detail or exc.code}" + (f": {reasons}" if reasons else "")


async def _setup(session: AsyncSession, connection_id: str, setups: dict[str, _Setup]) -> _Setup:
    if connection_id not in setups:
        connection = await session.get(HrisConnection, connection_id)
        assert connection is not None  # events are deleted with their connection
        org = (
            await session.execute(
                select(Organisation.nation, Organisation.test_clock_id, TestClock.frozen_time)
                .outerjoin(TestClock, TestClock.id == Organisation.test_clock_id)
                .where(Organisation.id == connection.organisation_id)
            )
        ).one()
        actor = Actor(type="hris", id=connection.id, role=connection.provider)
        setups[connection_id] = _Setup(connection, actor, Nation(org.nation), org.test_clock_id, org.frozen_time)
    return setups[connection_id]


async def _apply(session: AsyncSession, row: HrisEvent, setup: _Setup, book: RuleBook, now: datetime) -> Outcome:
    connection = setup.connection
    delivery = ADAPTERS[Provider(connection.provider)].read(row.body, row.occurred_at)
    event = next((e for e in delivery.events if e.employee_id == row.employee_id), None)
    if event is None:
        raise Unreadable("failed", "malformed_event", f"the delivery no longer names employee {row.employee_id!r}")
    link = await _link(session, connection, event.employee_id, now)
    if link.last_event_at is not None and row.occurred_at < link.last_event_at:
        return _ignored(
            "superseded",
            f"older ({row.occurred_at.isoformat()}) than the event already applied for employee "
            f"{event.employee_id} ({link.last_event_at.isoformat()}): a late delivery changes nothing",
            hire_id=link.hire_id,
        )
    ctx = setup.context(now, book)
    hire = await session.get(Hire, link.hire_id) if link.hire_id else None
    if event.kind is Kind.deleted:
        outcome = await _flag_deleted(session, ctx, link, hire, row)
    elif not event.record and (hire is None or event.kind is not Kind.terminated):
        # Only a termination means something without the employee's fields.
        outcome = _ignored(
            "ids_only",
            f"the event names employee {event.employee_id} but carries none of their fields: "
            "configure the HRIS to send the employee's fields with its events (see the README)",
            hire_id=link.hire_id,
        )
    else:
        data = read_record(event.record, connection.field_map, connection.location_map)
        if hire is not None:
            outcome = await _change(session, ctx, hire, row, event, data)
        else:
            opened = await _open(session, ctx, setup, link, event, data)
            outcome = (
                opened if isinstance(opened, Outcome) else await _adopt(session, ctx, link, opened, row, event, data)
            )
    if outcome.applied:
        link.last_event_at = row.occurred_at
    link.updated_at = now
    return outcome


async def _link(session: AsyncSession, connection: HrisConnection, employee_id: str, now: datetime) -> HrisEmployee:
    """The employee's link row, locked: events of one employee apply one at a time."""
    stmt = select(HrisEmployee).where(
        HrisEmployee.connection_id == connection.id, HrisEmployee.employee_id == employee_id
    )
    link = (await session.execute(for_update(stmt))).scalar_one_or_none()
    if link is None:
        link = HrisEmployee(
            connection_id=connection.id,
            employee_id=employee_id,
            organisation_id=connection.organisation_id,
            hire_id=None,
            last_event_at=None,
            deleted_at=None,
            updated_at=now,
        )
        session.add(link)
    return link


async def _flag_deleted(
    session: AsyncSession, ctx: Context, link: HrisEmployee, hire: Hire | None, row: HrisEvent
) -> Outcome:
    """A case with a history is never deleted: it is flagged, in its audit trail, for a person to close."""
    if hire is None:
        return _ignored("no_case", f"the HRIS deleted employee {link.employee_id}, who has no case here")
    if link.deleted_at is not None:
        return _ignored("already_flagged", "the case is already flagged as deleted in the HRIS", hire_id=hire.id)
    link.deleted_at = row.occurred_at
    data = {"flag": "deleted_in_hris", "connection_id": link.connection_id, "employee_id": link.employee_id}
    await audit.record(
        session, ctx.organisation_id, ctx.actor, [EventDraft("hire.flagged", "hire", hire.id, data=data)], ctx.now
    )
    return Outcome(
        "applied",
        effects=["flagged the case: the employee was deleted in the HRIS (the case and its history are kept)"],
        hire_id=hire.id,
        applied=True,
    )


async def _open(
    session: AsyncSession,
    ctx: Context,
    setup: _Setup,
    link: HrisEmployee,
    event: EmployeeEvent,
    data: CaseData,
) -> Outcome | Hire:
    """No case yet: open one if the employee needs sponsorship. A case HR already opened with the
    employee's id as its external id is returned to be adopted instead."""
    connection = setup.connection
    refusal = Selector(connection.selector_field, tuple(connection.selector_values)).decide(event.record)
    if refusal is not None:
        return _ignored("not_selected", f"employee {event.employee_id} does not need sponsorship: {refusal}")
    existing = (
        await session.execute(
            select(Hire).where(Hire.organisation_id == ctx.organisation_id, Hire.external_id == event.employee_id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    if data.ended or event.kind is Kind.terminated:
        return _ignored("ended_before_case", "employment ended before any case was opened: nothing to sponsor")
    missing = [name for name in ("given_name", "family_name") if name not in data.hire]
    if missing:
        sources = ", ".join(f"{n} from {connection.field_map.get(n)!r}" for n in missing)
        raise MappingError(
            "details_missing",
            f"a case needs {sources}, and the event has no value there: fix the field map or the HRIS, then replay",
        )
    created = await hires.create_hire(
        session, ctx, _validated(HireCreate, {**data.hire, "external_id": event.employee_id}, data)
    )
    link.hire_id = created.id
    return _done(created, [f"opened case {created.id} in {created.state}", *_notes(data)])


async def _adopt(
    session: AsyncSession,
    ctx: Context,
    link: HrisEmployee,
    hire: Hire,
    row: HrisEvent,
    event: EmployeeEvent,
    data: CaseData,
) -> Outcome:
    link.hire_id = hire.id
    linked = f"linked case {hire.id}, which has external id {event.employee_id}"
    outcome = await _change(session, ctx, hire, row, event, data)
    if outcome.code == "no_change":
        return Outcome("applied", effects=[linked], hire_id=hire.id, applied=True)
    outcome.effects.insert(0, linked)
    return outcome


async def _change(
    session: AsyncSession, ctx: Context, hire: Hire, row: HrisEvent, event: EmployeeEvent, data: CaseData
) -> Outcome:
    """The employee has a case: bring it up to date the way the case's state allows."""
    if hire.state in _ENDED:
        return _ignored(
            "case_ended", f"the case is {hire.state}: changes from the HRIS no longer apply", hire_id=hire.id
        )
    if data.ended or event.kind is Kind.terminated:
        return await _end(session, ctx, hire, row, data)
    changes = {name: value for name, value in data.hire.items() if getattr(hire, name) != value}
    if hire.soc_code is None and "hris_job_code" in data.hire:
        changes["hris_job_code"] = data.hire["hris_job_code"]  # still unmapped: look it up again
    if not changes:
        return _ignored("no_change", "nothing sponsorflow keeps on the case changed", hire_id=hire.id)
    if hire.state == "employed":
        return await _report(session, ctx, hire, row, changes, data)
    updated = await hires.update_hire(session, ctx, hire.id, _validated(HireUpdate, changes, data), _CURRENT)
    return _done(updated, [f"updated {', '.join(sorted(changes))}", *_notes(data)])


async def _report(
    session: AsyncSession,
    ctx: Context,
    hire: Hire,
    row: HrisEvent,
    changes: dict[str, Any],
    data: CaseData,
) -> Outcome:
    """An employed worker's pay, job or work location changed: the matching in-state action records it
    and opens the SMS report it owes. Other details are corrected where the case allows it."""
    effects: list[str] = []
    corrected = {name: changes[name] for name in editable(hire.state) & set(changes)}
    if corrected:
        await hires.update_hire(session, ctx, hire.id, _validated(HireUpdate, corrected, data), _CURRENT)
        effects.append(f"updated {', '.join(sorted(corrected))}")
    effective = (data.effective_date or uk_today(row.occurred_at)).isoformat()
    handled = set(corrected)
    for action, fields in _EMPLOYED_ACTIONS:
        if not set(fields) & set(changes):
            continue
        handled |= set(fields)
        payload: dict[str, Any] = {"effective_date": effective}
        if action == "change_salary":
            payload["new_salary"] = str(changes["salary"])
        elif action == "change_job":
            payload["job_title"] = data.hire.get("job_title") or hire.job_title or data.hire["hris_job_code"]
        else:
            payload["work_location"] = data.hire.get("work_location") or hire.work_location
            if "work_nation" in data.hire:
                payload["work_nation"] = data.hire["work_nation"]
        await hires.apply_action(session, ctx, hire.id, action, payload, _CURRENT)
        effects.append(f"{action} effective {effective}")
    unreported = sorted(set(changes) - handled)
    if not effects:
        return _ignored(
            "not_reportable",
            f"{', '.join(unreported)} changed, which no action records once the worker is employed",
            hire_id=hire.id,
        )
    if unreported:
        effects.append(f"note: not applied once employed: {', '.join(unreported)}")
    return Outcome("applied", effects=effects + _notes(data), hire_id=hire.id, applied=True)


async def _end(session: AsyncSession, ctx: Context, hire: Hire, row: HrisEvent, data: CaseData) -> Outcome:
    """Employment ended: sponsorship ends with the last working day, or the offer is withdrawn before
    employment starts."""
    last_day = data.termination_date or uk_today(row.occurred_at)
    reason = f"employment ended in the HRIS ({ctx.actor.role}), last working day {last_day.isoformat()}"
    if hire.state in _END_SPONSORSHIP:
        action, payload = "end_sponsorship", {"ended_on": last_day.isoformat(), "reason": reason}
    elif hire.state in _WITHDRAW:
        action, payload = "withdraw", {"reason": reason + ", before employment started"}
    else:
        return _ignored("not_applicable", f"a case in {hire.state} cannot end", hire_id=hire.id)
    await hires.apply_action(session, ctx, hire.id, action, payload, _CURRENT)
    return Outcome(
        "applied", effects=[f"{action}: last working day {last_day.isoformat()}"], hire_id=hire.id, applied=True
    )


def _done(out: HireOut, effects: list[str]) -> Outcome:
    """Applied, unless the job code is still unmapped: then the case waits in draft without a SOC code
    and the event stays failed, to replay once the mapping exists."""
    outcome = Outcome("applied", effects=effects, hire_id=out.id, applied=True)
    for reason in (out.eligibility or {}).get("reasons", []):
        if reason.get("code") == "unmapped_job_code":
            outcome.status, outcome.code = "failed", "unmapped_job_code"
            outcome.reason = f"{reason['message']} Then replay this event."
    return outcome


def _validated(model: type[BaseModel], values: dict[str, Any], data: CaseData) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{data.sources.get(str(e['loc'][0]), e['loc'][0])!r} ({e['loc'][0]}): {e['msg']}" for e in exc.errors()
        )
        raise MappingError("invalid_value", f"the HRIS values do not fit the case: {problems}") from exc


def _notes(data: CaseData) -> list[str]:
    return [f"note: {n}" for n in data.notes]
