"""Test harness. The suite runs on SQLite (default) or PostgreSQL (SPONSORFLOW_TEST_DB=postgresql); see
tests/support/databases.py for which PostgreSQL database it owns.

The schema is built by running the migrations; after every test the tables are emptied, so tests that
commit (every use case does) and race across connections stay isolated. Shared helpers live in
tests/support/, not here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient, Response
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from app.config import Settings
from app.db.engine import create_engine
from app.db.migrations import upgrade
from app.main import create_app
from app.rules.book import RuleBook
from app.rules.loader import load_rulebook
from app.tables import metadata
from tests.support import contract
from tests.support.contract import undocumented
from tests.support.databases import (
    IN_CI,
    PG_URL,
    TEST_DB,
    database_url,
    make_settings,
    pg_problem,
    reset_postgres,
)
from tests.support.tenants import START, Tenant, make_platform_key, make_tenant

_PG_DOWN = pytest.StashKey[str]()

# Property tests run a fixed, seeded budget: a wall-clock deadline fails on a loaded 2-core machine
# without finding anything, and a derandomised run is the same run in CI and on a laptop.
hypothesis_settings.register_profile("suite", deadline=None, derandomize=True)
hypothesis_settings.load_profile("suite")


def pytest_sessionstart(session: pytest.Session) -> None:
    if TEST_DB != "postgresql":
        return
    problem = asyncio.run(pg_problem(PG_URL))
    if problem is not None:
        message = f"PostgreSQL at {PG_URL} is unreachable ({problem})"
        if IN_CI:
            pytest.exit(message + ": CI must test PostgreSQL", returncode=1)
        session.config.stash[_PG_DOWN] = message


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    down = config.stash.get(_PG_DOWN, None)
    for item in items:
        if "postgres_only" in item.keywords and TEST_DB != "postgresql":
            item.add_marker(pytest.mark.skip(reason="PostgreSQL-only behaviour; runs in the PostgreSQL pass"))
        elif down and "db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason=down + " (outside CI only)"))


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


@pytest.fixture(scope="session")
def book(rulebook: RuleBook) -> RuleBook:
    """The same rule book, by the name the rules tests use."""
    return rulebook


@pytest.fixture
def app(settings: Settings, db: AsyncEngine, clock: FrozenClock, rulebook: RuleBook):  # type: ignore[no-untyped-def]
    return create_app(settings, clock=clock, engine=db, rulebook=rulebook)


async def _within_contract(response: Response) -> None:
    """Every answer the suite sees is one the OpenAPI documents: its status, and a problem's code."""
    await response.aread()
    problem = undocumented(contract.spec(), response.request.method, response.request.url.path, response)
    assert problem is None, problem


@pytest.fixture
async def client(app) -> AsyncIterator[AsyncClient]:  # type: ignore[no-untyped-def]
    hooks = {"response": [_within_contract]}
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test", event_hooks=hooks) as c:
        yield c


@pytest.fixture
async def platform_key(db: AsyncEngine) -> str:
    return await make_platform_key(db)


@pytest.fixture
async def tenant(db: AsyncEngine) -> Tenant:
    return await make_tenant(db)


@pytest.fixture
async def other_tenant(db: AsyncEngine) -> Tenant:
    return await make_tenant(db, name="Other Employer plc")


@pytest.fixture
async def sandbox(client: AsyncClient, platform_key: str) -> tuple[str, Tenant]:
    """A test clock at 2026-01-12 09:00 UTC and a sandbox organisation living on it."""
    bearer = {"Authorization": f"Bearer {platform_key}"}
    clock = await client.post("/v1/test-clocks", json={"frozen_time": "2026-01-12T09:00:00Z"}, headers=bearer)
    assert clock.status_code == 201, clock.text
    org = await client.post(
        "/v1/organisations",
        json={
            "name": "Sandbox Ltd",
            "sponsor_size": "small",
            "nation": "england_and_wales",
            "sandbox": True,
            "test_clock_id": clock.json()["id"],
        },
        headers=bearer,
    )
    keys = {}
    for role in ("admin", "hr"):
        r = await client.post(
            "/v1/api-keys",
            json={"name": role, "role": role},
            headers=bearer | {"Sponsorflow-Organisation": org.json()["id"]},
        )
        keys[role] = r.json()["key"]
    return clock.json()["id"], Tenant(org.json()["id"], keys)
