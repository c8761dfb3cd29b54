"""API shapes shared by every case that runs a workflow."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.errors import Reason


class AvailableActionOut(BaseModel):
    name: str
    allowed: bool = Field(description="false when a guard refuses now; `reasons` say why")
    reasons: list[Reason]
