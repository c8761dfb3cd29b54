from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Response

from app.api.etags import tagged
from app.api.problems import problem_responses
from app.api.types import VisibleStr
from app.hires.actions import follow_licence
from app.licences import service
from app.licences.schemas import LICENCE_ACTION_PAYLOADS, AllocationIn, AllocationOut, LicenceOut
from app.web.contract import action_operations
from app.web.routing import AdminWithRules, OptionalIfMatch, RequiredIfMatch, Viewer, v1_router
from app.workflow import LICENCE

router = v1_router("licence")


@router.post("/licence", status_code=201, responses=problem_responses(409, "licence_exists", "cooling_off"))
async def create_licence_application(response: Response, org: AdminWithRules) -> LicenceOut:
    """Start the organisation's sponsor licence application (in `draft`). Allowed when there is no
    current licence, or the current one was refused, revoked or surrendered; after a revocation, only
    once the 12-month cooling-off has passed (409 `cooling_off` says when)."""
    licence = await service.create_application(org.session, org.context)
    response.headers["Location"] = "/v1/licence"
    return tagged(response, licence)


@router.get("/licence")
async def get_licence(response: Response, org: Viewer) -> LicenceOut:
    """The organisation's current licence and the actions allowed on it now."""
    return tagged(response, await service.get_licence(org.session, org.organisation_id, org.now))


@router.post(
    "/licence/actions/{action}",
    openapi_extra=action_operations("licence", LICENCE, LICENCE_ACTION_PAYLOADS),
)
async def apply_licence_action(
    action: VisibleStr,
    response: Response,
    org: AdminWithRules,
    if_match: RequiredIfMatch,
    body: Annotated[dict[str, Any], Body(include_in_schema=False, default_factory=dict)],
) -> LicenceOut:
    """Record what UKVI decided or the sponsor did. Entering `active` moves hires waiting for the licence
    to `draft`; revocation or surrender withdraws pre-employment cases and ends sponsored employment."""
    licence = await service.apply_action(org.session, org.context, action, body, if_match, follow=follow_licence)
    return tagged(response, licence)


@router.get("/cos-allocation")
async def get_cos_allocation(response: Response, org: Viewer) -> AllocationOut:
    """The undefined-CoS allocation for the current allocation year: granted, used and remaining."""
    return tagged(response, await service.get_allocation(org.session, org.organisation_id))


@router.put("/cos-allocation", responses=problem_responses(428, "precondition_required"))
async def set_cos_allocation(
    body: AllocationIn,
    response: Response,
    org: AdminWithRules,
    if_match: OptionalIfMatch,
) -> AllocationOut:
    """Record the allocation the SMS shows. Changing an existing one needs If-Match; a new allocation
    year starts the used count from zero. The year's last day arms an `allocation_year_end` reminder
    (warned 30 and 7 days ahead): unassigned CoS lapse then."""
    allocation = await service.set_allocation(org.session, org.context, body, if_match)
    return tagged(response, allocation)
