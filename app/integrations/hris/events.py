"""The receivers' pipeline into the inbox, and the inbox as a list with replay and erasure.

Receiving verifies the signature on the raw bytes, stores the delivery (one inbox row per employee it
names) and answers at once; applying is the worker's job (app.integrations.hris.inbox).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import Keyset, Page, narrowed
from app.config import Settings
from app.db.inserts import insert_new
from app.db.transactions import for_update, read_transaction, single_read, write_transaction
from app.errors import Conflict, NotFound, ProblemError
from app.ids import new_id
from app.integrations.hris import inbox
from app.integrations.hris.models import HrisConnection, HrisEmployee, HrisEvent
from app.integrations.hris.providers import (
    ADAPTERS,
    Adapter,
    Provider,
    SignatureRejected,
    Unreadable,
    Verification,
    body_hash,
)
from app.integrations.hris.schemas import (
    HrisEventDetail,
    HrisEventOut,
    HrisEventStatus,
    HrisReceipt,
)
from app.integrations.hris.secrets import SecretBox
from app.rules.book import RuleBook

log = logging.getLogger("sponsorflow.hris")

#: Longer idempotency keys are hashed to fit the column (and a key of any length still dedupes).
_MAX_KEY = 150
_MAX_EMPLOYEE_ID = 100


def _secrets(connection: HrisConnection, box: SecretBox, now: datetime) -> list[str]:
    secrets = [box.open(connection.secret_ciphertext)]
    expires = connection.previous_secret_expires_at
    if connection.previous_secret_ciphertext is not None and expires is not None and expires > now:
        secrets.append(box.open(connection.previous_secret_ciphertext))
    return secrets


@dataclass(frozen=True)
class Delivered:
    """A request to a receiver, as the HTTP layer read it."""

    connection_id: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    content_type: str | None


_CONNECTION = select(HrisConnection).where(
    HrisConnection.id == bindparam("connection_id"), HrisConnection.deleted_at.is_(None)
)


async def receive(
    session: AsyncSession, delivered: Delivered, box: SecretBox, settings: Settings, now: datetime
) -> HrisReceipt:
    """Verify, store, answer. 404 for an unknown connection, 401 for a bad, missing or stale signature
    (nothing stored); a redelivery stores nothing and answers the same ids."""
    async with single_read(session):  # one statement: on PostgreSQL no transaction around it
        connection = (
            await session.execute(_CONNECTION, {"connection_id": delivered.connection_id})
        ).scalar_one_or_none()
    if connection is None:
        raise NotFound("HRIS connection")
    adapter = ADAPTERS[Provider(connection.provider)]
    tolerance = timedelta(seconds=getattr(settings, adapter.timestamp_setting) if adapter.timestamp_setting else 0)
    try:
        signed_at = adapter.verify(
            delivered.body, delivered.headers, Verification(_secrets(connection, box, now), now, tolerance)
        )
    except SignatureRejected as exc:
        log.warning("hris delivery refused", extra={"hris_connection_id": connection.id, "reason": str(exc)})
        raise ProblemError(401, "signature_rejected", str(exc)) from exc
    rows = _inbox_rows(connection, adapter, delivered, signed_at or now, now)
    async with write_transaction(session):
        inserted = await insert_new(session, HrisEvent, rows, ("connection_id", "dedupe_key"), HrisEvent.id)
        if len(inserted) == len(rows):
            ids = [row["id"] for row in rows]
        else:  # a redelivery (or part of one): answer the ids stored the first time
            keys = [row["dedupe_key"] for row in rows]
            stored = await session.execute(
                select(HrisEvent.dedupe_key, HrisEvent.id).where(
                    HrisEvent.connection_id == connection.id, HrisEvent.dedupe_key.in_(keys)
                )
            )
            by_key = dict(stored.all())
            ids = [by_key[key] for key in keys]
    log.info("hris delivery stored", extra={"hris_connection_id": connection.id, "hris_events": len(inserted)})
    return HrisReceipt(events=ids, duplicate=not inserted)


def _inbox_rows(
    connection: HrisConnection, adapter: Adapter, delivered: Delivered, signed_at: datetime, now: datetime
) -> list[dict[str, Any]]:
    key = adapter.key(delivered.body, delivered.headers)
    key = key if len(key) <= _MAX_KEY else body_hash(key.encode())
    base = {
        "organisation_id": connection.organisation_id,
        "connection_id": connection.id,
        "received_at": now,
        "content_type": (delivered.content_type or "")[:200] or None,
        "body": delivered.body,
        "effects": [],
        "hire_id": None,
        "attempts": 0,
        "processed_at": None,
    }
    try:
        delivery = adapter.read(delivered.body, signed_at)
        too_long = [e.employee_id for e in delivery.events if len(e.employee_id) > _MAX_EMPLOYEE_ID]
        if too_long:
            raise Unreadable("failed", "malformed_event", f"employee ids longer than {_MAX_EMPLOYEE_ID} characters")
    except Unreadable as exc:
        # Kept, with the reason, and answered 2xx: the HRIS did its part; retrying would not help.
        return [
            base
            | {
                "id": new_id("hrisevt"),
                "dedupe_key": key,
                "event_type": None,
                "employee_id": None,
                "occurred_at": signed_at,
                "status": exc.status,
                "reason_code": exc.code,
                "reason": exc.message,
                "processed_at": now,
            }
        ]
    several = len(delivery.events) > 1
    return [
        base
        | {
            "id": new_id("hrisevt"),
            # Several employees in one delivery (BambooHR field-based): one row each, keyed by position.
            "dedupe_key": f"{key}#{i}" if several else key,
            "event_type": (delivery.event_type or "")[:100] or None,
            "employee_id": event.employee_id,
            "occurred_at": event.occurred_at,
            "status": HrisEventStatus.received.value,
            "reason_code": None,
            "reason": None,
        }
        for i, event in enumerate(delivery.events)
    ]


# --- the inbox as a list ------------------------------------------------------------------------------


_EVENTS = Keyset(("id", HrisEvent.id, str))


@dataclass(frozen=True)
class HrisEventFilters:
    connection_id: str | None = None
    status: Sequence[HrisEventStatus] = ()
    employee_id: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None


def _event_view(row: HrisEvent) -> HrisEventOut:
    return HrisEventOut.model_validate(row)


async def list_events(
    session: AsyncSession, organisation_id: str, filters: HrisEventFilters, cursor: dict[str, Any] | None, limit: int
) -> Page[HrisEventOut]:
    stmt = narrowed(
        select(HrisEvent).where(HrisEvent.organisation_id == organisation_id),
        HrisEvent.connection_id == filters.connection_id if filters.connection_id is not None else None,
        HrisEvent.status.in_([s.value for s in filters.status]) if filters.status else None,
        HrisEvent.employee_id == filters.employee_id if filters.employee_id is not None else None,
        HrisEvent.received_at >= filters.received_from if filters.received_from is not None else None,
        HrisEvent.received_at < filters.received_to if filters.received_to is not None else None,
    )
    async with read_transaction(session):
        rows = list((await session.execute(_EVENTS.apply(stmt, cursor, limit))).scalars())
    return _EVENTS.page(rows, limit, _event_view)


async def _find_event(session: AsyncSession, organisation_id: str, event_id: str, *, lock: bool = False) -> HrisEvent:
    stmt = select(HrisEvent).where(HrisEvent.id == event_id, HrisEvent.organisation_id == organisation_id)
    row = (await session.execute(for_update(stmt) if lock else stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("HRIS event")
    return row


def _detail(row: HrisEvent) -> HrisEventDetail:
    try:
        payload: Any = json.loads(row.body)
    except (UnicodeDecodeError, ValueError):
        payload = row.body.decode(errors="replace")
    return HrisEventDetail(**_event_view(row).model_dump(), content_type=row.content_type, payload=payload)


async def get_event(session: AsyncSession, organisation_id: str, event_id: str) -> HrisEventDetail:
    async with read_transaction(session):
        return _detail(await _find_event(session, organisation_id, event_id))


async def replay(
    session: AsyncSession, organisation_id: str, event_id: str, book: RuleBook, now: datetime
) -> HrisEventDetail:
    """Apply a failed or ignored event again, now (after the field map or a job mapping was fixed). If an
    earlier event of the same employee is still waiting, this one queues behind it instead."""
    async with write_transaction(session):
        row = await _find_event(session, organisation_id, event_id, lock=True)
        if row.status not in {HrisEventStatus.failed.value, HrisEventStatus.ignored.value}:
            raise Conflict(
                "event_not_replayable", f"the event is {row.status}: only failed or ignored events are replayed"
            )
        row.status = HrisEventStatus.received.value
        waiting = await session.execute(
            select(HrisEvent.id)
            .where(
                HrisEvent.connection_id == row.connection_id,
                HrisEvent.employee_id == row.employee_id,
                HrisEvent.status == HrisEventStatus.received.value,
                HrisEvent.id < row.id,
            )
            .limit(1)
        )
        if waiting.first() is None:
            await inbox.apply_event(session, row, book, now)
        else:
            row.reason_code = row.reason = None
        return _detail(row)


async def erase_case(session: AsyncSession, hire_id: str) -> int:
    """Retention (app.retention): the raw deliveries about an erased case hold its worker's name, pay and
    HRIS id. Their rows stay (what arrived, when, and what applying it did) without the body or the
    employee id, and the link from the HRIS employee to the case goes; answers how many rows changed."""
    events = await session.execute(
        update(HrisEvent).where(HrisEvent.hire_id == hire_id).values(body=b"", employee_id=None)
    )
    links = await session.execute(delete(HrisEmployee).where(HrisEmployee.hire_id == hire_id))
    return int(getattr(events, "rowcount", 0) or 0) + int(getattr(links, "rowcount", 0) or 0)
