"""HRIS connections (admin), the receivers' pipeline into the inbox, and the inbox as a list with replay.

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

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import Keyset, Page, narrowed
from app.api.etags import IfMatch
from app.audit import service as audit
from app.audit.schemas import Actor
from app.audit.service import EventDraft
from app.config import Settings
from app.db.inserts import insert_new
from app.db.transactions import for_update, read_transaction, write_transaction
from app.errors import Conflict, FieldError, NotFound, ProblemError
from app.ids import new_id
from app.integrations.hris import inbox
from app.integrations.hris.mapping import STANDARD_SELECTOR, default_field_map
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
    HrisConnectionCreate,
    HrisConnectionOut,
    HrisConnectionUpdate,
    HrisConnectionWithSecret,
    HrisEventDetail,
    HrisEventOut,
    HrisEventStatus,
    HrisReceipt,
    HrisSecretRotation,
    HrisSelector,
)
from app.integrations.hris.secrets import SecretBox, check_given_secret, generate_secret
from app.rules.book import RuleBook

log = logging.getLogger("sponsorflow.hris")

#: Longer idempotency keys are hashed to fit the column (and a key of any length still dedupes).
_MAX_KEY = 150
_MAX_EMPLOYEE_ID = 100


# --- connections ----------------------------------------------------------------------------------


def receiving_path(connection_id: str) -> str:
    return f"/hooks/hris/{connection_id}"


def view(connection: HrisConnection, base_url: str) -> HrisConnectionOut:
    return HrisConnectionOut(
        id=connection.id,
        name=connection.name,
        provider=Provider(connection.provider),
        receiving_url=base_url.rstrip("/") + receiving_path(connection.id),
        selector=HrisSelector(field=connection.selector_field, values=connection.selector_values),
        field_map=connection.field_map,
        location_map=connection.location_map,
        previous_secret_expires_at=connection.previous_secret_expires_at,
        version=connection.version,
        created_at=connection.created_at,
        updated_at=connection.updated_at,
    )


def _with_secret(connection: HrisConnection, secret: str, base_url: str) -> HrisConnectionWithSecret:
    return HrisConnectionWithSecret(**view(connection, base_url).model_dump(), signing_secret=secret)


def _secret(provider: Provider, given: str | None) -> str:
    if given is None:
        return generate_secret(provider)
    check_given_secret(provider, given)
    return given


async def _audit(session: AsyncSession, connection: HrisConnection, actor: Actor, change: str, now: datetime) -> None:
    # The secret never enters the trail: only what changed about the connection.
    draft = EventDraft(
        f"hris_connection.{change}",
        "hris_connection",
        connection.id,
        data={"provider": connection.provider, "name": connection.name},
    )
    await audit.record(session, connection.organisation_id, actor, [draft], now)


async def create_connection(
    session: AsyncSession,
    organisation_id: str,
    actor: Actor,
    data: HrisConnectionCreate,
    box: SecretBox,
    now: datetime,
    base_url: str,
) -> HrisConnectionWithSecret:
    if data.selector is not None:
        selector_field, selector_values = data.selector.field, data.selector.values
    elif data.provider is Provider.standard:
        selector_field, selector_values = STANDARD_SELECTOR[0], list(STANDARD_SELECTOR[1])
    else:
        raise ProblemError(
            422,
            "validation_error",
            "say which employees need sponsorship",
            errors=[
                FieldError(
                    loc=["body", "selector"],
                    message=f"a {data.provider.value} connection needs a selector: the HRIS field and the values "
                    "that mean the employee needs sponsorship",
                    type="missing",
                )
            ],
        )
    secret = _secret(data.provider, data.signing_secret.get_secret_value() if data.signing_secret else None)
    connection = HrisConnection(
        id=new_id("hrisc"),
        organisation_id=organisation_id,
        name=data.name,
        provider=data.provider.value,
        secret_ciphertext=box.seal(secret),
        previous_secret_ciphertext=None,
        previous_secret_expires_at=None,
        selector_field=selector_field,
        selector_values=selector_values,
        field_map=_field_map(data.field_map) if data.field_map is not None else default_field_map(data.provider),
        location_map={k: v.value for k, v in data.location_map.items()},
        version=1,
        created_at=now,
        updated_at=now,
        deleted_at=None,
    )
    async with write_transaction(session):
        session.add(connection)
        await _audit(session, connection, actor, "created", now)
    return _with_secret(connection, secret, base_url)


def _field_map(value: Mapping[Any, str]) -> dict[str, str]:
    return {getattr(k, "value", k): v for k, v in value.items()}


async def _find(
    session: AsyncSession, organisation_id: str, connection_id: str, *, lock: bool = False
) -> HrisConnection:
    stmt = select(HrisConnection).where(
        HrisConnection.id == connection_id,
        HrisConnection.organisation_id == organisation_id,
        HrisConnection.deleted_at.is_(None),
    )
    found = (await session.execute(for_update(stmt) if lock else stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("HRIS connection")
    return found


async def get_connection(
    session: AsyncSession, organisation_id: str, connection_id: str, base_url: str
) -> HrisConnectionOut:
    async with read_transaction(session):
        return view(await _find(session, organisation_id, connection_id), base_url)


_CONNECTIONS = Keyset(("id", HrisConnection.id, str))


async def list_connections(
    session: AsyncSession, organisation_id: str, cursor: dict[str, Any] | None, limit: int, base_url: str
) -> Page[HrisConnectionOut]:
    stmt = select(HrisConnection).where(
        HrisConnection.organisation_id == organisation_id, HrisConnection.deleted_at.is_(None)
    )
    async with read_transaction(session):
        rows = list((await session.execute(_CONNECTIONS.apply(stmt, cursor, limit))).scalars())
    return _CONNECTIONS.page(rows, limit, lambda c: view(c, base_url))


async def update_connection(
    session: AsyncSession,
    organisation_id: str,
    actor: Actor,
    connection_id: str,
    data: HrisConnectionUpdate,
    if_match: IfMatch,
    now: datetime,
    base_url: str,
) -> HrisConnectionOut:
    sent = data.model_fields_set
    nulled = sorted(name for name in sent if getattr(data, name) is None)
    if nulled:
        raise ProblemError(
            422,
            "validation_error",
            f"these fields cannot be null: {', '.join(nulled)} (leave them out to keep them)",
        )
    async with write_transaction(session):
        connection = await _find(session, organisation_id, connection_id, lock=True)
        if_match.check(connection.version)
        if data.name is not None:
            connection.name = data.name
        if data.selector is not None:
            connection.selector_field, connection.selector_values = data.selector.field, data.selector.values
        if data.field_map is not None:
            connection.field_map = _field_map(data.field_map)
        if data.location_map is not None:
            connection.location_map = {k: v.value for k, v in data.location_map.items()}
        connection.version += 1
        connection.updated_at = now
        await _audit(session, connection, actor, "updated", now)
        return view(connection, base_url)


async def rotate_secret(
    session: AsyncSession,
    organisation_id: str,
    actor: Actor,
    connection_id: str,
    data: HrisSecretRotation,
    box: SecretBox,
    settings: Settings,
    now: datetime,
    base_url: str,
) -> HrisConnectionWithSecret:
    """A new secret verifies at once; the old one still does for the grace period, so deliveries the
    HRIS signed before it switched are not refused."""
    grace = timedelta(
        hours=settings.hris_secret_grace_hours if data.grace_period_hours is None else data.grace_period_hours
    )
    async with write_transaction(session):
        connection = await _find(session, organisation_id, connection_id, lock=True)
        secret = _secret(
            Provider(connection.provider), data.signing_secret.get_secret_value() if data.signing_secret else None
        )
        connection.previous_secret_ciphertext = connection.secret_ciphertext
        connection.previous_secret_expires_at = now + grace
        connection.secret_ciphertext = box.seal(secret)
        connection.version += 1
        connection.updated_at = now
        await _audit(session, connection, actor, "secret_rotated", now)
        return _with_secret(connection, secret, base_url)


async def delete_connection(
    session: AsyncSession, organisation_id: str, actor: Actor, connection_id: str, now: datetime
) -> None:
    """The receiver stops answering for it (404); its events and the cases they opened are kept."""
    async with write_transaction(session):
        connection = await _find(session, organisation_id, connection_id, lock=True)
        connection.deleted_at = connection.updated_at = now
        connection.version += 1
        await _audit(session, connection, actor, "deleted", now)


# --- receiving --------------------------------------------------------------------------------------


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


async def receive(
    session: AsyncSession, delivered: Delivered, box: SecretBox, settings: Settings, now: datetime
) -> HrisReceipt:
    """Verify, store, answer. 404 for an unknown connection, 401 for a bad, missing or stale signature
    (nothing stored); a redelivery stores nothing and answers the same ids."""
    async with read_transaction(session):
        connection = (
            await session.execute(
                select(HrisConnection).where(
                    HrisConnection.id == delivered.connection_id, HrisConnection.deleted_at.is_(None)
                )
            )
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
