"""One migration history serves both databases, up and down."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from app.db.engine import create_engine
from app.db.migrations import current_and_head, downgrade, upgrade
from app.tables import metadata
from tests.support.databases import PG_URL, TEST_DB, make_settings, recreate_pg_database


async def _tables(engine) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_downgrade_upgrade_round_trip(tmp_path: Path) -> None:
    if TEST_DB == "postgresql":
        # A database of its own, on the server the suite was pointed at.
        url = await recreate_pg_database(make_url(PG_URL).database + "_migrations")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"
    engine = create_engine(make_settings(url))
    try:
        await upgrade(engine)
        assert set(metadata.tables) <= await _tables(engine)
        await downgrade(engine, "base")
        assert await _tables(engine) <= {"alembic_version"}
        await upgrade(engine)
        current, head = await current_and_head(engine)
        assert current == head is not None
    finally:
        await engine.dispose()


async def test_models_match_the_migrations(db) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def diff(conn):  # type: ignore[no-untyped-def]
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)

    async with db.connect() as conn:
        assert await conn.run_sync(diff) == []
