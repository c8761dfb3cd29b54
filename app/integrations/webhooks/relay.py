"""The relay: from the outbox to each subscribed endpoint, in `seq` order, on the retry schedule.

A pass does two things, each safe with any number of workers:

1. **Fan-out.** Claim unrelayed outbox rows in id order (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's
   BEGIN IMMEDIATE serialises), queue one delivery per subscribed, enabled endpoint, mark the rows relayed,
   commit. A killed worker's claim rolls back and the rows are relayed by the next.
2. **Send.** Claim due endpoints (`SKIP LOCKED`), and for each the run of its queue that may go now: the
   head and the deliveries after it, in seq order, stopping at one that is not due, and before any event
   of the organisation still waiting in the outbox (a worker relaying an earlier batch has not committed
   yet). The claim leases those deliveries to this worker and commits; no transaction is open while
   sending. The run is sent one after another, stopping at the first failure; then one transaction records
   every attempt, moves the schedule on, and releases what was not sent. While leased, nobody else sends
   them; a worker killed mid-send leaves the lease to expire, and the next worker sends that step again
   (receivers drop the duplicate by `webhook-id`).

Per endpoint, a failing head holds back everything behind it until it succeeds or exhausts the schedule
(`failed`): events go out in order unless one has failed for good.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import zip_longest
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.audit.models import Event, OutboxMessage
from app.audit.schemas import EventOut
from app.audit.service import SYSTEM, EventDraft
from app.config import Settings
from app.db.transactions import for_update, write_transaction
from app.ids import new_id
from app.integrations.webhooks import catalogue, queue
from app.integrations.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.integrations.webhooks.sender import Outcome, Sender

log = logging.getLogger("sponsorflow.webhooks")


@dataclass(frozen=True)
class Policy:
    """The relay's figures, read from Settings (documented there and in the README)."""

    schedule: tuple[timedelta, ...]
    disable_after: timedelta
    lease: timedelta
    send_budget_seconds: float
    batch_size: int
    concurrency: int
    run_size: int

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        timeout = settings.webhook_timeout_seconds
        return cls(
            schedule=tuple(timedelta(seconds=s) for s in settings.webhook_retry_schedule_seconds),
            disable_after=timedelta(hours=settings.webhook_disable_after_hours),
            # A run starts its last send within the budget and every send ends within the timeout, so a
            # live worker always records before its lease ends.
            lease=timedelta(seconds=2 * timeout + 30),
            send_budget_seconds=timeout,
            batch_size=settings.webhook_relay_batch_size,
            concurrency=settings.webhook_relay_concurrency,
            run_size=settings.webhook_relay_run_size,
        )


def first_attempt_at(created: datetime, settings: Settings) -> datetime:
    return created + timedelta(seconds=settings.webhook_retry_schedule_seconds[0])


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while its rotation grace period lasts."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret is not None and expires is not None and expires > now:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


# --- fan-out -------------------------------------------------------------------------------------------


def subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    if event_type == catalogue.TEST_EVENT:
        return False
    return endpoint.event_types is None or event_type in endpoint.event_types


async def fan_out(sessions: async_sessionmaker[AsyncSession], now: datetime, settings: Settings) -> int:
    """Queue every unrelayed outbox row for its subscribers, a batch per transaction; returns rows relayed."""
    batch_size = settings.webhook_relay_batch_size
    relayed = 0
    while True:
        async with sessions() as session, write_transaction(session):
            stmt = (
                select(OutboxMessage.id, OutboxMessage.organisation_id, OutboxMessage.event_id, OutboxMessage.payload)
                .where(OutboxMessage.delivered_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(batch_size)
            )
            rows = (await session.execute(for_update(stmt, skip_locked=True))).all()
            if not rows:
                return relayed
            endpoints: dict[str, list[WebhookEndpoint]] = defaultdict(list)
            for endpoint in (
                await session.execute(
                    select(WebhookEndpoint).where(
                        WebhookEndpoint.organisation_id.in_({r.organisation_id for r in rows}),
                        WebhookEndpoint.enabled.is_(True),
                    )
                )
            ).scalars():
                endpoints[endpoint.organisation_id].append(endpoint)
            deliveries = [
                _delivery(endpoint, row.event_id, row.payload, "event", now, settings)
                for row in rows
                for endpoint in endpoints[row.organisation_id]
                if subscribed(endpoint, row.payload["type"])
            ]
            if deliveries:
                await session.execute(insert(WebhookDelivery), deliveries)
                await queue.wake(session, (d["endpoint_id"] for d in deliveries), now)
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in rows])).values(delivered_at=now)
            )
        relayed += len(rows)
        if len(rows) < batch_size:
            return relayed


def _delivery(
    endpoint: WebhookEndpoint, event_id: str, event: dict[str, Any], trigger: str, now: datetime, settings: Settings
) -> dict[str, Any]:
    return {
        "id": new_id("whd"),
        "organisation_id": endpoint.organisation_id,
        "endpoint_id": endpoint.id,
        "event_id": event_id,
        "event_type": event["type"],
        "seq": event["seq"],
        "status": "pending",
        "trigger": trigger,
        "schedule_step": 0,
        "attempt_count": 0,
        "next_attempt_at": first_attempt_at(now, settings),
        "claim_token": None,
        "last_attempt_at": None,
        "finished_at": None,
        "created_at": now,
    }


def queue_delivery(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    event: EventOut,
    trigger: str,
    now: datetime,
    settings: Settings,
) -> WebhookDelivery:
    """Stage one delivery of a recorded event to one endpoint (a test event), in the caller's transaction."""
    delivery = WebhookDelivery(
        **_delivery(endpoint, event.id, {"type": event.type, "seq": event.seq}, trigger, now, settings)
    )
    session.add(delivery)
    return delivery


# --- send ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    id: str
    event_id: str
    body: str


@dataclass(frozen=True)
class _Run:
    endpoint_id: str
    url: str
    secrets: list[str]
    token: str
    deliveries: list[_Claimed]


@dataclass(frozen=True)
class Pass:
    """What one relay pass did."""

    relayed: int  # outbox rows handed to endpoint queues
    attempts: int
    failed: int  # attempts that failed

    @property
    def handled(self) -> int:
        return self.relayed + self.attempts


async def send_due(
    sessions: async_sessionmaker[AsyncSession], now: datetime, settings: Settings, sender: Sender
) -> tuple[int, int]:
    """Send everything due at `now`, up to `concurrency` endpoints at once; returns (attempts, failed).

    A slot is refilled as soon as an endpoint's run is recorded, so a slow receiver holds one slot, for
    at most its timeout per attempt, and the others keep going."""
    policy = Policy.of(settings)
    skipped: set[str] = set()
    running: set[asyncio.Task[list[Outcome]]] = set()
    attempts = failed = 0
    errors: list[BaseException] = []
    more = True
    while True:
        free = policy.concurrency - len(running)
        if more and free > 0 and not errors:
            try:
                runs = await _claim(sessions, now, policy, free, skipped)
            except Exception as exc:
                # Stop claiming, but let the runs in flight send and record before the pass fails.
                errors.append(exc)
                runs = []
            more = len(runs) == free
            running |= {asyncio.create_task(_deliver(sessions, now, policy, sender, run)) for run in runs}
        if not running:
            break
        done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is not None:
                errors.append(task.exception())  # type: ignore[arg-type]
            else:
                attempts += len(task.result())
                failed += sum(not o.succeeded for o in task.result())
        more = True  # a recorded run may have made the rest of its queue due
    if errors:
        raise errors[0]
    return attempts, failed


async def _oldest_unrelayed_seq(session: AsyncSession, organisation_id: str) -> int | None:
    """The seq of the organisation's oldest event still in the outbox: nothing after it may be sent yet."""
    return (
        await session.execute(
            select(Event.seq)
            .join(OutboxMessage, OutboxMessage.event_id == Event.id)
            .where(OutboxMessage.organisation_id == organisation_id, OutboxMessage.delivered_at.is_(None))
            .order_by(OutboxMessage.id)
            .limit(1)
        )
    ).scalar_one_or_none()


async def _claim(
    sessions: async_sessionmaker[AsyncSession], now: datetime, policy: Policy, limit: int, skipped: set[str]
) -> list[_Run]:
    token = secrets.token_hex(16)
    lease_until = now + policy.lease
    runs: list[tuple[WebhookEndpoint, list[WebhookDelivery]]] = []
    async with sessions() as session, write_transaction(session):
        stmt = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.enabled.is_(True), WebhookEndpoint.next_attempt_at <= now)
            .order_by(WebhookEndpoint.next_attempt_at)
            .limit(limit)
        )
        if skipped:
            stmt = stmt.where(WebhookEndpoint.id.not_in(skipped))
        barriers: dict[str, int | None] = {}
        for endpoint in (await session.execute(for_update(stmt, skip_locked=True))).scalars():
            org = endpoint.organisation_id
            if org not in barriers:
                barriers[org] = await _oldest_unrelayed_seq(session, org)
            barrier = barriers[org]
            waiting = list(
                (
                    await session.execute(
                        select(WebhookDelivery)
                        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
                        .order_by(WebhookDelivery.seq)
                        .limit(policy.run_size)
                    )
                ).scalars()
            )
            run: list[WebhookDelivery] = []
            for delivery in waiting:
                due = delivery.next_attempt_at is not None and delivery.next_attempt_at <= now
                if not due or (barrier is not None and delivery.seq >= barrier):
                    break
                run.append(delivery)
            if run:
                for delivery in run:
                    delivery.next_attempt_at, delivery.claim_token = lease_until, token
                endpoint.next_attempt_at = lease_until
                runs.append((endpoint, run))
            elif waiting and waiting[0].next_attempt_at is not None and waiting[0].next_attempt_at <= now:
                skipped.add(endpoint.id)  # behind an event not relayed yet: the next pass sends it
            else:
                await queue.reschedule(session, endpoint)
        payloads: dict[str, dict[str, Any]] = {}
        event_ids = [d.event_id for _, run in runs for d in run]
        if event_ids:
            rows = await session.execute(
                select(OutboxMessage.event_id, OutboxMessage.payload).where(OutboxMessage.event_id.in_(event_ids))
            )
            payloads = {row.event_id: row.payload for row in rows}
    return [
        _Run(
            endpoint_id=endpoint.id,
            url=endpoint.url,
            secrets=signing_secrets(endpoint, now),
            token=token,
            deliveries=[
                _Claimed(d.id, d.event_id, catalogue.encode(catalogue.body(d.organisation_id, payloads[d.event_id])))
                for d in run
            ],
        )
        for endpoint, run in runs
    ]


async def _deliver(
    sessions: async_sessionmaker[AsyncSession], now: datetime, policy: Policy, sender: Sender, run: _Run
) -> list[Outcome]:
    started = time.monotonic()
    outcomes: list[Outcome] = []
    for claimed in run.deliveries:
        if outcomes and time.monotonic() - started > policy.send_budget_seconds:
            break  # the rest goes in the next claim: the lease must outlast the run
        outcome = await sender.send(run.url, claimed.event_id, claimed.body, run.secrets)
        outcomes.append(outcome)
        if not outcome.succeeded:
            break
    await _record(sessions, now, policy, run, outcomes)
    return outcomes


async def _record(
    sessions: async_sessionmaker[AsyncSession], now: datetime, policy: Policy, run: _Run, outcomes: Sequence[Outcome]
) -> None:
    async with sessions() as session, write_transaction(session):
        endpoint = (
            await session.execute(for_update(select(WebhookEndpoint).where(WebhookEndpoint.id == run.endpoint_id)))
        ).scalar_one_or_none()
        if endpoint is None:
            return  # deleted while sending, with its deliveries
        ids = [c.id for c in run.deliveries]
        rows = {
            d.id: d
            for d in (await session.execute(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))).scalars()
        }
        for claimed, outcome in zip_longest(run.deliveries, outcomes):
            delivery = rows.get(claimed.id)
            if delivery is None:
                continue
            ours = delivery.claim_token == run.token
            if outcome is None:
                if ours:  # not sent: back in the queue as it was
                    delivery.next_attempt_at, delivery.claim_token = now, None
                continue
            session.add(_attempt(delivery, outcome, now))
            delivery.attempt_count += 1
            delivery.last_attempt_at = now
            if not ours:
                # Our lease ran out and another worker holds the delivery now: the attempt is history, the
                # state is theirs to move.
                continue
            delivery.claim_token = None
            _advance(delivery, endpoint, outcome, policy, now)
        await _disable_if_failing_too_long(session, endpoint, policy, now)
        await queue.reschedule(session, endpoint)


def _attempt(delivery: WebhookDelivery, outcome: Outcome, now: datetime) -> WebhookAttempt:
    return WebhookAttempt(
        delivery_id=delivery.id,
        number=delivery.attempt_count + 1,
        schedule_step=delivery.schedule_step,
        trigger=delivery.trigger,
        attempted_at=now,
        succeeded=outcome.succeeded,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        response_excerpt=outcome.response_excerpt,
        error=outcome.error,
    )


def _advance(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, outcome: Outcome, policy: Policy, now: datetime
) -> None:
    if outcome.succeeded:
        delivery.status, delivery.next_attempt_at, delivery.finished_at = "succeeded", None, now
        endpoint.failing_since = None
        return
    delivery.schedule_step += 1
    if delivery.schedule_step < len(policy.schedule):
        delivery.next_attempt_at = now + policy.schedule[delivery.schedule_step]
    else:
        delivery.status, delivery.next_attempt_at, delivery.finished_at = "failed", None, now
    if endpoint.failing_since is None:
        endpoint.failing_since = now


async def _disable_if_failing_too_long(
    session: AsyncSession, endpoint: WebhookEndpoint, policy: Policy, now: datetime
) -> None:
    if not endpoint.enabled or endpoint.failing_since is None or now - endpoint.failing_since < policy.disable_after:
        return
    reason = f"every attempt failed since {endpoint.failing_since.isoformat()}"
    endpoint.enabled, endpoint.disabled_reason = False, reason
    endpoint.version += 1
    endpoint.updated_at = now
    await audit.record(
        session,
        endpoint.organisation_id,
        SYSTEM,
        [
            EventDraft(
                catalogue.DISABLED_EVENT,
                "webhook_endpoint",
                endpoint.id,
                from_state="enabled",
                to_state="disabled",
                data={"url": endpoint.url, "failing_since": endpoint.failing_since.isoformat(), "reason": reason},
            )
        ],
        now,
    )
    log.warning(
        "webhook endpoint disabled", extra={"endpoint_id": endpoint.id, "failing_since": str(endpoint.failing_since)}
    )


# --- the pass (the worker's `webhooks` job) -------------------------------------------------------------


async def relay_due(
    sessions: async_sessionmaker[AsyncSession], now: datetime, settings: Settings, *, sender: Sender
) -> Pass:
    """One pass: relay the outbox, then send what is due at `now` through the caller's sender, whose
    pooled client outlives the pass (the worker keeps one for its life)."""
    relayed = await fan_out(sessions, now, settings)
    attempts, failed = await send_due(sessions, now, settings, sender)
    return Pass(relayed, attempts, failed)
