"""Guards: pure checks an action must pass, each answering with reasons a person can act on.

The service fills a `GuardInput` (the subject, the validated payload, and facts it loaded) before
firing; guards never touch the database, the clock or the network. A guard returns every reason it
finds (an empty list passes), and the engine runs every guard, so a refusal lists all that is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Generic, Literal, Protocol, TypeVar

from app.errors import Reason


class Subject(Protocol):
    """What the engine needs of any case or licence: the state the machine reads and writes."""

    state: str


class HireSubject(Subject, Protocol):
    """The hire case as guards read it (read-only, so ORM columns and plain dataclasses both fit)."""

    @property
    def inside_uk(self) -> bool | None:
        """Whether the worker applies from inside the UK; None until recorded."""

    @property
    def start_date(self) -> date | None:
        """Planned first day of work (the CoS start date)."""

    @property
    def soc_code(self) -> str | None: ...

    @property
    def salary(self) -> Decimal | None:
        """Annual salary stated on the CoS, in pounds."""

    @property
    def permission_start_date(self) -> date | None: ...

    @property
    def permission_end_date(self) -> date | None: ...

    @property
    def rtw_check_date(self) -> date | None: ...

    @property
    def cos_salary(self) -> Decimal | None:
        """The salary stated on the CoS when it was assigned (later changes do not move it)."""

    @property
    def cos_requested_on(self) -> date | None: ...

    @property
    def cos_granted_on(self) -> date | None: ...

    @property
    def cos_assigned_on(self) -> date | None: ...

    @property
    def visa_applied_on(self) -> date | None: ...

    @property
    def absent_since(self) -> date | None:
        """First day of an unauthorised absence still open (no return recorded)."""

    @property
    def new_cos_assigned_on(self) -> date | None:
        """The assignment date of an employed worker's new CoS, while it is pending."""


@dataclass(frozen=True)
class Facts:
    """What the service looked up for this action. `eligibility_status` is `eligible` when the hire can
    be sponsored; any other value refuses CoS actions with `eligibility_reasons`. `report_trigger` is the
    date a threshold-counted report (absence, unpaid leave) counts from, when the service found the
    threshold passed with this action; `salary_required` the pay the worker's CoS requires."""

    today: date
    licence_state: str | None = None
    undefined_cos_remaining: int | None = None
    undefined_cos_year: tuple[date, date] | None = None  # the allocation year (first day, last day)
    eligibility_status: str | None = None
    eligibility_reasons: Sequence[Reason] = ()
    open_obligations: int = 0
    report_trigger: date | None = None
    salary_required: Decimal | None = None


S_co = TypeVar("S_co", bound=Subject, covariant=True)
# Contravariant so a guard written for any subject (facts or payload only) serves the hire workflow too.
S_contra = TypeVar("S_contra", bound=Subject, contravariant=True)


@dataclass(frozen=True)
class GuardInput(Generic[S_co]):
    subject: S_co
    facts: Facts
    payload: Mapping[str, object] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Guard(Generic[S_contra]):
    """A named check. `needs_payload` guards are skipped when listing available actions, since no
    payload exists until the action is fired. `reads` names the `Facts` fields it looks at beyond
    `today`: the service looks up only the facts some guard will read (tests/workflow checks the list).
    `reasons` names the reason codes it can answer with: the API contract documents them per action."""

    code: str
    description: str
    check: Callable[[GuardInput[S_contra]], list[Reason]]
    needs_payload: bool = False
    reads: frozenset[str] = frozenset()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Condition(Generic[S_contra]):
    """A named predicate deciding whether an action's obligation opens (evaluated before the move)."""

    code: str
    description: str
    holds: Callable[[GuardInput[S_contra]], bool]


def evaluate(
    guards: Sequence[Guard[S_contra]], guard_input: GuardInput[S_contra], *, with_payload: bool = True
) -> list[Reason]:
    """Every reason from every guard, in declaration order."""
    return [
        reason for guard in guards if with_payload or not guard.needs_payload for reason in guard.check(guard_input)
    ]


# --- payload fields ------------------------------------------------------------------------------

FieldKind = Literal["date", "money", "text"]


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: FieldKind


def _payload_date(payload: Mapping[str, object], name: str) -> date | None:
    value = payload.get(name)
    # A datetime is a date too, but comparing one with a date raises: accept calendar dates only.
    return value if isinstance(value, date) and not isinstance(value, datetime) else None


def _payload_money(payload: Mapping[str, object], name: str) -> Decimal | None:
    value = payload.get(name)
    # Money is never a float (design §6); bool is an int subclass and no amount.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return None
    amount = Decimal(value)
    # NaN would raise on comparison, inside a guard.
    return amount if amount.is_finite() else None


def _field_ok(payload: Mapping[str, object], field: Field) -> bool:
    if field.kind == "date":
        return _payload_date(payload, field.name) is not None
    if field.kind == "money":
        return _payload_money(payload, field.name) is not None
    value = payload.get(field.name)
    return isinstance(value, str) and bool(value.strip())


_KIND_HINT: dict[FieldKind, str] = {
    "date": "a date (YYYY-MM-DD)",
    "money": "an amount in pounds (a decimal, never a float)",
    "text": "non-empty text",
}


def required(*fields: Field) -> Guard[Subject]:
    """The payload carries every field, each of the right kind."""

    def check(inp: GuardInput[Subject]) -> list[Reason]:
        reasons = []
        for field in fields:
            if inp.payload.get(field.name) is None:
                reasons.append(Reason("missing_field", f"Give {field.label}.", field.name))
            elif not _field_ok(inp.payload, field):
                hint = _KIND_HINT[field.kind]
                reasons.append(Reason("invalid_field", f"{field.label.capitalize()} must be {hint}.", field.name))
        return reasons

    names = ", ".join(field.name for field in fields)
    return Guard(
        "required_fields",
        f"The action carries: {names}.",
        check,
        needs_payload=True,
        reasons=("missing_field", "invalid_field"),
    )


def not_in_future(field: Field) -> Guard[Subject]:
    """A date that records something done must not lie after today."""

    def check(inp: GuardInput[Subject]) -> list[Reason]:
        value = _payload_date(inp.payload, field.name)
        if value is None or value <= inp.facts.today:
            return []
        return [
            Reason(
                "date_in_future",
                f"{field.label.capitalize()} ({value}) is in the future: record it once it has happened.",
                field.name,
            )
        ]

    return Guard(
        f"{field.name}_not_in_future",
        f"{field.label.capitalize()} is not after today.",
        check,
        needs_payload=True,
        reasons=("date_in_future",),
    )


# --- facts ---------------------------------------------------------------------------------------

_LICENCE_BLOCKS = {
    None: "The organisation has no sponsor licence on record",
    "draft": "The sponsor licence has not been applied for yet",
    "submitted": "The sponsor licence application is still waiting for a decision",
    "b_rated": "The sponsor licence is B-rated (an action plan must restore the A-rating)",
    "suspended": "The sponsor licence is suspended pending a Home Office investigation",
    "refused": "The sponsor licence application was refused",
    "revoked": "The sponsor licence has been revoked",
    "surrendered": "The sponsor licence has been surrendered",
}


def _licence_active(inp: GuardInput[Subject]) -> list[Reason]:
    state = inp.facts.licence_state
    if state == "active":
        return []
    why = _LICENCE_BLOCKS.get(state, f"The sponsor licence is {state}")
    return [
        Reason(
            "licence_not_active",
            f"{why}: no CoS can be requested or assigned until the licence is active and A-rated.",
        )
    ]


LICENCE_ACTIVE: Guard[Subject] = Guard(
    "licence_active",
    "The organisation's sponsor licence is active and A-rated.",
    _licence_active,
    reads=frozenset({"licence_state"}),
    reasons=("licence_not_active",),
)


def _eligible(inp: GuardInput[Subject]) -> list[Reason]:
    status = inp.facts.eligibility_status
    if status == "eligible":
        return []
    if inp.facts.eligibility_reasons:
        return list(inp.facts.eligibility_reasons)
    if status is None:
        return [
            Reason(
                "eligibility_unknown",
                "Eligibility has not been assessed yet: complete the SOC code, salary and start date.",
            )
        ]
    return [Reason("not_eligible", f"The hire is not eligible for Skilled Worker sponsorship ({status}).")]


ELIGIBLE: Guard[Subject] = Guard(
    "eligible",
    "The hire is eligible for Skilled Worker sponsorship under the rules in force.",
    _eligible,
    reads=frozenset({"eligibility_status", "eligibility_reasons"}),
    # Besides these, the blocking reasons of the case's eligibility assessment, passed through.
    reasons=("eligibility_unknown", "not_eligible"),
)


def _no_open_obligations(inp: GuardInput[Subject]) -> list[Reason]:
    count = inp.facts.open_obligations
    if count <= 0:
        return []
    noun = "obligation is" if count == 1 else "obligations are"
    return [
        Reason(
            "open_obligations",
            f"{count} SMS reporting {noun} still open: report or waive them before closing the case.",
        )
    ]


NO_OPEN_OBLIGATIONS: Guard[Subject] = Guard(
    "no_open_obligations",
    "Every SMS reporting obligation of the case is reported or waived.",
    _no_open_obligations,
    reads=frozenset({"open_obligations"}),
    reasons=("open_obligations",),
)


# --- the hire case -------------------------------------------------------------------------------


def _hire_details_complete(inp: GuardInput[HireSubject]) -> list[Reason]:
    case = inp.subject
    details = (
        ("start_date", "the planned start date", case.start_date),
        ("soc_code", "the SOC 2020 occupation code", case.soc_code),
        ("salary", "the annual salary", case.salary),
    )
    return [
        Reason("missing_hire_detail", f"Record {label} before requesting or assigning a CoS.", name)
        for name, label, value in details
        if value is None
    ]


HIRE_DETAILS_COMPLETE: Guard[HireSubject] = Guard(
    "hire_details_complete",
    "The case records the start date, SOC code and salary a CoS states.",
    _hire_details_complete,
    reasons=("missing_hire_detail",),
)

_LOCATION_UNKNOWN = Reason(
    "worker_location_unknown",
    "Record whether the worker applies from inside or outside the UK: it decides between a defined "
    "and an undefined CoS.",
    "inside_uk",
)


def _worker_outside_uk(inp: GuardInput[HireSubject]) -> list[Reason]:
    if inp.subject.inside_uk is None:
        return [_LOCATION_UNKNOWN]
    if inp.subject.inside_uk:
        return [
            Reason(
                "defined_cos_needs_worker_outside_uk",
                "A defined CoS is only for workers applying from outside the UK; this worker is inside "
                "the UK, so assign an undefined CoS from the allocation instead (assign_cos).",
                "inside_uk",
            )
        ]
    return []


WORKER_OUTSIDE_UK: Guard[HireSubject] = Guard(
    "worker_outside_uk",
    "Defined CoS are for workers applying from outside the UK.",
    _worker_outside_uk,
    reasons=("worker_location_unknown", "defined_cos_needs_worker_outside_uk"),
)

# From `draft` a CoS is assigned straight from the undefined allocation; from `cos_granted` it is the
# defined CoS UKVI granted. The source state therefore says which kind is being assigned.
UNDEFINED_COS_STATE = "draft"


def _cos_type_fits_location(inp: GuardInput[HireSubject]) -> list[Reason]:
    inside = inp.subject.inside_uk
    if inside is None:
        return [_LOCATION_UNKNOWN]
    undefined = inp.subject.state == UNDEFINED_COS_STATE
    if undefined and not inside:
        return [
            Reason(
                "undefined_cos_needs_worker_inside_uk",
                "This worker applies from outside the UK and needs a defined CoS: request one "
                "(request_cos) and assign it once granted.",
                "inside_uk",
            )
        ]
    if not undefined and inside:
        return [
            Reason(
                "defined_cos_needs_worker_outside_uk",
                "The granted CoS is a defined CoS, which only serves applications from outside the UK, "
                "but this worker is now recorded as inside the UK: check the worker's location.",
                "inside_uk",
            )
        ]
    return []


COS_TYPE_FITS_LOCATION: Guard[HireSubject] = Guard(
    "cos_type_fits_location",
    "An undefined CoS (assigned from draft) is for a worker inside the UK; a defined CoS for one outside.",
    _cos_type_fits_location,
    reasons=(
        "worker_location_unknown",
        "undefined_cos_needs_worker_inside_uk",
        "defined_cos_needs_worker_outside_uk",
    ),
)


#: States from which a CoS assigned comes from the undefined allocation: a new worker in the UK (from
#: draft), or an employed worker's new CoS (an extension or a change of employment).
UNDEFINED_COS_STATES = frozenset({UNDEFINED_COS_STATE, "employed"})


def _undefined_cos_left(inp: GuardInput[HireSubject]) -> list[Reason]:
    if inp.subject.state not in UNDEFINED_COS_STATES:
        return []
    remaining = inp.facts.undefined_cos_remaining
    if remaining is None:
        return [
            Reason(
                "cos_allocation_unknown",
                "This year's undefined CoS allocation is not recorded: record it before assigning an undefined CoS.",
            )
        ]
    year = inp.facts.undefined_cos_year
    on = _payload_date(inp.payload, "assigned_on") or inp.facts.today
    if year is not None and not year[0] <= on <= year[1]:
        return [
            Reason(
                "allocation_year_not_current",
                f"The recorded undefined CoS allocation runs {year[0]} to {year[1]}, which does not include "
                f"{on}: record the allocation for the current year (PUT /v1/cos-allocation) first.",
            )
        ]
    if remaining <= 0:
        return [
            Reason(
                "no_undefined_cos_left",
                "No undefined CoS left in this year's allocation: request an additional allocation in "
                "the SMS before assigning one.",
            )
        ]
    return []


UNDEFINED_COS_LEFT: Guard[HireSubject] = Guard(
    "undefined_cos_left",
    "Assigning an undefined CoS needs one left in the organisation's annual allocation.",
    _undefined_cos_left,
    reads=frozenset({"undefined_cos_remaining", "undefined_cos_year"}),
    reasons=("cos_allocation_unknown", "allocation_year_not_current", "no_undefined_cos_left"),
)

COS_REFERENCE = Field("cos_reference", "the CoS reference number", "text")
REQUESTED_ON = Field("requested_on", "the CoS request date", "date")
GRANTED_ON = Field("granted_on", "the CoS grant date", "date")
ASSIGNED_ON = Field("assigned_on", "the CoS assignment date", "date")
APPLICATION_DATE = Field("application_date", "the visa application date", "date")
PERMISSION_START = Field("permission_start_date", "the visa permission start date", "date")
PERMISSION_END = Field("permission_end_date", "the visa permission end date", "date")
RTW_CHECK_DATE = Field("rtw_check_date", "the right-to-work check date", "date")
ACTUAL_START = Field("actual_start_date", "the actual start date", "date")
ENDED_ON = Field("ended_on", "the date sponsorship ended", "date")
REASON = Field("reason", "the reason", "text")
ABSENCE_START = Field("absence_start_date", "the first day of absence", "date")
ABSENCE_END = Field("absence_end_date", "the last day of absence", "date")
LEAVE_START = Field("leave_start_date", "the first day of unpaid leave", "date")
LEAVE_END = Field("leave_end_date", "the last day of unpaid leave", "date")
REFUSED_ON = Field("refused_on", "the refusal date", "date")
VISA_GRANTED_ON = Field("granted_on", "the visa grant date", "date")
WITHDRAWN_ON = Field("withdrawn_on", "the withdrawal date", "date")
NEW_PERMISSION_END = Field("permission_end_date", "the new permission end date", "date")
NOTICED_ON = Field("noticed_on", "the date the suspected breach came to light", "date")
DESCRIPTION = Field("description", "what happened", "text")
EFFECTIVE_DATE = Field("effective_date", "the date the change takes effect", "date")
NEW_SALARY = Field("new_salary", "the new annual salary", "money")


def _permission_dates_in_order(inp: GuardInput[HireSubject]) -> list[Reason]:
    start = _payload_date(inp.payload, PERMISSION_START.name)
    end = _payload_date(inp.payload, PERMISSION_END.name)
    reasons = []
    if start is not None and end is not None and end <= start:
        reasons.append(
            Reason(
                "permission_dates_out_of_order",
                f"The visa permission end date ({end}) must be after its start date ({start}).",
                PERMISSION_END.name,
            )
        )
    job_start = inp.subject.start_date
    if end is not None and job_start is not None and end < job_start:
        reasons.append(
            Reason(
                "permission_ends_before_start_date",
                f"The visa permission end date ({end}) is before the start date ({job_start}): the "
                "worker could not start under it. Check the dates on the grant.",
                PERMISSION_END.name,
            )
        )
    return reasons


PERMISSION_DATES_IN_ORDER: Guard[HireSubject] = Guard(
    "permission_dates_in_order",
    "The visa permission ends after it starts, and not before the planned start date.",
    _permission_dates_in_order,
    needs_payload=True,
    reasons=("permission_dates_out_of_order", "permission_ends_before_start_date"),
)


def _rtw_check_before_start(inp: GuardInput[HireSubject]) -> list[Reason]:
    checked = _payload_date(inp.payload, RTW_CHECK_DATE.name)
    job_start = inp.subject.start_date
    if checked is None or job_start is None or checked <= job_start:
        return []
    return [
        Reason(
            "rtw_check_after_start_date",
            f"The right-to-work check date ({checked}) is after the start date ({job_start}): the check "
            "must be done before the first day of work.",
            RTW_CHECK_DATE.name,
        )
    ]


RTW_CHECK_BEFORE_START: Guard[HireSubject] = Guard(
    "rtw_check_before_start",
    "The right-to-work check is dated no later than the planned start date.",
    _rtw_check_before_start,
    needs_payload=True,
    reasons=("rtw_check_after_start_date",),
)


def _start_within_permission(inp: GuardInput[HireSubject]) -> list[Reason]:
    started = _payload_date(inp.payload, ACTUAL_START.name)
    if started is None:
        return []
    reasons = []
    permitted = inp.subject.permission_start_date
    if permitted is not None and started < permitted:
        reasons.append(
            Reason(
                "start_before_permission",
                f"The actual start date ({started}) is before the visa permission starts ({permitted}): "
                "the worker may not work before then.",
                ACTUAL_START.name,
            )
        )
    checked = inp.subject.rtw_check_date
    if checked is not None and started < checked:
        reasons.append(
            Reason(
                "start_before_rtw_check",
                f"The actual start date ({started}) is before the right-to-work check ({checked}): the "
                "check must come before employment starts.",
                ACTUAL_START.name,
            )
        )
    return reasons


START_WITHIN_PERMISSION: Guard[HireSubject] = Guard(
    "start_within_permission",
    "Employment starts no earlier than the visa permission and the right-to-work check.",
    _start_within_permission,
    needs_payload=True,
    reasons=("start_before_permission", "start_before_rtw_check"),
)


def on_or_after(field: Field, previous: str, previous_label: str) -> Guard[HireSubject]:
    """An action's date (today when left out) is no earlier than the step before it: request, grant,
    assignment, application, decision."""

    def check(inp: GuardInput[HireSubject]) -> list[Reason]:
        before = getattr(inp.subject, previous)
        value = _payload_date(inp.payload, field.name) or inp.facts.today
        if before is None or value >= before:
            return []
        return [
            Reason(
                "date_before_previous_step",
                f"{field.label.capitalize()} ({value}) is before {previous_label} ({before}): the steps happen "
                "in order; check the dates.",
                field.name,
            )
        ]

    return Guard(
        f"{field.name}_after_{previous}",
        f"{field.label.capitalize()} is no earlier than {previous_label}.",
        check,
        needs_payload=True,
        reasons=("date_before_previous_step",),
    )


def end_not_before_start(start: Field, end: Field) -> Guard[Subject]:
    """A period's last day, when given, is neither before its first day nor in the future."""

    def check(inp: GuardInput[Subject]) -> list[Reason]:
        first = _payload_date(inp.payload, start.name)
        last = _payload_date(inp.payload, end.name)
        if first is None or last is None or first <= last:
            return []
        return [
            Reason(
                "period_ends_before_it_starts",
                f"{end.label.capitalize()} ({last}) is before {start.label} ({first}).",
                end.name,
            )
        ]

    return Guard(
        f"{end.name}_not_before_{start.name}",
        f"{end.label.capitalize()} is not before {start.label}.",
        check,
        needs_payload=True,
        reasons=("period_ends_before_it_starts",),
    )


def _no_open_absence(inp: GuardInput[HireSubject]) -> list[Reason]:
    since = inp.subject.absent_since
    if since is None or _payload_date(inp.payload, ABSENCE_END.name) is not None:
        return []
    return [
        Reason(
            "absence_already_open",
            f"An unauthorised absence from {since} is open: record the worker's return (record_return) first.",
        )
    ]


NO_OPEN_ABSENCE: Guard[HireSubject] = Guard(
    "no_open_absence",
    "An open-ended absence is recorded only when no other is open.",
    _no_open_absence,
    needs_payload=True,
    reasons=("absence_already_open",),
)


def _absence_open(inp: GuardInput[HireSubject]) -> list[Reason]:
    since = inp.subject.absent_since
    if since is None:
        return [Reason("no_open_absence", "No unauthorised absence is open: there is no return to record.")]
    back = _payload_date(inp.payload, ABSENCE_END.name)
    if back is not None and back < since:
        return [
            Reason(
                "period_ends_before_it_starts",
                f"The last day of absence ({back}) is before the absence started ({since}).",
                ABSENCE_END.name,
            )
        ]
    return []


ABSENCE_OPEN: Guard[HireSubject] = Guard(
    "absence_open",
    "An unauthorised absence is open, and ends no earlier than it began.",
    _absence_open,
    reasons=("no_open_absence", "period_ends_before_it_starts"),
)


def _new_cos_fits_purpose(inp: GuardInput[HireSubject]) -> list[Reason]:
    """An extension keeps the occupation and comes before permission ends; a change of employment is
    into another SOC code (within the same code a job change is reported, with no new CoS)."""
    purpose = inp.payload.get("purpose")
    new_code = inp.payload.get("soc_code")
    current = inp.subject.soc_code
    if purpose == "change_of_employment":
        if new_code is None or new_code == current:
            return [
                Reason(
                    "same_soc_code",
                    f"A change of employment needs a new CoS only into another SOC code; this job stays in SOC "
                    f"{current}: record it with change_job (a report, no new CoS).",
                    "soc_code",
                )
            ]
        return []
    if new_code is not None and new_code != current:
        return [
            Reason(
                "extension_changes_soc_code",
                f"An extension keeps the occupation (SOC {current}); a move to SOC {new_code} is a change of "
                "employment: assign the new CoS with purpose change_of_employment.",
                "soc_code",
            )
        ]
    ends = inp.subject.permission_end_date
    on = _payload_date(inp.payload, ASSIGNED_ON.name) or inp.facts.today
    if ends is None or on > ends:
        why = "holds no time-limited permission" if ends is None else f"permission ended on {ends}"
        return [
            Reason(
                "extension_after_permission_ended",
                f"An extension is applied for before permission ends; the worker {why}.",
                ASSIGNED_ON.name,
            )
        ]
    return []


NEW_COS_FITS_PURPOSE: Guard[HireSubject] = Guard(
    "new_cos_fits_purpose",
    "An extension keeps the SOC code and comes before permission ends; a change of employment changes the SOC code.",
    _new_cos_fits_purpose,
    needs_payload=True,
    reasons=("same_soc_code", "extension_changes_soc_code", "extension_after_permission_ended"),
)


def _applied_in_time(inp: GuardInput[HireSubject]) -> list[Reason]:
    applied = _payload_date(inp.payload, APPLICATION_DATE.name)
    ends = inp.subject.permission_end_date
    if applied is None or ends is None or applied <= ends:
        return []
    return [
        Reason(
            "application_after_permission_ended",
            f"The application date ({applied}) is after the worker's permission ended ({ends}): an in-country "
            "application must be made while permission lasts.",
            APPLICATION_DATE.name,
        )
    ]


APPLIED_IN_TIME: Guard[HireSubject] = Guard(
    "applied_in_time",
    "An in-country application on a new CoS is made before the current permission ends.",
    _applied_in_time,
    needs_payload=True,
    reasons=("application_after_permission_ended",),
)


# --- when obligations open -----------------------------------------------------------------------

# States in which a CoS exists (granted or assigned) and must be withdrawn if the hire is abandoned.
COS_ISSUED_STATES = frozenset({"cos_granted", "cos_assigned", "visa_applied", "visa_granted", "rtw_verified"})

COS_ISSUED: Condition[HireSubject] = Condition(
    "cos_issued",
    "A CoS had been granted or assigned when the hire was withdrawn.",
    lambda inp: inp.subject.state in COS_ISSUED_STATES,
)


def _salary_reduced(inp: GuardInput[HireSubject]) -> bool:
    new = _payload_money(inp.payload, NEW_SALARY.name)
    if new is None:
        return False
    # The CoS figure, not the last recorded salary: a partial rise after a cut is still below it. Without
    # a CoS figure to compare against, report rather than risk a missed duty.
    cos_salary = inp.subject.cos_salary
    required = inp.facts.salary_required
    return cos_salary is None or new < cos_salary or (required is not None and new < required)


SALARY_REDUCED: Condition[HireSubject] = Condition(
    "salary_reduced",
    "The new salary is below the salary on the CoS, or below what the CoS requires (increases need no report).",
    _salary_reduced,
)

THRESHOLD_PASSED: Condition[Subject] = Condition(
    "threshold_passed",
    "What the case records now passes the reporting threshold (10 consecutive working days of unauthorised "
    "absence; 4 weeks of unpaid leave in a calendar year), and it was not reported already.",
    lambda inp: inp.facts.report_trigger is not None,
)
