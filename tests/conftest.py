"""Test harness. The suite runs on SQLite (default) or PostgreSQL (SPONSORFLOW_TEST_DB=postgresql).

The schema is built by running the migrations; after every test the tables are emptied, so tests that
commit (every use case does) and race across connections stay isolated.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.auth import Role
from app.clock import FrozenClock
from app.config import Settings
from app.db.engine import create_engine, create_sessionmaker
from app.db.metadata import metadata
from app.db.migrations import upgrade
from app.main import create_app
from app.organisations import service as organisations
from app.organisations.models import Nation, SponsorSize
from app.organisations.schemas import ApiKeyCreate, OrganisationCreate
from app.rules.book import RuleBook
from app.rules.loader import load_rulebook

TEST_DB = os.environ.get("SPONSORFLOW_TEST_DB", "sqlite")
PG_URL = os.environ.get("SPONSORFLOW_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
START = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)  # a Monday


async def _pg_reachable(url: str) -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    if TEST_DB != "postgresql":
        return
    problem = asyncio.run(_pg_reachable(PG_URL))
    if problem is not None:
        message = f"PostgreSQL at {PG_URL} is unreachable ({problem})"
        if IN_CI:
            pytest.exit(message + ": CI must test PostgreSQL", returncode=1)
        session.config.stash[_PG_DOWN] = message


_PG_DOWN = pytest.StashKey[str]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    down = config.stash.get(_PG_DOWN, None)
    for item in items:
        if "postgres_only" in item.keywords and TEST_DB != "postgresql":
            item.add_marker(pytest.mark.skip(reason="PostgreSQL-only behaviour; runs in the PostgreSQL pass"))
        elif down and "db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason=down + " (outside CI only)"))


def database_url(tmp_dir: Path, name: str = "sponsorflow") -> str:
    if TEST_DB == "postgresql":
        return PG_URL
    return f"sqlite+aiosqlite:///{tmp_dir / (name + '.db')}"


def make_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "environment": "development",
        "scheduler_enabled": False,
        "bootstrap_dev_keys": False,
        "sqlite_busy_timeout_ms": 5000,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def reset_postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("db")


@pytest.fixture(scope="session")
async def engine(db_dir: Path) -> AsyncIterator[AsyncEngine]:
    url = database_url(db_dir)
    if TEST_DB == "postgresql":
        await reset_postgres(url)
    eng = create_engine(make_settings(url))
    await upgrade(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The migrated database, emptied after the test."""
    yield engine
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(db: AsyncEngine, db_dir: Path) -> Settings:
    return make_settings(str(db.url.render_as_string(hide_password=False)))


@pytest.fixture(scope="session")
def rulebook() -> RuleBook:
    """The shipped rules, loaded once: loading validates 400-odd occupations and takes a while."""
    return load_rulebook()


@pytest.fixture
def app(settings: Settings, db: AsyncEngine, clock: FrozenClock, rulebook: RuleBook):  # type: ignore[no-untyped-def]
    return create_app(settings, clock=clock, engine=db, rulebook=rulebook)


@pytest.fixture
async def client(app) -> AsyncIterator[AsyncClient]:  # type: ignore[no-untyped-def]
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c:
        yield c


@dataclass
class Tenant:
    organisation_id: str
    keys: dict[str, str]

    def headers(self, role: str = "admin", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}", **extra}


@pytest.fixture
async def platform_key(db: AsyncEngine) -> str:
    async with create_sessionmaker(db)() as session:
        created = await organisations.create_api_key(
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
            created = await organisations.create_api_key(
                session, org.id, ApiKeyCreate(name=role.value, role=role), None, START
            )
            keys[role.value] = created.key
    return Tenant(org.id, keys)


@pytest.fixture
async def tenant(db: AsyncEngine) -> Tenant:
    return await make_tenant(db)


@pytest.fixture
async def other_tenant(db: AsyncEngine) -> Tenant:
    return await make_tenant(db, name="Other Employer plc")
