from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.api.types import Instant, VisibleStr
from app.deadlines.schemas import Fired


class TestClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    frozen_time: Instant = Field(description="the clock's starting time (with a time zone)")
    name: VisibleStr | None = Field(default=None, max_length=200)


class AdvanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Instant = Field(description="a later time (with a time zone)")


class TestClockOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str | None
    frozen_time: datetime
    version: int
    created_at: datetime


class AdvanceOut(BaseModel):
    clock: TestClockOut
    fired: list[Fired]
