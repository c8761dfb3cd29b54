"""Audit packs: one worker's record as Appendix D asks a sponsor to hold it, from what sponsorflow knows.

A pack is built from the case row, its audit trail, its obligations and the deadlines of both, read in
one transaction and in a fixed number of queries for any number of cases (a bundle reads them in
batches). The history sections (right-to-work checks, absences, salary, job and location) are read off
the audit trail, which records every action with its payload, actor and time; the case row holds only
the latest values.

Exporting is itself an audit event: `hire.audit_pack_exported` for one worker, `audit_packs.exported`
for an organisation's bundle, whose progress an `AuditExport` row follows while it streams.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.models import Event
from app.audit.schemas import Actor
from app.audit.service import EventDraft, to_out
from app.audit_packs.schemas import (
    AuditPack,
    PackAbsence,
    PackActor,
    PackChange,
    PackCos,
    PackCounts,
    PackDeadline,
    PackEligibility,
    PackEvent,
    PackJob,
    PackOrganisation,
    PackReport,
    PackRtwCheck,
    PackVisa,
    PackWorker,
)
from app.db.transactions import write_transaction
from app.deadlines.models import Deadline
from app.errors import NotFound
from app.hires.models import Hire
from app.licences.models import Licence
from app.obligations.models import Obligation
from app.organisations.models import ApiKey, Organisation

log = logging.getLogger("sponsorflow.audit")
_RTW_ACTIONS = {"complete_rtw_check": "before_employment", "record_rtw_follow_up": "follow_up"}
_ABSENCES = {
    "record_absence": ("unauthorised_absence", "absence_start_date", "absence_end_date"),
    "record_unpaid_leave": ("unpaid_leave", "leave_start_date", "leave_end_date"),
}
#: History sections: the case fields each follows, and the actions that change them (payload → field).
_HISTORIES: dict[str, tuple[tuple[str, ...], dict[str, dict[str, str]]]] = {
    "salary_history": (("salary", "weekly_hours"), {"change_salary": {"new_salary": "salary"}}),
    "job_history": (
        ("job_title", "soc_code"),
        {"change_job": {"job_title": "job_title", "description": "description"}},
    ),
    "location_history": (
        ("work_location", "work_nation"),
        {"change_work_location": {"work_location": "work_location", "work_nation": "work_nation"}},
    ),
}
_SYSTEM_NAME = "sponsorflow"


async def organisation_of(session: AsyncSession, organisation_id: str) -> PackOrganisation:
    org = await session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound("organisation")
    licence = (await session.execute(Licence.current_of(organisation_id))).scalar_one_or_none()
    return PackOrganisation(
        id=org.id,
        name=org.name,
        licence_number=licence.licence_number if licence else None,
        licence_state=licence.state if licence else None,
    )


async def load_packs(
    session: AsyncSession,
    organisation: PackOrganisation,
    hire_ids: Sequence[str],
    generated_by: PackActor,
    now: datetime,
) -> list[AuditPack]:
    """The packs of these cases of the organisation, in the order given (missing ids are left out).
    Five queries whatever the number of cases; call inside a transaction."""
    ids = list(hire_ids)
    hires = {
        h.id: h
        for h in (
            await session.execute(select(Hire).where(Hire.organisation_id == organisation.id, Hire.id.in_(ids)))
        ).scalars()
    }
    events: dict[str, list[Event]] = defaultdict(list)
    for event in (
        await session.execute(
            select(Event)
            .where(Event.organisation_id == organisation.id, Event.case_id.in_(list(hires)))
            .order_by(Event.seq)
        )
    ).scalars():
        events[str(event.case_id)].append(event)
    obligations: dict[str, list[Obligation]] = defaultdict(list)
    for obligation in (
        await session.execute(
            select(Obligation)
            .where(Obligation.hire_id.in_(list(hires)))
            .order_by(Obligation.trigger_date, Obligation.id)
        )
    ).scalars():
        obligations[str(obligation.hire_id)].append(obligation)
    owner = {o.id: o.hire_id for items in obligations.values() for o in items}
    deadlines: dict[str, list[Deadline]] = defaultdict(list)
    for deadline in (
        await session.execute(
            select(Deadline).where(Deadline.subject_id.in_([*hires, *owner])).order_by(Deadline.due_at, Deadline.id)
        )
    ).scalars():
        deadlines[str(owner.get(deadline.subject_id, deadline.subject_id))].append(deadline)
    key_ids = {e.actor_id for items in events.values() for e in items if e.actor_type == "api_key" and e.actor_id}
    names = dict((await session.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(key_ids)))).all())
    return [
        _pack(hires[i], events[i], obligations[i], deadlines[i], names, organisation, generated_by, now)
        for i in ids
        if i in hires
    ]


def _actor(event: Event, names: dict[str, str]) -> PackActor:
    name = _SYSTEM_NAME if event.actor_type == "system" else names.get(event.actor_id or "", event.actor_id)
    return PackActor(type=event.actor_type, id=event.actor_id, role=event.actor_role, name=name)


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def _pack(
    hire: Hire,
    events: list[Event],
    obligations: list[Obligation],
    deadlines: list[Deadline],
    names: dict[str, str],
    organisation: PackOrganisation,
    generated_by: PackActor,
    now: datetime,
) -> AuditPack:
    by_action = [e for e in events if e.action]
    rtw = [
        PackRtwCheck(
            kind=_RTW_ACTIONS[e.action],
            check_date=_date(e.data.get("rtw_check_date")),
            method=e.data.get("method"),
            share_code=None,
            new_permission_end_date=_date(e.data.get("new_permission_end_date")),
            recorded_at=e.occurred_at,
            recorded_by=_actor(e, names),
            event_id=e.id,
        )
        for e in by_action
        if e.action in _RTW_ACTIONS
    ]
    if rtw and hire.rtw_share_code:
        rtw[-1].share_code = hire.rtw_share_code  # the case keeps the latest check's share code only
    settled_by = {
        e.subject_id: e
        for e in events
        if e.subject_type == "obligation" and e.type in ("obligation.reported", "obligation.waived")
    }
    own_deadline = {d.id: d for d in deadlines}
    reports = [
        PackReport(
            obligation_id=o.id,
            kind=o.kind,
            status=o.status,
            trigger_date=o.trigger_date,
            due_on=o.due_on,
            rule_id=o.rule_id,
            basis=own_deadline[o.deadline_id].basis if o.deadline_id in own_deadline else None,
            sms_reference=o.sms_reference,
            reported_on=o.reported_on,
            late=o.reported_late,
            waived_reason=o.waived_reason,
            settled_by=_actor(settled_by[o.id], names) if o.id in settled_by else None,
            settled_at=settled_by[o.id].occurred_at if o.id in settled_by else None,
        )
        for o in obligations
    ]
    absences = [
        PackAbsence(
            kind=_ABSENCES[e.action][0],
            start_date=_date(e.data.get(_ABSENCES[e.action][1])),
            end_date=_date(e.data.get(_ABSENCES[e.action][2])),
            recorded_at=e.occurred_at,
            recorded_by=_actor(e, names),
            event_id=e.id,
        )
        for e in by_action
        if e.action in _ABSENCES
    ]
    histories = {section: _history(events, fields, actions, names) for section, (fields, actions) in _HISTORIES.items()}
    pack_deadlines = [
        PackDeadline(
            id=d.id,
            kind=d.kind,
            subject_type=d.subject_type,
            subject_id=d.subject_id,
            status=d.status,
            armed_at=d.created_at,
            due_at=d.due_at,
            settled_at=d.settled_at,
            rule_id=d.rule_id,
            rule_source=d.rule_source,
            basis=d.basis,
        )
        for d in deadlines
    ]
    assigned = next((e for e in by_action if e.action == "assign_cos"), None)
    retention = next((d.due_at for d in deadlines if d.kind == "record_retention"), None)
    return AuditPack(
        hire_id=hire.id,
        state=hire.state,
        generated_at=now,
        generated_by=generated_by,
        organisation=organisation,
        worker=PackWorker(
            given_name=hire.given_name,
            family_name=hire.family_name,
            nationality=hire.nationality,
            date_of_birth=hire.date_of_birth,
            email=hire.email,
            external_id=hire.external_id,
            personal_data_erased_at=hire.personal_data_erased_at,
        ),
        job=PackJob(
            job_title=hire.job_title,
            soc_code=hire.soc_code,
            hris_job_code=hire.hris_job_code,
            salary=hire.salary,
            weekly_hours=hire.weekly_hours,
            salary_option=hire.salary_option,
            start_date=hire.start_date,
            actual_start_date=hire.actual_start_date,
            ended_on=hire.ended_on,
            end_reason=hire.end_reason,
            work_location=hire.work_location,
            work_nation=hire.work_nation,
        ),
        cos=PackCos(
            type=hire.cos_type,
            reference=hire.cos_reference,
            requested_on=hire.cos_requested_on,
            granted_on=hire.cos_granted_on,
            assigned_on=hire.cos_assigned_on,
            from_allocation=hire.uses_allocation,
            assigned_by=_actor(assigned, names) if assigned else None,
        ),
        eligibility=PackEligibility(status=hire.eligibility_status, assessment=hire.eligibility),
        visa=PackVisa(
            service=hire.visa_service,
            applied_on=hire.visa_applied_on,
            granted_on=hire.visa_granted_on,
            permission_start_date=hire.permission_start_date,
            permission_end_date=hire.permission_end_date,
        ),
        rtw_checks=rtw,
        reports=reports,
        absences=absences,
        **histories,
        deadlines=pack_deadlines,
        legal_hold=hire.legal_hold,
        retention_date=retention,
        counts=PackCounts(
            events=len(events),
            rtw_checks=len(rtw),
            reports=len(reports),
            late_reports=sum(1 for r in reports if r.late),
            open_reports=sum(1 for r in reports if r.status in ("open", "overdue")),
            deadlines_met=sum(1 for d in deadlines if d.status == "met"),
            deadlines_breached=sum(1 for d in deadlines if d.status == "breached"),
        ),
        events=[PackEvent(**to_out(e).model_dump(), actor_name=_actor(e, names).name) for e in events],
    )


def _history(
    events: list[Event], fields: tuple[str, ...], actions: dict[str, dict[str, str]], names: dict[str, str]
) -> list[PackChange]:
    """The values of `fields` as the case was created, corrected, and changed by the given actions."""
    changes = []
    for e in events:
        if e.type in ("hire.created", "hire.updated"):
            values = {f: e.data[f] for f in fields if f in e.data}
            label, effective = ("created" if e.type == "hire.created" else "corrected"), None
        elif e.action in actions:
            values = {field: e.data[key] for key, field in actions[e.action].items() if key in e.data}
            label, effective = e.action, _date(e.data.get("effective_date"))
        else:
            continue
        if values:
            changes.append(
                PackChange(
                    effective_date=effective,
                    values=values,
                    action=label,
                    recorded_at=e.occurred_at,
                    recorded_by=_actor(e, names),
                    event_id=e.id,
                )
            )
    return changes


def pack_actor(actor: Actor, name: str | None = None) -> PackActor:
    return PackActor(type=actor.type, id=actor.id, role=actor.role, name=name)


async def key_name(session: AsyncSession, actor: Actor) -> str | None:
    if actor.type != "api_key" or actor.id is None:
        return _SYSTEM_NAME if actor.type == "system" else actor.id
    return (await session.execute(select(ApiKey.name).where(ApiKey.id == actor.id))).scalar_one_or_none()


# --- one worker -----------------------------------------------------------------------------------


async def export_hire_pack(
    session: AsyncSession, organisation_id: str, hire_id: str, actor: Actor, now: datetime, document: str
) -> AuditPack:
    """One worker's pack; the export is recorded in the case's own trail (with the format sent)."""
    async with write_transaction(session):
        organisation = await organisation_of(session, organisation_id)
        by = pack_actor(actor, await key_name(session, actor))
        found = await load_packs(session, organisation, [hire_id], by, now)
        if not found:
            raise NotFound("hire")
        await audit.record(
            session,
            organisation_id,
            actor,
            [EventDraft("hire.audit_pack_exported", "hire", hire_id, data={"document": document})],
            now,
        )
    return found[0]
