"""Which database the suite runs on, and how to reach it.

SQLite by default; `SPONSORFLOW_TEST_DB=postgresql` runs on the database that
`SPONSORFLOW_TEST_PG_URL` names (default `sponsorflow_test` on 127.0.0.1:5432), created when missing;
under pytest-xdist each worker takes that name with its own suffix (`sponsorflow_test_gw0`, ...). The
suite owns those databases: it resets their schema once per run, so never point it at one you keep.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from app.config import Settings

TEST_DB = os.environ.get("SPONSORFLOW_TEST_DB", "sqlite")
_BASE_PG_URL = make_url(
    os.environ.get("SPONSORFLOW_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sponsorflow_test")
)
# Each pytest-xdist worker (`make test` runs TEST_WORKERS of them) owns a database of its own: the suite
# empties every table after each test, which would wipe a neighbour's rows mid-test.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
PG_URL = (
    _BASE_PG_URL.set(database=f"{_BASE_PG_URL.database}_{_WORKER}") if _WORKER else _BASE_PG_URL
).render_as_string(hide_password=False)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg", "postgresql")


def pg_database_url(database: str) -> str:
    """Another database on the server the suite's PostgreSQL URL names."""
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


async def pg_problem(url: str) -> str | None:
    """Why the server `url` names cannot be reached (None when it can); creates the database if missing."""
    target = make_url(url)
    try:
        conn = await asyncpg.connect(_dsn(pg_database_url("postgres")), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database):
            await conn.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await conn.close()
    return None


async def recreate_pg_database(database: str) -> str:
    """An empty database of this name on the suite's server, for tests that need one of their own."""
    conn = await asyncpg.connect(_dsn(pg_database_url("postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return pg_database_url(database)


async def reset_postgres(url: str) -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def database_url(tmp_dir: Path, name: str = "sponsorflow") -> str:
    if TEST_DB == "postgresql":
        return PG_URL
    return f"sqlite+aiosqlite:///{tmp_dir / (name + '.db')}"


TEST_ENCRYPTION_KEY = Fernet.generate_key().decode()


def make_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "environment": "development",
        "scheduler_enabled": False,
        "bootstrap_dev_keys": False,
        "sqlite_busy_timeout_ms": 5000,
        # A key of the suite's own, so settings made for production are complete.
        "hris_encryption_keys": [TEST_ENCRYPTION_KEY],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
