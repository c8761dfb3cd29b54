from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.calendar import Nation
from app.db.base import Base
from app.rules.models import SponsorSize

__all__ = ["ApiKey", "Nation", "Organisation", "SponsorSize"]


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sponsor_size: Mapped[str] = mapped_column(String(20))
    nation: Mapped[str] = mapped_column(String(30))
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    # One organisation per test clock: advancing a clock must not touch another organisation's cases.
    test_clock_id: Mapped[str | None] = mapped_column(ForeignKey("test_clocks.id", ondelete="SET NULL"), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The last audit event's sequence number (see app.audit.models.Event.seq).
    event_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(48))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
