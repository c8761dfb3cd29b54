"""Statement budgets: what each hot route may send to the database, authentication included (BEGIN and
COMMIT are not counted: every transaction has them). A route over its budget fails here; the budgets are
the design (docs/architecture.md, "Statement budgets"), so raising one is a decision, not a fix."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from tests.support.casework import Casework
from tests.support.statements import compiled, counted
from tests.support.tenants import Tenant


async def _employed(work: Casework) -> str:
    work.on("2026-01-12")
    await work.licence_active()
    hid = str((await work.create(inside_uk=False))["id"])
    await work.walk(hid, "start_employment", "2026-01-12")
    return hid


async def test_an_action_costs_the_same_statements_after_a_long_history(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine
) -> None:
    work = Casework(client, tenant, clock)
    hid = await _employed(work)

    async def change_job(title: str) -> list[str]:
        with counted(db) as statements:
            await work.ok(hid, "change_job", effective_date="2026-01-12", job_title=title)
        return statements

    first = await change_job("Engineer II")
    for i in range(25):
        await work.ok(hid, "change_job", effective_date="2026-01-12", job_title=f"Engineer {i}")
    later = await change_job("Engineer III")
    assert len(later) == len(first), (first, later)


# An action on PostgreSQL: the case locked, with what its view reads of the licence and allocation
# (unlocked) and its open deadlines and obligations, in one statement; then the case update, the
# obligation and its deadline, the audit counter, the event and its outbox row, in one more. On SQLite
# (no round trips to save, and no data-modifying CTEs) the writes are six, sent to the driver as one batch.
ACTION_BUDGET = {"postgresql": 2, "sqlite": 7}
# A case read: the case with the licence and allocation its view reads and its open items, one statement
# (on PostgreSQL run without a transaction around it).
READ_BUDGET = {"postgresql": 1, "sqlite": 1}
LIST_BUDGET = 3  # the page, the standing its states need, the open items of every case on it


async def test_an_action_stays_within_its_budget(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine
) -> None:
    work = Casework(client, tenant, clock)
    hid = await _employed(work)
    with counted(db) as statements:
        await work.ok(hid, "change_job", effective_date="2026-01-12", job_title="Engineer II")
    assert len(statements) <= ACTION_BUDGET[db.dialect.name], "\n".join(statements)
    # No lock on (nor a statement of its own for) the licence or the allocation: what the view reads of
    # them comes with the case. No count of obligations, no re-read of the sponsor or its deadlines.
    assert not any(s.lstrip().startswith(("SELECT licences", "SELECT cos_allocations")) for s in statements)
    assert not any("FOR SHARE" in s or "count(" in s.lower() or "sponsor_size" in s for s in statements)


@pytest.mark.parametrize("state", ["employed", "draft"])
async def test_a_case_read_stays_within_its_budget(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine, state: str
) -> None:
    work = Casework(client, tenant, clock)
    if state == "employed":
        hid = await _employed(work)
    else:
        await work.licence_active()
        hid = str((await work.create())["id"])
    headers = tenant.headers("viewer")
    await client.get(f"/v1/hires/{hid}", headers=headers)  # the key is looked up once, then cached
    with counted(db) as statements:
        r = await client.get(f"/v1/hires/{hid}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == state
    assert len(statements) <= READ_BUDGET[db.dialect.name], "\n".join(statements)


async def test_a_case_read_is_one_statement_without_a_transaction_around_it(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine
) -> None:
    # One statement has its own snapshot: BEGIN and COMMIT would only cost (on PostgreSQL two round trips;
    # there asyncpg sends them outside the cursor, so SQLite is where this test sees them).
    hid = await _employed(Casework(client, tenant, clock))
    headers = tenant.headers("viewer")
    await client.get(f"/v1/hires/{hid}", headers=headers)
    with counted(db, transaction_control=True) as statements:
        r = await client.get(f"/v1/hires/{hid}", headers=headers)
    assert r.status_code == 200, r.text
    assert len(statements) == 1 and statements[0].lstrip().startswith("SELECT"), statements


async def test_a_list_page_costs_the_same_for_one_case_or_twenty(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine
) -> None:
    work = Casework(client, tenant, clock)
    hid = await _employed(work)
    headers = tenant.headers("viewer")
    await client.get("/v1/hires", headers=headers)
    with counted(db) as one:
        await client.get("/v1/hires", headers=headers)
    for i in range(19):
        await work.create(external_id=f"bulk-{i}")
    await work.ok(hid, "change_job", effective_date="2026-01-12", job_title="Engineer II")
    with counted(db) as twenty:
        r = await client.get("/v1/hires", headers=headers)
    assert len(r.json()["data"]) == 20
    assert len(one) <= LIST_BUDGET and len(twenty) <= LIST_BUDGET, "\n".join(twenty)


async def test_only_the_first_request_of_a_key_looks_it_up(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine
) -> None:
    work = Casework(client, tenant, clock)
    hid = await _employed(work)
    headers = tenant.headers("viewer")
    with counted(db) as cold:
        await client.get(f"/v1/hires/{hid}", headers=headers)
    with counted(db) as warm:
        await client.get(f"/v1/hires/{hid}", headers=headers)
    assert len(cold) == len(warm) + 1
    assert any("FROM api_keys" in s for s in cold) and not any("FROM api_keys" in s for s in warm)


async def test_the_hot_routes_statements_are_compiled_once_not_per_request(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine
) -> None:
    # Compiling a statement costs more than sending it; one SQLAlchemy cannot cache is compiled on every
    # request. After a first request of each kind, the next (another case, other values) compiles nothing.
    work = Casework(client, tenant, clock)
    first = await _employed(work)
    second = str((await work.create(inside_uk=False, external_id="second"))["id"])
    await work.walk(second, "start_employment", "2026-01-12")
    viewer = tenant.headers("viewer")

    async def each(hid: str, title: str) -> None:
        await work.ok(hid, "change_job", effective_date="2026-01-12", job_title=title)
        assert (await client.get(f"/v1/hires/{hid}", headers=viewer)).status_code == 200
        assert (await client.get("/v1/hires", params={"state": "employed"}, headers=viewer)).status_code == 200

    await each(first, "Engineer II")
    with compiled(db) as afresh:
        await each(second, "Engineer III")
    assert afresh == [], "\n".join(afresh)
