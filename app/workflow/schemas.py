"""API shapes shared by every case that runs a workflow."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.errors import Reason


class AvailableActionOut(BaseModel):
    model_config = ConfigDict(frozen=True)  # one instance serves every case with the same answer (app.cases)

    name: str
    allowed: bool = Field(description="false when a guard refuses now; `reasons` say why")
    reasons: list[Reason]
