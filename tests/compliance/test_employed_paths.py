"""Paths of an employed worker (facts §3.4, §5.1): a new CoS for an extension or a change of employment
into another SOC code, each eligible under the rules of its own assignment date and with its own
in-country application; a refusal in the UK (right to work ends, ISC refundable); a change to the
worker's permission such as curtailment (W10); a suspected breach of conditions (W12)."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.hires.models import Hire
from app.hires.new_cos import protected
from app.rules import RuleBook
from tests.support.casework import Casework
from tests.support.problems import assert_problem


def kinds(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in case["open_deadlines"]}


async def allocation(work: Casework, start: str, end: str, granted: int = 5) -> None:
    admin = work.tenant.headers("admin")
    current = await work.client.get("/v1/cos-allocation", headers=admin)
    extra = {"If-Match": current.headers["etag"]} if current.status_code == 200 else {}
    r = await work.client.put(
        "/v1/cos-allocation", json={"year_start": start, "year_end": end, "granted": granted}, headers=admin | extra
    )
    assert r.status_code == 200, r.text


async def employed(work: Casework, **overrides: Any) -> str:
    """A programmer employed from 2026-01-12 on permission to 2029-01-12."""
    hid = (await work.create(inside_uk=False, start_date="2026-01-12", **overrides))["id"]
    await work.walk(hid, "start_employment", "2026-01-12")
    return hid


async def obligations(work: Casework, hid: str) -> list[dict[str, Any]]:
    r = await work.client.get("/v1/obligations", params={"hire_id": hid}, headers=work.headers())
    return list(r.json()["data"])


async def test_an_extension_runs_from_a_new_cos_to_the_new_permission(work: Casework) -> None:
    hid = await employed(work)
    before = kinds((await work.client.get(f"/v1/hires/{hid}", headers=work.headers())).json())["rtw_follow_up"]
    work.on("2028-10-02")
    await allocation(work, "2028-04-06", "2029-04-05")
    assigned = await work.ok(
        hid, "assign_new_cos", purpose="extension", cos_reference="C3EXT1234567AB", salary="66000.00"
    )
    assert assigned["state"] == "new_cos_assigned"
    pending = assigned["pending_cos"]
    assert (pending["eligibility_status"], pending["eligibility"]["cos_assignment_date"]) == ("eligible", "2028-10-02")
    assert assigned["salary"] == "62000.00"  # the current CoS stays in force until the new permission
    # 3 months from 2028-10-02 would be 2029-01-02; permission ends 2029-01-12, so the window stands.
    assert kinds(assigned)["visa_application_window"]["due_at"] == "2029-01-02T23:59:59Z"
    assert kinds(assigned)["rtw_follow_up"]["id"] == before["id"]  # the follow-up check carries over
    used = (await work.client.get("/v1/cos-allocation", headers=work.headers())).json()["used"]
    assert used == 1

    work.on("2028-10-05")
    applied = await work.ok(hid, "submit_new_visa_application", application_date="2028-10-05")
    assert kinds(applied)["visa_decision"]["due_at"] == "2028-11-30T23:59:59Z"  # 8 weeks, inside the UK
    work.on("2028-11-20")
    granted = await work.ok(
        hid,
        "grant_new_permission",
        granted_on="2028-11-20",
        permission_start_date="2028-11-20",
        permission_end_date="2031-12-20",
    )
    assert (granted["state"], granted["salary"], granted["cos_reference"]) == ("employed", "66000.00", "C3EXT1234567AB")
    assert granted["pending_cos"] is None and granted["cos_assigned_on"] == "2028-10-02"
    follow_up = kinds(granted)["rtw_follow_up"]
    assert follow_up["due_at"] == "2031-12-20T23:59:59Z" and follow_up["id"] != before["id"]


async def test_an_extension_is_judged_under_the_rules_of_its_own_assignment_date(work: Casework) -> None:
    # An artist sponsored through the Immigration Salary List in 2026 cannot extend on it from 2027-01-01.
    hid = await employed(work, soc_code="3411", job_title="Artist", salary="38200.00")
    work.on("2027-02-01")
    await allocation(work, "2026-04-06", "2027-04-05")
    r = await work.act(hid, "assign_new_cos", purpose="extension", cos_reference="C3EXT1234567AB")
    problem = assert_problem(r, 409, "action_refused")
    assert "below_skill_level_no_shortage_list" in [x["code"] for x in problem["reasons"]]


def test_a_worker_sponsored_before_22_july_2025_keeps_transitional_protection(book: RuleBook) -> None:
    earlier = Hire(held_skilled_worker_permission_before_2025_07_22=False, cos_assigned_on=date(2025, 6, 2))
    later = Hire(held_skilled_worker_permission_before_2025_07_22=False, cos_assigned_on=date(2025, 8, 4))
    assert protected(earlier, book, date(2027, 2, 1)) and not protected(later, book, date(2027, 2, 1))


async def test_a_change_of_employment_needs_another_soc_code_and_its_refusal_ends_sponsorship(
    work: Casework,
) -> None:
    hid = await employed(work)
    work.on("2026-06-01")
    await allocation(work, "2026-04-06", "2027-04-05")
    same = await work.act(
        hid, "assign_new_cos", purpose="change_of_employment", cos_reference="C3CHG1234567AB", soc_code="2134"
    )
    assert [x["code"] for x in assert_problem(same, 409, "action_refused")["reasons"]] == ["same_soc_code"]
    changed = await work.ok(
        hid,
        "assign_new_cos",
        purpose="change_of_employment",
        cos_reference="C3CHG1234567AB",
        soc_code="2136",
        job_title="Test lead",
        salary="45000.00",
    )
    assert changed["pending_cos"]["soc_code"] == "2136" and changed["soc_code"] == "2134"
    await work.ok(hid, "submit_new_visa_application", application_date="2026-06-01")
    work.on("2026-07-20")
    refused = await work.ok(hid, "refuse_new_permission", refused_on="2026-07-17", reason="refused by UKVI")
    assert (refused["state"], refused["ended_on"], refused["isc_refundable"]) == (
        "sponsorship_ended",
        "2026-07-17",
        True,
    )
    [owed] = await obligations(work, hid)
    assert (owed["kind"], owed["trigger_date"], owed["due_on"]) == ("employment_end", "2026-07-17", "2026-07-31")
    assert refused["open_deadlines"] == []  # the follow-up check and the decision wait end with the case
    await work.report_owed(hid)
    assert (await work.ok(hid, "close"))["state"] == "closed"


async def test_an_unused_new_cos_is_abandoned_and_employment_goes_on(work: Casework) -> None:
    hid = await employed(work)
    work.on("2026-06-01")
    await allocation(work, "2026-04-06", "2027-04-05")
    await work.ok(hid, "assign_new_cos", purpose="extension", cos_reference="C3EXT1234567AB")
    back = await work.ok(hid, "abandon_new_cos", reason="the worker is leaving at the end of the permission")
    assert (back["state"], back["pending_cos"]) == ("employed", None)
    assert "visa_application_window" not in kinds(back) and "rtw_follow_up" in kinds(back)


async def test_a_pre_employment_refusal_in_the_uk_makes_the_isc_refundable(work: Casework) -> None:
    await allocation(work, "2025-04-06", "2026-04-05")
    hid = (await work.create(inside_uk=True))["id"]
    await work.ok(hid, "assign_cos", cos_reference="C2G8H71234567X")
    await work.ok(hid, "submit_visa_application", application_date="2026-01-12")
    refused = await work.ok(hid, "refuse_visa", reason="refused")
    assert (refused["state"], refused["isc_refundable"]) == ("refused", True)


async def test_a_curtailed_permission_is_reported_and_moves_the_follow_up_check(work: Casework) -> None:
    hid = await employed(work)
    work.on("2026-03-02")
    changed = await work.ok(
        hid,
        "record_permission_change",
        effective_date="2026-03-02",
        permission_end_date="2026-05-01",
        kind="curtailment",
    )
    assert changed["permission_end_date"] == "2026-05-01"
    assert kinds(changed)["rtw_follow_up"]["due_at"] == "2026-05-01T22:59:59Z"
    [owed] = await obligations(work, hid)
    assert (owed["kind"], owed["due_on"]) == ("permission_change", "2026-03-16")
    [reported] = await work.report_owed(hid)
    assert reported["status"] == "reported"


async def test_a_suspected_breach_is_reported_within_10_working_days_flagged_urgent(work: Casework) -> None:
    hid = await employed(work)
    work.on("2026-02-02")
    await work.ok(hid, "record_suspected_breach", noticed_on="2026-02-02", description="working for another employer")
    [owed] = await obligations(work, hid)
    assert (owed["kind"], owed["due_on"]) == ("suspected_breach", "2026-02-16")
    r = await work.client.get("/v1/deadlines", params={"subject_id": owed["id"]}, headers=work.headers())
    [watch] = r.json()["data"]
    assert "urgent" in watch["basis"]
    await work.report_owed(hid)
    r = await work.client.get("/v1/deadlines", params={"subject_id": owed["id"]}, headers=work.headers())
    assert [d["status"] for d in r.json()["data"]] == ["met"]
