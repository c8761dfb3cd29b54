"""An audit pack: one worker's record as Appendix D asks a sponsor to hold it, for people and programs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.audit.schemas import EventOut

PACK_FORMAT = "sponsorflow.audit_pack/1"


class PackActor(BaseModel):
    """Who did something: an API key (with its name), an HRIS connection, or sponsorflow itself."""

    type: str
    id: str | None
    role: str | None
    name: str | None


class PackOrganisation(BaseModel):
    id: str
    name: str
    licence_number: str | None
    licence_state: str | None


class PackWorker(BaseModel):
    """Identity and contact fields (Appendix D: the worker's details); `[erased]` after retention."""

    given_name: str
    family_name: str
    nationality: str | None
    date_of_birth: date | None
    email: str | None
    external_id: str | None
    personal_data_erased_at: datetime | None


class PackJob(BaseModel):
    job_title: str | None
    soc_code: str | None
    hris_job_code: str | None
    salary: Decimal | None
    weekly_hours: Decimal | None
    salary_option: str | None = Field(description="null until the case has the salary and job to judge")
    start_date: date | None
    actual_start_date: date | None
    ended_on: date | None
    end_reason: str | None
    work_location: str | None
    work_nation: str | None


class PackCos(BaseModel):
    type: str | None = Field(description="defined or undefined")
    reference: str | None
    requested_on: date | None
    granted_on: date | None
    assigned_on: date | None
    from_allocation: bool
    assigned_by: PackActor | None


class PackEligibility(BaseModel):
    status: str | None
    assessment: dict[str, Any] | None = Field(description="the answer with its reasons, rules and sources")


class PackVisa(BaseModel):
    service: str | None
    applied_on: date | None
    granted_on: date | None
    permission_start_date: date | None
    permission_end_date: date | None


class PackRtwCheck(BaseModel):
    kind: Literal["before_employment", "follow_up"]
    check_date: date | None
    method: str | None
    share_code: str | None = Field(description="the online check's share code, kept for the latest check only")
    new_permission_end_date: date | None
    recorded_at: datetime
    recorded_by: PackActor
    event_id: str


class PackReport(BaseModel):
    """A reportable event and its SMS report (or waiver)."""

    obligation_id: str
    kind: str
    status: str
    trigger_date: date
    due_on: date
    rule_id: str
    basis: str | None
    sms_reference: str | None
    reported_on: date | None
    late: bool | None = Field(description="reported after the due date")
    waived_reason: str | None
    settled_by: PackActor | None
    settled_at: datetime | None


class PackAbsence(BaseModel):
    kind: Literal["unauthorised_absence", "unpaid_leave"]
    start_date: date | None
    end_date: date | None
    recorded_at: datetime
    recorded_by: PackActor
    event_id: str


class PackChange(BaseModel):
    """One entry of the salary, job or work-location history: the values as of `effective_date`."""

    effective_date: date | None
    values: dict[str, Any]
    action: str = Field(description="created, corrected, or the action that recorded the change")
    recorded_at: datetime
    recorded_by: PackActor
    event_id: str


class PackDeadline(BaseModel):
    id: str
    kind: str
    subject_type: str
    subject_id: str
    status: str = Field(description="met, breached, cancelled, or still pending / warned")
    armed_at: datetime
    due_at: datetime
    settled_at: datetime | None
    rule_id: str
    rule_source: dict[str, Any]
    basis: str


class PackEvent(EventOut):
    actor_name: str | None


class PackCounts(BaseModel):
    events: int
    rtw_checks: int
    reports: int
    late_reports: int
    open_reports: int
    deadlines_met: int
    deadlines_breached: int


class AuditPack(BaseModel):
    """Everything Appendix D asks a sponsor to hold about one sponsored worker that sponsorflow knows."""

    format: str = PACK_FORMAT
    hire_id: str
    state: str
    generated_at: datetime
    generated_by: PackActor
    organisation: PackOrganisation
    worker: PackWorker
    job: PackJob
    cos: PackCos
    eligibility: PackEligibility
    visa: PackVisa
    rtw_checks: list[PackRtwCheck]
    reports: list[PackReport]
    absences: list[PackAbsence]
    salary_history: list[PackChange]
    job_history: list[PackChange]
    location_history: list[PackChange]
    deadlines: list[PackDeadline]
    legal_hold: bool
    retention_date: datetime | None
    counts: PackCounts
    events: list[PackEvent]


class AuditExportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    status: Literal["running", "completed", "failed"]
    filters: dict[str, Any]
    total: int = Field(description="workers in the bundle")
    done: int = Field(description="workers written so far")
    bytes_sent: int
    error: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
