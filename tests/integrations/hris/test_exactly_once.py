"""Exactly once, under load and failure: twenty concurrent deliveries of one event make one effect, and
a worker process killed while applying leaves every stored event to be applied exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit.models import Event, OutboxMessage
from app.hires.models import Hire
from app.integrations.hris.models import HrisEvent
from tests.integrations.hris.conftest import Hris
from tests.integrations.hris.senders import Person
from tests.worker.test_deadline_job import wait_for_dead_transactions

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def provider() -> str:
    return "standard"


async def statuses(db: AsyncEngine) -> Counter[str]:
    async with db.connect() as conn:
        rows = await conn.execute(select(HrisEvent.status, func.count()).group_by(HrisEvent.status))
        return Counter(dict(rows.all()))


async def test_twenty_concurrent_deliveries_of_one_event_make_one_case(hris: Hris, db: AsyncEngine) -> None:
    await hris.ready()
    body, headers = hris.sender.delivery("created", Person(), hris.clock.now())
    answers = await asyncio.gather(*(hris.post(body, headers) for _ in range(20)))
    assert {r.status_code for r in answers} == {202}, [r.text for r in answers if r.status_code != 202]
    assert len({tuple(r.json()["events"]) for r in answers}) == 1
    assert sum(not r.json()["duplicate"] for r in answers) == 1
    applying = await asyncio.gather(*(hris.apply() for _ in range(3)))  # three workers at once
    assert sum(applying) == 1
    async with db.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(HrisEvent))).scalar_one() == 1
        assert (await conn.execute(select(func.count()).select_from(Hire))).scalar_one() == 1
        created = select(func.count()).where(Event.type == "hire.created")
        assert (await conn.execute(created)).scalar_one() == 1


@pytest.mark.processes
async def test_a_worker_killed_while_applying_leaves_every_event_to_apply_exactly_once(
    hris: Hris, db: AsyncEngine
) -> None:
    await hris.ready()
    people = [Person(id=f"E{i:04d}") for i in range(150)]
    for person in people:
        await hris.send("created", person)
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "worker",
        env=os.environ
        | {
            "SPONSORFLOW_DATABASE_URL": str(db.url.render_as_string(hide_password=False)),
            "SPONSORFLOW_LOG_LEVEL": "WARNING",
        },
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(1_200):
            if worker.returncode is not None or (await statuses(db))["applied"] >= 15:
                break
            await asyncio.sleep(0.05)  # waiting for the worker process to commit events, not for time to pass
        worker.send_signal(signal.SIGKILL)
    finally:
        if worker.returncode is None:
            worker.kill()
        _, stderr = await worker.communicate()
    assert worker.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    midway = await statuses(db)
    assert 15 <= midway["applied"] < len(people), midway
    if db.dialect.name == "postgresql":
        await wait_for_dead_transactions(db, "hris_events")

    assert await hris.apply() == len(people) - midway["applied"]
    assert await statuses(db) == Counter({"applied": len(people)})
    async with db.connect() as conn:
        external_ids = list((await conn.execute(select(Hire.external_id))).scalars())
        linked = list((await conn.execute(select(HrisEvent.hire_id))).scalars())
        created = (await conn.execute(select(func.count()).where(Event.type == "hire.created"))).scalar_one()
        seqs = list((await conn.execute(select(Event.seq).order_by(Event.seq))).scalars())
        outbox = (await conn.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
    assert sorted(external_ids) == sorted(p.id for p in people)
    assert len(set(linked)) == len(people) and None not in linked
    assert created == len(people)
    assert seqs == list(range(1, len(seqs) + 1)) and outbox == len(seqs)
