from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class TestClock(Base):
    """A sandbox clock: organisations bound to it live at its frozen time until a client advances it."""

    __tablename__ = "test_clocks"

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    frozen_time: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
