"""Hire responses, built from what the use case already holds in memory: the case, the organisation's
standing where a guard reads it, and the case's open deadlines and obligations, read in one statement
before an action and brought up to date in memory after it (never re-read)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import CompoundSelect, Date, bindparam, cast, literal, literal_column, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app import cases
from app.db.aggregates import json_rows
from app.db.base import UTCDateTime
from app.db.driver import Step, adopt, holds, mapped_columns, send, snapshot
from app.db.transactions import single_read
from app.deadlines.models import Deadline
from app.deadlines.service import OPEN
from app.errors import NotFound
from app.hires import eligibility
from app.hires.models import Hire
from app.hires.queries import FIND_WITH_STANDING, STANDING_COLUMNS, Standing
from app.hires.queries import facts as case_facts
from app.hires.schemas import DeadlineSummary, HireOut, ObligationSummary
from app.obligations.models import Obligation
from app.obligations.service import OWED
from app.rules.book import RuleBook
from app.workflow import HIRE, Facts, GuardInput


@dataclass
class OpenItems:
    """A case's open deadlines (soonest first) and owed SMS obligations (soonest due first)."""

    deadlines: list[DeadlineSummary] = field(default_factory=list)
    obligations: list[ObligationSummary] = field(default_factory=list)

    def after(
        self, hire_id: str, settled: Iterable[str], staged: Iterable[object], settled_ids: Iterable[str] = ()
    ) -> OpenItems:
        """These items once a write's effects apply: the deadline kinds (and the rows) it settled gone,
        the deadline rows and obligations it staged for the case (e.g. the session's new objects) added."""
        kinds, ids = frozenset(settled), frozenset(settled_ids)
        deadlines = [d for d in self.deadlines if d.kind not in kinds and d.id not in ids]
        obligations = list(self.obligations)
        for row in staged:
            if isinstance(row, Deadline) and row.subject_id == hire_id:
                deadlines.append(
                    DeadlineSummary(id=row.id, kind=row.kind, status=row.status, due_at=row.due_at, warn_at=row.warn_at)
                )
            elif isinstance(row, Obligation) and row.hire_id == hire_id:
                obligations.append(ObligationSummary(id=row.id, kind=row.kind, status=row.status, due_on=row.due_on))
        deadlines.sort(key=lambda d: (d.due_at, d.id))
        obligations.sort(key=lambda o: (o.due_on, o.id))
        return OpenItems(deadlines, obligations)


_NO_DATE, _NO_TIME = cast(null(), Date), cast(null(), UTCDateTime())
# Built once, for any number of cases (an expanding IN); each side is served by its (subject, status) index.
_OPEN_ITEMS: CompoundSelect[Any] = union_all(
    select(
        literal("deadline").label("item"),
        Deadline.subject_id.label("hire_id"),
        Deadline.id,
        Deadline.kind,
        Deadline.status,
        Deadline.due_at,
        Deadline.warn_at,
        _NO_DATE.label("due_on"),
    ).where(Deadline.subject_id.in_(bindparam("hire_ids", expanding=True)), Deadline.status.in_(OPEN)),
    select(
        literal("obligation"),
        Obligation.hire_id,
        Obligation.id,
        Obligation.kind,
        Obligation.status,
        _NO_TIME,
        _NO_TIME,
        Obligation.due_on,
    ).where(Obligation.hire_id.in_(bindparam("hire_ids", expanding=True)), Obligation.status.in_(OWED)),
)


async def open_items(session: AsyncSession, hire_ids: list[str]) -> dict[str, OpenItems]:
    """The open deadlines and owed obligations of these cases, in one statement."""
    found: dict[str, OpenItems] = defaultdict(OpenItems)
    if not hire_ids:
        return found
    for row in await session.execute(_OPEN_ITEMS, {"hire_ids": hire_ids}):
        items = found[row.hire_id]
        if row.item == "deadline":
            items.deadlines.append(
                DeadlineSummary(id=row.id, kind=row.kind, status=row.status, due_at=row.due_at, warn_at=row.warn_at)
            )
        else:
            items.obligations.append(ObligationSummary(id=row.id, kind=row.kind, status=row.status, due_on=row.due_on))
    for items in found.values():
        items.deadlines.sort(key=lambda d: (d.due_at, d.id))
        items.obligations.sort(key=lambda o: (o.due_on, o.id))
    return found


def _deadline(row: list[Any]) -> DeadlineSummary:
    warn_at = _utc(row[4]) if row[4] is not None else None
    return DeadlineSummary(id=row[0], kind=row[1], status=row[2], due_at=_utc(row[3]), warn_at=warn_at)


def _utc(value: str) -> datetime:
    # PostgreSQL renders timestamptz in JSON in the session's time zone, SQLite stores naive UTC: the ORM
    # reads aware UTC.
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _one_of(column: Any, values: Iterable[str]) -> Any:
    """`column IN ('a', 'b')` for constants of the code, written into the statement: a bound list is
    expanded on every execution."""
    return column.in_([literal_column(f"'{value}'") for value in values])


def _json_items(table: Any, columns: list[Any], *where: Any) -> Any:
    """A case's open rows of one table as one JSON array of arrays, NULL or empty when none (sorted after)."""
    return (
        select(json_rows(*columns))
        .select_from(table)
        .where(*where)
        .correlate(Hire)
        .scalar_subquery()
    )


# The case locked, what its view reads of the organisation, and its open deadlines and obligations: one
# statement, where the two reads would be two (on PostgreSQL two round trips).
_OPEN_ITEM_COLUMNS = (
    _json_items(
        Deadline,
        [Deadline.id, Deadline.kind, Deadline.status, Deadline.due_at, Deadline.warn_at],
        Deadline.subject_id == Hire.id,
        _one_of(Deadline.status, OPEN),
    ),
    _json_items(
        Obligation,
        [Obligation.id, Obligation.kind, Obligation.status, Obligation.due_on],
        Obligation.hire_id == Hire.id,
        _one_of(Obligation.status, OWED),
    ),
)
_FIND_WITH_ITEMS = FIND_WITH_STANDING.add_columns(*_OPEN_ITEM_COLUMNS)
_FIND_LOCKED_WITH_ITEMS = _FIND_WITH_ITEMS.with_for_update(of=Hire)
# The same with the case as its columns, for the driver (app.db.driver.adopt), not as an ORM entity.
_HIRE_COLUMNS = mapped_columns(Hire.__mapper__)
_ROWS_WITH_ITEMS = FIND_WITH_STANDING.with_only_columns(
    *_HIRE_COLUMNS, *STANDING_COLUMNS, *_OPEN_ITEM_COLUMNS, maintain_column_froms=True
)
_ROWS_LOCKED_WITH_ITEMS = _ROWS_WITH_ITEMS.with_for_update(of=Hire.__table__)


async def find_with_items(
    session: AsyncSession, organisation_id: str, hire_id: str, *, lock: bool = False
) -> tuple[Hire, Standing, OpenItems]:
    """The case (locked for update if asked: then inside the caller's write transaction, and in its
    session; else a snapshot in none, to read), the organisation's standing as its view reads it, and its
    open items, read together."""
    params = {"hire_id": hire_id, "organisation_id": organisation_id}
    async with single_read(session):
        row: list[Any] | None
        if holds(session, Hire.__mapper__, hire_id):  # a use case inside another's: the ORM hands back its case
            found = (await session.execute(_FIND_LOCKED_WITH_ITEMS if lock else _FIND_WITH_ITEMS, params)).first()
            row = None if found is None else list(found)
        else:
            (rows,) = await send(session, Step(_ROWS_LOCKED_WITH_ITEMS if lock else _ROWS_WITH_ITEMS, [params]))
            row = None
            if rows:
                values, rest = rows[0][: len(_HIRE_COLUMNS)], rows[0][len(_HIRE_COLUMNS) :]
                # A writer changes the case it locked, so it goes into the session; a reader only reads it.
                case = adopt(session, Hire.__mapper__, values) if lock else snapshot(Hire.__mapper__, values)
                row = [case, *rest]
    if row is None:
        raise NotFound("hire")
    hire, *standing, deadlines, obligations = row
    items = OpenItems(
        [_deadline(d) for d in deadlines or ()],
        [ObligationSummary(id=o[0], kind=o[1], status=o[2], due_on=o[3]) for o in obligations or ()],
    )
    items.deadlines.sort(key=lambda d: (d.due_at, d.id))
    items.obligations.sort(key=lambda o: (o.due_on, o.id))
    return hire, Standing.of_columns(*standing), items


def summarise(hire: Hire, standing: Standing, items: OpenItems, today: date, book: RuleBook) -> HireOut:
    """A case as a reader sees it now: eligibility under today's rules where it still decides something."""
    assessed = eligibility.current(hire, book, today)
    return view(hire, case_facts(standing, today, assessed, len(items.obligations)), items, assessed)


#: The fields of a case's view read straight off the case.
_STORED_FIELDS = tuple(name for name in HireOut.model_fields if hasattr(Hire, name))


def view(hire: Hire, facts: Facts, items: OpenItems, assessed: eligibility.Assessment | None) -> HireOut:
    # Off the instance's own dict where the columns are loaded (always, but for an expired one): the ORM's
    # attribute descriptor costs a tenth of a list page's CPU over fifty attributes and fifty cases.
    loaded = hire.__dict__
    fields = {name: loaded[name] if name in loaded else getattr(hire, name) for name in _STORED_FIELDS}
    fields["eligibility_status"], fields["eligibility"] = assessed or (None, None)
    return HireOut(
        **fields,
        available_actions=cases.available(HIRE, hire, GuardInput(hire, facts)),
        open_deadlines=items.deadlines,
        open_obligations=items.obligations,
    )
