"""GET /v1/compliance/summary: what a compliance officer checks each Monday."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.calendar import Nation, add_working_days
from app.clock import FrozenClock
from app.db.engine import create_sessionmaker
from app.rules import RuleBook, ids
from app.rules.models import DurationRule
from app.worker.deadlines import fire_due as run_due
from app.workflow import HIRE
from tests.support.casework import Casework
from tests.support.tenants import Tenant

MONDAY = "2026-01-12"


@pytest.fixture
async def work(client: AsyncClient, tenant: Tenant, clock: FrozenClock) -> Casework:
    casework = Casework(client, tenant, clock)
    await casework.licence_active()
    return casework


async def summary(work: Casework) -> dict[str, Any]:
    r = await work.client.get("/v1/compliance/summary", headers=work.tenant.headers("viewer"))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_deadlines_falling_due_within_ten_working_days_are_listed_soonest_first(work: Casework) -> None:
    soon = (await work.create(inside_uk=False, external_id="soon"))["id"]
    later = (await work.create(inside_uk=False, external_id="later", start_date="2026-06-01"))["id"]
    work.on(MONDAY)
    await work.walk(soon, "grant_visa", MONDAY)  # arms the check before the first day (2026-03-02)
    await work.walk(later, "request_cos", MONDAY)  # arms the CoS decision chase: 1 working day
    work.on("2026-02-23")  # a Monday: 5 working days before the first day of work
    found = await summary(work)

    horizon = add_working_days(date(2026, 2, 23), 10, Nation.england_and_wales)
    assert found["as_of"] == "2026-02-23" and found["horizon_until"] == horizon.isoformat()
    assert found["horizon_rule_id"] == ids.COMPLIANCE_DEADLINE_HORIZON
    listed = [(d["hire_id"], d["kind"], d["due_on"], d["working_days_left"]) for d in found["deadlines_due"]]
    # The chase fell due long ago (no scheduler ran to breach it); the check is due by Sunday 1 March,
    # the day before the first day of work: four working days from today.
    assert listed == [
        (later, "cos_decision_chase", "2026-01-13", -29),
        (soon, "rtw_check_before_start", "2026-03-01", 4),
    ]
    assert all(d["worker"] == "Ada Okafor" for d in found["deadlines_due"])


async def test_retention_dates_are_not_deadlines_to_act_on(work: Casework) -> None:
    hire = (await work.create(inside_uk=False))["id"]
    await work.walk(hire, "end_sponsorship", MONDAY)
    await work.report_owed(hire)
    await work.ok(hire, "close")
    work.clock.set(work.clock.now() + timedelta(days=800))  # long past the retention date
    assert [d["kind"] for d in (await summary(work))["deadlines_due"]] == []


async def test_overdue_sms_reports_are_listed_with_the_working_days_they_are_late(
    work: Casework, db: AsyncEngine, rulebook: RuleBook
) -> None:
    hire = (await work.create(inside_uk=False))["id"]
    await work.walk(hire, "end_sponsorship", MONDAY)  # report due 10 working days later: 2026-01-26
    work.on("2026-02-02")
    await run_due(create_sessionmaker(db), rulebook, work.clock.now())
    found = await summary(work)
    assert [
        (o["hire_id"], o["kind"], o["due_on"], o["working_days_overdue"]) for o in found["overdue_obligations"]
    ] == [(hire, "employment_end", "2026-01-26", 5)]


async def test_workers_whose_permission_ends_within_90_days_without_a_follow_up_check_are_listed(
    work: Casework,
) -> None:
    unchecked = (await work.create(inside_uk=False, external_id="unchecked"))["id"]
    checked = (await work.create(inside_uk=False, external_id="checked"))["id"]
    far = (await work.create(inside_uk=False, external_id="far"))["id"]
    work.on(MONDAY)
    for hire, end in ((unchecked, "2026-03-31"), (checked, "2026-03-31"), (far, "2027-01-12")):
        for action, payload in [
            ("request_cos", {}),
            ("grant_cos", {}),
            ("assign_cos", {"cos_reference": "C2G8H71234567X"}),
            ("submit_visa_application", {"application_date": MONDAY}),
            ("grant_visa", {"permission_start_date": MONDAY, "permission_end_date": end}),
            ("complete_rtw_check", {"rtw_check_date": MONDAY, "method": "manual"}),
            ("start_employment", {"actual_start_date": MONDAY}),
        ]:
            await work.ok(hire, action, **payload)
    work.on("2026-02-02")
    await work.ok(checked, "record_rtw_follow_up", rtw_check_date="2026-02-02", method="manual")
    found = await summary(work)
    assert found["permission_window_days"] == 90
    # The check before employment is no follow-up, even within the window.
    assert [
        (p["hire_id"], p["permission_end_date"], p["days_left"], p["last_follow_up_check_date"])
        for p in found["permission_ending_without_follow_up"]
    ] == [(unchecked, "2026-03-31", 57, None)]


async def test_the_licence_and_the_cos_allocation_are_summarised(work: Casework) -> None:
    admin = work.tenant.headers("admin")
    r = await work.client.put(
        "/v1/cos-allocation",
        json={"year_start": "2025-04-06", "year_end": "2026-04-05", "granted": 5},
        headers=admin,
    )
    assert r.status_code in (200, 201), r.text
    hire = (await work.create(inside_uk=True))["id"]
    await work.ok(hire, "assign_cos", cos_reference="C2G8H71234567X")
    found = await summary(work)
    assert found["licence"] == {
        "state": "active",
        "licence_number": "LIC-0001",
        "rating": "A",
        "may_assign_cos": True,
        "priority_service": False,
        "state_changed_on": MONDAY,
    }
    assert found["allocation"] == {
        "year_start": "2025-04-06",
        "year_end": "2026-04-05",
        "granted": 5,
        "used": 1,
        "remaining": 4,
        "days_to_year_end": 83,
    }


async def test_no_licence_means_no_licence_section(client: AsyncClient, tenant: Tenant) -> None:
    r = await client.get("/v1/compliance/summary", headers=tenant.headers("viewer"))
    assert (r.json()["licence"], r.json()["allocation"]) == (None, None)


async def test_cases_in_a_state_longer_than_its_normal_duration_are_stuck(work: Casework) -> None:
    forgotten = (await work.create(external_id="forgotten"))["id"]  # a draft: normally 20 working days
    chased = (await work.create(inside_uk=False, external_id="chased"))["id"]
    work.on(MONDAY)
    await work.ok(chased, "request_cos")  # normally decided within 5 working days
    work.on("2026-02-02")
    fresh = (await work.create(external_id="fresh"))["id"]
    work.on("2026-02-16")
    stuck = {s["hire_id"]: s for s in (await summary(work))["stuck_cases"]}
    assert fresh not in stuck
    assert {k: stuck[chased][k] for k in ("state", "normal_duration", "rule_id", "expected_by", "days_over")} == {
        "state": "cos_requested",
        "normal_duration": "5 working days",
        "rule_id": "case.normal_duration.cos_requested",
        "expected_by": "2026-01-19",
        "days_over": 28,
    }
    assert stuck[forgotten]["expected_by"] == "2026-02-09" and stuck[forgotten]["state"] == "draft"
    assert list(stuck) == [chased, forgotten]  # the longest overdue first


def test_normal_durations_are_rules_data_for_real_states(rulebook: RuleBook) -> None:
    states = {s.name for s in HIRE.states}
    normal = [r for r in rulebook.rule_ids() if r.startswith(ids.NORMAL_DURATION_PREFIX)]
    assert {r.removeprefix(ids.NORMAL_DURATION_PREFIX) for r in normal} == states - {"employed", "closed"}
    for rule_id in [*normal, ids.COMPLIANCE_DEADLINE_HORIZON]:
        windows = rulebook.windows(rule_id)
        assert windows and all(isinstance(w, DurationRule) and w.source.url for w in windows), rule_id
