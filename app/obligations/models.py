from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.folding import fold_writes


class Obligation(Base):
    """Something the sponsor must report in the SMS by a date: `open → reported | waived`, `overdue`
    once past due (and still reportable, late)."""

    __tablename__ = "obligations"
    __table_args__ = (
        Index("ix_obligations_org_due", "organisation_id", "due_on", "id"),
        Index("ix_obligations_hire", "hire_id", "status"),
        Index("ix_obligations_status", "status"),  # counts by status for the metrics
    )

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    hire_id: Mapped[str | None] = mapped_column(ForeignKey("hires.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12))
    version: Mapped[int] = mapped_column(Integer)
    trigger_date: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    rule_id: Mapped[str] = mapped_column(String(80))
    nation: Mapped[str] = mapped_column(String(30))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    deadline_id: Mapped[str] = mapped_column(ForeignKey("deadlines.id", ondelete="CASCADE"))
    sms_reference: Mapped[str | None] = mapped_column(String(100))
    reported_on: Mapped[date | None] = mapped_column(Date)
    reported_late: Mapped[bool | None] = mapped_column(Boolean)
    waived_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# Plain rows: an action's writes of them go out with its audit append, in one statement (app.db.folding).
fold_writes(Obligation)
