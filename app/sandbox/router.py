from __future__ import annotations

from fastapi import Request, Response

from app.api.etags import tagged
from app.api.problems import problem_responses
from app.api.types import VisibleStr
from app.db.session import Session
from app.errors import ProblemError
from app.organisations.principals import Principal, Role
from app.sandbox import service
from app.sandbox.schemas import AdvanceIn, AdvanceOut, TestClockIn, TestClockOut
from app.web.auth import Authenticated, PlatformPrincipal
from app.web.routing import ServiceNow, v1_router

router = v1_router("test clocks")


def _sandbox(request: Request) -> None:
    if not request.app.state.settings.sandbox_enabled:
        raise ProblemError(403, "sandbox_disabled", "test clocks are a sandbox feature, disabled on this deployment")


def _own_clock(principal: Principal) -> str | None:
    return principal.org.clock_id if principal.org is not None else None


@router.post("/test-clocks", status_code=201, responses=problem_responses(403, "sandbox_disabled", "forbidden"))
async def create_test_clock(
    request: Request, body: TestClockIn, response: Response, session: Session, now: ServiceNow, _: PlatformPrincipal
) -> TestClockOut:
    """A sandbox clock frozen at a time. Create one sandbox organisation with its `test_clock_id`: it
    lives at the clock's time, and advancing the clock fires its due deadlines at once."""
    _sandbox(request)
    clock = await service.create_test_clock(session, body, now)
    response.headers["Location"] = f"/v1/test-clocks/{clock.id}"
    return tagged(response, clock)


@router.get("/test-clocks/{clock_id}", responses=problem_responses(403, "sandbox_disabled"))
async def get_test_clock(
    request: Request, clock_id: VisibleStr, response: Response, session: Session, principal: Authenticated
) -> TestClockOut:
    _sandbox(request)
    clock = await service.get_test_clock(session, clock_id, _own_clock(principal), sees_all=principal.is_platform)
    return tagged(response, clock)


@router.post(
    "/test-clocks/{clock_id}/advance",
    responses=problem_responses(403, "sandbox_disabled", "forbidden") | problem_responses(422, "clock_cannot_go_back"),
)
async def advance_test_clock(
    request: Request, clock_id: VisibleStr, body: AdvanceIn, session: Session, principal: Authenticated
) -> AdvanceOut:
    """Move the clock to a later time and run every deadline of its organisation due by then: warnings,
    breaches, CoS expiries and overdue obligations happen now, and the answer lists what fired."""
    _sandbox(request)
    if principal.role not in (Role.platform, Role.admin):
        raise ProblemError(403, "forbidden", "advancing a test clock needs an admin or platform key")
    clock = await service.move_test_clock(
        session, clock_id, body.to, _own_clock(principal), sees_all=principal.is_platform
    )
    # The same deadline job the background worker runs, on this clock's time.
    fired = await request.app.state.worker.fire_deadlines(clock.frozen_time, clock_id=clock.id)
    return AdvanceOut(clock=clock, fired=fired)
