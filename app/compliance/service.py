"""The compliance summary: what a compliance officer checks each Monday (issue: compliance overview).

Read-only, one transaction, every list from an index on the organisation: deadlines falling due within
the horizon of the rules data, overdue SMS reports, workers whose permission ends soon with no follow-up
right-to-work check, the licence and CoS allocation, and cases in a state for longer than its normal
duration (also rules data, per state).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import Event
from app.calendar import Nation, working_days_between
from app.compliance.schemas import (
    AllocationStatus,
    ComplianceSummary,
    DueDeadline,
    LicenceStatus,
    OverdueObligation,
    PermissionEnding,
    StuckCase,
)
from app.context import uk_today
from app.db.transactions import read_transaction
from app.deadlines.models import Deadline
from app.deadlines.policy import due_at
from app.deadlines.service import NOT_SCHEDULED, OPEN
from app.hires.models import Hire
from app.licences.models import CosAllocation, Licence
from app.obligations.models import Obligation
from app.rules import RuleBook, ids
from app.rules.book import RuleNotFound

_RATING = {"active": "A", "b_rated": "B"}
FOLLOW_UP_ACTION = "record_rtw_follow_up"


async def summary(
    session: AsyncSession, organisation_id: str, nation: Nation, now: datetime, book: RuleBook
) -> ComplianceSummary:
    today = uk_today(now)
    horizon = book.duration(ids.COMPLIANCE_DEADLINE_HORIZON, today).after(today, nation)
    window = max(book.day_offsets(ids.RTW_FOLLOW_UP_WARNINGS, today))
    normal_states = _states_with_normal_duration(book)
    async with read_transaction(session):
        due = list(
            (
                await session.execute(
                    select(Deadline)
                    .where(
                        Deadline.organisation_id == organisation_id,
                        Deadline.due_at <= due_at(horizon),
                        Deadline.status.in_(OPEN),
                        Deadline.kind.not_in(NOT_SCHEDULED),
                    )
                    .order_by(Deadline.due_at, Deadline.id)
                )
            ).scalars()
        )
        overdue = list(
            (
                await session.execute(
                    select(Obligation)
                    .where(Obligation.organisation_id == organisation_id, Obligation.status == "overdue")
                    .order_by(Obligation.due_on, Obligation.id)
                )
            ).scalars()
        )
        # Obligations whose deadlines are listed, so each deadline can name its worker.
        owed_ids = [d.subject_id for d in due if d.subject_type == "obligation"]
        owed = {
            o.id: o for o in (await session.execute(select(Obligation).where(Obligation.id.in_(owed_ids)))).scalars()
        }
        hire_ids = {d.subject_id for d in due if d.subject_type == "hire"}
        hire_ids |= {o.hire_id for o in [*overdue, *owed.values()] if o.hire_id}
        hires = {
            h.id: h
            for h in (
                await session.execute(
                    select(Hire).where(
                        Hire.organisation_id == organisation_id,
                        (Hire.id.in_(hire_ids)) | Hire.state.in_(["employed", *normal_states]),
                    )
                )
            ).scalars()
        }
        ending = [
            h
            for h in hires.values()
            if h.state == "employed"
            and h.permission_end_date is not None
            and h.permission_end_date <= today + timedelta(days=window)
        ]
        follow_ups = await _last_follow_ups(session, [h.id for h in ending])
        licence = (await session.execute(Licence.current_of(organisation_id))).scalar_one_or_none()
        allocation = (await session.execute(CosAllocation.of(organisation_id))).scalar_one_or_none()

    def worker(hire_id: str | None) -> str | None:
        hire = hires.get(hire_id) if hire_id else None
        return hire.worker_name if hire else None

    def hire_of(deadline: Deadline) -> str | None:
        if deadline.subject_type == "hire":
            return deadline.subject_id
        obligation = owed.get(deadline.subject_id)
        return obligation.hire_id if obligation else None

    return ComplianceSummary(
        organisation_id=organisation_id,
        as_of=today,
        generated_at=now,
        horizon_until=horizon,
        horizon_rule_id=ids.COMPLIANCE_DEADLINE_HORIZON,
        permission_window_days=window,
        deadlines_due=[
            DueDeadline(
                deadline_id=d.id,
                kind=d.kind,
                status=d.status,
                due_at=d.due_at,
                due_on=uk_today(d.due_at),
                working_days_left=working_days_between(today, uk_today(d.due_at), Nation(d.nation)),
                subject_type=d.subject_type,
                subject_id=d.subject_id,
                hire_id=hire_of(d),
                worker=worker(hire_of(d)),
                basis=d.basis,
            )
            for d in due
        ],
        overdue_obligations=[
            OverdueObligation(
                obligation_id=o.id,
                kind=o.kind,
                hire_id=o.hire_id,
                worker=worker(o.hire_id),
                trigger_date=o.trigger_date,
                due_on=o.due_on,
                working_days_overdue=working_days_between(o.due_on, today, Nation(o.nation)),
            )
            for o in overdue
        ],
        permission_ending_without_follow_up=_permission_ending(ending, follow_ups, today, window),
        licence=_licence(licence),
        allocation=_allocation(allocation, today),
        stuck_cases=_stuck(hires.values(), book, today, nation),
    )


def _states_with_normal_duration(book: RuleBook) -> list[str]:
    return [
        rule_id.removeprefix(ids.NORMAL_DURATION_PREFIX)
        for rule_id in book.rule_ids()
        if rule_id.startswith(ids.NORMAL_DURATION_PREFIX)
    ]


async def _last_follow_ups(session: AsyncSession, hire_ids: list[str]) -> dict[str, date]:
    """The date of each case's latest follow-up right-to-work check, from its audit trail."""
    rows = await session.execute(
        select(Event.case_id, Event.data).where(Event.case_id.in_(hire_ids), Event.action == FOLLOW_UP_ACTION)
    )
    latest: dict[str, date] = {}
    for case_id, data in rows:
        checked = date.fromisoformat(data["rtw_check_date"])
        latest[str(case_id)] = max(checked, latest.get(str(case_id), checked))
    return latest


def _permission_ending(
    hires: Iterable[Hire], follow_ups: dict[str, date], today: date, window: int
) -> list[PermissionEnding]:
    """Employed workers whose permission ends within `window` days (or has ended) with no follow-up
    right-to-work check recorded in the `window` days before it ends."""
    found = []
    for hire in hires:
        end = hire.permission_end_date
        assert end is not None
        checked = follow_ups.get(hire.id)
        if checked is not None and checked >= end - timedelta(days=window):
            continue
        found.append(
            PermissionEnding(
                hire_id=hire.id,
                worker=hire.worker_name,
                permission_end_date=end,
                days_left=(end - today).days,
                last_follow_up_check_date=checked,
            )
        )
    return sorted(found, key=lambda p: (p.permission_end_date, p.hire_id))


def _licence(licence: Licence | None) -> LicenceStatus | None:
    if licence is None:
        return None
    return LicenceStatus(
        state=licence.state,
        licence_number=licence.licence_number,
        rating=_RATING.get(licence.state),
        may_assign_cos=licence.state == "active",
        priority_service=licence.priority_service,
        state_changed_on=licence.state_changed_on,
    )


def _allocation(allocation: CosAllocation | None, today: date) -> AllocationStatus | None:
    if allocation is None:
        return None
    return AllocationStatus(
        year_start=allocation.year_start,
        year_end=allocation.year_end,
        granted=allocation.granted,
        used=allocation.used,
        remaining=allocation.remaining,
        days_to_year_end=(allocation.year_end - today).days,
    )


def _stuck(hires: Iterable[Hire], book: RuleBook, today: date, sponsor_nation: Nation) -> list[StuckCase]:
    found = []
    for hire in hires:
        rule_id = ids.normal_duration(hire.state)
        entered = uk_today(hire.state_entered_at)
        try:
            normal = book.duration(rule_id, entered)
        except RuleNotFound:
            continue  # no normal duration for this state (employed, closed)
        nation = Nation(hire.work_nation) if hire.work_nation else sponsor_nation
        expected = normal.after(entered, nation)
        if today > expected:
            found.append(
                StuckCase(
                    hire_id=hire.id,
                    worker=hire.worker_name,
                    state=hire.state,
                    since=hire.state_entered_at,
                    normal_duration=str(normal),
                    rule_id=rule_id,
                    expected_by=expected,
                    days_over=(today - expected).days,
                )
            )
    return sorted(found, key=lambda s: (s.expected_by, s.hire_id))
