"""The SQLite driver runs statements on the event loop's thread and waits for a lock off it: while
another connection holds the write lock, a writer waits without stopping the service."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from app.db.sqlite import InlineConnection
from app.main import create_app
from tests.support.databases import TEST_DB, make_settings
from tests.support.problems import NEW_ORG, organisation_count

pytestmark = pytest.mark.skipif(TEST_DB != "sqlite", reason="the SQLite driver")


async def test_a_writer_waits_for_a_held_lock_while_the_loop_serves_others(
    db: AsyncEngine, clock: FrozenClock, platform_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = threading.Event()
    wait = InlineConnection._waiting

    def noted(self: InlineConnection, *args: Any) -> Any:
        waiting.set()
        return wait(self, *args)

    monkeypatch.setattr(InlineConnection, "_waiting", noted)
    app = create_app(make_settings(db.url.render_as_string(hide_password=False)), clock=clock)
    blocker = sqlite3.connect(str(db.url.database), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process's writer
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
            headers = {"Authorization": f"Bearer {platform_key}"}
            write = asyncio.create_task(c.post("/v1/organisations", json=NEW_ORG, headers=headers))
            assert await asyncio.to_thread(waiting.wait, 5)  # the write found the lock held...
            assert (await c.get("/healthz")).status_code == 200  # ...and the loop still serves
            assert not write.done()
            blocker.execute("ROLLBACK")
            assert (await write).status_code == 201  # the lock freed within the busy timeout
    finally:
        blocker.close()
        await app.state.engine.dispose()
    assert await organisation_count(db) == 1


async def test_statements_run_on_the_loop_thread(db: AsyncEngine) -> None:
    threads: set[int] = set()
    async with db.connect() as conn:
        raw = await conn.get_raw_connection()
        raw.driver_connection.set_trace_callback(lambda _: threads.add(threading.get_ident()))
        await conn.exec_driver_sql("SELECT 1")
        raw.driver_connection.set_trace_callback(None)
    assert threads == {threading.get_ident()}  # no hop to a driver thread, as aiosqlite makes
