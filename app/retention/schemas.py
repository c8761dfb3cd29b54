from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.api.types import Text


class LegalHoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(
        examples=["Employment tribunal claim: keep all records until it is decided"]
    )


class LegalHoldOut(BaseModel):
    hire_id: str
    version: int = Field(description="the case's version (its ETag) after the change")
    legal_hold: bool
    reason: str | None
    since: datetime | None
    retention_date: datetime | None = Field(
        description="when the records may go (end of employment plus the retention period); null until the case closes"
    )
    personal_data_erased_at: datetime | None


class PlannedErasure(BaseModel):
    """A closed case past its retention date: erased on the next pass, unless a legal hold keeps it."""

    hire_id: str
    organisation_id: str
    retention_date: datetime
    basis: str
    closed_at: datetime
    legal_hold: bool
    legal_hold_reason: str | None
    fields: list[str] = Field(description="the personal fields that still hold data")
    events: int = Field(description="events in the case's trail, whose payloads are scrubbed")
