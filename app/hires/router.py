from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Response

from app.api.cursors import Page
from app.api.etags import tagged
from app.api.problems import problem_responses
from app.api.types import Day, Instant, VisibleStr
from app.audit import service as audit
from app.audit.schemas import EventFeed
from app.hires import impacts, service
from app.hires.schemas import ACTION_PAYLOADS, HireCreate, HireOut, HireUpdate
from app.web.contract import action_operations
from app.web.routing import (
    Cursor,
    DefaultLimit,
    HRWithRules,
    Limit,
    RequiredIfMatch,
    Viewer,
    ViewerWithRules,
    v1_router,
)
from app.workflow import HIRE

router = v1_router("hires")


@router.post("/hires", status_code=201, responses=problem_responses(409, "external_id_taken"))
async def create_hire(body: HireCreate, response: Response, org: HRWithRules) -> HireOut:
    """Open a case for a sponsored hire. It starts in `draft` when the licence is active, otherwise in
    `awaiting_licence`; eligibility is assessed from the details given (an HRIS job code is mapped to a
    SOC code through the job mappings)."""
    hire = await service.create_hire(org.session, org.context, body)
    response.headers["Location"] = f"/v1/hires/{hire.id}"
    return tagged(response, hire)


@router.get("/hires", responses=problem_responses(400, "unknown_state"))
async def list_hires(
    org: ViewerWithRules,
    cursor: Cursor,
    limit: Limit = DefaultLimit,
    state: Annotated[list[str] | None, Query(description="one or more states")] = None,
    external_id: VisibleStr | None = None,
    soc_code: VisibleStr | None = None,
    start_date_from: Day | None = None,
    start_date_to: Day | None = None,
    updated_since: Instant | None = None,
) -> Page[HireOut]:
    """List the organisation's hires, oldest first, with filters."""
    filters = service.HireFilters(
        state=state or (),
        external_id=external_id,
        soc_code=soc_code,
        start_date_from=start_date_from,
        start_date_to=start_date_to,
        updated_since=updated_since,
    )
    return await service.list_hires(org.session, org.organisation_id, filters, cursor, limit, org.today, org.book)


@router.get("/hires/{hire_id}")
async def get_hire(hire_id: VisibleStr, response: Response, org: ViewerWithRules) -> HireOut:
    """A case with its state, version (also the ETag), the actions allowed now and open deadlines."""
    return tagged(response, await service.get_hire(org.session, org.organisation_id, hire_id, org.today, org.book))


@router.patch("/hires/{hire_id}", responses=problem_responses(409, "fields_locked", "external_id_taken"))
async def update_hire(
    hire_id: VisibleStr,
    body: HireUpdate,
    response: Response,
    org: HRWithRules,
    if_match: RequiredIfMatch,
) -> HireOut:
    """Correct a case's details where that is lawful for its state (all of them before a CoS; contact
    details and the start date while the CoS and visa are in process; afterwards use the actions)."""
    return tagged(response, await service.update_hire(org.session, org.context, hire_id, body, if_match))


@router.post(
    "/hires/{hire_id}/actions/{action}",
    openapi_extra=action_operations("hire", HIRE, ACTION_PAYLOADS),
)
async def apply_hire_action(
    hire_id: VisibleStr,
    action: VisibleStr,
    response: Response,
    org: HRWithRules,
    if_match: RequiredIfMatch,
    body: Annotated[dict[str, Any], Body(include_in_schema=False, default_factory=dict)],
) -> HireOut:
    """Apply an action to a case (the contract lists one operation per action, each with its body). A
    refused action answers 409 with the guards' reasons and changes nothing; a stale If-Match answers 412."""
    hire = await service.apply_action(org.session, org.context, hire_id, action, body, if_match)
    return tagged(response, hire)


@router.get("/hires/{hire_id}/events")
async def list_hire_events(hire_id: VisibleStr, org: Viewer, cursor: Cursor, limit: Limit = DefaultLimit) -> EventFeed:
    """The case's audit trail, oldest first: who did what, from which state to which, and when."""
    await service.ensure_exists(org.session, org.organisation_id, hire_id)
    return await audit.feed(org.session, org.organisation_id, cursor, limit, case_id=hire_id)


@router.get("/rule-impacts", tags=["rules"])
async def list_rule_impacts(
    org: ViewerWithRules,
    cursor: Cursor,
    within_days: Annotated[int, Query(ge=1, le=730, description="look this many days ahead of today (UK)")],
    limit: Limit = DefaultLimit,
) -> impacts.RuleImpacts:
    """The organisation's live cases that a dated rule change within `within_days` makes ineligible
    (`becomes_ineligible`, `needs_review`), more expensive (`costs_more`) or differently timed
    (`timed_differently`), each with the change, the last day to act and the reason in words; e.g. an
    RQF 3-5 case on the Temporary Shortage List whose CoS must be assigned by 2026-12-31. Each such case
    also carries a `rule_change` deadline, warned ahead of that day."""
    return await impacts.list_impacts(
        org.session, org.organisation_id, org.today, within_days, org.book, org.nation, cursor, limit
    )
