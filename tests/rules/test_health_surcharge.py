"""The Immigration Health Surcharge follows the permission granted, not the CoS (facts §3.3): the CoS
period plus 14 days unless the permission dates are given, each whole year at the annual rate, a final
part-year of 6 months or less at half, and nothing for permission of 6 months or less. Fees the sources
do not date are priced at the last dated figure and say so (facts §1.1)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from pydantic import ValidationError

from app.rules import CostEstimate, CostInput, RuleBook, estimate_costs
from tests.support.tenants import Tenant


def estimate(book: RuleBook, **overrides: Any) -> CostEstimate:
    values: dict[str, Any] = {
        "sponsor_size": "medium_large",
        "cos_months": 36,
        "inside_uk": False,
        "cos_assignment_date": date(2026, 1, 5),
        "application_date": date(2026, 1, 5),
    }
    return estimate_costs(book, CostInput(**(values | overrides)))


def surcharge(result: CostEstimate) -> Decimal:
    return sum((line.total for line in result.lines if line.code.startswith("ihs_")), Decimal(0))


def test_a_5_year_cos_pays_for_5_and_a_half_years_5692_50_and_11385_with_a_partner(book: RuleBook) -> None:
    # Lewis Silkin's illustration at £1,035 a year (facts §3.3).
    alone = estimate(book, cos_months=60)
    assert surcharge(alone) == Decimal("5692.50")
    assert {(line.code, line.quantity, line.amount) for line in alone.lines if line.code.startswith("ihs_")} == {
        ("ihs_worker", 5, Decimal("1035.00")),
        ("ihs_worker_half_year", 1, Decimal("517.50")),
    }
    assert any("60 months plus 14 calendar days" in note for note in alone.notes)
    assert surcharge(estimate(book, cos_months=60, dependants=1)) == Decimal("11385.00")


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        (5, "0"),  # 5 months and 14 days of permission: 6 months or less, no surcharge
        (6, "1035"),  # 6 months and 14 days: a part-year over 6 months pays the full year
        (17, "1552.50"),  # 1 year, 5 months and 14 days: 1.5 years
        (18, "2070"),  # 1 year, 6 months and 14 days: 2 years
        (36, "3622.50"),  # 3 years and 14 days: 3.5 years
    ],
)
def test_the_half_year_rule_on_the_cos_period_plus_14_days(book: RuleBook, months: int, expected: str) -> None:
    assert surcharge(estimate(book, cos_months=months)) == Decimal(expected)


def test_permission_of_6_months_or_less_pays_no_surcharge_and_says_so(book: RuleBook) -> None:
    result = estimate(book, cos_months=5)
    assert not [line for line in result.lines if line.code.startswith("ihs_")]
    assert any("6 calendar months or less" in note for note in result.notes)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-02-01", "2029-01-31", "3105"),  # exactly 3 years
        ("2026-02-01", "2029-07-31", "3622.50"),  # 3 years and 6 months: half
        ("2026-02-01", "2029-08-01", "4140"),  # 3 years, 6 months and a day: a full fourth year
        ("2026-02-01", "2026-07-31", "0"),  # 6 months
    ],
)
def test_given_permission_dates_replace_the_estimate(book: RuleBook, start: str, end: str, expected: str) -> None:
    result = estimate(
        book, permission_start_date=date.fromisoformat(start), permission_end_date=date.fromisoformat(end)
    )
    assert surcharge(result) == Decimal(expected)
    assert not any("plus 14 days" in note for note in result.notes)


def test_permission_dates_come_in_pairs_and_in_order() -> None:
    base = {
        "sponsor_size": "small",
        "cos_months": 12,
        "inside_uk": True,
        "cos_assignment_date": date(2026, 1, 5),
        "application_date": date(2026, 1, 5),
    }
    with pytest.raises(ValidationError, match="both"):
        CostInput(**base, permission_start_date=date(2026, 2, 1))
    with pytest.raises(ValidationError, match="after"):
        CostInput(**base, permission_start_date=date(2026, 2, 1), permission_end_date=date(2026, 1, 1))


def test_each_surcharge_line_names_its_rate_and_how_the_length_was_counted(book: RuleBook) -> None:
    line = next(line for line in estimate(book, cos_months=60).lines if line.code == "ihs_worker")
    assert (line.rule_id, line.status) == ("ihs.annual.adult", "confirmed")
    assert line.source.url.startswith("https://")
    assert line.basis is not None and "5 whole years" in line.basis


def test_a_licence_fee_the_sources_do_not_date_is_priced_at_the_last_dated_fee_and_says_so(book: RuleBook) -> None:
    # £574 from 2025-04-09 (confirmed); £611 seen on one 2026 page with no date it took effect.
    result = estimate(book, sponsor_size="small", licence_application_date=date(2026, 6, 1))
    line = next(line for line in result.lines if line.code == "licence_application_fee")
    assert (line.amount, line.effective_from, line.effective_to) == (Decimal("574.00"), date(2025, 4, 9), None)
    assert line.caveats and "£611.00" in line.caveats[0] and "no date" in line.caveats[0]
    assert any("licence.fee.application.small" in note for note in result.notes)
    assert not [e for e in book.windows("licence.fee.application.small") if e.effective_from > date(2025, 4, 9)]


async def test_the_surcharge_illustration_over_http(client: AsyncClient, tenant: Tenant) -> None:
    body = {
        "sponsor_size": "small",
        "cos_months": 60,
        "inside_uk": False,
        "cos_assignment_date": "2026-01-05",
        "dependants": 1,
    }
    r = await client.post("/v1/cost-estimates", json=body, headers=tenant.headers("viewer"))
    assert r.status_code == 200, r.text
    ihs = [line for line in r.json()["lines"] if line["code"].startswith("ihs_")]
    assert sum(Decimal(line["total"]) for line in ihs) == Decimal("11385.00")
    bad = await client.post(
        "/v1/cost-estimates", json=body | {"permission_start_date": "2026-02-01"}, headers=tenant.headers("viewer")
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
