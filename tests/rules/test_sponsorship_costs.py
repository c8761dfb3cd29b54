"""Cost estimates against the facts file's fee tables (§1-3) and its worked example (§2.4)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from app.rules import CostEstimate, CostInput, Payer, RuleBook, RuleNotFound, estimate_costs

AFTER_ISC_RISE = date(2025, 12, 16)
BEFORE_ISC_RISE = date(2025, 12, 15)


def estimate(book: RuleBook, **overrides: Any) -> CostEstimate:
    values: dict[str, Any] = {
        "sponsor_size": "medium_large",
        "cos_months": 36,
        "inside_uk": False,
        "cos_assignment_date": AFTER_ISC_RISE,
        "application_date": date(2026, 1, 5),
    }
    values.update(overrides)
    return estimate_costs(book, CostInput(**values))


def line_totals(result: CostEstimate) -> dict[str, Decimal]:
    return {line.code: line.total for line in result.lines}


def test_worked_example_medium_large_3_year_cos_after_16_dec_2025_costs_the_sponsor_4485(
    book: RuleBook,
) -> None:
    result = estimate(book)
    # CoS £525 + ISC £1,320 + 4 x £660 = £4,485
    assert result.sponsor_total == Decimal("4485.00")
    sponsor = [(line.code, line.amount, line.quantity) for line in result.lines if line.payer is Payer.sponsor]
    assert sponsor == [
        ("cos_assignment_fee", Decimal("525.00"), 1),
        ("isc_first_period", Decimal("1320.00"), 1),
        ("isc_further_periods", Decimal("660.00"), 4),
    ]


@pytest.mark.parametrize(
    ("size", "assigned", "expected"),
    [
        ("small", BEFORE_ISC_RISE, "1092"),  # 364 + 4 x 182
        ("small", AFTER_ISC_RISE, "1440"),  # 480 + 4 x 240
        ("medium_large", BEFORE_ISC_RISE, "3000"),  # 1,000 + 4 x 500
        ("medium_large", AFTER_ISC_RISE, "3960"),  # 1,320 + 4 x 660
    ],
)
def test_isc_for_a_3_year_cos_by_sponsor_size_before_and_after_16_dec_2025(
    book: RuleBook, size: str, assigned: date, expected: str
) -> None:
    totals = line_totals(estimate(book, sponsor_size=size, cos_assignment_date=assigned))
    assert totals["isc_first_period"] + totals["isc_further_periods"] == Decimal(expected)


@pytest.mark.parametrize(("months", "further_blocks"), [(12, 0), (13, 1), (16, 1), (18, 1), (19, 2), (60, 8)])
def test_isc_charges_each_part_or_whole_further_6_months(book: RuleBook, months: int, further_blocks: int) -> None:
    # facts §2.4: 1 year 4 months is charged as 18 months, 1 year 7 months as 24 months.
    result = estimate(book, cos_months=months)
    blocks = {line.code: line.quantity for line in result.lines}.get("isc_further_periods", 0)
    assert blocks == further_blocks


def test_isc_not_payable_for_entry_clearance_under_6_months(book: RuleBook) -> None:
    outside = estimate(book, cos_months=5, inside_uk=False)
    assert "isc_first_period" not in line_totals(outside)
    assert any("exempt" in note for note in outside.notes)
    inside = estimate(book, cos_months=5, inside_uk=True)
    assert line_totals(inside)["isc_first_period"] == Decimal("1320.00")


@pytest.mark.parametrize(
    ("overrides", "rule_id", "amount"),
    [
        ({"inside_uk": False, "cos_months": 36}, "visa.fee.outside_uk.up_to_3_years", "769"),
        ({"inside_uk": True, "cos_months": 36}, "visa.fee.inside_uk.up_to_3_years", "885"),
        ({"inside_uk": False, "cos_months": 37}, "visa.fee.outside_uk.over_3_years", "1519"),
        ({"inside_uk": True, "cos_months": 60}, "visa.fee.inside_uk.over_3_years", "1751"),
        ({"isl_job": True}, "visa.fee.immigration_salary_list.up_to_3_years", "590"),
        ({"health_and_care": True, "cos_months": 48}, "visa.fee.health_and_care.over_3_years", "590"),
    ],
)
def test_visa_fee_by_location_list_and_length(
    book: RuleBook, overrides: dict[str, Any], rule_id: str, amount: str
) -> None:
    line = next(line for line in estimate(book, **overrides).lines if line.code == "visa_application_fee")
    assert (line.rule_id, line.amount, line.payer) == (rule_id, Decimal(amount), Payer.worker)


def test_unconfirmed_visa_fee_over_3_years_is_flagged(book: RuleBook) -> None:
    result = estimate(book, cos_months=60)
    line = next(line for line in result.lines if line.code == "visa_application_fee")
    assert line.status == "unconfirmed"
    assert any("visa.fee.outside_uk.over_3_years" in note for note in result.notes)


def test_dependants_pay_the_visa_fee_and_the_ihs_of_the_permission(book: RuleBook) -> None:
    result = estimate(book, cos_months=30, dependants=1, child_dependants=2)
    totals = line_totals(result)
    assert totals["visa_application_fee"] == Decimal("769.00") * 4
    # 30 months + 14 days: 2 years and a part-year over 6 months, so 3 years at £1,035 and £776
    assert totals["ihs_worker"] == Decimal("3105.00")
    assert totals["ihs_adult_dependants"] == Decimal("3105.00")
    assert totals["ihs_child_dependants"] == Decimal("776.00") * 6
    assert any("30 months plus 14 calendar days" in note for note in result.notes)


def test_health_and_care_visa_pays_no_ihs(book: RuleBook) -> None:
    result = estimate(book, health_and_care=True)
    assert not [line for line in result.lines if line.code.startswith("ihs")]


@pytest.mark.parametrize(("service", "amount"), [("priority", "500"), ("super_priority", "1000")])
def test_visa_priority_services(book: RuleBook, service: str, amount: str) -> None:
    assert line_totals(estimate(book, visa_service=service))[f"visa_{service}_fee"] == Decimal(amount)


def test_licence_fee_and_pre_licence_priority_fee_of_750_from_11_nov_2025(book: RuleBook) -> None:
    result = estimate(book, sponsor_size="small", licence_application_date=date(2025, 11, 11), licence_priority=True)
    totals = line_totals(result)
    assert totals["licence_application_fee"] == Decimal("574.00")
    assert totals["licence_priority_fee"] == Decimal("750.00")


def test_totals_add_up_by_payer(book: RuleBook) -> None:
    result = estimate(book, dependants=1, visa_service="priority")
    assert result.total == result.sponsor_total + result.worker_total
    assert result.worker_total == sum(line.total for line in result.lines if line.payer is Payer.worker)
    payload = json.loads(result.model_dump_json())
    assert payload["sponsor_total"] == "4485.00"
    assert payload["lines"][0]["source"]["url"].startswith("https://")


def test_application_before_cos_assignment_is_refused() -> None:
    with pytest.raises(ValidationError, match="application_date is before cos_assignment_date"):
        CostInput(
            sponsor_size="small",
            cos_months=12,
            inside_uk=True,
            cos_assignment_date=date(2026, 2, 1),
            application_date=date(2026, 1, 1),
        )


def test_charges_missing_for_the_date_raise_rather_than_understate(book: RuleBook) -> None:
    with pytest.raises(RuleNotFound, match=r"visa\.fee\.outside_uk\.up_to_3_years"):
        estimate(book, cos_assignment_date=date(2023, 1, 2), application_date=date(2023, 1, 9))
