from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request, Response

from app.api.auth import Authenticated, PlatformPrincipal, Viewer
from app.api.cursors import Page
from app.api.problems import problem_responses
from app.api.routing import Cursor, DefaultLimit, Limit, Now, ServiceNow, v1_router
from app.db.session import Session
from app.deadlines import service
from app.deadlines.schemas import (
    AdvanceIn,
    AdvanceOut,
    DeadlineCounts,
    DeadlineOut,
    DeadlineStatus,
    TestClockIn,
    TestClockOut,
)

router = v1_router("deadlines")


@router.get("/deadlines")
async def list_deadlines(
    session: Session,
    actor: Viewer,
    cursor: Cursor,
    limit: Limit = DefaultLimit,
    status: Annotated[list[DeadlineStatus] | None, Query()] = None,
    kind: str | None = None,
    subject_id: str | None = Query(default=None, description="a hire, licence or obligation id"),
    due_after: datetime | None = None,
    due_before: datetime | None = None,
) -> Page[DeadlineOut]:
    """Deadlines soonest first, e.g. `status=pending&status=warned&due_before=...` for what breaches this week."""
    filters = service.DeadlineFilters(tuple(status or ()), kind, subject_id, due_after, due_before)
    return await service.list_deadlines(session, actor.organisation_id, filters, cursor, limit)


@router.get("/deadlines/counts")
async def count_deadlines(session: Session, actor: Viewer, now: Now) -> DeadlineCounts:
    """Counts for a dashboard: deadlines by status, those due within 7 days, overdue obligations."""
    return await service.counts(session, actor.organisation_id, now)


def _sandbox(request: Request) -> None:
    if not request.app.state.settings.sandbox_enabled:
        from app.errors import ProblemError

        raise ProblemError(403, "sandbox_disabled", "test clocks are a sandbox feature, disabled on this deployment")


@router.post("/test-clocks", status_code=201, responses=problem_responses(403))
async def create_test_clock(
    request: Request, body: TestClockIn, response: Response, session: Session, now: ServiceNow, _: PlatformPrincipal
) -> TestClockOut:
    """A sandbox clock frozen at a time. Create one sandbox organisation with its `test_clock_id`: it
    lives at the clock's time, and advancing the clock fires its due deadlines at once."""
    _sandbox(request)
    clock = await service.create_test_clock(session, body, now)
    response.headers["Location"] = f"/v1/test-clocks/{clock.id}"
    return TestClockOut.model_validate(clock)


@router.get("/test-clocks/{clock_id}")
async def get_test_clock(request: Request, clock_id: str, session: Session, principal: Authenticated) -> TestClockOut:
    _sandbox(request)
    return TestClockOut.model_validate(await service.get_test_clock(session, clock_id, principal))


@router.post("/test-clocks/{clock_id}/advance", responses=problem_responses(403, 422))
async def advance_test_clock(
    request: Request, clock_id: str, body: AdvanceIn, session: Session, principal: Authenticated
) -> AdvanceOut:
    """Move the clock to a later time and run every deadline of its organisation due by then: warnings,
    breaches, CoS expiries and overdue obligations happen now, and the answer lists what fired."""
    _sandbox(request)
    return await service.advance_test_clock(
        session,
        request.app.state.sessionmaker,
        request.app.state.rulebook,
        clock_id,
        body.to,
        principal,
        batch_size=request.app.state.settings.scheduler_batch_size,
    )
