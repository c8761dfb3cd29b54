from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import Keyset, Page
from app.db.transactions import for_update, read_transaction, write_transaction
from app.errors import FieldError, NotFound, ProblemError
from app.job_mappings.models import JobMapping
from app.job_mappings.schemas import (
    CatalogueImport,
    CatalogueJob,
    JobMappingIn,
    JobMappingOut,
    SocSuggestion,
    UnmappedJob,
)
from app.rules.book import RuleBook

_BY_CODE = Keyset(("hris_job_code", JobMapping.hris_job_code, str))


def view(mapping: JobMapping, book: RuleBook, today: date) -> JobMappingOut:
    occupation = book.find_occupation(mapping.soc_code, today)
    out = JobMappingOut.model_validate(mapping)
    out.occupation_title = occupation.title if occupation else None
    return out


async def soc_for_job_code(session: AsyncSession, organisation_id: str, job_code: str) -> str | None:
    """The mapped SOC code, or None: an unmapped job is never guessed."""
    return (
        await session.execute(
            select(JobMapping.soc_code).where(
                JobMapping.organisation_id == organisation_id, JobMapping.hris_job_code == job_code
            )
        )
    ).scalar_one_or_none()


async def put_mapping(
    session: AsyncSession,
    organisation_id: str,
    job_code: str,
    data: JobMappingIn,
    book: RuleBook,
    now: datetime,
    today: date,
) -> tuple[JobMappingOut, bool]:
    if book.find_occupation(data.soc_code, today) is None:
        raise ProblemError(
            422,
            "unknown_soc_code",
            f"SOC code {data.soc_code} is not in the occupation data in force on {today}",
        )
    async with write_transaction(session):
        mapping = await session.get(JobMapping, (organisation_id, job_code), with_for_update=True)
        created = mapping is None
        if mapping is None:
            mapping = JobMapping(organisation_id=organisation_id, hris_job_code=job_code)
            session.add(mapping)
        _set(mapping, data.soc_code, data.job_title, data.grade, now)
    return view(mapping, book, today), created


def _set(mapping: JobMapping, soc_code: str, job_title: str | None, grade: str | None, now: datetime) -> None:
    mapping.soc_code, mapping.job_title, mapping.grade, mapping.updated_at = soc_code, job_title, grade, now


def suggest(book: RuleBook, title: str, today: date, limit: int = 5) -> list[SocSuggestion]:
    """SOC candidates for a job title from the occupations in force today, best first. Only offered:
    a person chooses (no HRIS carries SOC codes, and a wrong one would misjudge eligibility)."""
    return [
        SocSuggestion(
            soc_code=m.occupation.code,
            title=m.occupation.title,
            skill_band=m.occupation.skill_band.value,
            match=m.match.value,
        )
        for m in book.search_occupations(title, today, limit)
    ]


async def import_catalogue(
    session: AsyncSession, organisation_id: str, jobs: list[CatalogueJob], book: RuleBook, now: datetime, today: date
) -> CatalogueImport:
    """Map every job sent with a SOC code (all or nothing: one unknown code refuses the whole list) and
    report the others with suggestions."""
    codes = [job.hris_job_code for job in jobs]
    errors = [
        FieldError(loc=["body", i, "hris_job_code"], message="sent twice in the list", type="value_error")
        for i, code in enumerate(codes)
        if code in codes[:i]
    ] + [
        FieldError(
            loc=["body", i, "soc_code"],
            message=f"SOC code {job.soc_code} is not in the occupation data in force on {today}",
            type="unknown_soc_code",
        )
        for i, job in enumerate(jobs)
        if job.soc_code is not None and book.find_occupation(job.soc_code, today) is None
    ]
    if errors:
        raise ProblemError(
            422, "validation_error", "the job list cannot be imported: nothing was mapped", errors=errors
        )
    mapped_jobs = [job for job in jobs if job.soc_code is not None]
    async with write_transaction(session):
        existing = {
            m.hris_job_code: m
            for m in (
                await session.execute(
                    for_update(
                        select(JobMapping).where(
                            JobMapping.organisation_id == organisation_id,
                            JobMapping.hris_job_code.in_([job.hris_job_code for job in mapped_jobs]),
                        )
                    )
                )
            ).scalars()
        }
        mappings = []
        for job in mapped_jobs:
            assert job.soc_code is not None
            mapping = existing.get(job.hris_job_code)
            if mapping is None:
                mapping = JobMapping(organisation_id=organisation_id, hris_job_code=job.hris_job_code)
                session.add(mapping)
            _set(mapping, job.soc_code, job.job_title, job.grade, now)
            mappings.append(mapping)
    return CatalogueImport(
        mapped=[view(m, book, today) for m in mappings],
        unmapped=[
            UnmappedJob(
                hris_job_code=job.hris_job_code,
                job_title=job.job_title,
                suggestions=suggest(book, job.job_title, today) if job.job_title else [],
            )
            for job in jobs
            if job.soc_code is None
        ],
    )


async def get_mapping(
    session: AsyncSession, organisation_id: str, job_code: str, book: RuleBook, today: date
) -> JobMappingOut:
    async with read_transaction(session):
        mapping = await session.get(JobMapping, (organisation_id, job_code))
    if mapping is None:
        raise NotFound("job mapping")
    return view(mapping, book, today)


async def delete_mapping(session: AsyncSession, organisation_id: str, job_code: str) -> None:
    async with write_transaction(session):
        deleted = await session.execute(
            delete(JobMapping).where(
                JobMapping.organisation_id == organisation_id, JobMapping.hris_job_code == job_code
            )
        )
        if deleted.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("job mapping")


async def list_mappings(
    session: AsyncSession,
    organisation_id: str,
    cursor: dict[str, Any] | None,
    limit: int,
    book: RuleBook,
    today: date,
) -> Page[JobMappingOut]:
    stmt = _BY_CODE.apply(select(JobMapping).where(JobMapping.organisation_id == organisation_id), cursor, limit)
    async with read_transaction(session):
        rows = list((await session.execute(stmt)).scalars())
    return _BY_CODE.page(rows, limit, lambda m: view(m, book, today))
