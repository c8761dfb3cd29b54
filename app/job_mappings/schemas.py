from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

JobCode = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


class JobMappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    soc_code: str = Field(pattern=r"^\d{4}$", examples=["7220"])
    job_title: str | None = Field(default=None, max_length=200, examples=["Customer Service Unit Supervisor"])


class JobMappingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    hris_job_code: str
    job_title: str | None
    soc_code: str
    occupation_title: str | None = Field(default=None, description="the SOC code's title in the rules data")
    updated_at: datetime
