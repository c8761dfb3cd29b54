from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from app.api.types import VisibleStr, shown_once
from app.organisations.models import Nation, SponsorSize
from app.organisations.principals import Role


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: VisibleStr = Field(min_length=1, max_length=200, examples=["Acme Robotics Ltd"])
    sponsor_size: SponsorSize = Field(
        description="small (or charitable) vs medium_large; sets the Immigration Skills Charge rate"
    )
    nation: Nation = Field(description="UK nation of the main address: its bank holidays count for sponsor events")
    sandbox: StrictBool = Field(default=False, description="sandbox organisations may be bound to a test clock")
    test_clock_id: VisibleStr | None = Field(
        default=None, description="a sandbox organisation lives at this clock's time"
    )


class OrganisationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: VisibleStr | None = Field(default=None, min_length=1, max_length=200)
    sponsor_size: SponsorSize | None = None
    nation: Nation | None = None


class OrganisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    sponsor_size: SponsorSize
    nation: Nation
    sandbox: bool
    test_clock_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: VisibleStr = Field(min_length=1, max_length=200, examples=["HR portal"])
    role: Role = Field(description="viewer reads; hr also acts on cases; admin also manages keys")


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    organisation_id: str | None
    name: str
    role: Role
    prefix: str = Field(description="the visible part of the key, to tell keys apart")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = shown_once("the secret key: shown once, store it now")
