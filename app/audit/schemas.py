from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Actor(BaseModel):
    type: Literal["api_key", "system", "hris"]
    id: str | None = Field(default=None, description="API key id or HRIS connection id")
    role: str | None = None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    seq: int = Field(description="position in the organisation's feed")
    type: str = Field(examples=["hire.state_changed"])
    subject_type: str
    subject_id: str
    case_id: str | None = Field(default=None, description="the hire or licence whose story the event is part of")
    action: str | None
    from_state: str | None
    to_state: str | None
    actor: Actor
    data: dict[str, Any] = Field(description="the action's significant fields")
    request_id: str | None
    occurred_at: datetime


class EventFeed(BaseModel):
    data: list[EventOut]
    next_cursor: str = Field(description="always present: poll again with it to get only newer events")
    has_more: bool = Field(description="true when more events are already waiting")
