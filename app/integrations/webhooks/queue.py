"""Each endpoint's queue of deliveries, shared by the relay and the API (test events, redelivery).

Callers hold the endpoint's row lock (see app.integrations.webhooks.models for the lock order).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import UTCDateTime
from app.db.transactions import for_update
from app.integrations.webhooks.models import WebhookDelivery, WebhookEndpoint


async def lock_endpoints(session: AsyncSession, endpoint_ids: Iterable[str]) -> None:
    """Lock endpoint rows in id order, so two transactions locking several never deadlock."""
    ids = sorted(set(endpoint_ids))
    if ids:
        await session.execute(
            for_update(select(WebhookEndpoint.id).where(WebhookEndpoint.id.in_(ids)).order_by(WebhookEndpoint.id))
        )


async def wake(session: AsyncSession, endpoint_ids: Iterable[str], now: datetime) -> None:
    """New work was queued: an idle endpoint becomes due now; one already due or leased keeps its time."""
    ids = sorted(set(endpoint_ids))
    if ids:
        await lock_endpoints(session, ids)
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(ids))
            .values(next_attempt_at=func.coalesce(WebhookEndpoint.next_attempt_at, literal(now, UTCDateTime())))
        )


async def reschedule(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """The endpoint is due when the head of its queue (lowest pending seq) is."""
    await session.flush()
    endpoint.next_attempt_at = (
        await session.execute(
            select(WebhookDelivery.next_attempt_at)
            .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
            .order_by(WebhookDelivery.seq)
            .limit(1)
        )
    ).scalar_one_or_none()
