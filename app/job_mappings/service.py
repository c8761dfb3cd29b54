from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.cursors import Keyset, Page
from app.db.transactions import read_transaction, write_transaction
from app.errors import NotFound, ProblemError
from app.job_mappings.models import JobMapping
from app.job_mappings.schemas import JobMappingIn, JobMappingOut
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
        mapping.soc_code, mapping.job_title, mapping.updated_at = data.soc_code, data.job_title, now
    return view(mapping, book, today), created


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
