"""Development bootstrap: on an empty database, a platform key and a demo organisation with an admin key,
printed once and written to a git-ignored env file, so the README's curl tour works verbatim."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.transactions import write_transaction
from app.organisations import service
from app.organisations.models import ApiKey, Nation, SponsorSize
from app.organisations.principals import Role
from app.organisations.schemas import ApiKeyCreate, OrganisationCreate


async def bootstrap_development(
    sessions: async_sessionmaker[AsyncSession], path: Path, now: datetime
) -> dict[str, str] | None:
    """Create the development keys if the database has no key at all; return them, or None."""
    async with sessions() as session, write_transaction(session):
        if (await session.execute(select(func.count()).select_from(ApiKey))).scalar_one():
            return None
        platform = service.add_api_key(
            session, None, ApiKeyCreate(name="development platform key", role=Role.platform), None, now
        )
        org = service.add_organisation(
            session,
            OrganisationCreate(
                name="Demo Employer Ltd",
                sponsor_size=SponsorSize.medium_large,
                nation=Nation.england_and_wales,
                sandbox=True,
            ),
            now,
        )
        await session.flush()
        admin = service.add_api_key(
            session, org.id, ApiKeyCreate(name="demo admin key", role=Role.admin), platform.id, now
        )
    values = {
        "SPONSORFLOW_PLATFORM_KEY": platform.key,
        "SPONSORFLOW_DEMO_ORG": org.id,
        "SPONSORFLOW_DEMO_KEY": admin.key,
    }
    write_env_file(path, values)
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write `export NAME=value` lines readable only by the owner (they hold secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"export {k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
