"""Reading and locking hire cases and what their guards read (licence, allocation, eligibility)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import Context
from app.db.transactions import for_update
from app.errors import Conflict, NotFound
from app.hires import counting, eligibility
from app.hires.models import Hire
from app.job_mappings.service import soc_for_job_code
from app.licences.models import CosAllocation, Licence
from app.workflow import Facts

#: Actions that change the undefined-CoS allocation's `used` count.
USES_ALLOCATION = frozenset({"assign_cos", "assign_new_cos", "withdraw"})


async def licence_and_allocation(
    session: AsyncSession, organisation_id: str, *, lock_licence: bool = False, lock_allocation: bool = False
) -> tuple[Licence | None, CosAllocation | None]:
    """The organisation's licence and allocation. Writers take them in this order (licence, allocation,
    then the case), the order licence cascades use too, so concurrent writers cannot deadlock. A share
    lock keeps the licence from changing between a guard's check and our commit; the allocation is
    locked for update and re-read, so two cases racing for the last CoS see each other's use."""
    stmt = Licence.current_of(organisation_id)
    licence = (await session.execute(stmt.with_for_update(read=True) if lock_licence else stmt)).scalar_one_or_none()
    alloc_stmt = CosAllocation.of(organisation_id)
    if lock_allocation:
        alloc_stmt = for_update(alloc_stmt).execution_options(populate_existing=True)
    allocation = (await session.execute(alloc_stmt)).scalar_one_or_none()
    return licence, allocation


def facts(
    licence: Licence | None,
    allocation: CosAllocation | None,
    today: date,
    assessed: eligibility.Assessment | None,
    open_obligations: int = 0,
    counted: counting.Counted | None = None,
) -> Facts:
    return Facts(
        today=today,
        report_trigger=counted.report_trigger if counted else None,
        salary_required=counted.salary_required if counted else None,
        licence_state=licence.state if licence else None,
        undefined_cos_remaining=None if allocation is None else allocation.remaining,
        undefined_cos_year=None if allocation is None else (allocation.year_start, allocation.year_end),
        eligibility_status=assessed[0] if assessed else None,
        eligibility_reasons=eligibility.blocking_reasons(assessed),
        open_obligations=open_obligations,
    )


async def find(session: AsyncSession, organisation_id: str, hire_id: str, *, lock: bool = False) -> Hire:
    stmt = select(Hire).where(Hire.id == hire_id, Hire.organisation_id == organisation_id)
    hire = (await session.execute(for_update(stmt) if lock else stmt)).scalar_one_or_none()
    if hire is None:
        raise NotFound("hire")
    return hire


async def lock_for_breach(session: AsyncSession, hire_id: str) -> Hire | None:
    """The case a deadline breach acts on, unless a person holds it now (then it waits a pass)."""
    stmt = select(Hire).where(Hire.id == hire_id)
    return (await session.execute(for_update(stmt, skip_locked=True))).scalar_one_or_none()


async def flush_unique(session: AsyncSession, hire: Hire) -> None:
    external_id = hire.external_id  # read now: a failed flush expires the row
    try:
        await session.flush()
    except IntegrityError as exc:
        if "external_id" not in str(exc.orig):
            raise
        raise Conflict(
            "external_id_taken", f"another hire of this organisation already has external_id {external_id!r}"
        ) from exc


async def assess(session: AsyncSession, ctx: Context, hire: Hire) -> None:
    unmapped = None
    if hire.hris_job_code and hire.soc_code is None:
        hire.soc_code = await soc_for_job_code(session, ctx.organisation_id, hire.hris_job_code)
        unmapped = hire.hris_job_code if hire.soc_code is None else None
    eligibility.assess(hire, ctx.book, ctx.today, unmapped_job_code=unmapped)
