from __future__ import annotations

from app.calendar import Nation
from app.compliance import service
from app.compliance.schemas import ComplianceSummary
from app.db.session import Session
from app.web.auth import Viewer
from app.web.routing import Book, Now, v1_router

router = v1_router("compliance")


@router.get("/compliance/summary")
async def get_compliance_summary(session: Session, actor: Viewer, now: Now, book: Book) -> ComplianceSummary:
    """What a compliance officer checks each Monday: deadlines falling due within the next working
    days (the horizon is rules data), overdue SMS reports, workers whose permission ends soon with no
    follow-up right-to-work check, the licence and CoS allocation, and cases in a state for longer
    than its normal duration (rules data per state)."""
    return await service.summary(session, actor.organisation_id, Nation(actor.org.nation), now, book)
