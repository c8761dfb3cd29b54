"""UK working-day and calendar arithmetic for deadlines (design §3; facts §5.4 and §6).

Pure functions over `datetime.date`. Bank holidays come from the `holidays` package (substitute days
included), cached per nation and year; no holiday list is typed in here.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache, lru_cache

import holidays


class Nation(StrEnum):
    """The UK nation whose bank holidays count: the work location for worker events, the sponsor's
    main address for sponsor events."""

    england_and_wales = "england_and_wales"
    scotland = "scotland"
    northern_ireland = "northern_ireland"


class DurationUnit(StrEnum):
    working_days = "working_days"
    calendar_days = "calendar_days"
    weeks = "weeks"
    calendar_months = "calendar_months"
    years = "years"


# The package keeps England and Wales apart; their bank holidays are identical (a test checks that),
# and one calendar serves both here.
_SUBDIVISION = {
    Nation.england_and_wales: "ENG",
    Nation.scotland: "SCT",
    Nation.northern_ireland: "NIR",
}


def _require_date(d: date) -> None:
    # A datetime is a date subclass but never equals one, so a holiday lookup would silently miss it.
    if isinstance(d, datetime):
        raise TypeError("pass a date, not a datetime: convert the timestamp to the local date first")


@cache
def _nation_holidays(nation: Nation, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv=_SUBDIVISION[Nation(nation)], years=year))


@cache
def _any_nation_holidays(year: int) -> frozenset[date]:
    return frozenset().union(*(_nation_holidays(nation, year) for nation in Nation))


def bank_holidays(nation: Nation, year: int, *, strict: bool = False) -> frozenset[date]:
    """The bank holidays (and substitute days) of `nation` in `year`; with `strict`, those of every
    UK nation. Holidays that fall on a weekend are included alongside their substitutes."""
    return _any_nation_holidays(year) if strict else _nation_holidays(nation, year)


def is_working_day(d: date, nation: Nation, *, strict: bool = False) -> bool:
    """Monday to Friday and not a bank holiday of `nation` (of any UK nation with `strict`)."""
    _require_date(d)
    return d.weekday() < 5 and d not in bank_holidays(nation, d.year, strict=strict)


def add_working_days(start: date, n: int, nation: Nation, *, strict: bool = False) -> date:
    """The `n`-th working day after `start`: day 1 is the first working day after the trigger date.

    `strict` also skips the bank holidays of the other UK nations (the FOI Act's reading of "working
    day"). Skipping more days can only move the result later, never earlier.
    """
    _require_date(start)
    if n < 1:
        raise ValueError(f"working days to add must be at least 1, got {n}")
    return _add_working_days(start, n, nation, strict)


# Every deadline and obligation an action opens counts working days, day by day: the answers are
# remembered, as the holidays they depend on are (a few thousand small entries at most).
@lru_cache(maxsize=65_536)
def _add_working_days(start: date, n: int, nation: Nation, strict: bool) -> date:
    d = start
    remaining = n
    while remaining:
        d += timedelta(days=1)
        if is_working_day(d, nation, strict=strict):
            remaining -= 1
    return d


def working_days_between(start: date, end: date, nation: Nation) -> int:
    """Working days after `start` up to and including `end` (negative when `end` is earlier): how many
    working days are left until a due date, or how many have passed since one."""
    _require_date(start)
    _require_date(end)
    low, high, sign = (start, end, 1) if start <= end else (end, start, -1)
    count = sum(1 for k in range(1, (high - low).days + 1) if is_working_day(low + timedelta(days=k), nation))
    return sign * count


def add_calendar_days(d: date, n: int) -> date:
    _require_date(d)
    return d + timedelta(days=n)


def add_weeks(d: date, n: int) -> date:
    _require_date(d)
    return d + timedelta(weeks=n)


def add_calendar_months(d: date, n: int) -> date:
    """Same day-of-month `n` months on, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    _require_date(d)
    years, month_index = divmod(d.month - 1 + n, 12)
    year, month = d.year + years, month_index + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def add_years(d: date, n: int) -> date:
    """Same date `n` years on; 29 February becomes 28 February in a common year."""
    return add_calendar_months(d, 12 * n)


def add_duration(start: date, amount: int, unit: DurationUnit | str, nation: Nation, *, strict: bool = False) -> date:
    """Dispatch on the unit a rule is expressed in (rules data names units by these strings)."""
    match DurationUnit(unit):
        case DurationUnit.working_days:
            return add_working_days(start, amount, nation, strict=strict)
        case DurationUnit.calendar_days:
            return add_calendar_days(start, amount)
        case DurationUnit.weeks:
            return add_weeks(start, amount)
        case DurationUnit.calendar_months:
            return add_calendar_months(start, amount)
        case DurationUnit.years:
            return add_years(start, amount)
