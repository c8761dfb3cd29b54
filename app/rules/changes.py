"""The dated changes the rules data holds (design §4): where one window of a rule gives way to the next,
where a rule's last window ends, and the day after a date a rule names as the last day of something (the
shortage lists' last CoS assignment date). Where a rule's data begins is not a change (its first window
starts where the facts file's coverage does); a figure a source reports without a date is listed apart,
under `undated`, never given one.

Pure: reads a `RuleBook`.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field

from app.rules.book import RuleBook
from app.rules.models import (
    DateRule,
    DayOffsetsRule,
    DurationRule,
    MoneyRule,
    NumberRule,
    RuleEntry,
    RuleStatus,
    SocCodesRule,
    Source,
)


class ChangeKind(StrEnum):
    value_changes = "value_changes"
    starts = "starts"
    ends = "ends"
    list_closes = "list_closes"


class RuleChange(BaseModel):
    on: date = Field(description="the first day the change applies (to the date the rule keys on)")
    rule_id: str
    kind: ChangeKind
    what: str = Field(description="the change in words")
    before: str | None = Field(description="the value in force the day before, as words")
    after: str | None = Field(description="the value in force from `on`, as words")
    source: Source
    status: RuleStatus


class UndatedChange(BaseModel):
    """A later figure a source reports with no date: the data keeps pricing the dated one."""

    rule_id: str
    in_force: str = Field(description="the last dated figure, which the service uses")
    reported: str
    source: Source
    status: RuleStatus
    note: str | None


class RuleChanges(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_date: date = Field(alias="from")
    to_date: date | None = Field(alias="to", description="null: every later change")
    data: list[RuleChange] = Field(description="soonest first")
    undated: list[UndatedChange]


def rule_changes(book: RuleBook, start: date, end: date | None = None) -> RuleChanges:
    """The dated changes with `start <= on <= end` (no end: every later one), soonest first."""
    data = [c for c in all_changes(book) if start <= c.on and (end is None or c.on <= end)]
    return RuleChanges(from_date=start, to_date=end, data=data, undated=undated(book))


def change_dates(book: RuleBook, after: date) -> list[date]:
    """The days after `after` on which something in the data changes, soonest first."""
    return sorted({c.on for c in all_changes(book) if c.on > after})


@lru_cache(maxsize=8)
def all_changes(book: RuleBook) -> tuple[RuleChange, ...]:
    """Every dated change in the book, soonest first (the book is immutable: computed once)."""
    found: list[RuleChange] = []
    for rule_id in book.rule_ids():
        windows = book.windows(rule_id)
        for previous, entry in pairwise(windows):
            assert previous.effective_to is not None  # windows never overlap: only the last is open
            if entry.effective_from == previous.effective_to + timedelta(days=1):
                found.append(_change(ChangeKind.value_changes, entry.effective_from, entry, previous, entry))
            else:
                found.append(_change(ChangeKind.ends, previous.effective_to + timedelta(days=1), previous, previous))
                found.append(_change(ChangeKind.starts, entry.effective_from, entry, None, entry))
        last = windows[-1]
        if last.effective_to is not None:
            found.append(_change(ChangeKind.ends, last.effective_to + timedelta(days=1), last, last))
        for entry in windows:
            if isinstance(entry, DateRule) and entry.last_day_of and entry.covers(entry.value):
                found.append(_list_closes(entry))
    return tuple(sorted(found, key=lambda c: (c.on, c.rule_id, c.kind)))


def undated(book: RuleBook) -> list[UndatedChange]:
    listed = []
    for rule_id in book.rule_ids():
        for entry in book.windows(rule_id):
            later = entry.reported_later if isinstance(entry, MoneyRule) else None
            if later is not None:
                listed.append(
                    UndatedChange(
                        rule_id=rule_id,
                        in_force=words(entry),
                        reported=f"£{later.value:,.2f}",
                        source=later.source,
                        status=later.status,
                        note=later.note,
                    )
                )
    return listed


def words(entry: RuleEntry) -> str:
    """A rule's value as a person reads it."""
    match entry:
        case MoneyRule():
            return f"£{entry.value:,.2f}"
        case DurationRule():
            return str(entry.value)
        case DateRule():
            return entry.value.isoformat()
        case NumberRule():
            return f"{entry.value.normalize():f}"
        case DayOffsetsRule():
            return ", ".join(f"{n} days" for n in entry.value)
        case SocCodesRule():
            return "SOC " + ", ".join(entry.value)
    raise TypeError(f"no words for a {entry.kind} rule")


def _change(
    kind: ChangeKind, on: date, cited: RuleEntry, before: RuleEntry | None, after: RuleEntry | None = None
) -> RuleChange:
    """A window boundary: `cited` is the entry whose source vouches for the change."""
    old = words(before) if before is not None else None
    new = words(after) if after is not None else None
    what = {
        ChangeKind.value_changes: f"{cited.id} changes from {old} to {new}",
        ChangeKind.starts: f"{cited.id} applies again, at {new}",
        ChangeKind.ends: f"{cited.id} ({old}) has no figure in the data after {on - timedelta(days=1)}",
    }[kind]
    return RuleChange(
        on=on, rule_id=cited.id, kind=kind, what=what, before=old, after=new, source=cited.source, status=cited.status
    )


def _list_closes(entry: DateRule) -> RuleChange:
    return RuleChange(
        on=entry.value + timedelta(days=1),
        rule_id=entry.id,
        kind=ChangeKind.list_closes,
        what=f"{entry.last_day_of} ends: {entry.value} is the last day it covers",
        before=entry.value.isoformat(),
        after=None,
        source=entry.source,
        status=entry.status,
    )
