from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictInt, StringConstraints, field_validator

from app.api.types import VisibleStr, shown_once
from app.calendar import Nation
from app.integrations.hris.mapping import CaseField
from app.integrations.hris.providers import Provider

FieldName = Annotated[VisibleStr, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Secret = Annotated[SecretStr, Field(min_length=1, max_length=500)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HrisSelectorIn(_Strict):
    """Which employees need sponsorship: those whose `field` holds one of `values` (compared without
    case); the others' events are recorded as ignored."""

    field: FieldName = Field(examples=["Requires Sponsorship"])
    values: list[FieldName] = Field(min_length=1, max_length=50, examples=[["Yes"]])

    @field_validator("values")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return [v.lower() for v in values]


class HrisSelector(BaseModel):
    field: str
    values: list[str]


FieldMap = Annotated[
    dict[CaseField, FieldName],
    Field(
        max_length=len(CaseField),
        description="case field → the HRIS field holding it (dotted paths read nested objects: "
        "`employments.0.pay_rate`); defaults per provider",
    ),
]
LocationMap = Annotated[
    dict[FieldName, Nation],
    Field(max_length=500, description="HRIS work location → the UK nation whose bank holidays count there"),
]


class HrisConnectionCreate(_Strict):
    name: VisibleStr = Field(min_length=1, max_length=200, examples=["BambooHR (UK entities)"])
    provider: Provider
    signing_secret: Secret | None = Field(
        default=None,
        description="the secret the HRIS signs with, if it issued one (BambooHR, Merge and HiBob do); "
        "omit it and one is generated. Either way it is shown once, in this response.",
    )
    selector: HrisSelectorIn | None = Field(
        default=None, description="required except for `standard`, whose schema has `requires_sponsorship`"
    )
    field_map: FieldMap | None = None
    location_map: LocationMap = Field(default_factory=dict)


class HrisConnectionUpdate(_Strict):
    """Only the fields sent change; each replaces its whole value."""

    name: VisibleStr | None = Field(default=None, min_length=1, max_length=200)
    selector: HrisSelectorIn | None = None
    field_map: FieldMap | None = None
    location_map: LocationMap | None = None


class HrisSecretRotation(_Strict):
    signing_secret: Secret | None = Field(default=None, description="the HRIS's new secret; omit to generate one")
    grace_period_hours: StrictInt | None = Field(
        default=None,
        ge=0,
        le=24 * 30,
        description="how long the old secret still verifies (default SPONSORFLOW_HRIS_SECRET_GRACE_HOURS)",
    )


class HrisConnectionOut(BaseModel):
    id: str
    name: str
    provider: Provider
    receiving_url: str = Field(description="paste it in the HRIS's webhook settings")
    selector: HrisSelector
    field_map: dict[str, str]
    location_map: dict[str, str]
    previous_secret_expires_at: datetime | None = Field(
        description="until then the secret before the last rotation still verifies"
    )
    version: int
    created_at: datetime
    updated_at: datetime


class HrisConnectionWithSecret(HrisConnectionOut):
    signing_secret: str = shown_once("shown only now: it is stored encrypted and never shown again")


class HrisEventStatus(StrEnum):
    received = "received"
    applied = "applied"
    ignored = "ignored"
    failed = "failed"


class HrisEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    connection_id: str
    event_type: str | None = Field(description="the HRIS's name for the event")
    employee_id: str | None = Field(description="the employee's id in the HRIS")
    status: HrisEventStatus
    reason_code: str | None = Field(description="why it was ignored or failed, as a stable code")
    reason: str | None = Field(description="why it was ignored or failed, in words")
    effects: list[str] = Field(description="what applying it did, in order")
    hire_id: str | None
    occurred_at: datetime = Field(description="when the HRIS says it happened (orders an employee's events)")
    received_at: datetime
    processed_at: datetime | None
    attempts: int


class HrisEventDetail(HrisEventOut):
    content_type: str | None
    payload: Any = Field(description="the body as received: JSON, or text when it is not JSON")


class HrisReceipt(BaseModel):
    """What a receiver answers: the inbox rows the delivery is stored as."""

    events: list[str] = Field(description="inbox event ids, one per employee in the delivery")
    duplicate: bool = Field(description="true when this delivery was already received: nothing changed")
