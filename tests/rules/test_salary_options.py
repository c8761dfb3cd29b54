"""The salary option is decided by the facts, not chosen by the caller (facts §3.4): the Immigration
Salary List applies by occupation and date; new-entrant and PhD options follow from what is stated
about the worker; the answer names the option that passes, or the closest one and what would pass."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.rules import EligibilityStatus, RuleBook
from tests.support.rules import assess, codes

ON = date(2026, 6, 1)


def test_an_artist_on_the_immigration_salary_list_is_judged_under_the_list_without_asking(book: RuleBook) -> None:
    # 3411 Artists: ISL rate £38,200 beats the £33,400 ISL threshold; the standard option needs £41,700.
    result = assess(book, "3411", ON, salary="38200")
    assert result.status is EligibilityStatus.eligible, result.reasons
    assert result.salary_option == "immigration_salary_list"
    assert result.salary_required == Decimal("38200.00")
    options = {o.option: o.outcome for o in result.options}
    assert options["immigration_salary_list"] == "passes"
    assert options["standard"] == "fails"


def test_the_standard_option_is_named_when_it_passes_even_on_the_list(book: RuleBook) -> None:
    result = assess(book, "3411", ON, salary="41700")
    assert (result.status, result.salary_option) == (EligibilityStatus.eligible, "standard")


def test_the_list_option_is_not_open_to_a_job_off_the_list(book: RuleBook) -> None:
    result = assess(book, "2136", ON, salary="60000")
    isl = next(o for o in result.options if o.option == "immigration_salary_list")
    assert isl.outcome == "not_open"
    assert "not on the Immigration Salary List" in isl.explanation


def test_a_worker_under_26_on_the_application_date_is_paid_as_a_new_entrant(book: RuleBook) -> None:
    # 2134 Programmers: new-entrant rate £38,300 (standard £54,700).
    young = assess(book, "2134", ON, salary="40000", age_on_application_date=25)
    assert (young.status, young.salary_option) == (EligibilityStatus.eligible, "new_entrant")
    assert young.salary_required == Decimal("38300.00")
    assert any(r.code == "salary_option" and r.rule_id == "salary.new_entrant.age_limit" for r in young.reasons)
    at_26 = assess(book, "2134", ON, salary="40000", age_on_application_date=26)
    assert at_26.status is EligibilityStatus.ineligible
    new_entrant = next(o for o in at_26.options if o.option == "new_entrant")
    assert new_entrant.outcome == "not_open"


def test_a_switch_from_a_graduate_visa_opens_the_new_entrant_option(book: RuleBook) -> None:
    result = assess(book, "2134", ON, salary="40000", switching_from_student_or_graduate=True)
    assert (result.status, result.salary_option) == (EligibilityStatus.eligible, "new_entrant")


def test_a_relevant_stem_phd_is_paid_at_80_percent_of_the_going_rate(book: RuleBook) -> None:
    # 2134: STEM PhD rate £43,700, relevant PhD £49,200, standard £54,700.
    result = assess(book, "2134", ON, salary="45000", phd="relevant_stem")
    assert (result.status, result.salary_option) == (EligibilityStatus.eligible, "stem_phd")
    assert result.salary_required == Decimal("43700.00")
    non_stem = assess(book, "2134", ON, salary="45000", phd="relevant")
    assert non_stem.status is EligibilityStatus.ineligible
    assert non_stem.salary_option == "relevant_phd"  # the closest: £4,200 short


def test_when_no_option_passes_the_answer_names_the_closest_and_what_would_pass(book: RuleBook) -> None:
    result = assess(book, "2134", ON, salary="40000")
    assert result.status is EligibilityStatus.ineligible
    assert result.salary_option == "standard"
    assert result.salary_shortfall == Decimal("14700.00")
    assert "raise the salary to £54,700.00" in result.to_pass[0]
    # The worker facts not stated: a new entrant would pass at this salary.
    assert any("new entrant" in hint and "under 26" in hint for hint in result.to_pass[1:])
    assert "salary_below_required" in codes(result)
