from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, model_validator

from app.api.types import Day, Text, VisibleStr
from app.workflow.schemas import AvailableActionOut


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LicenceOut(BaseModel):
    id: str
    organisation_id: str
    state: str
    version: int
    licence_number: str | None
    priority_service: bool
    submitted_on: date | None
    decided_on: date | None
    state_changed_on: date | None
    created_at: datetime
    updated_at: datetime
    available_actions: list[AvailableActionOut]


class Dated(_Strict):
    effective_date: Day | None = Field(default=None, description="when it happened; defaults to today (UK)")
    reason: Text | None = None


class Submit(_Strict):
    submitted_on: Day | None = Field(default=None, description="defaults to today (UK)")
    priority_service: StrictBool = Field(
        default=False, description="pre-licence priority service: decision in 10 working days"
    )


class Grant(_Strict):
    licence_number: Annotated[VisibleStr, StringConstraints(min_length=4, max_length=40, strip_whitespace=True)]
    effective_date: Day | None = None


class ChangeOfOwnership(Dated):
    new_owner: Text
    needs_new_licence: StrictBool = Field(
        description="a change in direct ownership usually needs a new licence application (and a TUPE transfer)"
    )


class NewLicenceApplication(Dated):
    reference: Text | None = Field(default=None, description="the new application's reference")


LICENCE_ACTION_PAYLOADS: dict[str, type[BaseModel]] = {
    "submit": Submit,
    "grant": Grant,
    "record_change_of_ownership": ChangeOfOwnership,
    "apply_for_new_licence": NewLicenceApplication,
    **dict.fromkeys(
        (
            "refuse",
            "downgrade",
            "upgrade",
            "suspend",
            "make_representations",
            "reinstate",
            "reinstate_b_rated",
            "revoke",
            "surrender",
            "send_supporting_documents",
            "receive_downgrade_notice",
            "respond_to_downgrade_notice",
            "pay_action_plan_fee",
        ),
        Dated,
    ),
}


class AllocationIn(_Strict):
    year_start: Day
    year_end: Day
    granted: StrictInt = Field(ge=0, le=100_000, description="undefined CoS granted for the allocation year")

    @model_validator(mode="after")
    def _dates_in_order(self) -> AllocationIn:
        if self.year_end <= self.year_start:
            raise ValueError("year_end must be after year_start")
        return self


class AllocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    year_start: date
    year_end: date
    granted: int
    used: int
    remaining: int
    version: int
    updated_at: datetime
