from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from app.api.cursors import Page
from app.api.etags import tagged
from app.api.problems import problem_responses
from app.api.types import Instant, VisibleStr
from app.db.session import Session, SessionRoute
from app.integrations.hris import events, service
from app.integrations.hris.schemas import (
    HrisConnectionCreate,
    HrisConnectionOut,
    HrisConnectionUpdate,
    HrisConnectionWithSecret,
    HrisEventDetail,
    HrisEventOut,
    HrisEventStatus,
    HrisReceipt,
    HrisSecretRotation,
)
from app.integrations.hris.secrets import SecretBox
from app.web.routing import (
    HR,
    Admin,
    Cursor,
    DefaultLimit,
    HRWithRules,
    Limit,
    RequiredIfMatch,
    ServiceNow,
    v1_router,
)

router = v1_router("hris")


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def _base_url(request: Request) -> str:
    return str(request.base_url)


@router.post("/hris-connections", status_code=201)
async def create_hris_connection(
    body: HrisConnectionCreate, request: Request, response: Response, org: Admin, now: ServiceNow
) -> HrisConnectionWithSecret:
    """Connect an HRIS. The answer holds the receiving URL to paste in the HRIS and the signing secret,
    **shown only in this answer** (stored encrypted). Give `signing_secret` when the HRIS issued one
    (BambooHR, Merge, HiBob); omit it to have one generated (Standard Webhooks, Finch). Without a
    `field_map` the provider's defaults apply (see the README)."""
    created = await service.create_connection(
        org.session, org.organisation_id, org.by, body, _box(request), now, _base_url(request)
    )
    response.headers["Location"] = f"/v1/hris-connections/{created.id}"
    return tagged(response, created)


@router.get("/hris-connections")
async def list_hris_connections(
    request: Request, org: Admin, cursor: Cursor, limit: Limit = DefaultLimit
) -> Page[HrisConnectionOut]:
    """The organisation's HRIS connections (never their secrets)."""
    return await service.list_connections(org.session, org.organisation_id, cursor, limit, _base_url(request))


@router.get("/hris-connections/{connection_id}")
async def get_hris_connection(
    connection_id: VisibleStr, request: Request, response: Response, org: Admin
) -> HrisConnectionOut:
    found = await service.get_connection(org.session, org.organisation_id, connection_id, _base_url(request))
    return tagged(response, found)


@router.patch("/hris-connections/{connection_id}")
async def update_hris_connection(
    connection_id: VisibleStr,
    body: HrisConnectionUpdate,
    request: Request,
    response: Response,
    org: Admin,
    now: ServiceNow,
    if_match: RequiredIfMatch,
) -> HrisConnectionOut:
    """Change the name, selector, field map or location map. Events already applied keep their effect;
    replay failed or ignored ones to apply them with the new settings."""
    updated = await service.update_connection(
        org.session, org.organisation_id, org.by, connection_id, body, if_match, now, _base_url(request)
    )
    return tagged(response, updated)


@router.post("/hris-connections/{connection_id}/rotate-secret")
async def rotate_hris_connection_secret(
    connection_id: VisibleStr,
    request: Request,
    response: Response,
    org: Admin,
    now: ServiceNow,
    # One concrete, optional body (not `X | None`): generated clients send it or leave it out.
    body: Annotated[HrisSecretRotation, Body(default_factory=HrisSecretRotation)],
) -> HrisConnectionWithSecret:
    """Replace the signing secret (shown once, in this answer). The previous one keeps verifying for the
    grace period, so the HRIS can be switched over without refused deliveries."""
    rotated = await service.rotate_secret(
        org.session,
        org.organisation_id,
        org.by,
        connection_id,
        body,
        _box(request),
        request.app.state.settings,
        now,
        _base_url(request),
    )
    return tagged(response, rotated)


@router.delete("/hris-connections/{connection_id}", status_code=204)
async def delete_hris_connection(connection_id: VisibleStr, org: Admin, now: ServiceNow) -> Response:
    """Disconnect: the receiver answers 404 from now on. Its events and the cases they opened stay."""
    await service.delete_connection(org.session, org.organisation_id, org.by, connection_id, now)
    return Response(status_code=204)


@router.get("/hris-events")
async def list_hris_events(
    org: HR,
    cursor: Cursor,
    limit: Limit = DefaultLimit,
    connection_id: VisibleStr | None = None,
    status: Annotated[list[HrisEventStatus] | None, Query(description="one or more statuses")] = None,
    employee_id: Annotated[VisibleStr | None, Query(description="the employee's id in the HRIS")] = None,
    received_from: Instant | None = None,
    received_to: Annotated[Instant | None, Query(description="exclusive")] = None,
) -> Page[HrisEventOut]:
    """What the HRIS connections received, oldest first: `received` waits for the worker, `applied`
    says what it did, `ignored` and `failed` say why in words. Nothing an HRIS sent is dropped."""
    filters = events.HrisEventFilters(connection_id, status or (), employee_id, received_from, received_to)
    return await events.list_events(org.session, org.organisation_id, filters, cursor, limit)


@router.get("/hris-events/{event_id}")
async def get_hris_event(event_id: VisibleStr, org: HR) -> HrisEventDetail:
    """One event with the body as received."""
    return await events.get_event(org.session, org.organisation_id, event_id)


@router.post("/hris-events/{event_id}/replay", responses=problem_responses(409, "event_not_replayable"))
async def replay_hris_event(event_id: VisibleStr, org: HRWithRules, now: ServiceNow) -> HrisEventDetail:
    """Apply a failed or ignored event again now, e.g. after adding the job mapping it lacked. It still
    changes nothing if a newer event for the employee was applied since."""
    return await events.replay(org.session, org.organisation_id, event_id, org.book, now)


hooks = APIRouter(prefix="/hooks", tags=["hris receivers"], route_class=SessionRoute)

_HOOK_BODY = {
    "requestBody": {
        "required": True,
        "description": "The HRIS's event, exactly as it signed it (JSON; a body that is not JSON, such as "
        "HiBob's setup ping, is acknowledged and kept as ignored).",
        "content": {"application/json": {"schema": {}}, "*/*": {"schema": {}}},
    },
    # Declared here, not as function parameters: FastAPI would document a 422 the receiver never answers.
    "parameters": [
        {"name": "connection_id", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
    + [
        {"name": name, "in": "header", "required": False, "schema": {"type": "string"}, "description": text}
        for name, text in (
            ("webhook-id", "standard: the event id (idempotency key)"),
            ("webhook-timestamp", "standard: Unix seconds; refused beyond 5 minutes from now"),
            ("webhook-signature", "standard: `v1,<base64 HMAC-SHA256>` (space-separated, any may match)"),
            ("Finch-Event-Id", "finch: the event id"),
            ("Finch-Timestamp", "finch: Unix seconds"),
            ("Finch-Signature", "finch: as webhook-signature"),
            ("X-BambooHR-Signature", "bamboohr: hex HMAC-SHA256 of the body followed by the timestamp"),
            ("X-BambooHR-Timestamp", "bamboohr: Unix seconds"),
            ("X-Merge-Webhook-Signature", "merge: base64url HMAC-SHA256 of the body"),
            ("Bob-Signature", "hibob: base64 HMAC-SHA512 of the body"),
        )
    ],
}


@hooks.post(
    "/hris/{connection_id}",
    status_code=202,
    responses=problem_responses(401, "signature_rejected")
    | problem_responses(404, "not_found")
    | problem_responses(413, "payload_too_large"),
    openapi_extra=_HOOK_BODY,
)
async def receive_hris_event(request: Request, session: Session, now: ServiceNow) -> HrisReceipt:
    """The receiving URL of an HRIS connection. The signature is checked on the raw bytes with the
    connection's provider's scheme; a verified event is stored and answered `202` at once (applying it
    is the worker's job, within a second by default). A redelivery answers `202` and changes nothing.
    `404`: no such connection. `401`: the signature is missing, wrong or stale, and nothing is stored.
    A 5xx means the service failed and the HRIS should retry; no 4xx is ever answered for a transient
    problem."""
    delivered = events.Delivered(
        request.path_params["connection_id"],
        {k.lower(): v for k, v in request.headers.items()},
        await request.body(),
        request.headers.get("content-type"),
    )
    return await events.receive(session, delivered, _box(request), request.app.state.settings, now)
