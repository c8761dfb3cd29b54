from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class AuditExport(Base):
    """One export of an organisation's audit packs: who asked, for what, and how far it has got.

    The bundle is streamed as it is built, so this row is how a second client (or an operator) follows
    a large export, and it stays as the record that the data left the service."""

    __tablename__ = "audit_exports"
    __table_args__ = (Index("ix_audit_exports_org", "organisation_id", "started_at", "id"),)

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer)
    bytes_sent: Mapped[int] = mapped_column(BigInteger)
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(48))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
