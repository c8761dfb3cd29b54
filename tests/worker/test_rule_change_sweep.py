"""The rule-change sweep: cases nobody touched get their warning once the rules data holds a change ahead
of them (the worker runs it at start-up and daily), and a second sweep arms nothing more."""

from __future__ import annotations

from datetime import datetime

from httpx import AsyncClient
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from app.context import UK
from app.db.engine import create_sessionmaker
from app.deadlines.models import Deadline
from app.rules import RuleBook
from app.worker.loop import Worker
from tests.support.casework import Casework
from tests.support.databases import make_settings
from tests.support.tenants import Tenant


async def test_a_case_without_its_warning_gets_it_from_the_sweep_once(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, db: AsyncEngine, rulebook: RuleBook
) -> None:
    work = Casework(client, tenant, clock)
    work.on("2026-10-15")
    await work.licence_active()
    hid = (await work.create(inside_uk=False, soc_code="1243", salary="45000.00", start_date="2027-03-01"))["id"]
    async with db.begin() as conn:  # as if the case predated the change in the data
        await conn.execute(delete(Deadline).where(Deadline.kind == "rule_change"))
    worker = Worker(create_sessionmaker(db), rulebook, make_settings(str(db.url)))
    now = datetime(2026, 10, 16, 6, tzinfo=UK)
    assert (await worker.tick(now))["rule_change_warnings"] == 1
    assert (await worker.tick(now))["rule_change_warnings"] == 0  # once a day
    await worker.aclose()
    async with db.connect() as conn:
        rows = (await conn.execute(select(Deadline.status).where(Deadline.subject_id == hid))).scalars().all()
    assert list(rows) == ["pending"]
    again = Worker(create_sessionmaker(db), rulebook, make_settings(str(db.url)))  # a restart
    await again.tick(now)
    await again.aclose()
    async with db.connect() as conn:
        count = (await conn.execute(select(Deadline.id).where(Deadline.kind == "rule_change"))).all()
    assert len(count) == 1
