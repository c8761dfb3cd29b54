from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query, Response

from app.api.cursors import Page
from app.api.problems import problem_responses
from app.api.types import VisibleStr
from app.job_mappings import service
from app.job_mappings.schemas import CatalogueImport, CatalogueJob, JobCode, JobMappingIn, JobMappingOut, Suggestions
from app.web.routing import HR, Cursor, DefaultLimit, HRWithRules, Limit, ViewerWithRules, v1_router

router = v1_router("job mappings")


@router.get("/job-mappings")
async def list_job_mappings(org: ViewerWithRules, cursor: Cursor, limit: Limit = DefaultLimit) -> Page[JobMappingOut]:
    """The organisation's HRIS job codes and the SOC 2020 codes they map to."""
    return await service.list_mappings(org.session, org.organisation_id, cursor, limit, org.book, org.today)


@router.put("/job-mappings")
async def import_job_mappings(
    body: Annotated[list[CatalogueJob], Body(min_length=1, max_length=1000)],
    org: HRWithRules,
) -> CatalogueImport:
    """Import an HRIS job catalogue (codes, titles, grades): every job sent with a `soc_code` is mapped
    (created or replaced), the others are answered with SOC suggestions from the occupations data and
    left unmapped. All or nothing: an unknown SOC code refuses the whole list with 422."""
    return await service.import_catalogue(org.session, org.organisation_id, body, org.book, org.now, org.today)


@router.get("/job-mappings/suggestions")
async def suggest_job_mappings(
    org: ViewerWithRules,
    title: Annotated[VisibleStr, Query(min_length=1, max_length=200, description="an HRIS job title")],
) -> Suggestions:
    """SOC 2020 candidates for an HRIS job title, best first, from the occupations in force today.
    Nothing is mapped: choose one and map it."""
    today = org.today
    return Suggestions(title=title, on=today, data=service.suggest(org.book, title, today))


@router.get("/job-mappings/{hris_job_code}")
async def get_job_mapping(hris_job_code: JobCode, org: ViewerWithRules) -> JobMappingOut:
    return await service.get_mapping(org.session, org.organisation_id, hris_job_code, org.book, org.today)


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
    org: HRWithRules,
) -> JobMappingOut:
    """Map an HRIS job code to a SOC code (e.g. `AUN04792` "Customer Service Unit Supervisor" → 7220).
    New cases with that job code take the SOC code from it."""
    mapping, created = await service.put_mapping(
        org.session, org.organisation_id, hris_job_code, body, org.book, org.now, org.today
    )
    response.status_code = 201 if created else 200
    return mapping


@router.delete("/job-mappings/{hris_job_code}", status_code=204)
async def delete_job_mapping(hris_job_code: JobCode, org: HR) -> Response:
    """Remove a mapping. Cases already created keep their SOC code."""
    await service.delete_mapping(org.session, org.organisation_id, hris_job_code)
    return Response(status_code=204)
