"""Organisations with a key per role, made through the real use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_sessionmaker
from app.db.transactions import write_transaction
from app.organisations import service as organisations
from app.organisations.models import Nation, SponsorSize
from app.organisations.principals import Role
from app.organisations.schemas import ApiKeyCreate, OrganisationCreate

START = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)  # a Monday


@dataclass
class Tenant:
    organisation_id: str
    keys: dict[str, str]

    def headers(self, role: str = "admin", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}", **extra}


async def make_platform_key(engine: AsyncEngine) -> str:
    async with create_sessionmaker(engine)() as session, write_transaction(session):
        created = organisations.add_api_key(
            session, None, ApiKeyCreate(name="platform", role=Role.platform), None, START
        )
    return created.key


async def make_tenant(
    engine: AsyncEngine,
    name: str = "Acme Ltd",
    nation: Nation = Nation.england_and_wales,
    sponsor_size: SponsorSize = SponsorSize.medium_large,
    sandbox: bool = False,
) -> Tenant:
    async with create_sessionmaker(engine)() as session:
        org = await organisations.create_organisation(
            session,
            OrganisationCreate(name=name, sponsor_size=sponsor_size, nation=nation, sandbox=sandbox),
            START,
        )
        keys = {}
        for role in (Role.admin, Role.hr, Role.viewer):
            async with write_transaction(session):
                created = organisations.add_api_key(
                    session, org.id, ApiKeyCreate(name=role.value, role=role), None, START
                )
            keys[role.value] = created.key
    return Tenant(org.id, keys)
