"""Rule changes ahead, per organisation (issue: the rules change under live cases): on 2027-01-01 the
Temporary Shortage List and the Immigration Salary List stop covering new CoS, so an RQF 3-5 case whose
CoS is not assigned by 2026-12-31 can no longer be sponsored; the sponsor is told which cases, by when,
and warned ahead through a deadline."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from httpx import AsyncClient

from app.calendar import Nation
from app.clock import FrozenClock
from app.hires.impacts import ImpactEffect, impacts_of
from app.hires.models import Hire
from app.rules import RuleBook, load_rulebook
from tests.support.casework import Casework, advance
from tests.support.problems import assert_problem
from tests.support.tenants import Tenant

LOGISTICS = {"soc_code": "1243", "job_title": "Logistics manager", "salary": "45000.00"}  # on the TSL


async def impacts(work: Casework, days: int) -> list[dict[str, Any]]:
    r = await work.client.get("/v1/rule-impacts", params={"within_days": days}, headers=work.headers())
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


async def test_a_draft_rqf_3_to_5_case_is_named_with_the_change_and_the_last_day_to_assign_its_cos(
    work: Casework,
) -> None:
    work.on("2026-12-01")
    draft = await work.create(inside_uk=False, start_date="2027-03-01", **LOGISTICS)
    degree = await work.create(inside_uk=False, start_date="2027-03-01", external_id="dev-1")  # RQF 6: untouched
    [impact] = await impacts(work, 60)
    assert impact["hire_id"] == draft["id"] and impact["hire_id"] != degree["id"]
    assert (impact["change_on"], impact["last_day_to_act"], impact["effect"]) == (
        "2027-01-01",
        "2026-12-31",
        "becomes_ineligible",
    )
    assert "assign the CoS by 2026-12-31" in impact["act_by"]
    assert "Temporary Shortage List" in impact["reason"]
    assert [c["rule_id"] for c in impact["changes"]] == ["shortage_lists.temporary_shortage_list.valid_until"]
    assert await impacts(work, 30) == []  # 2027-01-01 is 31 days away


async def test_a_case_whose_cos_is_assigned_keeps_the_rules_of_its_assignment_date(work: Casework) -> None:
    work.on("2026-12-01")
    hid = (await work.create(inside_uk=False, start_date="2027-03-01", **LOGISTICS))["id"]
    await work.walk(hid, "assign_cos", "2026-12-01")
    assert await impacts(work, 60) == []


async def test_the_warning_deadline_is_armed_with_the_case_and_met_once_the_cos_is_assigned(work: Casework) -> None:
    work.on("2026-10-15")
    hid = (await work.create(inside_uk=False, start_date="2027-03-01", **LOGISTICS))["id"]
    case = (await work.client.get(f"/v1/hires/{hid}", headers=work.headers())).json()
    [warning] = [d for d in case["open_deadlines"] if d["kind"] == "rule_change"]
    assert warning["due_at"] == "2026-12-31T23:59:59Z"
    assert warning["warn_at"] == "2026-11-01T00:00:00Z"  # 60 days ahead, then 30 and 7
    await work.walk(hid, "assign_cos", "2026-10-15")
    rows = await work.client.get(
        "/v1/deadlines", params={"subject_id": hid, "kind": "rule_change"}, headers=work.headers()
    )
    assert [d["status"] for d in rows.json()["data"]] == ["met"]


async def test_the_warning_reaches_the_feed_ahead_of_the_date_and_breaches_after_it(
    client: AsyncClient, sandbox: tuple[str, Tenant], clock: FrozenClock
) -> None:
    clock_id, tenant = sandbox
    await advance(client, clock_id, tenant, "2026-10-15T09:00:00Z")
    work = Casework(client, tenant, clock)
    await work.licence_active()
    hid = (await work.create(inside_uk=False, start_date="2027-03-01", **LOGISTICS))["id"]
    fired = await advance(client, clock_id, tenant, "2026-11-02T09:00:00Z")
    assert [(f["kind"], f["outcome"]) for f in fired if f["subject_id"] == hid] == [("rule_change", "warned")]
    fired = await advance(client, clock_id, tenant, "2027-01-01T09:00:00Z")
    assert ("rule_change", "breached") in [(f["kind"], f["outcome"]) for f in fired if f["subject_id"] == hid]
    feed = [e["type"] for e in await work.events(hid)]
    assert "deadline.warning" in feed and "deadline.breached" in feed


async def test_within_days_is_bounded(work: Casework) -> None:
    r = await work.client.get("/v1/rule-impacts", params={"within_days": 0}, headers=work.headers())
    assert_problem(r, 422, "validation_error")


# --- costs and timings, from operator overrides -----------------------------------------------------


def _override(tmp_path: Path, entries: list[dict[str, Any]]) -> RuleBook:
    (tmp_path / "2027.yaml").write_text(yaml.safe_dump({"rules": entries}, sort_keys=False), encoding="utf-8")
    return load_rulebook(tmp_path)


SOURCE = {"url": "https://www.gov.uk/government/collections/immigration-rules-statement-of-changes", "title": "t"}


def _draft(**overrides: Any) -> Hire:
    values: dict[str, Any] = {
        "id": "hire_x",
        "organisation_id": "org_x",
        "state": "draft",
        "soc_code": "2134",
        "salary": Decimal("62000"),
        "weekly_hours": Decimal("37.5"),
        "inside_uk": False,
        "start_date": date(2027, 6, 1),
        "date_of_birth": date(1990, 1, 1),
        "held_skilled_worker_permission_before_2025_07_22": False,
        "first_sponsored_before_2024_04_04": False,
        "switching_from_student_or_graduate": False,
        "working_towards_professional_qualification": False,
        "postdoctoral_role": False,
        "phd": "none",
    }
    return Hire(**(values | overrides))


def test_a_fee_rise_makes_an_unassigned_case_cost_more_unless_assigned_first(tmp_path: Path) -> None:
    book = _override(
        tmp_path,
        [
            {"id": "cos.fee.assignment.skilled_worker", "kind": "money", "value": "525", "status": "confirmed",
             "effective_from": date(2025, 4, 9), "effective_to": date(2027, 4, 5), "source": SOURCE},
            {"id": "cos.fee.assignment.skilled_worker", "kind": "money", "value": "600", "status": "confirmed",
             "effective_from": date(2027, 4, 6), "source": SOURCE},
        ],
    )  # fmt: skip
    [impact] = impacts_of(_draft(), book, date(2027, 3, 1), date(2027, 5, 1), "medium_large", Nation.england_and_wales)
    assert (impact.effect, impact.change_on, impact.last_day_to_act) == (
        ImpactEffect.costs_more,
        date(2027, 4, 6),
        date(2027, 4, 5),
    )
    assert "£525.00 to £600.00" in impact.reason and "assign the CoS" in impact.act_by
    assert (
        impacts_of(_draft(state="visa_applied"), book, date(2027, 3, 1), None, "small", Nation.england_and_wales) == []
    )


def test_a_shorter_visa_application_window_changes_the_timing_of_a_case_not_yet_assigned(tmp_path: Path) -> None:
    window = {"id": "cos.visa_application_window", "kind": "duration", "status": "confirmed", "source": SOURCE}
    book = _override(
        tmp_path,
        [
            window | {"value": {"amount": 3, "unit": "calendar_months"}, "effective_from": date(2020, 12, 1),
                      "effective_to": date(2027, 4, 5)},
            window | {"value": {"amount": 2, "unit": "calendar_months"}, "effective_from": date(2027, 4, 6)},
        ],
    )  # fmt: skip
    [impact] = impacts_of(_draft(), book, date(2027, 3, 1), date(2027, 5, 1), "small", Nation.england_and_wales)
    assert impact.effect is ImpactEffect.timed_differently
    assert "2 calendar months instead of 3 calendar months" in impact.reason
    assert impact.last_day_to_act == date(2027, 4, 5)
    assigned = _draft(state="visa_applied", cos_assigned_on=date(2027, 3, 1), visa_applied_on=date(2027, 3, 1))
    assert impacts_of(assigned, book, date(2027, 3, 1), None, "small", Nation.england_and_wales) == []
