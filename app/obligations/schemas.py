from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.api.types import Day, Text, VisibleJson, VisibleStr

ObligationStatus = Literal["open", "overdue", "reported", "waived"]


class ObligationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    hire_id: str | None = Field(description="null for sponsor-level changes")
    kind: str
    status: str = Field(description="open, overdue, reported or waived")
    version: int
    trigger_date: date
    due_on: date
    rule_id: str
    nation: str
    details: dict[str, Any]
    deadline_id: str
    sms_reference: str | None
    reported_on: date | None
    reported_late: bool | None
    waived_reason: str | None
    created_at: datetime
    updated_at: datetime


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sms_reference: Annotated[VisibleStr, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    reported_on: Day | None = Field(default=None, description="defaults to today (UK); after due_on it is late")


class Waive(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text


class OrganisationChangeKind(StrEnum):
    """Sponsor-level changes the SMS must be told of within 20 working days (facts §5.2)."""

    organisation_name = "organisation_name"
    organisation_address = "organisation_address"
    key_personnel = "key_personnel"
    ownership = "ownership"
    trading = "trading"
    size = "size"


class OrganisationChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: OrganisationChangeKind
    effective_date: Day = Field(description="the day the change happened: the 20 working days count from it")
    description: Text
    details: VisibleJson = Field(default_factory=dict, description="anything worth keeping for the audit")
