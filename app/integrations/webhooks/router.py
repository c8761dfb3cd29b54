from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request, Response
from pydantic import AwareDatetime

from app.api.cursors import Page
from app.api.etags import tagged
from app.api.problems import problem_responses
from app.api.types import VisibleStr
from app.config import Settings
from app.integrations.webhooks import service
from app.integrations.webhooks.schemas import (
    DeliveryDetail,
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    EventTypeOut,
    RedeliveredOut,
    RedeliverFailedIn,
)
from app.web.auth import Authenticated
from app.web.routing import Admin, Cursor, DefaultLimit, Limit, RequiredIfMatch, ServiceNow, v1_router

router = v1_router("webhooks")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("/event-types")
async def list_event_types(_: Authenticated) -> list[EventTypeOut]:
    """Every event type sponsorflow emits, with the JSON Schema of its webhook body (also in the OpenAPI
    document's `webhooks` section)."""
    return service.event_types()


@router.post(
    "/webhook-endpoints", status_code=201, responses=problem_responses(422, "unknown_event_type", "url_refused")
)
async def create_webhook_endpoint(
    request: Request, response: Response, body: EndpointIn, org: Admin, now: ServiceNow
) -> EndpointWithSecret:
    """Subscribe a URL to event types. The signing secret is in this response only. In production the URL
    must resolve to public addresses (or into `SPONSORFLOW_WEBHOOK_ALLOWED_NETWORKS`)."""
    created = await service.create_endpoint(org.session, org.organisation_id, body, now, _settings(request))
    response.headers["Location"] = f"/v1/webhook-endpoints/{created.id}"
    return tagged(response, created)


@router.get("/webhook-endpoints")
async def list_webhook_endpoints(org: Admin, cursor: Cursor, limit: Limit = DefaultLimit) -> Page[EndpointOut]:
    return await service.list_endpoints(org.session, org.organisation_id, cursor, limit)


@router.get("/webhook-endpoints/{endpoint_id}")
async def get_webhook_endpoint(endpoint_id: VisibleStr, response: Response, org: Admin) -> EndpointOut:
    return tagged(response, await service.get_endpoint(org.session, org.organisation_id, endpoint_id))


@router.patch("/webhook-endpoints/{endpoint_id}", responses=problem_responses(422, "unknown_event_type", "url_refused"))
async def update_webhook_endpoint(
    request: Request,
    endpoint_id: VisibleStr,
    body: EndpointUpdate,
    response: Response,
    org: Admin,
    now: ServiceNow,
    if_match: RequiredIfMatch,
) -> EndpointOut:
    """Change the URL, event types, description, or enable / disable. Needs `If-Match`."""
    endpoint = await service.update_endpoint(
        org.session, org.organisation_id, endpoint_id, body, if_match, now, _settings(request)
    )
    return tagged(response, endpoint)


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204)
async def delete_webhook_endpoint(endpoint_id: VisibleStr, org: Admin) -> None:
    """Delete the endpoint, its queue and its delivery log."""
    await service.delete_endpoint(org.session, org.organisation_id, endpoint_id)


@router.post("/webhook-endpoints/{endpoint_id}/rotate-secret")
async def rotate_webhook_secret(
    request: Request, endpoint_id: VisibleStr, response: Response, org: Admin, now: ServiceNow
) -> EndpointWithSecret:
    """A new signing secret, shown once. The old one keeps signing beside it (two signatures in
    `webhook-signature`) for `SPONSORFLOW_WEBHOOK_SECRET_ROTATION_HOURS` (24), time to deploy the new one."""
    rotated = await service.rotate_secret(org.session, org.organisation_id, endpoint_id, now, _settings(request))
    return tagged(response, rotated)


@router.post(
    "/webhook-endpoints/{endpoint_id}/test", status_code=202, responses=problem_responses(409, "endpoint_disabled")
)
async def test_webhook_endpoint(
    request: Request, endpoint_id: VisibleStr, response: Response, org: Admin, now: ServiceNow
) -> DeliveryOut:
    """Send a `webhook_endpoint.test` event to this endpoint only. Follow its attempts at the delivery."""
    delivery = await service.send_test(org.session, org.organisation_id, endpoint_id, org.by, now, _settings(request))
    response.headers["Location"] = f"/v1/webhook-deliveries/{delivery.id}"
    return delivery


DeliveryStatus = Literal["pending", "succeeded", "failed"]


@router.get("/webhook-endpoints/{endpoint_id}/deliveries")
async def list_webhook_deliveries(
    endpoint_id: VisibleStr,
    org: Admin,
    cursor: Cursor,
    limit: Limit = DefaultLimit,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    event_type: Annotated[VisibleStr | None, Query(max_length=60)] = None,
    created_after: Annotated[AwareDatetime | None, Query()] = None,
    created_before: Annotated[AwareDatetime | None, Query()] = None,
) -> Page[DeliveryOut]:
    """The endpoint's delivery log, newest event first."""
    filters = service.DeliveryFilters(status, event_type, created_after, created_before)
    return await service.list_deliveries(org.session, org.organisation_id, endpoint_id, filters, cursor, limit)


@router.post("/webhook-endpoints/{endpoint_id}/redeliver-failed", status_code=202)
async def redeliver_failed_webhooks(
    endpoint_id: VisibleStr, body: RedeliverFailedIn, org: Admin, now: ServiceNow
) -> RedeliveredOut:
    """Queue again every failed delivery of events since `since`, e.g. after the receiver was down. They
    go out in seq order, each on a fresh schedule (and only once the endpoint is enabled)."""
    return await service.redeliver_failed(org.session, org.organisation_id, endpoint_id, body.since, now)


@router.get("/webhook-deliveries/{delivery_id}")
async def get_webhook_delivery(delivery_id: VisibleStr, org: Admin) -> DeliveryDetail:
    """A delivery with the body it sends and every attempt."""
    return await service.get_delivery(org.session, org.organisation_id, delivery_id)


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    status_code=202,
    responses=problem_responses(409, "delivery_in_flight"),
)
async def redeliver_webhook(delivery_id: VisibleStr, org: Admin, now: ServiceNow) -> DeliveryOut:
    """Send the event again on a fresh schedule, in its place in seq order (same `webhook-id`)."""
    return await service.redeliver(org.session, org.organisation_id, delivery_id, now)
