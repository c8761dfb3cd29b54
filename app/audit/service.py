"""The append-only audit trail and its outbox. Writers call `record` once, last in their transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import cursor_field, encode_cursor
from app.audit.models import Event, OutboxMessage
from app.audit.schemas import Actor, EventFeed, EventOut
from app.db.transactions import read_transaction
from app.ids import new_id
from app.organisations.models import Organisation
from app.request_id import current_request_id


@dataclass(frozen=True)
class EventDraft:
    type: str
    subject_type: str
    subject_id: str
    action: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    case_id: str | None = None  # defaults to the subject when it is a hire or a licence

    @property
    def case(self) -> str | None:
        return self.case_id or (self.subject_id if self.subject_type in {"hire", "licence"} else None)


SYSTEM = Actor(type="system")


async def record(
    session: AsyncSession, organisation_id: str, actor: Actor, drafts: Sequence[EventDraft], now: datetime
) -> list[Event]:
    """Append events and their outbox rows. Takes the organisation's counter row lock, so call it as
    the last write of the transaction to hold that lock briefly."""
    if not drafts:
        return []
    await session.flush()  # the case's own writes first: the counter row lock is then held only briefly
    last = (
        await session.execute(
            update(Organisation)
            .where(Organisation.id == organisation_id)
            .values(event_seq=Organisation.event_seq + len(drafts))
            .returning(Organisation.event_seq)
        )
    ).scalar_one()
    events = []
    for offset, draft in enumerate(drafts):
        event = Event(
            id=new_id("evt"),
            organisation_id=organisation_id,
            seq=last - len(drafts) + offset + 1,
            type=draft.type,
            subject_type=draft.subject_type,
            subject_id=draft.subject_id,
            case_id=draft.case,
            action=draft.action,
            from_state=draft.from_state,
            to_state=draft.to_state,
            actor_type=actor.type,
            actor_id=actor.id,
            actor_role=actor.role,
            data=draft.data,
            request_id=current_request_id(),
            occurred_at=now,
        )
        events.append(event)
    session.add_all(events)
    await session.flush()  # events before outbox rows (foreign key), in one round trip each
    session.add_all(
        OutboxMessage(
            organisation_id=organisation_id,
            event_id=e.id,
            event_type=e.type,
            payload=to_out(e).model_dump(mode="json"),
            created_at=now,
            delivered_at=None,
        )
        for e in events
    )
    return events


def to_out(event: Event) -> EventOut:
    return EventOut(
        id=event.id,
        seq=event.seq,
        type=event.type,
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        case_id=event.case_id,
        action=event.action,
        from_state=event.from_state,
        to_state=event.to_state,
        actor=Actor(type=event.actor_type, id=event.actor_id, role=event.actor_role),
        data=event.data,
        request_id=event.request_id,
        occurred_at=event.occurred_at,
    )


async def feed(
    session: AsyncSession,
    organisation_id: str,
    cursor: dict[str, Any] | None,
    limit: int,
    case_id: str | None = None,
) -> EventFeed:
    after = int(cursor_field(cursor, "seq") or 0)
    stmt = (
        select(Event)
        .where(Event.organisation_id == organisation_id, Event.seq > after)
        .order_by(Event.seq)
        .limit(limit + 1)
    )
    if case_id is not None:
        stmt = stmt.where(Event.case_id == case_id)
    async with read_transaction(session):
        rows = list((await session.execute(stmt)).scalars())
    kept = rows[:limit]
    last_seq = kept[-1].seq if kept else after
    return EventFeed(
        data=[to_out(e) for e in kept],
        next_cursor=encode_cursor({"seq": last_seq}),
        has_more=len(rows) > limit,
    )
