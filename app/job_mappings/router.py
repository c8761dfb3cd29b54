from __future__ import annotations

from fastapi import Response

from app.api.cursors import Page
from app.context import uk_today
from app.db.session import Session
from app.job_mappings import service
from app.job_mappings.schemas import JobCode, JobMappingIn, JobMappingOut
from app.web.auth import HR, Viewer
from app.web.routing import Book, Cursor, DefaultLimit, Limit, Now, v1_router

router = v1_router("job mappings")


@router.get("/job-mappings")
async def list_job_mappings(
    session: Session, actor: Viewer, book: Book, now: Now, cursor: Cursor, limit: Limit = DefaultLimit
) -> Page[JobMappingOut]:
    """The organisation's HRIS job codes and the SOC 2020 codes they map to."""
    return await service.list_mappings(session, actor.organisation_id, cursor, limit, book, uk_today(now))


@router.get("/job-mappings/{hris_job_code}")
async def get_job_mapping(
    hris_job_code: JobCode, session: Session, actor: Viewer, book: Book, now: Now
) -> JobMappingOut:
    return await service.get_mapping(session, actor.organisation_id, hris_job_code, book, uk_today(now))


@router.put("/job-mappings/{hris_job_code}")
async def put_job_mapping(
    hris_job_code: JobCode,
    body: JobMappingIn,
    response: Response,
    session: Session,
    actor: HR,
    book: Book,
    now: Now,
) -> JobMappingOut:
    """Map an HRIS job code to a SOC code (e.g. `AUN04792` "Customer Service Unit Supervisor" → 7220).
    New cases with that job code take the SOC code from it."""
    today = uk_today(now)
    mapping, created = await service.put_mapping(session, actor.organisation_id, hris_job_code, body, book, now, today)
    response.status_code = 201 if created else 200
    return mapping


@router.delete("/job-mappings/{hris_job_code}", status_code=204)
async def delete_job_mapping(hris_job_code: JobCode, session: Session, actor: HR) -> Response:
    """Remove a mapping. Cases already created keep their SOC code."""
    await service.delete_mapping(session, actor.organisation_id, hris_job_code)
    return Response(status_code=204)
