"""The append-only audit trail and its outbox. Writers call `record` once, last in their transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import cursor_field, encode_cursor
from app.audit.models import Event, OutboxMessage
from app.audit.schemas import Actor, EventFeed, EventOut
from app.db.base import UTCDateTime
from app.db.driver import Step, send
from app.db.engine import write_json
from app.db.folding import Folded, take_pending
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
# Statements built once: constructing one costs more Python than sending it (the hot path's profile).
_EVENTS = Event.metadata.tables[Event.__tablename__]
_OUTBOX = OutboxMessage.metadata.tables[OutboxMessage.__tablename__]
_ORGANISATIONS = Organisation.metadata.tables[Organisation.__tablename__]
_INSERT_EVENTS = insert(_EVENTS)
_INSERT_OUTBOX = insert(_OUTBOX)
_TAKE_SEQS = (
    update(_ORGANISATIONS)
    .where(_ORGANISATIONS.c.id == bindparam("organisation_id"))
    .values(event_seq=_ORGANISATIONS.c.event_seq + bindparam("n"))
    .returning(_ORGANISATIONS.c.event_seq)
)


async def record(
    session: AsyncSession, organisation_id: str, actor: Actor, drafts: Sequence[EventDraft], now: datetime
) -> list[EventOut]:
    """Append events and their outbox rows; returns the events as readers see them. Takes the
    organisation's counter row lock, which every writer of the organisation waits for until our
    commit: call it as the last write of the transaction. All but the sequence numbers is built
    before the lock; on PostgreSQL the counter, the events and their outbox rows are then one
    statement, so the lock is held for that statement and the commit, not for three round trips."""
    if not drafts:
        return []
    request_id = current_request_id()
    events = [
        EventOut(
            id=new_id("evt"),
            seq=0,  # allocated under the lock, below
            type=draft.type,
            subject_type=draft.subject_type,
            subject_id=draft.subject_id,
            case_id=draft.case,
            action=draft.action,
            from_state=draft.from_state,
            to_state=draft.to_state,
            actor=actor,
            data=draft.data,
            request_id=request_id,
            occurred_at=now,
        )
        for draft in drafts
    ]
    rows = [
        {
            "id": e.id,
            "type": e.type,
            "subject_type": e.subject_type,
            "subject_id": e.subject_id,
            "case_id": e.case_id,
            "action": e.action,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "data": e.data,
        }
        for e in events
    ]
    payloads = [e.model_dump(mode="json") for e in events]
    postgresql = session.get_bind().dialect.name == "postgresql"
    # What the session holds pending goes into the append's own statement on PostgreSQL, and into the
    # append's batch of driver statements elsewhere (app.db.folding); unless it cannot, then the ORM
    # flushes it. Either way the case's own writes come before the counter, whose row lock is then held
    # only briefly.
    folded = take_pending(session)
    if folded is None:
        await session.flush()
        folded = Folded()
    shared = {
        "organisation_id": organisation_id,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "actor_role": actor.role,
        "request_id": request_id,
        "occurred_at": now,
    }
    append = _append_in_one_statement if postgresql else _append
    first = await append(session, rows, payloads, shared, folded)
    folded.forget(session)
    for offset, event in enumerate(events):
        event.seq = first + offset
    return events


async def _append(
    session: AsyncSession,
    rows: list[dict[str, Any]],
    payloads: list[dict[str, Any]],
    shared: dict[str, Any],
    folded: Folded,
) -> int:
    """The folded writes, the counter, the events, the outbox rows: one statement each, sent as one batch
    (SQLite: its writers are serialised by BEGIN IMMEDIATE for the whole transaction anyway)."""
    steps = folded.steps()
    counter = len(steps)

    def first_seq(results: list[list[Any]]) -> int:
        return int(results[counter][0][0]) - len(rows) + 1

    def events(results: list[list[Any]]) -> list[dict[str, Any]]:
        first = first_seq(results)
        return [{**row, **shared, "seq": first + i} for i, row in enumerate(rows)]

    def outbox(results: list[list[Any]]) -> list[dict[str, Any]]:
        first = first_seq(results)
        return [
            {
                "organisation_id": shared["organisation_id"],
                "event_id": row["id"],
                "event_type": row["type"],
                "payload": {**payload, "seq": first + i},
                "created_at": shared["occurred_at"],
                "delivered_at": None,
            }
            for i, (row, payload) in enumerate(zip(rows, payloads, strict=True))
        ]

    steps += [
        Step(_TAKE_SEQS, [{"organisation_id": shared["organisation_id"], "n": len(rows)}]),
        Step(_INSERT_EVENTS, events),  # events before outbox rows (foreign key)
        Step(_INSERT_OUTBOX, outbox),
    ]
    return first_seq(await send(session, *steps))


# The events and their outbox rows arrive as one JSON array; each outbox payload is the event as
# readers see it (built in Python, as for SQLite) with its sequence number set here. The folded writes'
# CTEs come first.
_APPEND_PG = """
WITH {folded}counter AS (
    UPDATE organisations SET event_seq = event_seq + :n WHERE id = :organisation_id RETURNING event_seq
), drafts AS (
    SELECT d.*, counter.event_seq - :n + d.ord AS seq
    FROM counter, json_to_recordset(CAST(:rows AS json)) AS d(
        ord int, id text, type text, subject_type text, subject_id text, case_id text, action text,
        from_state text, to_state text, data json, payload json)
), appended AS (
    INSERT INTO events (id, organisation_id, seq, type, subject_type, subject_id, case_id, action, from_state,
                        to_state, actor_type, actor_id, actor_role, data, request_id, occurred_at)
    SELECT id, :organisation_id, seq, type, subject_type, subject_id, case_id, action, from_state, to_state,
           :actor_type, :actor_id, :actor_role, data, :request_id, :occurred_at
    FROM drafts
), queued AS (
    INSERT INTO outbox (organisation_id, event_id, event_type, payload, created_at, delivered_at)
    SELECT :organisation_id, id, type, CAST(jsonb_set(CAST(payload AS jsonb), '{seq}', to_jsonb(seq)) AS json),
           :occurred_at, NULL
    FROM drafts
)
SELECT event_seq - :n + 1 FROM counter
"""
# One statement per shape of folded writes (tables and columns): built once each, like the others.
_APPENDS: dict[str, TextClause] = {}


def _append_statement(folded_ctes: list[str]) -> TextClause:
    prefix = "".join(f"{cte},\n" for cte in folded_ctes)
    found = _APPENDS.get(prefix)
    if found is None:
        found = _APPENDS[prefix] = text(_APPEND_PG.replace("{folded}", prefix, 1)).bindparams(
            bindparam("occurred_at", type_=UTCDateTime())
        )
    return found


async def _append_in_one_statement(
    session: AsyncSession,
    rows: list[dict[str, Any]],
    payloads: list[dict[str, Any]],
    shared: dict[str, Any],
    folded: Folded,
) -> int:
    drafts = [
        {**row, "ord": i + 1, "payload": payload} for i, (row, payload) in enumerate(zip(rows, payloads, strict=True))
    ]
    ctes, folded_params = folded.ctes(session.get_bind().dialect)
    params = {**shared, **folded_params, "n": len(rows), "rows": write_json(drafts)}
    (result,) = await send(session, Step(_append_statement(ctes), [params]))
    return int(result[0][0])


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
