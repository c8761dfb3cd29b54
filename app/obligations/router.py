from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from app.api.cursors import Page
from app.api.etags import tagged
from app.api.problems import problem_responses
from app.api.types import Day, VisibleStr
from app.obligations import service
from app.obligations.schemas import ObligationOut, ObligationStatus, OrganisationChangeIn, Report, Waive
from app.web.routing import (
    HR,
    Cursor,
    DefaultLimit,
    HRWithRules,
    Limit,
    RequiredIfMatch,
    Viewer,
    v1_router,
)

router = v1_router("obligations")


@router.get("/obligations")
async def list_obligations(
    org: Viewer,
    cursor: Cursor,
    limit: Limit = DefaultLimit,
    status: Annotated[list[ObligationStatus] | None, Query()] = None,
    kind: VisibleStr | None = None,
    hire_id: VisibleStr | None = None,
    due_before: Day | None = None,
    due_after: Day | None = None,
) -> Page[ObligationOut]:
    """SMS reporting obligations, soonest due first: what the sponsor must report, by when."""
    filters = service.ObligationFilters(tuple(status or ()), kind, hire_id, due_before, due_after)
    return await service.list_obligations(org.session, org.organisation_id, filters, cursor, limit)


@router.get("/obligations/{obligation_id}")
async def get_obligation(obligation_id: VisibleStr, response: Response, org: Viewer) -> ObligationOut:
    obligation = await service.get_obligation(org.session, org.organisation_id, obligation_id)
    return tagged(response, obligation)


@router.post(
    "/obligations/{obligation_id}/actions/report",
    responses=problem_responses(409, "obligation_settled") | problem_responses(422, "date_in_future"),
)
async def report_obligation(
    obligation_id: VisibleStr,
    body: Report,
    response: Response,
    org: HR,
    if_match: RequiredIfMatch,
) -> ObligationOut:
    """Record that it was reported in the SMS, with the SMS reference. A report after the due date is
    accepted and marked late."""
    obligation = await service.resolve(
        org.session, org.organisation_id, obligation_id, "report", body, if_match, org.by, org.now
    )
    return tagged(response, obligation)


@router.post("/obligations/{obligation_id}/actions/waive", responses=problem_responses(409, "obligation_settled"))
async def waive_obligation(
    obligation_id: VisibleStr,
    body: Waive,
    response: Response,
    org: HR,
    if_match: RequiredIfMatch,
) -> ObligationOut:
    """Record that nothing needs reporting after all, and why."""
    obligation = await service.resolve(
        org.session, org.organisation_id, obligation_id, "waive", body, if_match, org.by, org.now
    )
    return tagged(response, obligation)


@router.post("/organisation-changes", status_code=201, responses=problem_responses(422, "date_in_future"))
async def record_organisation_change(body: OrganisationChangeIn, response: Response, org: HRWithRules) -> ObligationOut:
    """Record a sponsor-level change (name, address, key personnel, ownership, trading, size). It opens
    the obligation to report it within 20 working days, counted with the main address's bank holidays."""
    obligation = await service.record_organisation_change(org.session, org.context, body)
    response.headers["Location"] = f"/v1/obligations/{obligation.id}"
    return tagged(response, obligation)
