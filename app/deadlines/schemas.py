from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DeadlineStatus = Literal["pending", "warned", "breached", "met", "cancelled"]


class DeadlineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    subject_type: str = Field(description="hire, licence or obligation")
    subject_id: str
    kind: str
    status: str = Field(description="pending, warned, breached, met or cancelled")
    due_at: datetime
    warn_at: datetime | None = Field(description="the next warning, if one is still to come")
    rule_id: str
    rule_source: dict[str, Any]
    nation: str = Field(description="whose bank holidays counted")
    basis: str = Field(description="why this date, in words")
    created_at: datetime
    settled_at: datetime | None


class DeadlineCounts(BaseModel):
    by_status: dict[str, int]
    due_within_7_days: int = Field(description="pending or warned, due in the next 7 days")
    overdue_obligations: int


class Fired(BaseModel):
    deadline_id: str
    kind: str
    subject_type: str
    subject_id: str
    outcome: str = Field(description="warned or breached")
    effects: list[str] = Field(description="events written because of it")
