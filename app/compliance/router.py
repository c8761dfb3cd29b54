from __future__ import annotations

from app.compliance import service
from app.compliance.schemas import ComplianceSummary
from app.web.routing import ViewerWithRules, v1_router

router = v1_router("compliance")


@router.get("/compliance/summary")
async def get_compliance_summary(org: ViewerWithRules) -> ComplianceSummary:
    """What a compliance officer checks each Monday: deadlines falling due within the next working
    days (the horizon is rules data), overdue SMS reports, workers whose permission ends soon with no
    follow-up right-to-work check, the licence and CoS allocation, and cases in a state for longer
    than its normal duration (rules data per state)."""
    return await service.summary(org.session, org.organisation_id, org.nation, org.now, org.book)
