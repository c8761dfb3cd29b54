"""The shipped figures, table by table, against /shared/domain/uk-sponsorship-facts.md."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.calendar import DurationUnit, Nation
from app.rules import Duration, RuleBook, RuleNotFound, RuleStatus, ids
from app.rules.models import DateRule, DurationRule, MoneyRule, NumberRule

# (rule id, amount, unit) as the facts file states each timer (§1.2, §1.4, §2.2, §3.1, §4, §5).
DURATIONS = [
    (ids.LICENCE_DECISION_STANDARD, 8, DurationUnit.weeks),
    (ids.LICENCE_DECISION_PRIORITY, 10, DurationUnit.working_days),
    (ids.LICENCE_SUPPORTING_DOCUMENTS, 5, DurationUnit.working_days),
    (ids.LICENCE_SUSPENSION_REPRESENTATIONS, 20, DurationUnit.working_days),
    (ids.LICENCE_DOWNGRADE_REPRESENTATIONS, 20, DurationUnit.working_days),
    (ids.LICENCE_ACTION_PLAN, 3, DurationUnit.calendar_months),
    (ids.LICENCE_ACTION_PLAN_FEE_PAYMENT, 10, DurationUnit.working_days),
    (ids.LICENCE_COOLING_OFF_AFTER_REVOCATION, 12, DurationUnit.calendar_months),
    (ids.LICENCE_NEW_APPLICATION_AFTER_OWNERSHIP_CHANGE, 20, DurationUnit.working_days),
    (ids.COS_DEFINED_DECISION_CHASE, 1, DurationUnit.working_days),
    (ids.COS_DEFINED_ASSIGNMENT_WINDOW, 3, DurationUnit.calendar_months),
    (ids.COS_VISA_APPLICATION_WINDOW, 3, DurationUnit.calendar_months),
    (ids.VISA_DECISION_STANDARD_OUTSIDE_UK, 3, DurationUnit.weeks),
    (ids.VISA_DECISION_STANDARD_INSIDE_UK, 8, DurationUnit.weeks),
    (ids.VISA_DECISION_PRIORITY, 5, DurationUnit.working_days),
    (ids.VISA_DECISION_SUPER_PRIORITY, 1, DurationUnit.working_days),
    (ids.EMPLOYMENT_LATE_START_WINDOW, 28, DurationUnit.calendar_days),
    (ids.REPORTING_WORKER_EVENT, 10, DurationUnit.working_days),
    (ids.REPORTING_SPONSOR_EVENT, 20, DurationUnit.working_days),
    (ids.ABSENCE_UNAUTHORISED_THRESHOLD, 10, DurationUnit.working_days),
    (ids.ABSENCE_UNPAID_LEAVE_THRESHOLD, 4, DurationUnit.weeks),
    (ids.RTW_PVN_FOLLOW_UP, 6, DurationUnit.calendar_months),
    (ids.RECORDS_RETENTION, 2, DurationUnit.years),
    (ids.RTW_CHECK_BEFORE_START, 1, DurationUnit.calendar_days),
    (ids.RTW_CHECK_BEFORE_START_WARNING, 5, DurationUnit.working_days),
    (ids.IHS_PERMISSION_BEYOND_COS, 14, DurationUnit.calendar_days),
    (ids.IHS_HALF_RATE_PART_YEAR_UP_TO, 6, DurationUnit.calendar_months),
    (ids.IHS_EXEMPT_PERMISSION_UP_TO, 6, DurationUnit.calendar_months),
]


@pytest.mark.parametrize(("rule_id", "amount", "unit"), DURATIONS, ids=[d[0] for d in DURATIONS])
def test_timer_durations_match_the_facts_file(book: RuleBook, rule_id: str, amount: int, unit: DurationUnit) -> None:
    assert book.duration(rule_id, date(2026, 3, 1)) == Duration(amount=amount, unit=unit)


def test_every_duration_id_the_service_reads_is_a_duration_rule(book: RuleBook) -> None:
    assert {d[0] for d in DURATIONS} == set(ids.DURATIONS)
    for rule_id in ids.DURATIONS:
        assert all(isinstance(entry, DurationRule) for entry in book.windows(rule_id)), rule_id


def test_rtw_follow_up_warnings_are_90_60_30_days_before_permission_ends(book: RuleBook) -> None:
    assert book.day_offsets(ids.RTW_FOLLOW_UP_WARNINGS, date(2026, 3, 1)) == [90, 60, 30]


def test_worker_event_report_deadline_counts_working_days_of_the_nation(book: RuleBook) -> None:
    # facts §6 worked example: 10 working days from Fri 2025-11-21; Scotland skips St Andrew's (1 Dec).
    window = book.duration(ids.REPORTING_WORKER_EVENT, date(2025, 11, 21))
    assert window.after(date(2025, 11, 21), Nation.england_and_wales) == date(2025, 12, 5)
    assert window.after(date(2025, 11, 21), Nation.scotland) == date(2025, 12, 8)


# (rule id, date, GBP, grade) from the fee tables: licence §1.1-1.2, CoS §2.3, ISC §2.4, visa §3.1-3.3.
FEES = [
    ("licence.fee.application.small", date(2025, 4, 8), "536", RuleStatus.confirmed),
    ("licence.fee.application.small", date(2025, 4, 9), "574", RuleStatus.confirmed),
    ("licence.fee.application.small", date(2026, 6, 1), "574", RuleStatus.confirmed),  # £611 undated
    ("licence.fee.application.medium_large", date(2025, 4, 8), "1476", RuleStatus.confirmed),
    ("licence.fee.application.medium_large", date(2025, 4, 9), "1579", RuleStatus.confirmed),
    ("licence.fee.application.medium_large", date(2026, 6, 1), "1579", RuleStatus.confirmed),  # £1,682 undated
    ("licence.fee.pre_licence_priority", date(2025, 11, 10), "500", RuleStatus.confirmed),
    ("licence.fee.pre_licence_priority", date(2025, 11, 11), "750", RuleStatus.confirmed),
    ("licence.fee.priority_change_of_circumstances", date(2025, 11, 10), "200", RuleStatus.confirmed),
    ("licence.fee.priority_change_of_circumstances", date(2025, 11, 11), "350", RuleStatus.confirmed),
    ("licence.fee.action_plan", date(2026, 1, 5), "1579", RuleStatus.conflict),
    ("cos.fee.assignment.skilled_worker", date(2023, 10, 3), "199", RuleStatus.confirmed),
    ("cos.fee.assignment.skilled_worker", date(2023, 10, 4), "239", RuleStatus.confirmed),
    ("cos.fee.assignment.skilled_worker", date(2025, 4, 9), "525", RuleStatus.confirmed),
    ("cos.fee.assignment.temporary_worker", date(2025, 4, 9), "55", RuleStatus.confirmed),
    ("isc.fee.first_period.small", date(2025, 12, 15), "364", RuleStatus.confirmed),
    ("isc.fee.first_period.small", date(2025, 12, 16), "480", RuleStatus.confirmed),
    ("isc.fee.further_period.small", date(2025, 12, 15), "182", RuleStatus.confirmed),
    ("isc.fee.further_period.small", date(2025, 12, 16), "240", RuleStatus.confirmed),
    ("isc.fee.first_period.medium_large", date(2025, 12, 15), "1000", RuleStatus.confirmed),
    ("isc.fee.first_period.medium_large", date(2025, 12, 16), "1320", RuleStatus.confirmed),
    ("isc.fee.further_period.medium_large", date(2025, 12, 15), "500", RuleStatus.confirmed),
    ("isc.fee.further_period.medium_large", date(2025, 12, 16), "660", RuleStatus.confirmed),
    ("visa.fee.outside_uk.up_to_3_years", date(2025, 4, 8), "719", RuleStatus.confirmed),
    ("visa.fee.outside_uk.up_to_3_years", date(2025, 4, 9), "769", RuleStatus.confirmed),
    ("visa.fee.outside_uk.over_3_years", date(2025, 4, 9), "1519", RuleStatus.unconfirmed),
    ("visa.fee.inside_uk.up_to_3_years", date(2025, 4, 9), "885", RuleStatus.confirmed),
    ("visa.fee.inside_uk.over_3_years", date(2025, 4, 9), "1751", RuleStatus.unconfirmed),
    ("visa.fee.immigration_salary_list.up_to_3_years", date(2025, 4, 9), "590", RuleStatus.confirmed),
    ("visa.fee.immigration_salary_list.over_3_years", date(2025, 4, 9), "1160", RuleStatus.unconfirmed),
    ("visa.fee.health_and_care.up_to_3_years", date(2025, 4, 9), "304", RuleStatus.confirmed),
    ("visa.fee.health_and_care.over_3_years", date(2025, 4, 9), "590", RuleStatus.unconfirmed),
    ("visa.fee.priority", date(2026, 1, 5), "500", RuleStatus.confirmed),
    ("visa.fee.super_priority", date(2026, 1, 5), "1000", RuleStatus.confirmed),
    ("ihs.annual.adult", date(2024, 2, 5), "624", RuleStatus.confirmed),
    ("ihs.annual.adult", date(2024, 2, 6), "1035", RuleStatus.confirmed),
    ("ihs.annual.reduced", date(2024, 2, 6), "776", RuleStatus.confirmed),
]


@pytest.mark.parametrize(("rule_id", "on", "amount", "status"), FEES, ids=[f"{f[0]}@{f[1]}" for f in FEES])
def test_fees_by_date_match_the_facts_file(
    book: RuleBook, rule_id: str, on: date, amount: str, status: RuleStatus
) -> None:
    entry = book.entry(rule_id, on)
    assert isinstance(entry, MoneyRule)
    assert entry.value == Decimal(amount)
    assert entry.status is status
    assert entry.source.url.startswith("https://")


# (rule id, CoS assigned, GBP): HC 997 table (§3.4), and the figures it replaced from 2024-04-04.
SALARY_THRESHOLDS = [
    ("salary.general_threshold.standard", "38700", "41700"),
    ("salary.general_threshold.relevant_phd", "34830", "37500"),
    ("salary.general_threshold.stem_phd", "30960", "33400"),
    ("salary.general_threshold.immigration_salary_list", "30960", "33400"),
    ("salary.general_threshold.new_entrant", "30960", "33400"),
    ("salary.general_threshold.lower_rate_cohort.standard", "29000", "31300"),
    ("salary.general_threshold.lower_rate_cohort.relevant_phd", "26100", "28200"),
]


@pytest.mark.parametrize(("rule_id", "before", "after"), SALARY_THRESHOLDS, ids=[s[0] for s in SALARY_THRESHOLDS])
def test_salary_thresholds_change_for_cos_assigned_from_2025_07_22(
    book: RuleBook, rule_id: str, before: str, after: str
) -> None:
    assert book.money(rule_id, date(2024, 4, 4)) == Decimal(before)
    assert book.money(rule_id, date(2025, 7, 21)) == Decimal(before)
    assert book.money(rule_id, date(2025, 7, 22)) == Decimal(after)
    assert book.entry(rule_id, date(2025, 7, 22)).status is RuleStatus.confirmed
    with pytest.raises(RuleNotFound):
        book.money(rule_id, date(2024, 4, 3))


def test_hourly_floor_is_17_13_from_2025_07_22_and_not_invented_before(book: RuleBook) -> None:
    assert book.money(ids.HOURLY_FLOOR, date(2025, 7, 22)) == Decimal("17.13")
    with pytest.raises(RuleNotFound):
        book.money(ids.HOURLY_FLOOR, date(2025, 7, 21))


def test_tsl_and_isl_cover_cos_assigned_up_to_2026_12_31(book: RuleBook) -> None:
    for rule_id in (ids.TSL_VALID_UNTIL, ids.ISL_VALID_UNTIL):
        entry = book.entry(rule_id, date(2026, 1, 1))
        assert isinstance(entry, DateRule)
        assert entry.value == date(2026, 12, 31)


def test_minimum_skill_level_rises_from_rqf_3_to_rqf_6_on_2025_07_22(book: RuleBook) -> None:
    before = book.entry(ids.MINIMUM_RQF, date(2025, 7, 21))
    after = book.entry(ids.MINIMUM_RQF, date(2025, 7, 22))
    assert isinstance(before, NumberRule) and isinstance(after, NumberRule)
    assert (before.value, after.value) == (Decimal(3), Decimal(6))


def test_every_shipped_rule_has_a_source_and_a_grade(book: RuleBook) -> None:
    for rule_id in book.rule_ids():
        for entry in book.windows(rule_id):
            assert entry.source.url.startswith("http") and entry.source.title, rule_id
            assert entry.status in RuleStatus


def test_lookup_outside_every_window_names_the_windows(book: RuleBook) -> None:
    with pytest.raises(RuleNotFound, match=r"2020-12-01\.\.2023-10-03") as caught:
        book.value("cos.fee.assignment.skilled_worker", date(2019, 1, 1))
    assert caught.value.rule_id == "cos.fee.assignment.skilled_worker"
    with pytest.raises(RuleNotFound, match="no rule with this id"):
        book.value("no.such.rule", date(2026, 1, 1))
