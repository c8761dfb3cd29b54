from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class DueDeadline(BaseModel):
    deadline_id: str
    kind: str
    status: str = Field(description="pending or warned")
    due_at: datetime
    due_on: date = Field(description="the UK date it falls due on")
    working_days_left: int = Field(description="working days after today up to the due date (0: due today)")
    subject_type: str
    subject_id: str
    hire_id: str | None
    worker: str | None = Field(description="the worker's name, for a hire's or a hire's obligation's deadline")
    basis: str


class OverdueObligation(BaseModel):
    obligation_id: str
    kind: str
    hire_id: str | None
    worker: str | None
    trigger_date: date
    due_on: date
    working_days_overdue: int


class PermissionEnding(BaseModel):
    hire_id: str
    worker: str
    permission_end_date: date
    days_left: int = Field(description="calendar days until permission ends (negative: it has ended)")
    last_follow_up_check_date: date | None = Field(description="the latest follow-up check, before the window")


class LicenceStatus(BaseModel):
    state: str
    licence_number: str | None
    rating: str | None = Field(description="A (active) or B (b_rated); null in other states")
    may_assign_cos: bool = Field(description="CoS may be requested and assigned only while A-rated")
    priority_service: bool
    state_changed_on: date | None


class AllocationStatus(BaseModel):
    year_start: date
    year_end: date
    granted: int
    used: int
    remaining: int
    days_to_year_end: int


class StuckCase(BaseModel):
    hire_id: str
    worker: str
    state: str
    since: datetime
    normal_duration: str = Field(examples=["5 working days"])
    rule_id: str
    expected_by: date = Field(description="when a case entering the state then would normally have left it")
    days_over: int = Field(description="calendar days past expected_by")


class ComplianceSummary(BaseModel):
    """What a compliance officer checks each Monday, in one read."""

    organisation_id: str
    as_of: date = Field(description="today in the UK")
    generated_at: datetime
    horizon_until: date = Field(description="deadlines due up to this date are listed")
    horizon_rule_id: str
    permission_window_days: int = Field(description="permissions ending within this many days are listed")
    deadlines_due: list[DueDeadline]
    overdue_obligations: list[OverdueObligation]
    permission_ending_without_follow_up: list[PermissionEnding]
    licence: LicenceStatus | None
    allocation: AllocationStatus | None
    stuck_cases: list[StuckCase]
