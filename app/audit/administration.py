"""An organisation's administration, each change with its audit event: its details (the sponsor size and
nation set fees and calendars) and its API keys. Here, above the organisation domain, because the events
go to the organisation's feed; one transaction per use case, committed here. The audit append flushes
the staged change before it takes the organisation's event counter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.api.etags import IfMatch
from app.audit import service as audit
from app.audit.schemas import Actor
from app.audit.service import EventDraft
from app.db.transactions import write_transaction
from app.organisations import service as organisations
from app.organisations.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, OrganisationOut, OrganisationUpdate


def _key_details(key: ApiKeyOut) -> dict[str, str]:
    # Which key, never its secret: the prefix is what the key list shows too.
    return {"name": key.name, "role": key.role.value, "prefix": key.prefix}


async def update_organisation(
    session: AsyncSession,
    organisation_id: str,
    data: OrganisationUpdate,
    if_match: IfMatch,
    actor: Actor,
    now: datetime,
) -> OrganisationOut:
    async with write_transaction(session):
        org, changed = await organisations.stage_update(session, organisation_id, data, if_match, now)
        if changed:
            event = EventDraft("organisation.updated", "organisation", organisation_id, data={"changed": changed})
            await audit.record(session, organisation_id, actor, [event], now)
    return org


async def create_api_key(
    session: AsyncSession, organisation_id: str | None, data: ApiKeyCreate, actor: Actor, now: datetime
) -> ApiKeyCreated:
    """A new key; an organisation's key is recorded in its feed (a platform key belongs to none)."""
    async with write_transaction(session):
        created = organisations.add_api_key(session, organisation_id, data, actor.id, now)
        if organisation_id is not None:
            event = EventDraft("api_key.created", "api_key", created.id, data=_key_details(created))
            await audit.record(session, organisation_id, actor, [event], now)
    return created


async def revoke_api_key(
    session: AsyncSession, organisation_id: str, key_id: str, actor: Actor, now: datetime
) -> ApiKeyOut:
    async with write_transaction(session):
        key, revoked = await organisations.stage_revoke(session, organisation_id, key_id, now)
        if revoked:
            event = EventDraft("api_key.revoked", "api_key", key_id, data=_key_details(key))
            await audit.record(session, organisation_id, actor, [event], now)
    return key
