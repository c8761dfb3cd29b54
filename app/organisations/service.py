"""Organisations and their API keys. One transaction per use case, committed here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import Keyset, Page
from app.api.etags import IfMatch
from app.db.errors import is_foreign_key_violation
from app.db.transactions import for_update, read_transaction, write_transaction
from app.errors import Conflict, NotFound, ProblemError
from app.ids import new_id
from app.organisations.models import ApiKey, Organisation
from app.organisations.principals import Principal, Role, generate_key
from app.organisations.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
)

_BY_ORG_ID = Keyset(("id", Organisation.id, str))
_BY_KEY_ID = Keyset(("id", ApiKey.id, str))


def add_organisation(session: AsyncSession, data: OrganisationCreate, now: datetime) -> Organisation:
    """Stage a new organisation in the caller's transaction."""
    org = Organisation(
        id=new_id("org"),
        name=data.name,
        sponsor_size=data.sponsor_size.value,
        nation=data.nation.value,
        sandbox=data.sandbox,
        test_clock_id=data.test_clock_id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(org)
    return org


def add_api_key(
    session: AsyncSession,
    organisation_id: str | None,
    data: ApiKeyCreate,
    created_by: str | None,
    now: datetime,
) -> ApiKeyCreated:
    """Stage a new key in the caller's transaction; the secret is returned, only its hash is kept."""
    if (organisation_id is None) != (data.role is Role.platform):
        raise ProblemError(
            422,
            "invalid_role",
            "platform keys belong to no organisation; organisation keys are viewer, hr or admin",
        )
    key, prefix, key_hash = generate_key()
    row = ApiKey(
        id=new_id("key"),
        organisation_id=organisation_id,
        name=data.name,
        role=data.role.value,
        prefix=prefix,
        key_hash=key_hash,
        created_by=created_by,
        created_at=now,
        revoked_at=None,
    )
    session.add(row)
    return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=key)


async def create_organisation(session: AsyncSession, data: OrganisationCreate, now: datetime) -> OrganisationOut:
    if data.test_clock_id is not None and not data.sandbox:
        raise ProblemError(422, "sandbox_required", "only sandbox organisations can live on a test clock")
    async with write_transaction(session):
        if data.test_clock_id is not None:
            taken = await session.execute(
                select(Organisation.id).where(Organisation.test_clock_id == data.test_clock_id)
            )
            if taken.first() is not None:
                raise Conflict(
                    "test_clock_in_use",
                    "this test clock already serves an organisation: create a clock per organisation",
                )
        org = add_organisation(session, data, now)
        try:
            await session.flush()
        except IntegrityError as exc:
            # The clock's foreign key: the organisation domain need not know the sandbox's tables.
            if data.test_clock_id is None or not is_foreign_key_violation(exc):
                raise
            raise ProblemError(422, "unknown_test_clock", f"no test clock {data.test_clock_id}") from exc
        return OrganisationOut.model_validate(org)


async def list_organisations(
    session: AsyncSession, cursor: dict[str, object] | None, limit: int
) -> Page[OrganisationOut]:
    stmt = _BY_ORG_ID.apply(select(Organisation), cursor, limit)
    async with read_transaction(session):
        rows = list((await session.execute(stmt)).scalars())
    return _BY_ORG_ID.page(rows, limit, OrganisationOut.model_validate)


def visible_organisation_id(principal: Principal, organisation_id: str) -> str:
    """Platform keys see every organisation; an organisation key only its own (others are 404)."""
    if not principal.is_platform and principal.organisation_id != organisation_id:
        raise NotFound("organisation")
    return organisation_id


async def get_organisation(session: AsyncSession, organisation_id: str) -> OrganisationOut:
    async with read_transaction(session):
        org = await session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound("organisation")
    return OrganisationOut.model_validate(org)


async def stage_update(
    session: AsyncSession, organisation_id: str, data: OrganisationUpdate, if_match: IfMatch, now: datetime
) -> tuple[OrganisationOut, dict[str, dict[str, str]]]:
    """Apply the fields sent in the caller's transaction; returns the organisation and what changed
    (field → `from`, `to`), for the audit event."""
    org = (
        await session.execute(for_update(select(Organisation).where(Organisation.id == organisation_id)))
    ).scalar_one_or_none()
    if org is None:
        raise NotFound("organisation")
    if_match.check(org.version)
    changed: dict[str, dict[str, str]] = {}
    for name, value in data.model_dump(exclude_unset=True, mode="json").items():
        if value is not None and getattr(org, name) != value:
            changed[name] = {"from": getattr(org, name), "to": value}
            setattr(org, name, value)
    org.version += 1
    org.updated_at = now
    return OrganisationOut.model_validate(org), changed


async def list_api_keys(
    session: AsyncSession, organisation_id: str, cursor: dict[str, object] | None, limit: int
) -> Page[ApiKeyOut]:
    stmt = _BY_KEY_ID.apply(select(ApiKey).where(ApiKey.organisation_id == organisation_id), cursor, limit)
    async with read_transaction(session):
        rows = list((await session.execute(stmt)).scalars())
    return _BY_KEY_ID.page(rows, limit, ApiKeyOut.model_validate)


async def stage_revoke(
    session: AsyncSession, organisation_id: str, key_id: str, now: datetime
) -> tuple[ApiKeyOut, bool]:
    """Revoke the key in the caller's transaction; returns it and whether this call revoked it (revoking
    twice is harmless, and records nothing the second time)."""
    row = (
        await session.execute(
            for_update(select(ApiKey).where(ApiKey.id == key_id, ApiKey.organisation_id == organisation_id))
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("API key")
    revoked = row.revoked_at is None
    if revoked:
        row.revoked_at = now
    return ApiKeyOut.model_validate(row), revoked
