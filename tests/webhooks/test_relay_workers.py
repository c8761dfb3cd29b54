"""The relay as it runs in production: `sponsorflow worker` processes sharing the outbox and the endpoints
on PostgreSQL, one of them SIGKILLed mid-batch, against a real receiver on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit.models import Event, OutboxMessage
from app.db.engine import create_sessionmaker
from app.ids import new_id
from app.integrations.webhooks import service
from app.integrations.webhooks.models import WebhookAttempt, WebhookDelivery
from app.integrations.webhooks.relay import Policy, relay_due
from app.integrations.webhooks.schemas import EndpointIn
from app.integrations.webhooks.sender import Sender
from app.organisations.models import Organisation
from tests.support.databases import make_settings
from tests.support.tenants import make_tenant
from tests.support.webhooks import Answer, Receiver, running_receiver
from tests.worker.test_deadline_job import workers

ENDPOINTS = 4


async def insert_events(engine: AsyncEngine, organisation_id: str, n: int) -> list[str]:
    """`n` committed events with their outbox rows, seq 1..n, as `audit.record` would have left them."""
    now = datetime.now(UTC)
    ids = [new_id("evt") for _ in range(n)]
    events = [
        {
            "id": event_id,
            "organisation_id": organisation_id,
            "seq": seq,
            "type": "hire.updated",
            "subject_type": "hire",
            "subject_id": f"hire_{seq}",
            "case_id": f"hire_{seq}",
            "action": None,
            "from_state": None,
            "to_state": None,
            "actor_type": "system",
            "actor_id": None,
            "actor_role": None,
            "data": {"job_title": f"Engineer {seq}"},
            "request_id": None,
            "occurred_at": now,
        }
        for seq, event_id in enumerate(ids, start=1)
    ]
    outbox = [
        {
            "organisation_id": organisation_id,
            "event_id": e["id"],
            "event_type": e["type"],
            "payload": {
                **{k: e[k] for k in ("id", "seq", "type", "subject_type", "subject_id", "case_id", "action")},
                **{k: e[k] for k in ("from_state", "to_state", "data", "request_id")},
                "actor": {"type": "system", "id": None, "role": None},
                "occurred_at": now.isoformat(),
            },
            "created_at": now,
            "delivered_at": None,
        }
        for e in events
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(Event), events)
        await conn.execute(insert(OutboxMessage), outbox)
        await conn.execute(update(Organisation).where(Organisation.id == organisation_id).values(event_seq=n))
    return ids


async def endpoints(engine: AsyncEngine, organisation_id: str, receiver: Receiver) -> dict[str, str]:
    """ENDPOINTS endpoints on the receiver, each on its own path; returns path -> endpoint id."""
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    made = {}
    async with create_sessionmaker(engine)() as session:
        for i in range(ENDPOINTS):
            created = await service.create_endpoint(
                session, organisation_id, EndpointIn(url=receiver.url(f"/e{i}")), datetime.now(UTC), settings
            )
            made[f"/e{i}"] = created.id
    return made


async def state(engine: AsyncEngine) -> tuple[Counter[str], Counter[str], set[str]]:
    """Delivery statuses, attempts per delivery, and deliveries still leased to a worker."""
    async with engine.connect() as conn:
        statuses = Counter(
            dict(
                (
                    await conn.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))
                ).all()
            )
        )
        attempts = Counter(
            dict(
                (
                    await conn.execute(
                        select(WebhookAttempt.delivery_id, func.count()).group_by(WebhookAttempt.delivery_id)
                    )
                ).all()
            )
        )
        leased = set(
            (
                await conn.execute(select(WebhookDelivery.event_id).where(WebhookDelivery.claim_token.is_not(None)))
            ).scalars()
        )
    return statuses, attempts, leased


def first_receipts_in_order(receiver: Receiver, seq_of: dict[str, int]) -> None:
    for path in {r.path for r in receiver.received}:
        seen: list[int] = []
        for r in receiver.on(path):
            seq = seq_of[r.headers["webhook-id"]]
            if seq not in seen:
                seen.append(seq)
        assert seen == sorted(seen), f"{path} received events out of order"


async def finish(process: asyncio.subprocess.Process) -> None:
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()[-3000:]


@pytest.mark.postgres_only
@pytest.mark.processes
async def test_two_worker_processes_deliver_every_event_once_per_endpoint_in_order(db: AsyncEngine) -> None:
    org = (await make_tenant(db)).organisation_id
    with running_receiver() as receiver:
        paths = await endpoints(db, org, receiver)
        ids = await insert_events(db, org, 300)
        async with workers(2, batch_size=50) as processes:
            await asyncio.gather(*(finish(p) for p in processes))
        # A worker never sends past an event another is still fanning out; what one tick of the pair
        # deferred that way goes out on the next tick, here one more worker pass.
        async with workers(1, batch_size=50) as (last,):
            await finish(last)

        received = Counter((r.path, r.headers["webhook-id"]) for r in receiver.received)
    assert set(received) == {(p, e) for p in paths for e in ids}, "an event was lost"
    assert set(received.values()) == {1}, "two workers sent the same schedule step"
    first_receipts_in_order(receiver, {e: i for i, e in enumerate(ids, start=1)})
    statuses, attempts, leased = await state(db)
    assert statuses == Counter({"succeeded": ENDPOINTS * len(ids)})
    assert set(attempts.values()) == {1} and not leased


@pytest.mark.postgres_only
@pytest.mark.processes
async def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_only_what_it_held(
    db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = (await make_tenant(db)).organisation_id
    url = db.url.render_as_string(hide_password=False)
    # Two endpoints at a time per worker: with more endpoints than that, both workers have work.
    monkeypatch.setenv("SPONSORFLOW_WEBHOOK_RELAY_CONCURRENCY", "2")
    with running_receiver() as receiver:
        receiver.default = Answer(200, b"ok", delay=0.004)  # slow enough for the kill to land mid-run
        await endpoints(db, org, receiver)
        ids = await insert_events(db, org, 200)

        async def until_received(n: int, process: asyncio.subprocess.Process) -> None:
            for _ in range(3_000):
                if process.returncode is not None or len(receiver.received) >= n:
                    return
                await asyncio.sleep(0.02)  # waiting for the worker processes to send, not for time to pass

        async with workers(1, batch_size=50) as (victim,):
            await until_received(50, victim)
            async with workers(1, batch_size=50) as (survivor,):
                await until_received(150, victim)
                if victim.returncode is None:
                    victim.send_signal(signal.SIGKILL)
                await victim.wait()
                await finish(survivor)
        assert victim.returncode == -signal.SIGKILL, "the worker finished before it could be killed"

        _, _, held = await state(db)
        assert held, "the worker was killed holding no delivery"
        # What the killed worker held is leased until its lease ends: a pass after that sends it again.
        settings = make_settings(url)
        after_lease = datetime.now(UTC) + Policy.of(settings).lease + timedelta(seconds=1)
        sessions = create_sessionmaker(db)
        async with contextlib.aclosing(Sender(settings)) as sender:
            for _ in range(200):
                await relay_due(sessions, after_lease, settings, sender=sender)
                statuses, attempts, leased = await state(db)
                if statuses == Counter({"succeeded": ENDPOINTS * len(ids)}):
                    break
                await asyncio.sleep(0.05)  # waiting for the server to end the killed worker's session
        received = Counter((r.path, r.headers["webhook-id"]) for r in receiver.received)

    assert statuses == Counter({"succeeded": ENDPOINTS * len(ids)}), statuses
    assert set(attempts.values()) == {1}, "a schedule step was recorded twice"
    assert not leased
    per_event: dict[str, int] = defaultdict(int)
    for (_, event_id), n in received.items():
        per_event[event_id] = max(per_event[event_id], n)
        assert n <= 2
    assert len(received) == ENDPOINTS * len(ids), "an event was lost"
    repeated = {e for e, n in per_event.items() if n > 1}
    assert repeated <= held, "an event the killed worker did not hold was sent twice"
    first_receipts_in_order(receiver, {e: i for i, e in enumerate(ids, start=1)})
