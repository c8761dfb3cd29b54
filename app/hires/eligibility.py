"""A case's eligibility, recomputed from its job, pay, hours and dates (issue: cases use the rules)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from app.errors import Reason
from app.hires.models import Hire
from app.rules.book import RuleBook
from app.rules.eligibility import (
    EligibilityInput,
    EligibilityResult,
    PhdQualification,
    ReasonOutcome,
    check_eligibility,
)
from app.workflow import HIRE
from app.workflow.guards import ELIGIBLE

#: The case fields that change the answer: a change to any re-runs the assessment.
INPUT_FIELDS = frozenset(
    {
        "soc_code",
        "salary",
        "weekly_hours",
        "date_of_birth",
        "switching_from_student_or_graduate",
        "working_towards_professional_qualification",
        "postdoctoral_role",
        "phd",
        "held_skilled_worker_permission_before_2025_07_22",
        "first_sponsored_before_2024_04_04",
        "start_date",
        "hris_job_code",
    }
)
_NEEDED = (
    ("soc_code", "the SOC 2020 code"),
    ("salary", "the annual salary"),
    ("weekly_hours", "the weekly hours"),
)


Assessment = tuple[str, dict[str, Any]]  # (status, the full answer with its reasons)


def evaluate(hire: Hire, book: RuleBook, today: date, *, unmapped_job_code: str | None = None) -> Assessment:
    """Eligibility for a CoS assigned on the case's assignment date (today until assigned). Pure."""
    if unmapped_job_code is not None and hire.soc_code is None:
        return "incomplete", _incomplete(
            "unmapped_job_code",
            f"HRIS job code {unmapped_job_code!r} has no SOC code mapping: add one with "
            f"PUT /v1/job-mappings/{unmapped_job_code} or set soc_code on the case.",
        )
    missing = [label for name, label in _NEEDED if getattr(hire, name) is None]
    if missing:
        return "incomplete", _incomplete(
            "details_missing", f"Eligibility needs {', '.join(missing)}: complete them to assess it."
        )
    assert hire.salary is not None
    return _judged(book, _facts(hire, hire.cos_assigned_on or today, hire.salary))


@lru_cache(maxsize=4096)
def _judged(book: RuleBook, facts: tuple[Any, ...]) -> Assessment:
    """The answer for these facts (`_facts`) under this book, remembered: every view of a case where
    eligibility still decides something asks again, and the check costs more than the rest of the view.
    Remembered by the plain values, so that asking again builds no input to validate. The facts are
    immutable and the book never changes, so an answer cannot go stale; it is shared, never mutated."""
    result = check_eligibility(book, _input(facts))
    return result.status.value, result.model_dump(mode="json")


def _input(facts: tuple[Any, ...]) -> EligibilityInput:
    """The check's input from the facts `_facts` gathers."""
    return EligibilityInput(**dict(zip(_FACT_NAMES, facts, strict=True)))


#: The check's input fields, in the order `_facts` gives their values.
_FACT_NAMES = tuple(EligibilityInput.model_fields)


def _facts(
    hire: Hire,
    on: date,
    salary: Decimal,
    *,
    soc_code: str | None = None,
    weekly_hours: Decimal | None = None,
    protected: bool | None = None,
) -> tuple[Any, ...]:
    """What the check reads of the case, as plain values (`_FACT_NAMES`), with a new CoS's job details
    when given."""
    code, hours = soc_code or hire.soc_code, weekly_hours or hire.weekly_hours
    assert code is not None and hours is not None
    held = hire.held_skilled_worker_permission_before_2025_07_22 if protected is None else protected
    return (
        code,
        salary,
        hours,
        age_on(hire.date_of_birth, hire.visa_applied_on or on),
        hire.switching_from_student_or_graduate,
        hire.working_towards_professional_qualification,
        hire.postdoctoral_role,
        PhdQualification(hire.phd),
        held,
        hire.first_sponsored_before_2024_04_04,
        on,
    )


def for_new_cos(
    hire: Hire,
    book: RuleBook,
    on: date,
    *,
    soc_code: str | None,
    salary: Decimal | None,
    weekly_hours: Decimal | None,
    protected: bool,
) -> Assessment:
    """The answer for a new CoS assigned on `on`, with its own job details, under the rules of that date."""
    pay = salary or hire.salary
    if pay is None or (soc_code or hire.soc_code) is None or (weekly_hours or hire.weekly_hours) is None:
        return "incomplete", _incomplete("details_missing", "The new CoS needs the SOC code, salary and weekly hours.")
    answer = check_eligibility(
        book, _input(_facts(hire, on, pay, soc_code=soc_code, weekly_hours=weekly_hours, protected=protected))
    )
    return answer.status.value, answer.model_dump(mode="json")


def with_salary(hire: Hire, book: RuleBook, salary: Decimal, today: date) -> EligibilityResult | None:
    """The answer for the case's CoS (the rules of its assignment date) at another salary; None when the
    case lacks the job details to assess."""
    if hire.soc_code is None or hire.weekly_hours is None:
        return None
    return check_eligibility(book, _input(_facts(hire, hire.cos_assigned_on or today, salary)))


def age_on(born: date | None, on: date) -> int | None:
    """Whole years of age on `on`. Until the visa application is made, the CoS assignment date (or
    today) stands in for it: the application cannot come earlier, so a worker under the age limit
    then may still turn it by the application; the answer is re-checked when it is recorded."""
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def assess(hire: Hire, book: RuleBook, today: date, *, unmapped_job_code: str | None = None) -> None:
    """Store the case's eligibility as of today, and the salary option it names."""
    hire.eligibility_status, hire.eligibility = evaluate(hire, book, today, unmapped_job_code=unmapped_job_code)
    hire.salary_option = hire.eligibility.get("salary_option") or None


#: States from which an action guarded by eligibility can be taken: there the answer must follow the
#: rules in force today, not those of the day the details were last edited.
LIVE_STATES = frozenset(s for a in HIRE.actions if ELIGIBLE in a.guards for s in a.sources)


def stored(hire: Hire) -> Assessment | None:
    if hire.eligibility_status is None or hire.eligibility is None:
        return None
    return hire.eligibility_status, hire.eligibility


def current(hire: Hire, book: RuleBook, today: date) -> Assessment | None:
    """The eligibility a reader should see now, without writing it: re-evaluated where it still
    decides something, the stored answer elsewhere (or while details are incomplete)."""
    if hire.state in LIVE_STATES and hire.eligibility_status not in (None, "incomplete"):
        return evaluate(hire, book, today)
    return stored(hire)


def _incomplete(code: str, message: str) -> dict[str, Any]:
    return {
        "status": "incomplete",
        "reasons": [{"code": code, "outcome": "needs_review", "message": message}],
    }


def blocking_reasons(assessment: Assessment | None) -> list[Reason]:
    """The reasons a guard shows while the case is not eligible."""
    if assessment is None:
        return []
    return [
        Reason(r["code"], r["message"])
        for r in assessment[1].get("reasons", [])
        if r.get("outcome") != ReasonOutcome.ok.value
    ]
