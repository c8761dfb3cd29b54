from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Select, String, select, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class Licence(Base):
    """A sponsor licence application and, once granted, the licence. One current per organisation:
    a refused, revoked or surrendered licence stays as history and a new application may start."""

    __tablename__ = "licences"
    __table_args__ = (
        Index(
            "uq_licences_current",
            "organisation_id",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    is_current: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    licence_number: Mapped[str | None] = mapped_column(String(40))
    priority_service: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_on: Mapped[date | None] = mapped_column(Date)
    decided_on: Mapped[date | None] = mapped_column(Date)
    state_changed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @classmethod
    def current_of(cls, organisation_id: str) -> Select[Licence]:
        return select(cls).where(cls.organisation_id == organisation_id, cls.is_current.is_(True))


class CosAllocation(Base):
    """The organisation's undefined-CoS allocation for one allocation year."""

    __tablename__ = "cos_allocations"

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), unique=True)
    year_start: Mapped[date] = mapped_column(Date)
    year_end: Mapped[date] = mapped_column(Date)
    granted: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]

    @classmethod
    def of(cls, organisation_id: str) -> Select[CosAllocation]:
        return select(cls).where(cls.organisation_id == organisation_id)

    @property
    def remaining(self) -> int:
        return remaining(self.granted, self.used)


def remaining(granted: int, used: int) -> int:
    """Undefined CoS still to assign this allocation year (an allocation cut below its use leaves none)."""
    return max(granted - used, 0)
