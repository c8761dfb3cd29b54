"""What an employed worker's recorded absence, leave and pay come to before an action runs (facts §5.1):
whether a reporting threshold is passed with it and the date its report counts from, and the pay the
worker's CoS requires. The counting itself is `app.deadlines.policy`'s; this module reads the case and
the reports it already owes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.calendar import Nation
from app.deadlines.policy import absence_passes_threshold, absence_watch_due, unpaid_leave_passing_days
from app.hires import eligibility
from app.hires.models import Hire
from app.hires.schemas import ChangeSalary, RecordAbsence, RecordReturn, RecordUnpaidLeave
from app.obligations.models import Obligation
from app.rules import RuleBook, ids


@dataclass(frozen=True)
class Counted:
    report_trigger: date | None = None
    salary_required: Decimal | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """Added to the details of the obligation the action opens."""


def periods(pairs: list[list[str | None]] | None) -> tuple[tuple[date, date | None], ...]:
    return tuple((date.fromisoformat(str(s)), date.fromisoformat(e) if e else None) for s, e in pairs or [])


def with_leave(hire: Hire, start: date, end: date | None) -> list[list[str | None]]:
    """The recorded leave with this period; recording the same first day again gives its last day."""
    kept = [[s, e] for s, e in hire.unpaid_leave or [] if s != start.isoformat()]
    return sorted([*kept, [start.isoformat(), end.isoformat() if end else None]], key=lambda p: str(p[0]))


async def count(
    session: AsyncSession, hire: Hire, payload: BaseModel, book: RuleBook, today: date, nation: Nation
) -> Counted:
    match payload:
        case RecordAbsence(absence_start_date=start, absence_end_date=end):
            passed = (
                absence_passes_threshold(start, end, nation, book)
                if end is not None
                else absence_watch_due(start, nation, book) <= today
            )
            return Counted(report_trigger=start if passed else None)
        case RecordReturn(absence_end_date=last):
            since = hire.absent_since
            if since is None or not absence_passes_threshold(since, last, nation, book):
                return Counted()
            opened = await _triggers(session, hire.id, "unauthorised_absence")
            return Counted(report_trigger=None if since in opened else since)
        case RecordUnpaidLeave(leave_start_date=start, leave_end_date=end):
            recorded = periods(with_leave(hire, start, end))
            limit = book.duration(ids.ABSENCE_UNPAID_LEAVE_THRESHOLD, start)
            reported = {d.year for d in await _triggers(session, hire.id, "unpaid_leave")}
            due = [
                d
                for year, d in unpaid_leave_passing_days(recorded, limit).items()
                if d <= today and year not in reported
            ]
            return Counted(report_trigger=min(due) if due else None)
        case ChangeSalary(new_salary=new):
            return _salary(hire, book, new, today)
    return Counted()


def _salary(hire: Hire, book: RuleBook, new: Decimal, today: date) -> Counted:
    result = eligibility.with_salary(hire, book, new, today)
    required = result.salary_required if result else None
    details: dict[str, Any] = {
        "cos_salary": f"{hire.cos_salary:.2f}" if hire.cos_salary is not None else None,
        "salary_required": f"{required:.2f}" if required is not None else None,
        "meets_salary_requirement": None if required is None else new >= required,
    }
    if result is not None and result.salary_basis:
        details["salary_requirement"] = result.salary_basis
    return Counted(salary_required=required, details=details)


async def _triggers(session: AsyncSession, hire_id: str, kind: str) -> set[date]:
    """Trigger dates of the case's reports of this kind, however they were settled."""
    rows = await session.execute(
        select(Obligation.trigger_date).where(Obligation.hire_id == hire_id, Obligation.kind == kind)
    )
    return {d for (d,) in rows}
