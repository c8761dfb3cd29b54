"""Working-day arithmetic against the bank-holiday tables and worked examples in
shared/domain/uk-sponsorship-facts.md §6 (typed here by hand so the package is checked, not trusted)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.calendar import (
    DurationUnit,
    Nation,
    add_calendar_days,
    add_calendar_months,
    add_duration,
    add_weeks,
    add_working_days,
    add_years,
    bank_holidays,
    is_working_day,
)

EW, SCT, NI = Nation.england_and_wales, Nation.scotland, Nation.northern_ireland

# The facts file's tables, one row per holiday: (name, 2025, 2026, 2027); "" where there is none.
# They list weekday non-working days only (substitutes, not the weekend dates they replace).
YEARS = (2025, 2026, 2027)
TABLES: dict[Nation, list[tuple[str, str, str, str]]] = {
    EW: [
        ("New Year's Day", "2025-01-01", "2026-01-01", "2027-01-01"),
        ("Good Friday", "2025-04-18", "2026-04-03", "2027-03-26"),
        ("Easter Monday", "2025-04-21", "2026-04-06", "2027-03-29"),
        ("Early May", "2025-05-05", "2026-05-04", "2027-05-03"),
        ("Spring", "2025-05-26", "2026-05-25", "2027-05-31"),
        ("Summer", "2025-08-25", "2026-08-31", "2027-08-30"),
        ("Christmas Day", "2025-12-25", "2026-12-25", "2027-12-27"),
        ("Boxing Day", "2025-12-26", "2026-12-28", "2027-12-28"),
    ],
    SCT: [
        ("New Year's Day", "2025-01-01", "2026-01-01", "2027-01-01"),
        ("2 January", "2025-01-02", "2026-01-02", "2027-01-04"),
        ("Good Friday", "2025-04-18", "2026-04-03", "2027-03-26"),
        ("Early May", "2025-05-05", "2026-05-04", "2027-05-03"),
        ("Spring", "2025-05-26", "2026-05-25", "2027-05-31"),
        ("World Cup one-off", "", "2026-06-15", ""),
        ("Summer", "2025-08-04", "2026-08-03", "2027-08-02"),
        ("St Andrew's Day", "2025-12-01", "2026-11-30", "2027-11-30"),
        ("Christmas Day", "2025-12-25", "2026-12-25", "2027-12-27"),
        ("Boxing Day", "2025-12-26", "2026-12-28", "2027-12-28"),
    ],
    NI: [
        ("New Year's Day", "2025-01-01", "2026-01-01", "2027-01-01"),
        ("St Patrick's Day", "2025-03-17", "2026-03-17", "2027-03-17"),
        ("Good Friday", "2025-04-18", "2026-04-03", "2027-03-26"),
        ("Easter Monday", "2025-04-21", "2026-04-06", "2027-03-29"),
        ("Early May", "2025-05-05", "2026-05-04", "2027-05-03"),
        ("Spring", "2025-05-26", "2026-05-25", "2027-05-31"),
        ("Battle of the Boyne", "2025-07-14", "2026-07-13", "2027-07-12"),
        ("Summer", "2025-08-25", "2026-08-31", "2027-08-30"),
        ("Christmas Day", "2025-12-25", "2026-12-25", "2027-12-27"),
        ("Boxing Day", "2025-12-26", "2026-12-28", "2027-12-28"),
    ],
}


def _table(nation: Nation, year: int) -> set[date]:
    column = YEARS.index(year) + 1
    return {date.fromisoformat(row[column]) for row in TABLES[nation] if row[column]}


NATION_YEARS = [(nation, year) for nation in Nation for year in YEARS]


@pytest.mark.parametrize(("nation", "year"), NATION_YEARS)
def test_weekday_bank_holidays_match_the_facts_tables(nation: Nation, year: int) -> None:
    weekday_holidays = {d for d in bank_holidays(nation, year) if d.weekday() < 5}
    assert weekday_holidays == _table(nation, year)


@pytest.mark.parametrize(("nation", "year"), NATION_YEARS)
def test_every_weekday_outside_the_tables_is_a_working_day(nation: Nation, year: int) -> None:
    d = date(year, 1, 1)
    while d.year == year:
        expected = d.weekday() < 5 and d not in _table(nation, year)
        assert is_working_day(d, nation) is expected, d
        d += timedelta(days=1)


@pytest.mark.parametrize(
    ("day", "nation", "working"),
    [
        # Christmas and Boxing Day substitutes.
        (date(2026, 12, 28), EW, False),  # Boxing Day on a Saturday
        (date(2027, 12, 27), SCT, False),  # Christmas Day on a Saturday
        (date(2027, 12, 28), NI, False),  # Boxing Day on a Sunday
        # Easter Monday is not a Scottish bank holiday.
        (date(2025, 4, 21), EW, False),
        (date(2025, 4, 21), NI, False),
        (date(2025, 4, 21), SCT, True),
        # St Andrew's Day substitute (30 Nov 2025 is a Sunday), Scotland only.
        (date(2025, 12, 1), SCT, False),
        (date(2025, 12, 1), EW, True),
        # 2 January, Scotland only; 2027 substitute on Monday 4 January.
        (date(2026, 1, 2), SCT, False),
        (date(2026, 1, 2), EW, True),
        (date(2027, 1, 4), SCT, False),
        (date(2027, 1, 4), NI, True),
        # St Patrick's Day, Northern Ireland only.
        (date(2026, 3, 17), NI, False),
        (date(2026, 3, 17), EW, True),
        # Battle of the Boyne substitutes.
        (date(2025, 7, 14), NI, False),
        (date(2026, 7, 13), NI, False),
        (date(2026, 7, 13), EW, True),
        # The 2026 Scottish one-off (FIFA World Cup): holidays 0.109 has it.
        (date(2026, 6, 15), SCT, False),
        (date(2026, 6, 15), EW, True),
        # Weekends are never working days.
        (date(2025, 11, 22), EW, False),
        (date(2025, 11, 23), SCT, False),
    ],
)
def test_is_working_day(day: date, nation: Nation, working: bool) -> None:
    assert is_working_day(day, nation) is working


def test_the_2026_scottish_one_off_comes_from_the_package() -> None:
    scottish = holidays.country_holidays("GB", subdiv="SCT", years=2026)
    assert "World Cup" in scottish[date(2026, 6, 15)]


@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_england_and_wales_share_one_calendar(year: int) -> None:
    # app.calendar reads the package's ENG list for both; this fails if Wales ever diverges.
    england = holidays.country_holidays("GB", subdiv="ENG", years=year)
    wales = holidays.country_holidays("GB", subdiv="WLS", years=year)
    assert set(england) == set(wales)


@pytest.mark.parametrize(
    ("trigger", "n", "nation", "due"),
    [
        (date(2025, 11, 21), 10, EW, date(2025, 12, 5)),
        (date(2025, 11, 21), 10, SCT, date(2025, 12, 8)),
        (date(2025, 11, 21), 10, NI, date(2025, 12, 5)),
        (date(2026, 3, 10), 10, EW, date(2026, 3, 24)),
        (date(2026, 3, 10), 10, SCT, date(2026, 3, 24)),
        (date(2026, 3, 10), 10, NI, date(2026, 3, 25)),
    ],
)
def test_worked_deadline_examples(trigger: date, n: int, nation: Nation, due: date) -> None:
    assert add_working_days(trigger, n, nation) == due


@pytest.mark.parametrize(
    ("trigger", "n", "nation", "due"),
    [
        (date(2025, 12, 19), 1, EW, date(2025, 12, 22)),  # Friday: day 1 is Monday
        (date(2025, 12, 24), 1, EW, date(2025, 12, 29)),  # over Christmas, Boxing Day and a weekend
        (date(2025, 12, 25), 1, SCT, date(2025, 12, 29)),  # trigger on a holiday: day 1 is after it
        (date(2025, 12, 31), 1, SCT, date(2026, 1, 5)),  # 1 and 2 January, then a weekend
        (date(2025, 12, 31), 1, EW, date(2026, 1, 2)),
        (date(2026, 12, 24), 1, NI, date(2026, 12, 29)),  # Boxing Day substitute on Monday 28th
        (date(2027, 7, 9), 1, NI, date(2027, 7, 13)),  # the Boyne on Monday 12 July 2027
    ],
)
def test_day_one_is_the_first_working_day_after_the_trigger(trigger: date, n: int, nation: Nation, due: date) -> None:
    assert add_working_days(trigger, n, nation) == due


@pytest.mark.parametrize("n", [0, -1])
def test_adding_fewer_than_one_working_day_is_refused(n: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        add_working_days(date(2025, 1, 6), n, EW)


def test_strict_mode_skips_every_nations_holidays_so_deadlines_fall_later() -> None:
    # St Andrew's substitute (Scotland) now also counts against an English worker.
    assert add_working_days(date(2025, 11, 21), 10, EW, strict=True) == date(2025, 12, 8)
    # St Patrick's Day (Northern Ireland) too.
    assert add_working_days(date(2026, 3, 10), 10, SCT, strict=True) == date(2026, 3, 25)
    assert not is_working_day(date(2025, 4, 21), SCT, strict=True)  # Easter Monday elsewhere
    assert bank_holidays(SCT, 2026, strict=True) == (
        bank_holidays(EW, 2026) | bank_holidays(SCT, 2026) | bank_holidays(NI, 2026)
    )


def test_datetimes_are_refused_rather_than_silently_missing_holidays() -> None:
    with pytest.raises(TypeError, match="not a datetime"):
        is_working_day(datetime(2025, 12, 25, 9, 0), EW)
    with pytest.raises(TypeError):
        add_calendar_months(datetime(2025, 1, 31, 9, 0), 1)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),
        (date(2025, 10, 22), 3, date(2026, 1, 22)),  # a 3-month CoS window across a year end
        (date(2025, 3, 31), -1, date(2025, 2, 28)),
        (date(2025, 5, 31), 12, date(2026, 5, 31)),
    ],
)
def test_calendar_months_clamp_to_the_month_end(start: date, months: int, expected: date) -> None:
    assert add_calendar_months(start, months) == expected


@pytest.mark.parametrize(
    ("start", "years", "expected"),
    [
        (date(2024, 2, 29), 1, date(2025, 2, 28)),
        (date(2024, 2, 29), 4, date(2028, 2, 29)),
        (date(2025, 6, 30), 2, date(2027, 6, 30)),
    ],
)
def test_add_years(start: date, years: int, expected: date) -> None:
    assert add_years(start, years) == expected


def test_calendar_days_and_weeks() -> None:
    assert add_calendar_days(date(2025, 12, 31), 1) == date(2026, 1, 1)
    assert add_calendar_days(date(2025, 3, 1), -1) == date(2025, 2, 28)
    assert add_weeks(date(2025, 12, 25), 8) == date(2026, 2, 19)


@pytest.mark.parametrize(
    ("unit", "amount", "expected"),
    [
        ("working_days", 10, date(2025, 12, 8)),
        (DurationUnit.working_days, 10, date(2025, 12, 8)),
        ("calendar_days", 28, date(2025, 12, 19)),
        ("weeks", 3, date(2025, 12, 12)),
        ("calendar_months", 3, date(2026, 2, 21)),
        ("years", 2, date(2027, 11, 21)),
    ],
)
def test_add_duration_dispatches_on_the_unit(unit: DurationUnit | str, amount: int, expected: date) -> None:
    assert add_duration(date(2025, 11, 21), amount, unit, SCT) == expected


def test_add_duration_refuses_an_unknown_unit() -> None:
    with pytest.raises(ValueError, match="fortnights"):
        add_duration(date(2025, 11, 21), 1, "fortnights", EW)


_dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))
_nations = st.sampled_from(list(Nation))


@given(start=_dates, n=st.integers(min_value=1, max_value=60), nation=_nations, strict=st.booleans())
def test_working_days_lands_on_the_nth_working_day(start: date, n: int, nation: Nation, strict: bool) -> None:
    due = add_working_days(start, n, nation, strict=strict)
    assert is_working_day(due, nation, strict=strict)
    between = (start + timedelta(days=i) for i in range(1, (due - start).days + 1))
    assert sum(is_working_day(d, nation, strict=strict) for d in between) == n


@given(start=_dates, a=st.integers(1, 30), b=st.integers(1, 30), nation=_nations)
def test_working_days_compose(start: date, a: int, b: int, nation: Nation) -> None:
    assert add_working_days(add_working_days(start, a, nation), b, nation) == add_working_days(start, a + b, nation)


@given(start=_dates, nation=_nations)
def test_strict_deadlines_are_never_earlier(start: date, nation: Nation) -> None:
    assert add_working_days(start, 10, nation, strict=True) >= add_working_days(start, 10, nation)
