"""HRIS connections (admin): create, read, list, edit, rotate the signing secret, delete. The receivers'
pipeline and the inbox's own use cases are in events.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import Keyset, Page
from app.api.etags import IfMatch
from app.audit import service as audit
from app.audit.schemas import Actor
from app.audit.service import EventDraft
from app.config import Settings
from app.db.transactions import for_update, read_transaction, write_transaction
from app.errors import FieldError, NotFound, ProblemError
from app.ids import new_id
from app.integrations.hris.mapping import STANDARD_SELECTOR, default_field_map
from app.integrations.hris.models import HrisConnection
from app.integrations.hris.providers import (
    Provider,
)
from app.integrations.hris.schemas import (
    HrisConnectionCreate,
    HrisConnectionOut,
    HrisConnectionUpdate,
    HrisConnectionWithSecret,
    HrisSecretRotation,
    HrisSelector,
)
from app.integrations.hris.secrets import SecretBox, check_given_secret, generate_secret

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
