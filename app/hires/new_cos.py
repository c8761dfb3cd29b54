"""An employed worker's new CoS (facts §3.4, §5.1 W6): an extension in the same occupation before
permission ends, or a change of employment into another SOC code. Each is judged under the rules of its
own assignment date and leads to its own in-country application; the current job and CoS stay in force,
the new one kept apart (`Hire.pending_cos`), until the new permission is granted."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.hires import eligibility
from app.hires.models import Hire
from app.hires.schemas import AssignNewCos
from app.rules import RuleBook, RuleNotFound, ids


def protected(hire: Hire, book: RuleBook, on: date) -> bool:
    """Transitional protection (facts §3.4): a worker on the Skilled Worker route before the cut-off, or
    with a CoS assigned before it, keeps access to RQF 3-5 occupations for extensions and changes."""
    if hire.held_skilled_worker_permission_before_2025_07_22:
        return True
    try:
        cut_off = book.date_value(ids.TRANSITIONAL_PROTECTION, on)
    except RuleNotFound:
        return False
    return any(d is not None and d < cut_off for d in (hire.cos_assigned_on, hire.permission_start_date))


def assess(hire: Hire, payload: AssignNewCos, book: RuleBook, today: date) -> eligibility.Assessment:
    on = payload.assigned_on or today
    return eligibility.for_new_cos(
        hire,
        book,
        on,
        soc_code=payload.soc_code,
        salary=payload.salary,
        weekly_hours=payload.weekly_hours,
        protected=protected(hire, book, on),
    )


def keep(hire: Hire, payload: AssignNewCos, assessed: eligibility.Assessment, book: RuleBook, today: date) -> None:
    """Keep the new CoS apart from the current one until its permission is granted."""
    on = payload.assigned_on or today
    hire.pending_cos = {
        **payload.model_dump(mode="json", exclude_none=True),
        "assigned_on": on.isoformat(),
        "protected": protected(hire, book, on),
        "eligibility_status": assessed[0],
        "eligibility": assessed[1],
    }


def take_effect(hire: Hire) -> None:
    """The new permission is granted: the new CoS and its job become the case's."""
    new = hire.pending_cos
    assert new is not None  # grant_new_permission leaves only new_visa_applied, entered with one
    hire.soc_code = new.get("soc_code", hire.soc_code)
    hire.job_title = new.get("job_title", hire.job_title)
    if "weekly_hours" in new:
        hire.weekly_hours = Decimal(new["weekly_hours"])
    if "salary" in new:
        hire.salary = Decimal(new["salary"])
    hire.cos_reference, hire.cos_type = new["cos_reference"], "undefined"
    hire.cos_assigned_on, hire.cos_salary = date.fromisoformat(new["assigned_on"]), hire.salary
    hire.held_skilled_worker_permission_before_2025_07_22 = bool(new["protected"])
    hire.eligibility_status, hire.eligibility = new["eligibility_status"], new["eligibility"]
    hire.salary_option = new["eligibility"].get("salary_option")
    hire.pending_cos = None
