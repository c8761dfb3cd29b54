from __future__ import annotations

from fastapi import Response

from app.api.etags import etag
from app.api.problems import problem_responses
from app.api.types import VisibleStr
from app.retention import service
from app.retention.schemas import LegalHoldIn, LegalHoldOut
from app.web.routing import Admin, Viewer, v1_router

router = v1_router("retention")


def _tagged(response: Response, hold: LegalHoldOut) -> LegalHoldOut:
    response.headers["ETag"] = etag(hold.version)  # the case's new version: a client's If-Match follows it
    return hold


@router.get("/hires/{hire_id}/legal-hold")
async def get_legal_hold(hire_id: VisibleStr, response: Response, org: Viewer) -> LegalHoldOut:
    """Whether a legal hold keeps the case's personal data past its retention date."""
    return _tagged(response, await service.get_legal_hold(org.session, org.organisation_id, hire_id))


@router.put("/hires/{hire_id}/legal-hold", responses=problem_responses(409, "personal_data_erased"))
async def set_legal_hold(hire_id: VisibleStr, body: LegalHoldIn, response: Response, org: Admin) -> LegalHoldOut:
    """Put the case under legal hold: retention will not erase it until the hold is cleared. Admins only;
    an audit event records who and why."""
    hold = await service.set_legal_hold(org.session, org.organisation_id, hire_id, body, org.by, org.now)
    return _tagged(response, hold)


@router.delete("/hires/{hire_id}/legal-hold")
async def clear_legal_hold(hire_id: VisibleStr, response: Response, org: Admin) -> LegalHoldOut:
    """Lift the legal hold; a case already past its retention date is erased on the next pass."""
    return _tagged(response, await service.clear_legal_hold(org.session, org.organisation_id, hire_id, org.by, org.now))
