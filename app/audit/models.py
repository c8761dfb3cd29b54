from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, column
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class Event(Base):
    """One accepted action or system occurrence, never updated or deleted.

    `seq` counts per organisation and is allocated at the end of the writing transaction under the
    organisation's counter row lock, so events commit in `seq` order and a feed reader polling
    `seq > cursor` never skips one that committed late.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("organisation_id", "seq"),
        Index("ix_events_case", "case_id", "seq"),
    )

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(48))
    # The hire or licence whose story this event is part of (a hire's deadlines and obligations too).
    case_id: Mapped[str | None] = mapped_column(String(48))
    action: Mapped[str | None] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str | None] = mapped_column(String(30))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(48))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime]


_UNRELAYED = column("delivered_at").is_(None)


class OutboxMessage(Base):
    """An event for outbound webhooks, written in the same transaction as the event. `delivered_at` is set
    when the webhook relay has handed it to the subscribed endpoints' queues (app.integrations.webhooks).

    Within an organisation, `id` order is `seq` order: both are taken under the organisation's counter lock.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # The relay claims unrelayed rows in id order, and asks per organisation for the oldest one.
        Index("ix_outbox_unrelayed", "id", postgresql_where=_UNRELAYED, sqlite_where=_UNRELAYED),
        Index(
            "ix_outbox_unrelayed_by_organisation",
            "organisation_id",
            "id",
            postgresql_where=_UNRELAYED,
            sqlite_where=_UNRELAYED,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), unique=True)
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
