"""An action issues a fixed number of SQL statements, whatever the case's history (no lazy loads, no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from httpx import AsyncClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from tests.support.casework import Casework
from tests.support.tenants import Tenant


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_an_action_costs_the_same_statements_after_a_long_history(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine
) -> None:
    work = Casework(client, tenant, clock)
    work.on("2026-01-12")
    await work.licence_active()
    hid = (await work.create(inside_uk=False))["id"]
    await work.walk(hid, "start_employment", "2026-01-12")

    async def change_job(title: str) -> list[str]:
        with counted(db) as statements:
            await work.ok(hid, "change_job", effective_date="2026-01-12", job_title=title)
        return statements

    first = await change_job("Engineer II")
    for i in range(25):
        await work.ok(hid, "change_job", effective_date="2026-01-12", job_title=f"Engineer {i}")
    later = await change_job("Engineer III")
    assert len(later) == len(first), (first, later)
    assert len(first) <= 25, first
