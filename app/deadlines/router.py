from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.api.cursors import Page
from app.api.types import Instant, VisibleStr
from app.deadlines import service
from app.deadlines.schemas import DeadlineCounts, DeadlineOut, DeadlineStatus
from app.obligations import service as obligations
from app.web.routing import Cursor, DefaultLimit, Limit, Viewer, v1_router

router = v1_router("deadlines")


@router.get("/deadlines")
async def list_deadlines(
    org: Viewer,
    cursor: Cursor,
    limit: Limit = DefaultLimit,
    status: Annotated[list[DeadlineStatus] | None, Query()] = None,
    kind: VisibleStr | None = None,
    subject_id: VisibleStr | None = Query(default=None, description="a hire, licence or obligation id"),
    due_after: Instant | None = None,
    due_before: Instant | None = None,
) -> Page[DeadlineOut]:
    """Deadlines soonest first, e.g. `status=pending&status=warned&due_before=...` for what breaches this week."""
    filters = service.DeadlineFilters(tuple(status or ()), kind, subject_id, due_after, due_before)
    return await service.list_deadlines(org.session, org.organisation_id, filters, cursor, limit)


@router.get("/deadlines/counts")
async def count_deadlines(org: Viewer) -> DeadlineCounts:
    """Counts for a dashboard: deadlines by status, those due within 7 days, overdue obligations."""
    by_status, soon = await service.counts(org.session, org.organisation_id, org.now)
    overdue = await obligations.count_overdue(org.session, org.organisation_id)
    return DeadlineCounts(by_status=by_status, due_within_7_days=soon, overdue_obligations=overdue)
