from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class JobMapping(Base):
    """An organisation's HRIS job code and the SOC 2020 code it means. No HRIS carries SOC codes."""

    __tablename__ = "job_mappings"

    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    hris_job_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    job_title: Mapped[str | None] = mapped_column(String(200))
    grade: Mapped[str | None] = mapped_column(String(50))
    soc_code: Mapped[str] = mapped_column(String(4))
    updated_at: Mapped[datetime]
