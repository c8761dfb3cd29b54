"""Webhook endpoints, their delivery log and redelivery. One transaction per use case, committed here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import Keyset, Page, narrowed
from app.api.etags import IfMatch
from app.audit import service as audit
from app.audit.models import OutboxMessage
from app.audit.schemas import Actor
from app.audit.service import EventDraft
from app.config import Settings
from app.db.transactions import for_update, read_transaction, write_transaction
from app.errors import Conflict, FieldError, NotFound, ProblemError
from app.ids import new_id
from app.integrations.webhooks import catalogue, queue, safety, signing
from app.integrations.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.integrations.webhooks.relay import queue_delivery
from app.integrations.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    EventTypeOut,
    RedeliveredOut,
)

_BY_ID = Keyset(("id", WebhookEndpoint.id, str))
_NEWEST_FIRST = Keyset(("seq", WebhookDelivery.seq, int), descending=True)


def event_types() -> list[EventTypeOut]:
    return [
        EventTypeOut(
            type=name,
            version=entry.version,
            summary=entry.summary,
            subscribable=entry.subscribable,
            schema_=catalogue.ENVELOPES[name].model_json_schema(),
        )
        for name, entry in catalogue.CATALOGUE.items()
    ]


def _check_event_types(types: list[str] | None) -> list[str] | None:
    if types is None:
        return None
    unknown = [t for t in types if t not in catalogue.SUBSCRIBABLE]
    if unknown:
        raise ProblemError(
            422,
            "unknown_event_type",
            f"no event type to subscribe to named {', '.join(map(repr, unknown))}: see GET /v1/event-types",
            errors=[
                FieldError(loc=["body", "event_types"], message=f"unknown event type {t!r}", type="enum")
                for t in unknown
            ],
        )
    return sorted(set(types))


async def _check_url(url: str, settings: Settings) -> str:
    try:
        await safety.checked_target(url, settings)
    except safety.UnsafeUrl as exc:
        raise ProblemError(
            422,
            "url_refused",
            str(exc),
            errors=[FieldError(loc=["body", "url"], message=str(exc), type="url_refused")],
        ) from exc
    return url


async def create_endpoint(
    session: AsyncSession, organisation_id: str, data: EndpointIn, now: datetime, settings: Settings
) -> EndpointWithSecret:
    types = _check_event_types(data.event_types)
    url = await _check_url(data.url, settings)
    async with write_transaction(session):
        endpoint = WebhookEndpoint(
            id=new_id("whep"),
            organisation_id=organisation_id,
            url=url,
            description=data.description,
            event_types=types,
            enabled=data.enabled,
            disabled_reason=None if data.enabled else "created disabled",
            secret=signing.new_secret(),
            previous_secret=None,
            previous_secret_expires_at=None,
            next_attempt_at=None,
            failing_since=None,
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(endpoint)
    return EndpointWithSecret.model_validate(endpoint)


async def list_endpoints(
    session: AsyncSession, organisation_id: str, cursor: dict[str, Any] | None, limit: int
) -> Page[EndpointOut]:
    stmt = _BY_ID.apply(
        select(WebhookEndpoint).where(WebhookEndpoint.organisation_id == organisation_id), cursor, limit
    )
    async with read_transaction(session):
        rows = list((await session.execute(stmt)).scalars())
    return _BY_ID.page(rows, limit, EndpointOut.model_validate)


async def _endpoint(session: AsyncSession, organisation_id: str, endpoint_id: str, *, lock: bool) -> WebhookEndpoint:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organisation_id == organisation_id
    )
    endpoint = (await session.execute(for_update(stmt) if lock else stmt)).scalar_one_or_none()
    if endpoint is None:
        raise NotFound("webhook endpoint")
    return endpoint


async def get_endpoint(session: AsyncSession, organisation_id: str, endpoint_id: str) -> EndpointOut:
    async with read_transaction(session):
        return EndpointOut.model_validate(await _endpoint(session, organisation_id, endpoint_id, lock=False))


async def update_endpoint(
    session: AsyncSession,
    organisation_id: str,
    endpoint_id: str,
    data: EndpointUpdate,
    if_match: IfMatch,
    now: datetime,
    settings: Settings,
) -> EndpointOut:
    changes = data.model_dump(exclude_unset=True)
    for name in ("url", "enabled"):
        if name in changes and changes[name] is None:
            raise ProblemError(422, "validation_error", f"{name} cannot be null")
    if "event_types" in changes:
        changes["event_types"] = _check_event_types(changes["event_types"])
    if "url" in changes:
        await _check_url(changes["url"], settings)
    async with write_transaction(session):
        endpoint = await _endpoint(session, organisation_id, endpoint_id, lock=True)
        if_match.check(endpoint.version)
        enabling = changes.get("enabled") is True and not endpoint.enabled
        if changes.get("enabled") is False and endpoint.enabled:
            endpoint.disabled_reason = "disabled through the API"
        for name, value in changes.items():
            setattr(endpoint, name, value)
        if enabling:
            endpoint.disabled_reason, endpoint.failing_since = None, None
            # Fixed: what waits in the queue goes now, not at the next step of a schedule.
            await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.endpoint_id == endpoint.id,
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.claim_token.is_(None),
                )
                .values(next_attempt_at=now)
            )
            await queue.reschedule(session, endpoint)
        endpoint.version += 1
        endpoint.updated_at = now
    return EndpointOut.model_validate(endpoint)


async def delete_endpoint(session: AsyncSession, organisation_id: str, endpoint_id: str) -> None:
    """Delete the endpoint with its queue and delivery log."""
    async with write_transaction(session):
        endpoint = await _endpoint(session, organisation_id, endpoint_id, lock=True)
        await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))


async def rotate_secret(
    session: AsyncSession, organisation_id: str, endpoint_id: str, now: datetime, settings: Settings
) -> EndpointWithSecret:
    async with write_transaction(session):
        endpoint = await _endpoint(session, organisation_id, endpoint_id, lock=True)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timedelta(hours=settings.webhook_secret_rotation_hours)
        endpoint.secret = signing.new_secret()
        endpoint.version += 1
        endpoint.updated_at = now
    return EndpointWithSecret.model_validate(endpoint)


async def send_test(
    session: AsyncSession, organisation_id: str, endpoint_id: str, actor: Actor, now: datetime, settings: Settings
) -> DeliveryOut:
    """Record a test event and queue it for this endpoint only; the relay sends it like any other."""
    async with write_transaction(session):
        endpoint = await _endpoint(session, organisation_id, endpoint_id, lock=True)
        if not endpoint.enabled:
            raise Conflict("endpoint_disabled", "the endpoint is disabled: enable it, then send a test event")
        (event,) = await audit.record(
            session,
            organisation_id,
            actor,
            [
                EventDraft(
                    catalogue.TEST_EVENT,
                    "webhook_endpoint",
                    endpoint.id,
                    data={"url": endpoint.url, "message": "a test event from sponsorflow"},
                )
            ],
            now,
        )
        await session.flush()
        # Relayed here, to this endpoint alone.
        await session.execute(update(OutboxMessage).where(OutboxMessage.event_id == event.id).values(delivered_at=now))
        delivery = queue_delivery(session, endpoint, event, "test", now, settings)
        await queue.reschedule(session, endpoint)
    return DeliveryOut.model_validate(delivery)


@dataclass(frozen=True)
class DeliveryFilters:
    status: str | None = None
    event_type: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


async def list_deliveries(
    session: AsyncSession,
    organisation_id: str,
    endpoint_id: str,
    filters: DeliveryFilters,
    cursor: dict[str, Any] | None,
    limit: int,
) -> Page[DeliveryOut]:
    stmt = narrowed(
        _NEWEST_FIRST.apply(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id), cursor, limit),
        WebhookDelivery.status == filters.status if filters.status else None,
        WebhookDelivery.event_type == filters.event_type if filters.event_type else None,
        WebhookDelivery.created_at >= filters.created_after if filters.created_after else None,
        WebhookDelivery.created_at <= filters.created_before if filters.created_before else None,
    )
    async with read_transaction(session):
        await _endpoint(session, organisation_id, endpoint_id, lock=False)
        rows = list((await session.execute(stmt)).scalars())
    return _NEWEST_FIRST.page(rows, limit, DeliveryOut.model_validate)


async def _delivery(session: AsyncSession, organisation_id: str, delivery_id: str) -> WebhookDelivery:
    delivery = (
        await session.execute(
            select(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.organisation_id == organisation_id
            )
        )
    ).scalar_one_or_none()
    if delivery is None:
        raise NotFound("webhook delivery")
    return delivery


async def get_delivery(session: AsyncSession, organisation_id: str, delivery_id: str) -> DeliveryDetail:
    async with read_transaction(session):
        delivery = await _delivery(session, organisation_id, delivery_id)
        payload = (
            await session.execute(select(OutboxMessage.payload).where(OutboxMessage.event_id == delivery.event_id))
        ).scalar_one()
        attempts = (
            await session.execute(
                select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id).order_by(WebhookAttempt.number)
            )
        ).scalars()
        return DeliveryDetail(
            **DeliveryOut.model_validate(delivery).model_dump(),
            payload=catalogue.body(organisation_id, payload),
            attempts=[AttemptOut.model_validate(a) for a in attempts],
        )


def _requeue(now: datetime) -> dict[str, Any]:
    """A redelivery starts the schedule again, and takes its place in seq order."""
    return {
        "status": "pending",
        "trigger": "redelivery",
        "schedule_step": 0,
        "next_attempt_at": now,
        "finished_at": None,
    }


async def redeliver(session: AsyncSession, organisation_id: str, delivery_id: str, now: datetime) -> DeliveryOut:
    async with write_transaction(session):
        delivery = await _delivery(session, organisation_id, delivery_id)
        endpoint = await _endpoint(session, organisation_id, delivery.endpoint_id, lock=True)
        await session.refresh(delivery)  # re-read under the endpoint's lock
        if delivery.claim_token is not None:
            raise Conflict("delivery_in_flight", "the delivery is being sent right now: look again in a few seconds")
        for name, value in _requeue(now).items():
            setattr(delivery, name, value)
        await queue.reschedule(session, endpoint)
    return DeliveryOut.model_validate(delivery)


async def redeliver_failed(
    session: AsyncSession, organisation_id: str, endpoint_id: str, since: datetime, now: datetime
) -> RedeliveredOut:
    """Queue again every failed delivery of events since `since` (an endpoint that was down)."""
    async with write_transaction(session):
        endpoint = await _endpoint(session, organisation_id, endpoint_id, lock=True)
        result = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.status == "failed",
                WebhookDelivery.created_at >= since,
            )
            .values(**_requeue(now))
        )
        await queue.reschedule(session, endpoint)
    return RedeliveredOut(redelivered=int(result.rowcount))  # type: ignore[attr-defined]
