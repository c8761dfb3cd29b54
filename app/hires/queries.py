"""Reading and locking hire cases and what their guards read (licence, allocation, eligibility)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.context import Context
from app.db.transactions import for_update
from app.errors import Conflict, NotFound
from app.hires import counting, eligibility
from app.hires.models import Hire
from app.job_mappings.service import soc_for_job_code
from app.licences.models import CosAllocation, Licence, remaining
from app.organisations.models import Organisation
from app.workflow import Facts

#: Actions that change the undefined-CoS allocation's `used` count.
USES_ALLOCATION = frozenset({"assign_cos", "assign_new_cos", "withdraw"})
_LICENCE_FACTS = frozenset({"licence_state"})
_ALLOCATION_FACTS = frozenset({"undefined_cos_remaining", "undefined_cos_year"})


@dataclass(frozen=True)
class Standing:
    """What guards read of the organisation: its current licence's state and its undefined CoS
    allocation. Left empty where no guard that can run reads them."""

    licence_state: str | None = None
    cos_remaining: int | None = None
    cos_year: tuple[date, date] | None = None

    @classmethod
    def of(cls, licence_state: str | None, allocation: CosAllocation | None) -> Standing:
        if allocation is None:
            return cls(licence_state)
        return cls.of_columns(
            licence_state, allocation.granted, allocation.used, allocation.year_start, allocation.year_end
        )

    @classmethod
    def of_columns(
        cls,
        licence_state: str | None,
        granted: int | None,
        used: int | None,
        year_start: date | None,
        year_end: date | None,
    ) -> Standing:
        """From `licence_state` and ALLOCATION_COLUMNS of an outer join (all None: no allocation)."""
        if granted is None or used is None or year_start is None or year_end is None:
            return cls(licence_state)
        return cls(licence_state, remaining(granted, used), (year_start, year_end))


#: What a read of the standing takes of the allocation: columns, not an ORM object to build and track.
ALLOCATION_COLUMNS = (CosAllocation.granted, CosAllocation.used, CosAllocation.year_start, CosAllocation.year_end)
#: The organisation's standing as columns: `Standing.of_columns(*row)`.
STANDING_COLUMNS = (Licence.state, *ALLOCATION_COLUMNS)


async def standing(session: AsyncSession, organisation_id: str, reads: frozenset[str]) -> Standing:
    """The facts `reads` names, unlocked, in one statement; no statement when it names none of them."""
    if not reads & (_LICENCE_FACTS | _ALLOCATION_FACTS):
        return Standing()
    row = (await session.execute(_STANDING, {"organisation_id": organisation_id})).one()
    return Standing.of_columns(*row)


_STANDING = (
    select(*STANDING_COLUMNS)
    .select_from(Organisation)
    .outerjoin(Licence, and_(Licence.organisation_id == Organisation.id, Licence.is_current.is_(True)))
    .outerjoin(CosAllocation, CosAllocation.organisation_id == Organisation.id)
    .where(Organisation.id == bindparam("organisation_id"))
)


async def lock_standing(
    session: AsyncSession, organisation_id: str, reads: frozenset[str], *, uses_allocation: bool
) -> tuple[Standing, CosAllocation | None]:
    """What a writer's guards read, locked before the case in the order licence cascades use too
    (licence, allocation, then the case), so concurrent writers cannot deadlock. A share lock keeps the
    licence from changing between a guard's check and our commit; an allocation the action changes is
    locked for update and re-read, so two cases racing for the last CoS see each other's use. Returns
    that allocation too, for the action to change."""
    licence_state = None
    if reads & _LICENCE_FACTS:
        licence = (
            await session.execute(Licence.current_of(organisation_id).with_for_update(read=True))
        ).scalar_one_or_none()
        licence_state = licence.state if licence else None
    allocation = None
    if uses_allocation or reads & _ALLOCATION_FACTS:
        stmt = CosAllocation.of(organisation_id)
        if uses_allocation:
            stmt = for_update(stmt).execution_options(populate_existing=True)
        allocation = (await session.execute(stmt)).scalar_one_or_none()
    return Standing.of(licence_state, allocation), (allocation if uses_allocation else None)


def facts(
    standing: Standing,
    today: date,
    assessed: eligibility.Assessment | None,
    open_obligations: int = 0,
    counted: counting.Counted | None = None,
) -> Facts:
    return Facts(
        today=today,
        report_trigger=counted.report_trigger if counted else None,
        salary_required=counted.salary_required if counted else None,
        licence_state=standing.licence_state,
        undefined_cos_remaining=standing.cos_remaining,
        undefined_cos_year=standing.cos_year,
        eligibility_status=assessed[0] if assessed else None,
        eligibility_reasons=eligibility.blocking_reasons(assessed),
        open_obligations=open_obligations,
    )


# Built once: constructing a statement costs more Python than running it (the hot path's profile).
_FIND = select(Hire).where(Hire.id == bindparam("hire_id"), Hire.organisation_id == bindparam("organisation_id"))
_FIND_LOCKED = for_update(_FIND)
# The case with what a view of it reads of the organisation (read, never locked: only the case is).
FIND_WITH_STANDING = (
    select(Hire, *STANDING_COLUMNS)
    .outerjoin(Licence, and_(Licence.organisation_id == Hire.organisation_id, Licence.is_current.is_(True)))
    .outerjoin(CosAllocation, CosAllocation.organisation_id == Hire.organisation_id)
    .where(Hire.id == bindparam("hire_id"), Hire.organisation_id == bindparam("organisation_id"))
)


async def find(session: AsyncSession, organisation_id: str, hire_id: str, *, lock: bool = False) -> Hire:
    params = {"hire_id": hire_id, "organisation_id": organisation_id}
    hire = (await session.execute(_FIND_LOCKED if lock else _FIND, params)).scalar_one_or_none()
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
