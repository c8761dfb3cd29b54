from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.folding import fold_writes


class Deadline(Base):
    """One statutory or processing window of a case: armed by a transition, settled by another, or warned
    and breached by the scheduler.

    `next_fire_at` is when the scheduler must next look at the row (the next warning, else the due time)
    and is NULL once nothing more can happen, so the due-row query reads only due rows from its index.
    `clock_id` names the sandbox test clock whose time the row runs on (NULL: real time).
    """

    __tablename__ = "deadlines"
    __table_args__ = (
        Index("ix_deadlines_due", "clock_id", "next_fire_at"),
        Index("ix_deadlines_subject", "subject_id", "status"),
        Index("ix_deadlines_org_due", "organisation_id", "due_at", "id"),
        # GET /v1/deadlines?status=...: the filter and then the list's order, so a page reads a page.
        Index("ix_deadlines_org_status_due", "organisation_id", "status", "due_at", "id"),
        # Counts by status for the metrics, and the retention job's due rows, read from the index alone.
        Index("ix_deadlines_status_kind", "status", "kind", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    clock_id: Mapped[str | None] = mapped_column(ForeignKey("test_clocks.id", ondelete="CASCADE"))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(48))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12))
    due_at: Mapped[datetime]
    warn_at: Mapped[datetime | None]
    pending_warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    next_fire_at: Mapped[datetime | None]
    rule_id: Mapped[str] = mapped_column(String(80))
    rule_source: Mapped[dict[str, Any]] = mapped_column(JSON)
    nation: Mapped[str] = mapped_column(String(30))
    basis: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]

    @staticmethod
    def closed(status: str, now: datetime) -> dict[str, Any]:
        """The columns of a row that will fire no more (met, cancelled or breached), for UPDATEs and rows."""
        return {"status": status, "next_fire_at": None, "warn_at": None, "pending_warnings": [], "settled_at": now}


# Plain rows: an action's writes of them go out with its audit append, in one statement (app.db.folding).
fold_writes(Deadline)
