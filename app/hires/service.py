"""Hire cases, the use cases: create, read, list, correct details, and apply workflow actions.

Every write is one transaction that locks the licence, the allocation when the action uses it, then the
case (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite), checks If-Match, runs the shared hire machine,
applies the effects and appends the audit event and its outbox row; a refusal or error at any step rolls
everything back. The jobs behind them live beside this file: queries, views, actions, corrections, anchors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import cases
from app.api.cursors import Keyset, Page, narrowed
from app.api.etags import IfMatch
from app.audit import service as audit
from app.audit.service import EventDraft
from app.context import Context
from app.db.transactions import read_transaction, write_transaction
from app.errors import ProblemError
from app.hires import eligibility, impacts
from app.hires.actions import act
from app.hires.corrections import ANCHOR_FIELDS, check_editable, rearm
from app.hires.models import Hire
from app.hires.queries import (
    USES_ALLOCATION,
    Standing,
    assess,
    facts,
    find,
    flush_unique,
    lock_standing,
    standing,
)
from app.hires.schemas import ACTION_PAYLOADS, HireCreate, HireOut, HireUpdate
from app.hires.views import OpenItems, find_with_items, open_items, summarise, view
from app.ids import new_id
from app.rules.book import RuleBook
from app.workflow import HIRE


async def get_hire(session: AsyncSession, organisation_id: str, hire_id: str, today: date, book: RuleBook) -> HireOut:
    hire, known, items = await find_with_items(session, organisation_id, hire_id)
    return summarise(hire, known, items, today, book)


async def ensure_exists(session: AsyncSession, organisation_id: str, hire_id: str) -> None:
    """404 unless the organisation has this hire."""
    async with read_transaction(session):
        await find(session, organisation_id, hire_id)


_BY_ID = Keyset(("id", Hire.id, str))


@dataclass(frozen=True)
class HireFilters:
    state: Sequence[str] = ()
    external_id: str | None = None
    soc_code: str | None = None
    start_date_from: date | None = None
    start_date_to: date | None = None
    updated_since: datetime | None = None


async def list_hires(
    session: AsyncSession,
    organisation_id: str,
    filters: HireFilters,
    cursor: dict[str, Any] | None,
    limit: int,
    today: date,
    book: RuleBook,
) -> Page[HireOut]:
    stmt = _BY_ID.apply(select(Hire).where(Hire.organisation_id == organisation_id), cursor, limit)
    unknown = set(filters.state) - {s.name for s in HIRE.states}
    if unknown:
        raise ProblemError(400, "unknown_state", f"no hire state {sorted(unknown)}")
    stmt = narrowed(
        stmt,
        Hire.state.in_(filters.state) if filters.state else None,
        Hire.external_id == filters.external_id if filters.external_id is not None else None,
        Hire.soc_code == filters.soc_code if filters.soc_code is not None else None,
        Hire.start_date >= filters.start_date_from if filters.start_date_from is not None else None,
        Hire.start_date <= filters.start_date_to if filters.start_date_to is not None else None,
        Hire.updated_at >= filters.updated_since if filters.updated_since is not None else None,
    )
    async with read_transaction(session):
        rows = list((await session.execute(stmt)).scalars())
        listed = rows[:limit]
        reads = frozenset().union(*(HIRE.reads_in(state) for state in {h.state for h in listed}))
        known = await standing(session, organisation_id, reads)
        items = await open_items(session, [h.id for h in listed])
    return _BY_ID.page(rows, limit, lambda h: summarise(h, known, items[h.id], today, book))


# --- writes ---------------------------------------------------------------------------------------

#: A new case starts in the initial state or in draft: what their views read, and the licence.
_CREATION_READS = frozenset({"licence_state"}).union(*(HIRE.reads_in(s) for s in HIRE.entry_states))


_COHORT_DEFAULTS: dict[str, object] = {
    "held_skilled_worker_permission_before_2025_07_22": False,
    "first_sponsored_before_2024_04_04": False,
    "switching_from_student_or_graduate": False,
    "working_towards_professional_qualification": False,
    "postdoctoral_role": False,
    "phd": "none",
}


async def create_hire(session: AsyncSession, ctx: Context, data: HireCreate) -> HireOut:
    values = data.model_dump(exclude_unset=True, exclude_none=True)
    async with write_transaction(session):
        # The licence decides where the case starts, so it is locked; the view reads the rest.
        known, _ = await lock_standing(session, ctx.organisation_id, _CREATION_READS, uses_allocation=False)
        # The cohort flags default to "no" unless the request says otherwise: one dict, so a field sent
        # in the body replaces its default instead of reaching the constructor twice.
        fields = _COHORT_DEFAULTS | {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}
        hire = Hire(
            id=new_id("hire"),
            organisation_id=ctx.organisation_id,
            version=1,
            state="draft" if known.licence_state == "active" else HIRE.initial,
            uses_allocation=False,
            legal_hold=False,
            state_entered_at=ctx.now,
            created_at=ctx.now,
            updated_at=ctx.now,
            **fields,
        )
        await assess(session, ctx, hire)
        session.add(hire)
        await flush_unique(session, hire)
        armed = (await impacts.reconcile(session, ctx, hire)).armed
        await audit.record(
            session,
            ctx.organisation_id,
            ctx.actor,
            [
                EventDraft(
                    "hire.created",
                    "hire",
                    hire.id,
                    to_state=hire.state,
                    data=data.model_dump(mode="json", exclude_none=True),
                )
            ],
            ctx.now,
        )
        assessed = eligibility.stored(hire)
        return view(hire, facts(known, ctx.today, assessed), OpenItems().after(hire.id, (), armed), assessed)


async def update_hire(
    session: AsyncSession, ctx: Context, hire_id: str, data: HireUpdate, if_match: IfMatch
) -> HireOut:
    changes = data.model_dump(exclude_unset=True)
    async with write_transaction(session):
        hire = await find(session, ctx.organisation_id, hire_id, lock=True)
        if_match.check(hire.version)
        check_editable(hire, set(changes))
        for name, value in changes.items():
            setattr(hire, name, value.value if hasattr(value, "value") else value)
        if eligibility.INPUT_FIELDS & set(changes):
            await assess(session, ctx, hire)
        if ANCHOR_FIELDS & set(changes):
            await rearm(session, ctx, hire, ANCHOR_FIELDS & set(changes))
        hire.version += 1
        hire.updated_at = ctx.now
        await flush_unique(session, hire)
        await impacts.reconcile(session, ctx, hire)
        await session.flush()
        # Read after the flush: a corrected date may have re-armed deadlines.
        known = await standing(session, ctx.organisation_id, HIRE.reads_in(hire.state))
        out = summarise(hire, known, (await open_items(session, [hire.id]))[hire.id], ctx.today, ctx.book)
        await audit.record(
            session,
            ctx.organisation_id,
            ctx.actor,
            [EventDraft("hire.updated", "hire", hire.id, data=data.model_dump(mode="json", exclude_unset=True))],
            ctx.now,
        )
        return out


async def apply_action(
    session: AsyncSession,
    ctx: Context,
    hire_id: str,
    action: str,
    raw_payload: dict[str, Any] | None,
    if_match: IfMatch,
) -> HireOut:
    cases.check_action_exists(HIRE, action)
    payload = cases.parse_payload(ACTION_PAYLOADS[action], raw_payload)
    declared = HIRE.find_action(action)
    assert declared is not None  # checked above
    async with write_transaction(session):
        # Locked first, in the writers' order, only what this action's own guards read (nothing for
        # change_job); what the resulting view reads comes unlocked with the case.
        guarded, allocation = await lock_standing(
            session, ctx.organisation_id, declared.reads, uses_allocation=action in USES_ALLOCATION
        )
        # The open items read once, under the case's lock: the guard counts the owed obligations, the view
        # lists both.
        hire, seen, items = await find_with_items(session, ctx.organisation_id, hire_id, lock=True)
        if_match.check(hire.version)
        acted = await act(session, ctx, hire, action, payload, guarded, allocation, by_system=False, items=items)
        licence_state = guarded.licence_state if "licence_state" in declared.reads else seen.licence_state
        known = (
            Standing.of(licence_state, allocation)
            if allocation is not None
            else replace(seen, licence_state=licence_state)
        )
        after = items.after(hire.id, acted.applied.settled, session.new, acted.settled_ids)
        out = summarise(hire, known, after, ctx.today, ctx.book)
        await audit.record(session, ctx.organisation_id, ctx.actor, acted.events, ctx.now)
        return out
