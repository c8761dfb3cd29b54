"""Guards answer with reasons a person can act on, and check what the design asks of them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from app.errors import Reason
from app.workflow import HIRE, LICENCE, ActionRefused, apply
from app.workflow.guards import (
    ELIGIBLE,
    LICENCE_ACTIVE,
    NO_OPEN_OBLIGATIONS,
    SALARY_REDUCED,
    UNDEFINED_COS_LEFT,
    GuardInput,
)
from tests.support.workflow_cases import GOOD_FACTS, GOOD_PAYLOAD, Case, inputs


def _refusal(case: Case, action: str, **payload_changes: object) -> list[Reason]:
    payload = {**GOOD_PAYLOAD, **payload_changes}
    with pytest.raises(ActionRefused) as raised:
        apply(HIRE, case, action, inputs(case, payload=payload))
    return list(raised.value.reasons)


@pytest.mark.parametrize("licence_state", [None, *(s.name for s in LICENCE.states if s.name != "active")])
def test_every_inactive_licence_state_has_its_own_explanation(licence_state: str | None) -> None:
    facts = replace(GOOD_FACTS, licence_state=licence_state)
    [reason] = LICENCE_ACTIVE.check(GuardInput(subject=Case(), facts=facts))
    assert reason.code == "licence_not_active"
    assert f"is {licence_state}:" not in reason.message  # not the generic fallback
    assert reason.message.endswith("until the licence is active and A-rated.")


def test_an_active_licence_passes() -> None:
    assert LICENCE_ACTIVE.check(GuardInput(subject=Case(), facts=GOOD_FACTS)) == []


@pytest.mark.parametrize(
    ("status", "reasons", "codes"),
    [
        ("eligible", (), []),
        (None, (), ["eligibility_unknown"]),
        ("ineligible", (), ["not_eligible"]),
        ("ineligible", (Reason("below_rqf6", "SOC 7220 is below RQF 6."),), ["below_rqf6"]),
    ],
)
def test_eligibility_passes_on_the_rules_reasons(
    status: str | None, reasons: tuple[Reason, ...], codes: list[str]
) -> None:
    facts = replace(GOOD_FACTS, eligibility_status=status, eligibility_reasons=reasons)
    assert [r.code for r in ELIGIBLE.check(GuardInput(subject=Case(), facts=facts))] == codes


@pytest.mark.parametrize(
    ("state", "remaining", "codes"),
    [
        ("draft", 1, []),
        ("draft", 0, ["no_undefined_cos_left"]),
        ("draft", None, ["cos_allocation_unknown"]),
        ("cos_granted", 0, []),  # a defined CoS does not come from the allocation
    ],
)
def test_undefined_cos_allocation(state: str, remaining: int | None, codes: list[str]) -> None:
    facts = replace(GOOD_FACTS, undefined_cos_remaining=remaining)
    reasons = UNDEFINED_COS_LEFT.check(GuardInput(subject=Case(state=state, inside_uk=True), facts=facts))
    assert [r.code for r in reasons] == codes
    if remaining == 0 and codes:
        assert reasons[0].message.startswith("No undefined CoS left in this year's allocation")


def test_a_defined_cos_is_for_workers_outside_the_uk_and_an_undefined_one_for_inside() -> None:
    assert [r.code for r in _refusal(Case(state="draft", inside_uk=True), "request_cos")] == [
        "defined_cos_needs_worker_outside_uk"
    ]
    assert [r.code for r in _refusal(Case(state="draft", inside_uk=False), "assign_cos")] == [
        "undefined_cos_needs_worker_inside_uk"
    ]
    assert [r.code for r in _refusal(Case(state="cos_granted", inside_uk=True), "assign_cos")] == [
        "defined_cos_needs_worker_outside_uk"
    ]
    assert [r.code for r in _refusal(Case(state="draft", inside_uk=None), "assign_cos")] == ["worker_location_unknown"]


def test_permission_dates_must_be_in_order() -> None:
    case = Case(state="visa_applied", start_date=date(2026, 3, 2))

    reasons = _refusal(case, "grant_visa", permission_start_date=date(2026, 3, 1), permission_end_date=date(2026, 2, 1))

    assert [r.code for r in reasons] == ["permission_dates_out_of_order", "permission_ends_before_start_date"]
    assert reasons[1].message.startswith(
        "The visa permission end date (2026-02-01) is before the start date (2026-03-02)"
    )


def test_the_rtw_check_comes_before_the_start_date_and_not_in_the_future() -> None:
    case = Case(state="visa_granted", start_date=date(2026, 3, 2))

    reasons = _refusal(case, "complete_rtw_check", rtw_check_date=date(2026, 3, 20))

    assert [(r.code, r.field) for r in reasons] == [
        ("rtw_check_after_start_date", "rtw_check_date"),
        ("date_in_future", "rtw_check_date"),
    ]


def test_employment_starts_within_permission_and_after_the_rtw_check() -> None:
    case = Case(state="rtw_verified", permission_start_date=date(2026, 2, 20), rtw_check_date=date(2026, 2, 25))

    reasons = _refusal(case, "start_employment", actual_start_date=date(2026, 2, 18))

    assert [r.code for r in reasons] == ["start_before_permission", "start_before_rtw_check"]


def test_fields_of_the_wrong_kind_are_named() -> None:
    case = Case(state="employed")

    reasons = _refusal(case, "change_salary", new_salary=45000.5, effective_date=datetime(2026, 3, 1, 9, 0))

    assert [(r.code, r.field) for r in reasons] == [
        ("invalid_field", "new_salary"),
        ("invalid_field", "effective_date"),
    ]
    assert reasons[1].message == "The date the change takes effect must be a date (YYYY-MM-DD)."


def test_blank_text_is_missing_data() -> None:
    reasons = _refusal(Case(state="draft"), "withdraw", reason="   ")
    assert [(r.code, r.field) for r in reasons] == [("invalid_field", "reason")]


@pytest.mark.parametrize(("open_obligations", "message_part"), [(1, "1 SMS reporting obligation is"), (3, "3 SMS")])
def test_a_case_with_open_obligations_cannot_close(open_obligations: int, message_part: str) -> None:
    facts = replace(GOOD_FACTS, open_obligations=open_obligations)
    [reason] = NO_OPEN_OBLIGATIONS.check(GuardInput(subject=Case(state="withdrawn"), facts=facts))
    assert reason.code == "open_obligations"
    assert message_part in reason.message


@pytest.mark.parametrize(
    ("cos_salary", "new_salary", "reduced"),
    [
        (Decimal("45000"), Decimal("44999.99"), True),
        (Decimal("45000"), Decimal("45000"), False),
        (None, Decimal("45000"), True),  # no CoS figure to compare: report rather than miss it
    ],
)
def test_salary_reduced(cos_salary: Decimal | None, new_salary: Decimal, reduced: bool) -> None:
    # The last recorded salary does not count: only the CoS figure (and what the CoS requires).
    case = Case(state="employed", salary=Decimal("30000"), cos_salary=cos_salary)
    guard_input = GuardInput(subject=case, facts=GOOD_FACTS, payload={"new_salary": new_salary})
    assert SALARY_REDUCED.holds(guard_input) is reduced


def test_a_salary_at_the_cos_figure_but_below_the_requirement_is_reduced() -> None:
    case = Case(state="employed", cos_salary=Decimal("40000"))
    facts = replace(GOOD_FACTS, salary_required=Decimal("41700"))
    assert SALARY_REDUCED.holds(GuardInput(subject=case, facts=facts, payload={"new_salary": Decimal("40000")}))
