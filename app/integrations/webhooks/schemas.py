from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool

from app.api.types import VisibleStr, shown_once

EventTypes = list[VisibleStr] | None
_EVENT_TYPES_DOC = "the event types to receive (see `GET /v1/event-types`); null for every type, present and future"


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: VisibleStr = Field(min_length=1, max_length=2048, examples=["https://hooks.example.com/sponsorflow"])
    event_types: EventTypes = Field(default=None, min_length=1, description=_EVENT_TYPES_DOC)
    description: VisibleStr | None = Field(default=None, max_length=500)
    enabled: StrictBool = True


class EndpointUpdate(BaseModel):
    """Only the fields sent change. Enabling an endpoint sends what waits in its queue at once."""

    model_config = ConfigDict(extra="forbid")

    url: VisibleStr | None = Field(default=None, min_length=1, max_length=2048)
    event_types: EventTypes = Field(default=None, min_length=1, description=_EVENT_TYPES_DOC)
    description: VisibleStr | None = Field(default=None, max_length=500)
    enabled: StrictBool | None = None


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    description: str | None
    event_types: EventTypes
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None = Field(description="the first failed attempt since the last success")
    previous_secret_expires_at: datetime | None = Field(
        description="after a rotation, the old secret signs too until then"
    )
    version: int
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = shown_once("the signing secret (`whsec_...`): shown once, store it now")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    endpoint_id: str
    event_id: str = Field(description="also the `webhook-id` header")
    event_type: str
    seq: int
    status: Literal["pending", "succeeded", "failed"]
    trigger: Literal["event", "test", "redelivery"]
    attempt_count: int
    next_attempt_at: datetime | None = Field(description="when a pending delivery goes (again)")
    last_attempt_at: datetime | None
    finished_at: datetime | None
    created_at: datetime


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    schedule_step: int = Field(description="0 for the first attempt of a schedule, then one per retry")
    trigger: str
    attempted_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None = Field(description="the start of the receiver's answer")
    error: str | None


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any] = Field(description="the webhook body, as signed and sent")
    attempts: list[AttemptOut] = Field(description="oldest first")


class RedeliverFailedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime = Field(description="redeliver failed deliveries of events from this time on")


class RedeliveredOut(BaseModel):
    redelivered: int


class EventTypeOut(BaseModel):
    type: str
    version: int
    summary: str
    subscribable: bool = Field(description="false for events sent only on request (the test event)")
    schema_: dict[str, Any] = Field(alias="schema", description="JSON Schema of the webhook body")

    model_config = ConfigDict(populate_by_name=True)
