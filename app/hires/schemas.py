from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, StringConstraints, model_validator

from app.api.types import PLAIN_DECIMAL, BirthDay, Day, Text, VisibleStr
from app.calendar import Nation
from app.rules.eligibility import PhdQualification, WeeklyHours
from app.workflow.schemas import AvailableActionOut

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2, examples=["45000.00"]), PLAIN_DECIMAL]
Hours = Annotated[WeeklyHours, Field(examples=["37.5"])]
SocCode = Annotated[VisibleStr, StringConstraints(pattern=r"^\d{4}$"), Field(examples=["2136"])]
# A CoS reference as the SMS issues it: letters and digits, e.g. `C2G8H71234567X`.
CosReference = Annotated[
    VisibleStr,
    StringConstraints(pattern=r"^[A-Za-z0-9]{10,14}$", to_upper=True, strip_whitespace=True),
    Field(examples=["C2G8H71234567X"]),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HireFields(_Strict):
    """Worker and job details; every field optional so a case can start from partial HRIS data."""

    external_id: VisibleStr | None = Field(
        default=None, max_length=100, description="your id for the hire, unique per organisation"
    )
    nationality: VisibleStr | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3")
    date_of_birth: BirthDay | None = None
    email: EmailStr | None = None
    inside_uk: StrictBool | None = Field(
        default=None, description="applies from inside the UK (undefined CoS) or outside (defined CoS)"
    )
    held_skilled_worker_permission_before_2025_07_22: StrictBool | None = Field(
        default=None, description="transitional protection for RQF 3 to 5 occupations"
    )
    first_sponsored_before_2024_04_04: StrictBool | None = Field(
        default=None, description="the lower-rate salary cohort"
    )
    switching_from_student_or_graduate: StrictBool | None = Field(
        default=None, description="switching in the UK from a Student or Graduate visa (new-entrant salary)"
    )
    working_towards_professional_qualification: StrictBool | None = Field(
        default=None, description="working towards a recognised professional qualification (new-entrant salary)"
    )
    postdoctoral_role: StrictBool | None = Field(
        default=None, description="a postdoctoral position (new-entrant salary)"
    )
    phd: PhdQualification | None = Field(
        default=None, description="a PhD relevant to the job (relevant PhD or STEM PhD salary)"
    )
    job_title: VisibleStr | None = Field(default=None, max_length=200)
    soc_code: SocCode | None = None
    hris_job_code: VisibleStr | None = Field(
        default=None, max_length=100, description="mapped to a SOC code by the job mappings"
    )
    salary: Money | None = Field(default=None, description="annual gross salary in GBP")
    weekly_hours: Hours | None = None
    start_date: Day | None = Field(default=None, description="planned first day of work (the CoS start date)")
    work_location: VisibleStr | None = Field(default=None, max_length=200)
    work_nation: Nation | None = Field(default=None, description="its bank holidays count for worker deadlines")


class HireCreate(HireFields):
    given_name: VisibleStr = Field(min_length=1, max_length=100)
    family_name: VisibleStr = Field(min_length=1, max_length=100)


class HireUpdate(HireFields):
    """Only the fields sent change; a field the case must always have cannot be sent as null."""

    given_name: VisibleStr | None = Field(default=None, min_length=1, max_length=100)
    family_name: VisibleStr | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _required_fields_are_not_null(self) -> HireUpdate:
        nulled = sorted(name for name in self.model_fields_set & _NOT_NULL if getattr(self, name) is None)
        if nulled:
            raise ValueError(f"these fields cannot be null: {', '.join(nulled)} (leave them out to keep them)")
        return self


_NOT_NULL = frozenset(
    {
        "given_name",
        "family_name",
        "held_skilled_worker_permission_before_2025_07_22",
        "first_sponsored_before_2024_04_04",
        "switching_from_student_or_graduate",
        "working_towards_professional_qualification",
        "postdoctoral_role",
        "phd",
    }
)


class DeadlineSummary(BaseModel):
    id: str
    kind: str
    status: str
    due_at: datetime
    warn_at: datetime | None


class ObligationSummary(BaseModel):
    id: str
    kind: str
    status: str
    due_on: date


class HireOut(BaseModel):
    id: str
    organisation_id: str
    external_id: str | None
    state: str
    version: int
    given_name: str
    family_name: str
    nationality: str | None
    date_of_birth: date | None
    email: str | None
    inside_uk: bool | None
    held_skilled_worker_permission_before_2025_07_22: bool
    first_sponsored_before_2024_04_04: bool
    switching_from_student_or_graduate: bool
    working_towards_professional_qualification: bool
    postdoctoral_role: bool
    phd: str
    job_title: str | None
    soc_code: str | None
    hris_job_code: str | None
    salary: Decimal | None
    weekly_hours: Decimal | None
    salary_option: str | None = Field(description="the salary option the eligibility answer names")
    start_date: date | None
    work_location: str | None
    work_nation: str | None
    eligibility_status: str | None
    eligibility: dict[str, Any] | None
    cos_type: str | None
    cos_reference: str | None
    cos_requested_on: date | None
    cos_granted_on: date | None
    cos_assigned_on: date | None
    cos_salary: Decimal | None = Field(description="the salary stated on the CoS when it was assigned")
    pending_cos: dict[str, Any] | None = Field(
        description="an employed worker's new CoS (purpose, reference, job, eligibility) until its permission "
        "is granted"
    )
    isc_refundable: bool = Field(description="a visa refusal makes the Immigration Skills Charge refundable")
    visa_service: str | None
    visa_applied_on: date | None
    visa_granted_on: date | None
    permission_start_date: date | None
    permission_end_date: date | None
    rtw_method: str | None
    rtw_check_date: date | None
    actual_start_date: date | None
    absent_since: date | None = Field(description="first day of an unauthorised absence still open")
    ended_on: date | None
    end_reason: str | None
    state_entered_at: datetime = Field(description="when the case entered its current state")
    legal_hold: bool = Field(description="a legal hold keeps the personal data past the retention date")
    legal_hold_reason: str | None
    legal_hold_since: datetime | None
    personal_data_erased_at: datetime | None = Field(
        description="set once retention erased the personal fields (names read `[erased]`)"
    )
    created_at: datetime
    updated_at: datetime
    available_actions: list[AvailableActionOut]
    open_deadlines: list[DeadlineSummary]
    open_obligations: list[ObligationSummary]


# --- action payloads ------------------------------------------------------------------------------


class NoPayload(_Strict):
    """An action that takes no fields (any field sent is refused)."""


class RequestCos(_Strict):
    requested_on: Day | None = Field(default=None, description="defaults to today")


class GrantCos(_Strict):
    granted_on: Day | None = None


class RefusalPayload(_Strict):
    refused_on: Day | None = Field(default=None, description="the date of the refusal; defaults to today")
    reason: Text | None = None


class AssignCos(_Strict):
    cos_reference: CosReference
    assigned_on: Day | None = Field(default=None, description="defaults to today; the rules apply by this date")


class VisaService(StrEnum):
    standard = "standard"
    priority = "priority"
    super_priority = "super_priority"


class SubmitVisaApplication(_Strict):
    application_date: Day
    service: VisaService = VisaService.standard


class GrantVisa(_Strict):
    granted_on: Day | None = Field(
        default=None, description="the date the worker was told of the grant; defaults to today"
    )
    permission_start_date: Day
    permission_end_date: Day


class RtwMethod(StrEnum):
    manual = "manual"
    online = "online"
    idsp = "idsp"


ShareCode = Annotated[VisibleStr, StringConstraints(pattern=r"^[A-Za-z0-9]{9}$", to_upper=True, strip_whitespace=True)]


class CompleteRtwCheck(_Strict):
    rtw_check_date: Day
    method: RtwMethod
    share_code: ShareCode | None = Field(
        default=None, description="required for an online check (Home Office share code)"
    )

    @model_validator(mode="after")
    def _online_needs_share_code(self) -> CompleteRtwCheck:
        if self.method is RtwMethod.online and self.share_code is None:
            raise ValueError("an online right-to-work check needs the worker's share code")
        return self


class StartEmployment(_Strict):
    actual_start_date: Day


class RecordNoShow(_Strict):
    reason: Text | None = None


class EndSponsorship(_Strict):
    ended_on: Day = Field(description="last working day, or the day sponsorship stopped")
    reason: Text


class Withdraw(_Strict):
    reason: Text
    withdrawn_on: Day | None = Field(default=None, description="defaults to today")


class RecordAbsence(_Strict):
    absence_start_date: Day
    absence_end_date: Day | None = Field(
        default=None, description="the last day absent; leave out while the absence goes on (record_return ends it)"
    )


class RecordReturn(_Strict):
    absence_end_date: Day = Field(description="the last day of the open absence")


class RecordUnpaidLeave(_Strict):
    leave_start_date: Day
    leave_end_date: Day | None = Field(
        default=None,
        description="the last day of leave; leave out while it goes on, then record it again with the same first day",
    )


class ChangeSalary(_Strict):
    new_salary: Money
    effective_date: Day


class ChangeJob(_Strict):
    effective_date: Day
    job_title: Text
    description: Text | None = None


class ChangeWorkLocation(_Strict):
    effective_date: Day
    work_location: Text
    work_nation: Nation | None = None


class CosPurpose(StrEnum):
    extension = "extension"
    change_of_employment = "change_of_employment"


class AssignNewCos(_Strict):
    purpose: CosPurpose
    cos_reference: CosReference
    assigned_on: Day | None = Field(default=None, description="defaults to today; the rules apply by this date")
    soc_code: SocCode | None = Field(default=None, description="the new job's SOC code (a change of employment)")
    job_title: VisibleStr | None = Field(default=None, max_length=200)
    salary: Money | None = Field(default=None, description="the salary on the new CoS; defaults to the current one")
    weekly_hours: Hours | None = None


class GrantNewPermission(_Strict):
    granted_on: Day | None = Field(default=None, description="defaults to today")
    permission_start_date: Day
    permission_end_date: Day


class PermissionChangeKind(StrEnum):
    curtailment = "curtailment"
    other = "other"


class RecordPermissionChange(_Strict):
    effective_date: Day
    permission_end_date: Day = Field(description="when the worker's permission now ends")
    kind: PermissionChangeKind
    description: Text | None = None


class RecordSuspectedBreach(_Strict):
    noticed_on: Day
    description: Text


class AbandonNewCos(_Strict):
    reason: Text


class RecordRtwFollowUp(CompleteRtwCheck):
    new_permission_end_date: Day | None = Field(default=None, description="when the worker's new permission ends")


ACTION_PAYLOADS: dict[str, type[BaseModel]] = {
    "request_cos": RequestCos,
    "grant_cos": GrantCos,
    "refuse_cos": RefusalPayload,
    "assign_cos": AssignCos,
    "submit_visa_application": SubmitVisaApplication,
    "grant_visa": GrantVisa,
    "refuse_visa": RefusalPayload,
    "complete_rtw_check": CompleteRtwCheck,
    "start_employment": StartEmployment,
    "record_no_show": RecordNoShow,
    "end_sponsorship": EndSponsorship,
    "withdraw": Withdraw,
    "close": NoPayload,
    "record_absence": RecordAbsence,
    "record_return": RecordReturn,
    "record_unpaid_leave": RecordUnpaidLeave,
    "change_salary": ChangeSalary,
    "change_job": ChangeJob,
    "change_work_location": ChangeWorkLocation,
    "record_rtw_follow_up": RecordRtwFollowUp,
    "record_permission_change": RecordPermissionChange,
    "record_suspected_breach": RecordSuspectedBreach,
    "assign_new_cos": AssignNewCos,
    "submit_new_visa_application": SubmitVisaApplication,
    "abandon_new_cos": AbandonNewCos,
    "grant_new_permission": GrantNewPermission,
    "refuse_new_permission": RefusalPayload,
}
