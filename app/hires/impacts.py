"""Which cases a dated rule change hits, and by when to act (design §4: rules change on known dates).

A case is hit by a change on day D when, judged under the rules of D rather than those of the day before,
it becomes ineligible (its CoS is not assigned yet, and the rules key on the assignment date), costs more
(a fee priced on a step it has still to take), or counts a deadline it has still to arm differently. The
last day to act is the day before D. Each case hit carries a `rule_change` deadline due that day, warned
ahead (`rule_changes.warnings`), so the warning reaches webhooks and the deadline views; it is kept in
step with the case on every write (`reconcile`) and after the rules data changes (`sweep`).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api.cursors import Keyset
from app.audit.service import SYSTEM
from app.calendar import Nation
from app.context import Context
from app.db.transactions import for_update, read_transaction, write_transaction
from app.deadlines import policy
from app.deadlines import service as deadlines
from app.deadlines.models import Deadline
from app.hires import eligibility
from app.hires.anchors import anchor_for, worker_nation
from app.hires.models import Hire
from app.organisations.models import Organisation
from app.rules import RuleBook, ids
from app.rules.changes import ChangeKind, RuleChange, all_changes
from app.rules.models import DurationRule, MoneyRule
from app.workflow import HIRE


class ImpactEffect(StrEnum):
    becomes_ineligible = "becomes_ineligible"
    needs_review = "needs_review"
    costs_more = "costs_more"
    timed_differently = "timed_differently"


class RuleImpact(BaseModel):
    hire_id: str
    external_id: str | None
    state: str
    change_on: date = Field(description="the day the change applies")
    effect: ImpactEffect
    last_day_to_act: date
    act_by: str = Field(description="what to do, and by when, to stay under the current rules")
    reason: str
    changes: list[RuleChange] = Field(description="the dated changes the impact rests on")


class RuleImpacts(BaseModel):
    as_of: date
    until: date
    data: list[RuleImpact] = Field(description="by case (in id order), then by date")
    next_cursor: str | None = Field(description="pages step through the cases: a page may hold fewer items")


#: States whose CoS is not yet assigned (eligibility and the sponsor's fees key on the assignment date),
#: or whose visa application is not yet made (the worker's fees key on the application date).
_BEFORE_ASSIGNMENT = frozenset({"awaiting_licence", "draft", "cos_requested", "cos_granted"})
_BEFORE_APPLICATION = _BEFORE_ASSIGNMENT | {"cos_assigned"}
#: Cases a change can still reach: not ended before employment, not ended, not closed.
LIVE = frozenset(
    s.name
    for s in HIRE.states
    if not s.terminal and s.name not in {"withdrawn", "refused", "expired", "sponsorship_ended"}
)
_RANK = {"eligible": 0, "needs_review": 1, "ineligible": 2}
_ASSIGN = {
    "awaiting_licence": "get the licence granted, then assign the CoS",
    "draft": "assign the CoS",
    "cos_requested": "have the defined CoS granted and assign it",
    "cos_granted": "assign the granted CoS",
}


def impacts_of(
    hire: Hire, book: RuleBook, today: date, until: date | None, sponsor_size: str | None, nation: Nation
) -> list[RuleImpact]:
    """The impacts on `hire` of the changes after `today` up to `until` (none: every later one)."""
    if hire.state not in LIVE:
        return []
    by_day: dict[date, list[RuleChange]] = defaultdict(list)
    for change in all_changes(book):
        if today < change.on and (until is None or change.on <= until):
            by_day[change.on].append(change)
    found: list[RuleImpact] = []
    for on, changes in sorted(by_day.items()):
        found += _eligibility(hire, book, on, changes)
        found += _costs(hire, book, on, changes, sponsor_size)
        found += _timing(hire, book, on, changes, nation)
    return found


def _impact(hire: Hire, on: date, effect: ImpactEffect, act: str, reason: str, changes: list[RuleChange]) -> RuleImpact:
    last = on - timedelta(days=1)
    return RuleImpact(
        hire_id=hire.id,
        external_id=hire.external_id,
        state=hire.state,
        change_on=on,
        effect=effect,
        last_day_to_act=last,
        act_by=f"{act} by {last}",
        reason=reason,
        changes=changes,
    )


def _eligibility(hire: Hire, book: RuleBook, on: date, changes: list[RuleChange]) -> list[RuleImpact]:
    if hire.state not in _BEFORE_ASSIGNMENT:
        return []
    before_status, before = eligibility.evaluate(hire, book, on - timedelta(days=1))
    after_status, after = eligibility.evaluate(hire, book, on)
    if before_status not in _RANK or after_status not in _RANK or _RANK[after_status] <= _RANK[before_status]:
        return []
    cited = {r.get("rule_id") for answer in (before, after) for r in answer.get("reasons", [])}
    mine = [c for c in changes if c.rule_id in cited] or changes
    blocking = [r["message"] for r in after.get("reasons", []) if r.get("outcome") != "ok"]
    reason = f"Under the rules from {on} the case is {after_status.replace('_', ' ')}: " + " ".join(blocking)
    effect = ImpactEffect.becomes_ineligible if after_status == "ineligible" else ImpactEffect.needs_review
    act = _ASSIGN[hire.state]
    if hire.state == "draft" and hire.inside_uk is False:
        act = "request the defined CoS now (UKVI usually decides within a working day), then assign the CoS"
    return [_impact(hire, on, effect, act, reason, mine)]


def _costs(
    hire: Hire, book: RuleBook, on: date, changes: list[RuleChange], sponsor_size: str | None
) -> list[RuleImpact]:
    priced: dict[str, str] = {}
    if hire.state in _BEFORE_ASSIGNMENT:
        priced[ids.COS_FEE_SKILLED_WORKER] = _ASSIGN[hire.state]
        if sponsor_size is not None:
            for period in ("first_period", "further_period"):
                priced[ids.isc_fee(period, sponsor_size)] = _ASSIGN[hire.state]
    if hire.state in _BEFORE_APPLICATION:
        for category in _visa_categories(hire):
            for long_period in (False, True):
                priced[ids.visa_fee(category, long_period)] = "make the visa application"
        priced[ids.IHS_ADULT] = "make the visa application"
    found = []
    for change in changes:
        act = priced.get(change.rule_id)
        if act is None or change.kind is not ChangeKind.value_changes:
            continue
        old, new = (book.entry(change.rule_id, day) for day in (on - timedelta(days=1), on))
        if isinstance(old, MoneyRule) and isinstance(new, MoneyRule) and new.value > old.value:
            rise = f"£{new.value - old.value:,.2f}"
            reason = f"{change.what} from {on}: {rise} more if the case waits"
            found.append(_impact(hire, on, ImpactEffect.costs_more, act, reason, [change]))
    return found


def _visa_categories(hire: Hire) -> list[str]:
    if hire.salary_option == "immigration_salary_list":
        return ["immigration_salary_list"]
    if hire.inside_uk is None:
        return ["inside_uk", "outside_uk"]
    return ["inside_uk" if hire.inside_uk else "outside_uk"]


def _timing(hire: Hire, book: RuleBook, on: date, changes: list[RuleChange], nation: Nation) -> list[RuleImpact]:
    durations = {
        c.rule_id: c
        for c in changes
        if c.kind is ChangeKind.value_changes and isinstance(book.entry(c.rule_id, c.on), DurationRule)
    }
    if not durations:
        return []
    found = []
    seen: set[str] = set()  # one impact per changed rule, at the first state ahead that counts by it
    for state, kind in _kinds_ahead(hire.state):
        for spec in policy.compute(kind, anchor_for(hire, on, nation), book):
            change = durations.get(spec.rule_id)
            if change is None or spec.rule_id in seen:
                continue
            seen.add(spec.rule_id)
            step = f"{_entering(state)} (which starts the {kind.replace('_', ' ')} deadline)"
            reason = (
                f"The {kind.replace('_', ' ')} deadline counts {change.after} instead of {change.before} when it "
                f"starts on or after {on} ({change.rule_id})"
            )
            found.append(_impact(hire, on, ImpactEffect.timed_differently, step, reason, [change]))
    return found


#: A new CoS for an employed worker is a choice, not a step every case takes: its deadlines are ahead of a
#: case only once it is in that loop.
_NEW_COS_LOOP = frozenset({"new_cos_assigned", "new_visa_applied"})


def _kinds_ahead(state: str) -> list[tuple[str, str]]:
    """(state, kind) for the deadlines the case will arm in the states still ahead of it."""
    seen, queue = {state}, [state]
    loop = state in _NEW_COS_LOOP
    while queue:
        for action in HIRE.actions_from(queue.pop()):
            if action.dest in _NEW_COS_LOOP and not loop:
                continue
            if action.dest is not None and action.dest not in seen:
                seen.add(action.dest)
                queue.append(action.dest)
    return [(s.name, kind) for s in HIRE.states if s.name in seen - {state} for kind in s.arms]  # declaration order


def _entering(state: str) -> str:
    return next(a.name for a in HIRE.actions if a.dest == state)


# --- the warning deadline ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Reconciled:
    """The `rule_change` rows a write armed, and the ids of those it settled."""

    armed: list[Deadline] = dataclasses.field(default_factory=list)
    settled: list[str] = dataclasses.field(default_factory=list)


class _Open(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def due_at(self) -> datetime: ...


async def reconcile(
    session: AsyncSession, ctx: Context, hire: Hire, open_deadlines: Sequence[_Open] | None = None
) -> Reconciled:
    """Keep the case's `rule_change` deadlines in step with what the changes ahead do to it: arm one per
    change date that hits it, and settle those that no longer do (met while the case goes on; cancelled
    once it has ended). Nothing to read while the data holds no change ahead; nothing either when the
    caller passes the case's open deadlines (read under its lock) and knows the sponsor's size."""
    if not any(c.on > ctx.today for c in all_changes(ctx.book)):
        return Reconciled()
    size = ctx.sponsor_size or await _sponsor_size(session, ctx.organisation_id)
    wanted: dict[date, list[RuleImpact]] = defaultdict(list)
    for impact in impacts_of(hire, ctx.book, ctx.today, None, size, worker_nation(ctx, hire)):
        wanted[impact.last_day_to_act].append(impact)
    if open_deadlines is None:
        rows: Sequence[_Open] = await deadlines.open_of_kind(session, hire.id, policy.RULE_CHANGE)
    else:
        rows = [d for d in open_deadlines if d.kind == policy.RULE_CHANGE]
    settled = []
    for row in rows:
        last_day = row.due_at.astimezone(policy.UK_TIME).date()
        if wanted.pop(last_day, None) is None:
            await deadlines.settle_one(session, row.id, "met" if hire.state in LIVE else "cancelled", ctx.now)
            settled.append(row.id)
    armed = []
    for last_day, hits in sorted(wanted.items()):
        first = hits[0].changes[0]
        basis = "; ".join(f"{h.effect.value.replace('_', ' ')}: {h.act_by}" for h in hits)
        basis = f"{first.what} on {hits[0].change_on}: {basis}"
        specs = policy.rule_change(
            last_day, ctx.today, worker_nation(ctx, hire), first.rule_id, first.source, _fit(basis), ctx.book
        )
        armed.append(deadlines.stage(session, ctx, specs, subject_type="hire", subject_id=hire.id))
    return Reconciled(armed, settled)


def _fit(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


async def _sponsor_size(session: AsyncSession, organisation_id: str) -> str | None:
    return (
        await session.execute(select(Organisation.sponsor_size).where(Organisation.id == organisation_id))
    ).scalar_one_or_none()


# --- reads and the sweep ----------------------------------------------------------------------------


_BY_ID = Keyset(("id", Hire.id, str))


async def list_impacts(
    session: AsyncSession,
    organisation_id: str,
    today: date,
    within_days: int,
    book: RuleBook,
    sponsor_nation: Nation,
    cursor: dict[str, object] | None,
    limit: int,
) -> RuleImpacts:
    """The organisation's live cases that a change within `within_days` of `today` hits."""
    until = today + timedelta(days=within_days)
    stmt = _BY_ID.apply(
        select(Hire).where(Hire.organisation_id == organisation_id, Hire.state.in_(LIVE)), cursor, limit
    )
    async with read_transaction(session):
        rows = list((await session.execute(stmt)).scalars())
        size = await _sponsor_size(session, organisation_id)
    page = _BY_ID.page(rows, limit, lambda hire: hire)
    data = [
        impact
        for hire in page.data
        for impact in impacts_of(
            hire, book, today, until, size, Nation(hire.work_nation) if hire.work_nation else sponsor_nation
        )
    ]
    return RuleImpacts(as_of=today, until=until, data=data, next_cursor=page.next_cursor)


async def sweep(sessions: async_sessionmaker[AsyncSession], book: RuleBook, now: datetime, batch_size: int) -> int:
    """Reconcile every live case on real time (sandbox cases follow their own clocks on their writes):
    run when the process starts, so a change to the rules data reaches cases nobody touched. Cases a
    person holds are skipped (`SKIP LOCKED`); their next write reconciles them."""
    handled, after = 0, ""
    while True:
        async with sessions() as session, write_transaction(session):
            stmt = (
                select(Hire)
                .join(Organisation, Organisation.id == Hire.organisation_id)
                .where(Hire.state.in_(LIVE), Hire.id > after, Organisation.test_clock_id.is_(None))
                .order_by(Hire.id)
                .limit(batch_size)
            )
            rows = list((await session.execute(for_update(stmt, skip_locked=True, of=Hire))).scalars())
            for hire in rows:
                org = await session.get(Organisation, hire.organisation_id)
                assert org is not None  # the case's foreign key
                await reconcile(
                    session, Context(org.id, SYSTEM, now, book, Nation(org.nation), sponsor_size=org.sponsor_size), hire
                )
        handled += len(rows)
        if len(rows) < batch_size:
            return handled
        after = rows[-1].id
