from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class HrisConnection(Base):
    """One HRIS sending signed webhooks for one organisation: how to verify them, which employees need
    sponsorship, and how the HRIS's fields and locations read as case fields and UK nations."""

    __tablename__ = "hris_connections"

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(20))
    # Fernet tokens (app.integrations.hris.secrets): the signing secret is needed in clear to verify, so it
    # is encrypted, never hashed. The previous secret verifies until `previous_secret_expires_at`.
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    previous_secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    selector_field: Mapped[str] = mapped_column(String(200))
    selector_values: Mapped[list[str]] = mapped_column(JSON)
    field_map: Mapped[dict[str, str]] = mapped_column(JSON)
    location_map: Mapped[dict[str, str]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Deleted connections stop receiving but keep their events: nothing an HRIS sent is dropped.
    deleted_at: Mapped[datetime | None]


class HrisEvent(Base):
    """The inbox: one employee's part of a delivery, stored raw as received, then applied by the worker.

    `dedupe_key` is unique per connection (the provider's event id, or a hash of the body where it has
    none), so a redelivery inserts nothing.
    """

    __tablename__ = "hris_events"
    __table_args__ = (
        UniqueConstraint("connection_id", "dedupe_key"),
        Index("ix_hris_events_status", "status", "id"),
        Index("ix_hris_events_employee", "connection_id", "employee_id", "id"),
        Index("ix_hris_events_org", "organisation_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(ForeignKey("hris_connections.id", ondelete="CASCADE"))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str | None] = mapped_column(String(100))
    employee_id: Mapped[str | None] = mapped_column(String(100))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    content_type: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20))  # received | applied | ignored | failed
    reason_code: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(Text)
    effects: Mapped[list[str]] = mapped_column(JSON)
    hire_id: Mapped[str | None] = mapped_column(ForeignKey("hires.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer)
    processed_at: Mapped[datetime | None]


class HrisEmployee(Base):
    """What the connection knows about one employee: their case, the time of the newest event applied
    (an older one changes nothing), and whether the HRIS deleted them (the case is kept, flagged)."""

    __tablename__ = "hris_employees"

    connection_id: Mapped[str] = mapped_column(ForeignKey("hris_connections.id", ondelete="CASCADE"), primary_key=True)
    employee_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    hire_id: Mapped[str | None] = mapped_column(ForeignKey("hires.id", ondelete="SET NULL"), index=True)
    last_event_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
