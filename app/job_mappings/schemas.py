from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.api.types import VisibleStr

JobCode = Annotated[VisibleStr, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


SocCode = Annotated[VisibleStr, Field(pattern=r"^\d{4}$", examples=["7220"])]
JobTitle = Annotated[VisibleStr | None, Field(max_length=200, examples=["Customer Service Unit Supervisor"])]
Grade = Annotated[VisibleStr | None, Field(max_length=50, examples=["G4"])]


class JobMappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    soc_code: SocCode
    job_title: JobTitle = None
    grade: Grade = None


class JobMappingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    hris_job_code: str
    job_title: str | None
    grade: str | None
    soc_code: str
    occupation_title: str | None = Field(default=None, description="the SOC code's title in the rules data")
    updated_at: datetime


class CatalogueJob(BaseModel):
    """One job of an HRIS job catalogue; with a SOC code it is mapped, without one it is only reported
    back with suggestions."""

    model_config = ConfigDict(extra="forbid")

    hris_job_code: JobCode
    job_title: JobTitle = None
    grade: Grade = None
    soc_code: SocCode | None = None


class SocSuggestion(BaseModel):
    soc_code: str
    title: str
    skill_band: str
    match: str = Field(description="how the title matched: all_words, some_words, ...")


class UnmappedJob(BaseModel):
    hris_job_code: str
    job_title: str | None
    suggestions: list[SocSuggestion] = Field(description="candidates from the occupations data; none applied")


class CatalogueImport(BaseModel):
    mapped: list[JobMappingOut] = Field(description="the codes mapped (created or replaced)")
    unmapped: list[UnmappedJob] = Field(description="the codes sent without a SOC code: left unmapped")


class Suggestions(BaseModel):
    title: str
    on: date
    data: list[SocSuggestion]
