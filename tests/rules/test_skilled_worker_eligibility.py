"""Skilled Worker eligibility, case by case from the facts file (§3.4, §3.5)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.rules import (
    EligibilityInput,
    EligibilityResult,
    EligibilityStatus,
    PhdQualification,
    ReasonOutcome,
    RuleBook,
    SalaryOption,
    check_eligibility,
)
from tests.support.rules import assess, codes

HC_997 = date(2025, 7, 22)
DAY_BEFORE_HC_997 = date(2025, 7, 21)

SOC_7220_MESSAGE = (
    "SOC 7220 Customer service supervisors is below RQF 6 and on no shortage list: new Skilled Worker CoS "
    "assigned on or after 2025-07-22 are not possible; workers already sponsored before that date may stay "
    "(transitional protection)"
)


# --- 7220 Customer service supervisors ----------------------------------------------------------------


def test_7220_cos_assigned_2025_07_22_is_ineligible_below_rqf6_on_no_shortage_list(book: RuleBook) -> None:
    result = assess(book, "7220", HC_997, salary="50000")
    assert result.status is EligibilityStatus.ineligible
    reason = result.reasons[0]
    assert reason.code == "below_skill_level_no_shortage_list"
    assert reason.message == SOC_7220_MESSAGE
    assert (reason.rule_id, reason.effective_from, reason.status) == (
        "skill.minimum_rqf",
        HC_997,
        "confirmed",
    )
    assert reason.source is not None


def test_7220_cos_assigned_2025_07_21_keeps_the_rqf3_rules_but_needs_the_going_rate_of_that_time(
    book: RuleBook,
) -> None:
    result = assess(book, "7220", DAY_BEFORE_HC_997, salary="40000")
    assert result.status is EligibilityStatus.needs_review
    assert "below_skill_level_no_shortage_list" not in codes(result)
    assert "skill_level_met" in codes(result)
    # £38,700 applied then; the going rate and the hourly floor of that time are not in the data.
    assert "going_rate_not_in_data" in codes(result)
    assert result.salary_required is None
    assert result.salary_basis is not None and "at least £38,700.00" in result.salary_basis


def test_7220_cos_assigned_2025_07_21_below_the_38700_threshold_is_ineligible(book: RuleBook) -> None:
    result = assess(book, "7220", DAY_BEFORE_HC_997, salary="38000")
    assert result.status is EligibilityStatus.ineligible
    assert result.salary_shortfall == Decimal("700.00")


def test_7220_with_transitional_protection_can_extend_at_41700(book: RuleBook) -> None:
    result = assess(book, "7220", date(2025, 9, 1), held_skilled_worker_permission_before_2025_07_22=True)
    assert result.status is EligibilityStatus.eligible
    assert codes(result) == ["transitional_protection", "salary_meets_requirement"]
    # facts §3.5: max(£41,700, going rate £34,200) = £41,700
    assert result.salary_required == Decimal("41700.00")


def test_7220_with_transitional_protection_still_needs_the_new_threshold(book: RuleBook) -> None:
    result = assess(
        book, "7220", date(2025, 9, 1), salary="38700", held_skilled_worker_permission_before_2025_07_22=True
    )
    assert result.status is EligibilityStatus.ineligible
    assert result.salary_shortfall == Decimal("3000.00")


def test_7220_lower_rate_cohort_needs_31300_and_a_floor_not_in_the_data(book: RuleBook) -> None:
    result = assess(
        book,
        "7220",
        date(2025, 9, 1),
        salary="31300",
        held_skilled_worker_permission_before_2025_07_22=True,
        first_sponsored_before_2024_04_04=True,
    )
    # £31,300 for the cohort (facts §3.5, derived); the cohort's hourly floor is not in the facts file.
    assert result.status is EligibilityStatus.needs_review
    general = result.salary_components[0]
    assert (general.name, general.amount) == ("general_threshold", Decimal("31300.00"))
    assert [r.rule_id for r in result.reasons if r.code == "rule_not_in_data"] == [
        "salary.hourly_floor.lower_rate_cohort"
    ]


# --- 3411 Artists and the Immigration Salary List -----------------------------------------------------


def test_3411_is_artists_not_customer_service(book: RuleBook) -> None:
    occupation = book.occupation("3411", HC_997)
    assert occupation.title == "Artists"
    assert occupation.immigration_salary_list is not None
    assert occupation.temporary_shortage_list is None
    found = [m.occupation.code for m in book.search_occupations("customer service", HC_997, limit=50)]
    assert "3411" not in found and "7220" in found


@pytest.mark.parametrize(
    ("option", "salary"),
    [(SalaryOption.immigration_salary_list, "38200"), (SalaryOption.standard, "41700")],
)
def test_3411_is_isl_eligible_for_cos_assigned_up_to_2026_12_31(
    book: RuleBook, option: SalaryOption, salary: str
) -> None:
    # The ISL opens the RQF 3-5 job; the salary decides the option named (£38,200 ISL, £41,700 standard).
    result = assess(book, "3411", date(2026, 12, 31), salary=salary)
    assert result.status is EligibilityStatus.eligible, result.reasons
    assert result.salary_option is option
    assert "on_immigration_salary_list" in codes(result)


def test_3411_isl_route_closes_for_cos_assigned_from_2027_01_01(book: RuleBook) -> None:
    result = assess(book, "3411", date(2027, 1, 1), salary="60000")
    assert result.status is EligibilityStatus.ineligible
    assert codes(result) == ["below_skill_level_no_shortage_list"]
    assert "Immigration Salary List entry covered CoS assigned up to 2026-12-31" in result.reasons[0].message


def test_isl_option_uses_the_isl_threshold_and_rate(book: RuleBook) -> None:
    # 3411: ISL rate £38,200 beats the £33,400 ISL general threshold; the closest option is the list's.
    result = assess(book, "3411", date(2026, 1, 5), salary="38199.99")
    assert result.status is EligibilityStatus.ineligible
    assert result.salary_option is SalaryOption.immigration_salary_list
    assert result.salary_required == Decimal("38200.00")
    assert result.salary_shortfall == Decimal("0.01")


# --- salary arithmetic --------------------------------------------------------------------------------


def test_going_rate_is_pro_rated_to_a_30_hour_week(book: RuleBook) -> None:
    # 1111 Chief executives: going rate £88,100 on 37.5 hours -> £70,480 on 30 hours.
    result = assess(book, "1111", date(2026, 1, 5), salary="70480", hours="30")
    assert result.status is EligibilityStatus.eligible
    assert result.salary_required == Decimal("70480.00")
    going = result.salary_components[1]
    assert (going.name, going.amount) == ("going_rate", Decimal("70480.00"))
    short = assess(book, "1111", date(2026, 1, 5), salary="70479.99", hours="30")
    assert short.status is EligibilityStatus.ineligible
    assert short.salary_shortfall == Decimal("0.01")


def test_general_threshold_is_not_pro_rated_for_part_time_hours(book: RuleBook) -> None:
    # 2136: going rate £41,200 -> £32,960 on 30 hours, but £41,700 is a floor whatever the hours.
    result = assess(book, "2136", date(2026, 1, 5), salary="41000", hours="30")
    assert result.status is EligibilityStatus.ineligible
    assert result.salary_shortfall == Decimal("700.00")


def test_hourly_floor_of_17_13_applies_to_the_weekly_hours(book: RuleBook) -> None:
    result = assess(book, "7220", date(2026, 1, 5), held_skilled_worker_permission_before_2025_07_22=True)
    floor = result.salary_components[2]
    assert floor.name == "hourly_floor"
    # £17.13 met by pay rounding to it: (17.13 - 0.005) x 37.5 x 52 = £33,393.75, so £33,400 passes.
    assert floor.amount == Decimal("33393.75")
    assert set(floor.rule_ids) == {"salary.hourly_floor", "salary.weeks_per_year"}


def test_hourly_floor_binds_on_long_hours_and_says_its_week_count_is_unconfirmed(book: RuleBook) -> None:
    # 6131 on the ISL at £25,000: on 40 hours the floor (17.125 x 40 x 52 = £35,620) beats £33,400.
    result = assess(book, "6131", date(2026, 1, 5), salary="35619", hours="40")
    assert result.salary_option is SalaryOption.immigration_salary_list
    assert result.status is EligibilityStatus.ineligible
    assert result.salary_required == Decimal("35620.00")
    assert result.salary_shortfall == Decimal("1.00")
    below = next(r for r in result.reasons if r.code == "salary_below_required")
    assert below.rule_id == "salary.hourly_floor"
    assert "depends_on_unconfirmed_rule" in codes(result)


def test_confirmed_thresholds_do_not_raise_a_review(book: RuleBook) -> None:
    result = assess(book, "2136", date(2026, 1, 5), salary="45000")
    assert result.status is EligibilityStatus.eligible
    assert all(r.outcome is ReasonOutcome.ok for r in result.reasons)


# --- other occupation classes -------------------------------------------------------------------------


def test_unknown_soc_code_is_ineligible(book: RuleBook) -> None:
    result = assess(book, "9999", date(2026, 1, 5))
    assert (result.status, codes(result)) == (EligibilityStatus.ineligible, ["unknown_soc_code"])


def test_ineligible_occupation_is_refused(book: RuleBook) -> None:
    result = assess(book, "1112", date(2026, 1, 5), salary="90000")
    assert (result.status, codes(result)) == (EligibilityStatus.ineligible, ["occupation_ineligible"])


@pytest.mark.parametrize("code", ["6135", "6136"])
def test_care_workers_from_2025_07_22_need_review_of_the_in_country_conditions(book: RuleBook, code: str) -> None:
    result = assess(book, code, date(2026, 1, 5), salary="45000")
    assert result.status is EligibilityStatus.needs_review
    reason = next(r for r in result.reasons if r.code == "care_worker_conditions")
    assert "overseas recruitment closed" in reason.message
    assert "2028-07-22" in reason.message and "3 calendar months" in reason.message


def test_temporary_shortage_list_opens_an_rqf3_to_5_job_without_a_salary_discount(book: RuleBook) -> None:
    # 1243 Managers in logistics: on the TSL; full going rate £44,900 applies.
    assert assess(book, "1243", date(2026, 1, 5), salary="44900").status is EligibilityStatus.eligible
    assert assess(book, "1243", date(2026, 1, 5), salary="44899").status is EligibilityStatus.ineligible
    assert assess(book, "1243", date(2027, 1, 1), salary="60000").status is EligibilityStatus.ineligible


def test_extending_in_same_occupation_only_needs_transitional_protection(book: RuleBook) -> None:
    new_worker = assess(book, "9252", date(2026, 1, 5), salary="45000")
    assert (new_worker.status, codes(new_worker)) == (
        EligibilityStatus.ineligible,
        ["same_occupation_extension_only"],
    )
    protected = assess(
        book,
        "9252",
        date(2026, 1, 5),
        salary="45000",
        held_skilled_worker_permission_before_2025_07_22=True,
        first_sponsored_before_2024_04_04=True,
    )
    assert protected.status is EligibilityStatus.needs_review
    assert "same_occupation_extension_only" in codes(protected)


def test_cos_assigned_before_2024_04_04_needs_review(book: RuleBook) -> None:
    result = assess(book, "2136", date(2024, 4, 3), salary="90000")
    assert (result.status, codes(result)) == (EligibilityStatus.needs_review, ["rules_not_in_data"])


def test_phd_option_for_a_job_without_a_phd_rate_fails_and_the_standard_option_is_named(book: RuleBook) -> None:
    # 1241 Managers in transport and distribution: no PhD going rate, so not on the PhD discount list.
    result = assess(book, "1241", date(2026, 1, 5), salary="90000", phd="relevant")
    assert (result.status, result.salary_option) == (EligibilityStatus.eligible, SalaryOption.standard)
    phd = next(o for o in result.options if o.option is SalaryOption.relevant_phd)
    assert phd.outcome == "fails"
    short = assess(book, "1241", date(2026, 1, 5), salary="40000", phd="relevant")
    assert (short.status, short.salary_option) == (EligibilityStatus.ineligible, SalaryOption.standard)


def test_health_jobs_on_national_pay_scales_need_review(book: RuleBook) -> None:
    result = assess(book, "2211", date(2026, 1, 5), salary="90000")
    assert result.status is EligibilityStatus.needs_review
    assert "going_rate_on_national_pay_scale" in codes(result)


def test_result_serialises_money_as_strings(book: RuleBook) -> None:
    result = assess(book, "7220", date(2025, 9, 1), held_skilled_worker_permission_before_2025_07_22=True)
    payload = json.loads(result.model_dump_json())
    assert payload["salary_required"] == "41700.00"
    assert payload["annual_salary"] == "41700.00"
    assert payload["reasons"][0]["effective_from"] == "2025-07-22"
    assert EligibilityResult.model_validate_json(result.model_dump_json()) == result


def test_money_input_refuses_floats() -> None:
    with pytest.raises(ValueError, match="not a float"):
        EligibilityInput(soc_code="7220", annual_salary=41700.5, weekly_hours=Decimal(37), cos_assignment_date=HC_997)


# --- every occupation ---------------------------------------------------------------------------------


def _consistent(result: EligibilityResult) -> None:
    worst = max((r.outcome for r in result.reasons), key=lambda o: o.severity)
    assert result.status.value == {"ok": "eligible"}.get(worst.value, worst.value)
    if result.status is EligibilityStatus.eligible:
        assert result.salary_required is not None
        assert result.annual_salary >= result.salary_required
    if result.salary_shortfall is not None:
        assert result.status is EligibilityStatus.ineligible
    named = [o for o in result.options if o.option == result.salary_option]
    if result.salary_components:
        assert len(named) == 1 and named[0].outcome != "not_open"
    if result.status is EligibilityStatus.eligible:
        assert named[0].outcome == "passes" and not result.to_pass
    for reason in result.reasons:
        assert reason.message and reason.code.islower() and " " not in reason.code


@pytest.mark.parametrize("on", [HC_997, date(2026, 6, 1)])
def test_all_412_occupations_answer_eligibility(book: RuleBook, on: date) -> None:
    assert len(book.occupation_codes()) == 412
    for code in book.occupation_codes():
        for worker in ({}, {"age_on_application_date": 24, "phd": "relevant_stem"}):
            for protected in (False, True):
                result = assess(
                    book,
                    code,
                    on,
                    salary="45000",
                    held_skilled_worker_permission_before_2025_07_22=protected,
                    first_sponsored_before_2024_04_04=protected,
                    **worker,
                )
                assert result.occupation_title
                _consistent(result)


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from(["7220", "3411", "6135", "9119", "2211", "1243", "3214", "2111", "1112", "0000"]),
    salary=st.decimals(min_value=0, max_value=200_000, places=2),
    hours=st.decimals(min_value=Decimal("1"), max_value=Decimal("60"), places=1),
    age=st.none() | st.integers(min_value=16, max_value=70),
    phd=st.sampled_from(PhdQualification),
    protected=st.booleans(),
    lower_cohort=st.booleans(),
    on=st.dates(min_value=date(2023, 1, 1), max_value=date(2028, 12, 31)),
)
def test_any_input_gets_a_consistent_answer(
    book: RuleBook,
    code: str,
    salary: Decimal,
    hours: Decimal,
    age: int | None,
    phd: PhdQualification,
    protected: bool,
    lower_cohort: bool,
    on: date,
) -> None:
    result = check_eligibility(
        book,
        EligibilityInput(
            soc_code=code,
            annual_salary=salary,
            weekly_hours=hours,
            age_on_application_date=age,
            phd=phd,
            held_skilled_worker_permission_before_2025_07_22=protected,
            first_sponsored_before_2024_04_04=lower_cohort,
            cos_assignment_date=on,
        ),
    )
    _consistent(result)
    assert EligibilityResult.model_validate_json(result.model_dump_json()) == result
