"""Subjects and inputs for workflow tests: a hire case that passes every guard unless told otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.workflow import Action, Facts, GuardInput

TODAY = date(2026, 3, 10)


@dataclass
class Case:
    state: str = "draft"
    inside_uk: bool | None = False
    start_date: date | None = date(2026, 3, 2)
    soc_code: str | None = "2136"
    salary: Decimal | None = Decimal("45000")
    permission_start_date: date | None = date(2026, 2, 20)
    permission_end_date: date | None = date(2029, 3, 1)
    rtw_check_date: date | None = date(2026, 2, 25)
    cos_salary: Decimal | None = Decimal("45000")
    cos_requested_on: date | None = None
    cos_granted_on: date | None = None
    cos_assigned_on: date | None = None
    visa_applied_on: date | None = None
    absent_since: date | None = None
    new_cos_assigned_on: date | None = None


@dataclass
class Licence:
    state: str = "draft"


GOOD_FACTS = Facts(
    today=TODAY,
    licence_state="active",
    undefined_cos_remaining=5,
    eligibility_status="eligible",
    open_obligations=0,
    report_trigger=date(2026, 2, 16),  # the absence or leave recorded passes its threshold
)

# A payload that satisfies every action's required fields and date checks for the case above.
GOOD_PAYLOAD: Mapping[str, object] = {
    "cos_reference": "C2G7A1B3D4E5F6",
    "application_date": date(2026, 1, 12),
    "permission_start_date": date(2026, 2, 20),
    "permission_end_date": date(2029, 3, 1),
    "rtw_check_date": date(2026, 2, 25),
    "actual_start_date": date(2026, 3, 2),
    "ended_on": date(2026, 3, 5),
    "reason": "The candidate accepted another offer.",
    "absence_start_date": date(2026, 2, 16),
    "absence_end_date": date(2026, 3, 2),
    "leave_start_date": date(2026, 1, 5),
    "effective_date": date(2026, 3, 1),
    "new_salary": Decimal("46000"),
    "noticed_on": date(2026, 3, 1),
    "description": "Working for another employer.",
}


def passing_case(action: Action[Case], source: str) -> Case:
    # Assigning from draft is an undefined CoS, which only serves a worker inside the UK; a return
    # needs an absence open.
    return Case(
        state=source,
        inside_uk=action.name == "assign_cos" and source == "draft",
        absent_since=date(2026, 2, 16) if action.name == "record_return" else None,
    )


def inputs(subject: Case, facts: Facts = GOOD_FACTS, payload: Mapping[str, object] = GOOD_PAYLOAD) -> GuardInput[Case]:
    return GuardInput(subject=subject, facts=facts, payload=payload)
