from __future__ import annotations

from fastapi import Request, Response

from app.api.cursors import Page
from app.api.etags import tagged
from app.api.problems import problem_responses
from app.api.types import VisibleStr
from app.audit import administration
from app.db.session import Session
from app.errors import ProblemError
from app.organisations import service
from app.organisations.principals import Role
from app.organisations.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
)
from app.web.auth import Authenticated, PlatformPrincipal
from app.web.routing import Admin, Cursor, DefaultLimit, Limit, RequiredIfMatch, ServiceNow, actor_of, v1_router

router = v1_router("organisations")


@router.post(
    "/organisations",
    status_code=201,
    responses=problem_responses(409, "test_clock_in_use")
    | problem_responses(422, "sandbox_disabled", "sandbox_required", "unknown_test_clock"),
)
async def create_organisation(
    request: Request,
    response: Response,
    body: OrganisationCreate,
    session: Session,
    now: ServiceNow,
    _: PlatformPrincipal,
) -> OrganisationOut:
    """Create an organisation (platform keys only). Then create its first admin key with
    `POST /v1/api-keys` and the `Sponsorflow-Organisation` header."""
    if body.sandbox and not request.app.state.settings.sandbox_enabled:
        raise ProblemError(422, "sandbox_disabled", "sandbox organisations are disabled on this deployment")
    org = await service.create_organisation(session, body, now)
    response.headers["Location"] = f"/v1/organisations/{org.id}"
    return tagged(response, org)


@router.get("/organisations")
async def list_organisations(
    session: Session, _: PlatformPrincipal, cursor: Cursor, limit: Limit = DefaultLimit
) -> Page[OrganisationOut]:
    """List every organisation (platform keys only), oldest first."""
    return await service.list_organisations(session, cursor, limit)


@router.get("/organisations/{organisation_id}")
async def get_organisation(
    organisation_id: VisibleStr, response: Response, session: Session, principal: Authenticated
) -> OrganisationOut:
    """Read an organisation: platform keys any, organisation keys their own."""
    service.visible_organisation_id(principal, organisation_id)
    return tagged(response, await service.get_organisation(session, organisation_id))


@router.patch("/organisations/{organisation_id}", responses=problem_responses(403, "forbidden"))
async def update_organisation(
    now: ServiceNow,
    organisation_id: VisibleStr,
    body: OrganisationUpdate,
    response: Response,
    session: Session,
    principal: Authenticated,
    if_match: RequiredIfMatch,
) -> OrganisationOut:
    """Correct an organisation's details (admin or platform). Needs `If-Match`. A change writes an
    `organisation.updated` event (who, and each field's old and new value) to the organisation's feed."""
    service.visible_organisation_id(principal, organisation_id)
    if not principal.is_platform and principal.role is not Role.admin:
        raise ProblemError(403, "forbidden", "changing the organisation needs the admin role")
    org = await administration.update_organisation(session, organisation_id, body, if_match, actor_of(principal), now)
    return tagged(response, org)


@router.post("/api-keys", status_code=201, responses=problem_responses(422, "invalid_role"))
async def create_api_key(body: ApiKeyCreate, org: Admin, now: ServiceNow) -> ApiKeyCreated:
    """Create a key for the organisation; an `api_key.created` event records who. The secret is in this
    response only: a repeat with the same `Idempotency-Key` replays it with `key` reading `[shown once]`
    (the secret is never stored: if the first answer was lost, revoke that key and create another)."""
    if body.role is Role.platform:
        raise ProblemError(422, "invalid_role", "platform keys are created from the shell: `sponsorflow keys create`")
    return await administration.create_api_key(org.session, org.organisation_id, body, org.by, now)


@router.get("/api-keys")
async def list_api_keys(org: Admin, cursor: Cursor, limit: Limit = DefaultLimit) -> Page[ApiKeyOut]:
    """List the organisation's keys (never their secrets)."""
    return await service.list_api_keys(org.session, org.organisation_id, cursor, limit)


@router.delete("/api-keys/{key_id}")
async def revoke_api_key(key_id: VisibleStr, org: Admin, now: ServiceNow) -> ApiKeyOut:
    """Revoke a key at once; an `api_key.revoked` event records who. Revoking twice is harmless."""
    return await administration.revoke_api_key(org.session, org.organisation_id, key_id, org.by, now)
