from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query, Response

from app.api.cursors import Page
from app.api.problems import problem_responses
from app.api.types import VisibleStr
from app.context import uk_today
from app.db.session import Session
from app.job_mappings import service
from app.job_mappings.schemas import CatalogueImport, CatalogueJob, JobCode, JobMappingIn, JobMappingOut, Suggestions
from app.web.auth import HR, Viewer
from app.web.routing import Book, Cursor, DefaultLimit, Limit, Now, v1_router

router = v1_router("job mappings")


@router.get("/job-mappings")
async def list_job_mappings(
    session: Session, actor: Viewer, book: Book, now: Now, cursor: Cursor, limit: Limit = DefaultLimit
) -> Page[JobMappingOut]:
    """The organisation's HRIS job codes and the SOC 2020 codes they map to."""
    return await service.list_mappings(session, actor.organisation_id, cursor, limit, book, uk_today(now))


@router.put("/job-mappings")
async def import_job_mappings(
    body: Annotated[list[CatalogueJob], Body(min_length=1, max_length=1000)],
    session: Session,
    actor: HR,
    book: Book,
    now: Now,
) -> CatalogueImport:
    """Import an HRIS job catalogue (codes, titles, grades): every job sent with a `soc_code` is mapped
    (created or replaced), the others are answered with SOC suggestions from the occupations data and
    left unmapped. All or nothing: an unknown SOC code refuses the whole list with 422."""
    today = uk_today(now)
    return await service.import_catalogue(session, actor.organisation_id, body, book, now, today)


@router.get("/job-mappings/suggestions")
async def suggest_job_mappings(
    actor: Viewer,
    book: Book,
    now: Now,
    title: Annotated[VisibleStr, Query(min_length=1, max_length=200, description="an HRIS job title")],
) -> Suggestions:
    """SOC 2020 candidates for an HRIS job title, best first, from the occupations in force today.
    Nothing is mapped: choose one and map it."""
    today = uk_today(now)
    return Suggestions(title=title, on=today, data=service.suggest(book, title, today))


@router.get("/job-mappings/{hris_job_code}")
async def get_job_mapping(
    hris_job_code: JobCode, session: Session, actor: Viewer, book: Book, now: Now
) -> JobMappingOut:
    return await service.get_mapping(session, actor.organisation_id, hris_job_code, book, uk_today(now))


@router.put(
    "/job-mappings/{hris_job_code}",
    responses={
        201: {"description": "The mapping is new", "model": JobMappingOut},
        **problem_responses(422, "unknown_soc_code"),
    },
)
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
