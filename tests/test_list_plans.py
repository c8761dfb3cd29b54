"""Every list query is served by an index, in the list's own order, on its first page and on a deep one:
a page then costs the same with ten thousand rows or a million (bench/lists.py measures it).

PostgreSQL's planner picks sequential scans on a test's few rows whatever the indexes, so each query
the API sends is explained with sequential scans and sorts priced out of reach: a plan that still has
either, or reads an index without a condition on it, has no index that fits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from tests.support.casework import Casework
from tests.support.tenants import Tenant

pytestmark = pytest.mark.postgres_only

LISTS = [
    "/v1/hires?limit=2",
    "/v1/hires?limit=2&state=employed",
    "/v1/hires?limit=2&state=draft&state=employed",
    "/v1/hires?limit=2&external_id=bulk-1",
    "/v1/hires?limit=2&updated_since=2026-01-01T00:00:00Z",
    "/v1/deadlines?limit=2",
    "/v1/deadlines?limit=2&status=pending",
    "/v1/deadlines?limit=2&kind=rtw_follow_up",
    "/v1/obligations?limit=2",
    "/v1/events?limit=2",
]


@contextmanager
def captured(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _plan(engine: AsyncEngine, statement: str, parameters: Any) -> dict[str, Any]:
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SET enable_seqscan = off")
        await conn.exec_driver_sql("SET enable_sort = off")
        result = await conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        raw = result.scalar_one()
        await conn.rollback()
    plan: dict[str, Any] = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    return plan


@pytest.mark.parametrize("path", LISTS)
async def test_a_list_page_reads_an_index_range_in_its_order(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine, path: str
) -> None:
    work = Casework(client, tenant, clock)
    work.on("2026-01-12")
    await work.licence_active()
    for i in range(3):
        hid = str((await work.create(external_id=f"bulk-{i}", inside_uk=False))["id"])
        await work.walk(hid, "start_employment", "2026-01-12")
    headers = tenant.headers("viewer")
    first = await client.get(path, headers=headers)
    assert first.status_code == 200, first.text
    cursor = first.json()["next_cursor"]
    with captured(db) as statements:
        r = await client.get(path + (f"&cursor={cursor}" if cursor else ""), headers=headers)
    assert r.status_code == 200, r.text
    listing = [(s, p) for s, p in statements if "FROM api_keys" not in s]
    assert listing, "the list sent no query"
    for statement, parameters in listing:
        nodes = list(_nodes(await _plan(db, statement, parameters)))
        scans = [n for n in nodes if n["Node Type"] == "Seq Scan"]
        sorts = [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")]
        assert not scans, (path, [n["Relation Name"] for n in scans], statement)
        # An index read end to end for its order, filtering every row, is a sequential scan in disguise.
        unbounded = [n["Index Name"] for n in nodes if "Index" in n["Node Type"] and "Index Cond" not in n]
        assert not unbounded, (path, unbounded, statement)
        assert not sorts or "UNION ALL" in statement, (path, statement)
