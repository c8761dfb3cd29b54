"""Counting as the Home Office counts (facts §2.2, §5.1): the late-start period from the latest of its
three dates, absence and unpaid leave triggers computed from what the case records, dates in their
order, salary cuts against the CoS and the threshold, and cascades dated by the revocation."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from app.clock import FrozenClock
from tests.support.casework import Casework, advance
from tests.support.problems import assert_problem
from tests.support.tenants import Tenant


def kinds(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in case["open_deadlines"]}


async def obligations(work: Casework, hire_id: str) -> list[dict[str, Any]]:
    r = await work.client.get("/v1/obligations", params={"hire_id": hire_id}, headers=work.headers())
    return list(r.json()["data"])


async def employed(work: Casework, day: str = "2026-01-12", **overrides: Any) -> str:
    hid = (await work.create(inside_uk=False, start_date=day, **overrides))["id"]
    await work.walk(hid, "start_employment", day)
    return hid


# --- late start (facts §2.2) ----------------------------------------------------------------------


async def test_the_late_start_period_runs_from_the_visa_grant_even_with_no_rtw_check_recorded(
    client: AsyncClient, sandbox: tuple[str, Tenant], clock: FrozenClock
) -> None:
    clock_id, tenant = sandbox
    work = Casework(client, tenant, clock)
    await work.licence_active()
    # CoS start date 2026-02-02 is the latest of the three dates: 28 days later is 2026-03-02.
    hid = (await work.create(inside_uk=False, start_date="2026-02-02"))["id"]
    granted = await work.walk(hid, "grant_visa", "2026-01-12")
    late = kinds(granted)["late_start"]
    assert late["due_at"] == "2026-03-02T23:59:59Z"
    # Nobody records the check; the worker never starts: the late-start report opens when the period ends.
    fired = await advance(client, clock_id, tenant, "2026-03-03T09:00:00Z")
    assert any(f["kind"] == "late_start" and "obligation.created" in f["effects"] for f in fired)
    [owed] = [o for o in await obligations(work, hid) if o["kind"] == "late_start"]
    assert (owed["trigger_date"], owed["due_on"]) == ("2026-02-02", "2026-03-16")  # 10 working days after 03-02


async def test_the_late_start_deadline_carries_over_the_rtw_check_unchanged(work: Casework) -> None:
    hid = (await work.create(inside_uk=False, start_date="2026-02-02"))["id"]
    granted = await work.walk(hid, "grant_visa", "2026-01-12")
    checked = await work.ok(hid, "complete_rtw_check", rtw_check_date="2026-01-12", method="manual")
    assert kinds(checked)["late_start"]["id"] == kinds(granted)["late_start"]["id"]
    assert "rtw_check_before_start" not in kinds(checked)


# --- dates in order -------------------------------------------------------------------------------


async def test_each_step_is_dated_no_earlier_than_the_one_before(work: Casework) -> None:
    work.on("2026-01-20")
    hid = (await work.create(inside_uk=False))["id"]
    await work.ok(hid, "request_cos", requested_on="2026-01-14")
    refused = await work.act(hid, "grant_cos", granted_on="2026-01-13")
    problem = assert_problem(refused, 409, "action_refused")
    assert [r["code"] for r in problem["reasons"]] == ["date_before_previous_step"]
    assert "2026-01-14" in problem["reasons"][0]["message"]
    await work.ok(hid, "grant_cos", granted_on="2026-01-15")
    assert (
        await work.act(hid, "assign_cos", cos_reference="C2G8H71234567X", assigned_on="2026-01-14")
    ).status_code == 409
    await work.ok(hid, "assign_cos", cos_reference="C2G8H71234567X", assigned_on="2026-01-15")
    assert (await work.act(hid, "submit_visa_application", application_date="2026-01-14")).status_code == 409
    await work.ok(hid, "submit_visa_application", application_date="2026-01-16")
    early = await work.act(
        hid,
        "grant_visa",
        granted_on="2026-01-15",
        permission_start_date="2026-01-20",
        permission_end_date="2029-01-20",
    )
    assert [r["code"] for r in assert_problem(early, 409, "action_refused")["reasons"]] == ["date_before_previous_step"]
    case = await work.ok(
        hid, "grant_visa", granted_on="2026-01-19", permission_start_date="2026-01-20", permission_end_date="2029-01-20"
    )
    assert case["visa_granted_on"] == "2026-01-19"


async def test_a_refusal_is_dated_no_earlier_than_the_request(work: Casework) -> None:
    hid = (await work.create(inside_uk=False))["id"]
    await work.ok(hid, "request_cos")
    r = await work.act(hid, "refuse_cos", refused_on="2026-01-05")
    assert [x["code"] for x in assert_problem(r, 409, "action_refused")["reasons"]] == ["date_before_previous_step"]


# --- salary changes (facts §5.1 W5) ---------------------------------------------------------------


async def test_a_rise_that_leaves_pay_below_the_cos_salary_is_still_a_reportable_cut(work: Casework) -> None:
    hid = await employed(work)  # CoS salary £62,000
    cut = await work.ok(hid, "change_salary", new_salary="55000", effective_date="2026-01-12")
    assert [o["kind"] for o in cut["open_obligations"]] == ["salary_change"]
    partial = await work.ok(hid, "change_salary", new_salary="58000", effective_date="2026-01-12")
    assert [o["kind"] for o in partial["open_obligations"]] == ["salary_change", "salary_change"]
    back = await work.ok(hid, "change_salary", new_salary="62000", effective_date="2026-01-12")
    assert len(back["open_obligations"]) == 2  # back to the CoS salary: nothing to report


async def test_a_cut_below_the_threshold_in_force_says_sponsorship_cannot_continue_on_it(work: Casework) -> None:
    hid = await employed(work)
    await work.ok(hid, "change_salary", new_salary="50000", effective_date="2026-01-12")
    [owed] = await obligations(work, hid)
    # 2134 Programmers: going rate £54,700 for a CoS assigned on 2026-01-12.
    assert owed["details"]["cos_salary"] == "62000.00"
    assert owed["details"]["salary_required"] == "54700.00"
    assert owed["details"]["meets_salary_requirement"] is False


# --- revocation cascades (design §2.1) ------------------------------------------------------------


async def test_cases_withdrawn_by_a_revocation_take_the_revocations_date(work: Casework) -> None:
    assigned = (await work.create(inside_uk=False))["id"]
    await work.walk(assigned, "assign_cos", "2026-01-12")
    worker = await employed(work, external_id="w-2")
    work.on("2026-02-10")
    admin = work.tenant.headers("admin")
    etag = (await work.client.get("/v1/licence", headers=admin)).headers["etag"]
    r = await work.client.post(
        "/v1/licence/actions/revoke", json={"effective_date": "2026-02-02"}, headers=admin | {"If-Match": etag}
    )
    assert r.status_code == 200, r.text
    for hid, kind in ((assigned, "cos_withdrawal"), (worker, "employment_end")):
        case = (await work.client.get(f"/v1/hires/{hid}", headers=work.headers())).json()
        assert case["ended_on"] == "2026-02-02", hid
        [owed] = await obligations(work, hid)
        assert (owed["kind"], owed["trigger_date"]) == (kind, "2026-02-02")


# --- unpaid leave (facts §5.1 W4) -----------------------------------------------------------------


async def test_unpaid_leave_is_reportable_from_the_day_the_years_total_passes_4_weeks(work: Casework) -> None:
    hid = await employed(work)
    work.on("2026-03-25")
    first = await work.ok(hid, "record_unpaid_leave", leave_start_date="2026-02-02", leave_end_date="2026-02-15")
    assert first["open_obligations"] == []  # 14 days: within the limit
    second = await work.ok(hid, "record_unpaid_leave", leave_start_date="2026-03-02", leave_end_date="2026-03-20")
    [_owed] = second["open_obligations"]
    [row] = await obligations(work, hid)
    # Day 29 of the year's leave is 2026-03-16 (14 days in February, the 15th on 2 March).
    assert (row["kind"], row["trigger_date"], row["due_on"]) == ("unpaid_leave", "2026-03-16", "2026-03-30")
    third = await work.ok(hid, "record_unpaid_leave", leave_start_date="2026-03-23", leave_end_date="2026-03-24")
    assert len(third["open_obligations"]) == 1  # the year's report is already owed


async def test_each_calendar_year_counts_its_own_unpaid_leave(work: Casework) -> None:
    hid = await employed(work)
    work.on("2027-02-05")
    await work.ok(hid, "record_unpaid_leave", leave_start_date="2026-12-10", leave_end_date="2027-01-20")
    assert await obligations(work, hid) == []  # 22 days in 2026 and 20 in 2027: neither year passes 4 weeks
    await work.ok(hid, "record_unpaid_leave", leave_start_date="2027-01-25", leave_end_date="2027-02-04")
    [row] = await obligations(work, hid)
    assert row["trigger_date"] == "2027-02-02"  # the 29th day of 2027's leave


async def test_ongoing_unpaid_leave_arms_a_watch_for_the_day_it_passes_4_weeks(
    client: AsyncClient, sandbox: tuple[str, Tenant], clock: FrozenClock
) -> None:
    clock_id, tenant = sandbox
    work = Casework(client, tenant, clock)
    await work.licence_active()
    hid = await employed(work)
    on_leave = await work.ok(hid, "record_unpaid_leave", leave_start_date="2026-01-12")
    watch = kinds(on_leave)["unpaid_leave_threshold"]
    assert watch["due_at"] == "2026-02-09T23:59:59Z"  # day 29 of the leave
    fired = await advance(client, clock_id, tenant, "2026-02-10T09:00:00Z")
    assert any(f["kind"] == "unpaid_leave_threshold" and "obligation.created" in f["effects"] for f in fired)
    [row] = await obligations(work, hid)
    assert (row["kind"], row["trigger_date"]) == ("unpaid_leave", "2026-02-09")


async def test_ongoing_leave_that_ends_inside_the_limit_settles_its_watch(work: Casework) -> None:
    hid = await employed(work)
    await work.ok(hid, "record_unpaid_leave", leave_start_date="2026-01-12")
    work.on("2026-01-30")
    back = await work.ok(hid, "record_unpaid_leave", leave_start_date="2026-01-12", leave_end_date="2026-01-29")
    assert "unpaid_leave_threshold" not in kinds(back) and back["open_obligations"] == []


# --- unauthorised absence (facts §5.1 W3) ---------------------------------------------------------


async def test_an_absence_of_10_working_days_is_not_reportable_and_of_11_is(work: Casework) -> None:
    hid = await employed(work)
    work.on("2026-02-20")
    ten = await work.ok(hid, "record_absence", absence_start_date="2026-01-12", absence_end_date="2026-01-23")
    assert ten["open_obligations"] == []
    eleven = await work.ok(hid, "record_absence", absence_start_date="2026-02-02", absence_end_date="2026-02-16")
    [_owed] = eleven["open_obligations"]
    [row] = await obligations(work, hid)
    # The 10th working day of absence is 2026-02-13; the report is due 10 working days after it.
    assert (row["kind"], row["trigger_date"], row["due_on"]) == ("unauthorised_absence", "2026-02-02", "2026-02-27")


async def test_an_open_absence_is_watched_until_the_11th_working_day(
    client: AsyncClient, sandbox: tuple[str, Tenant], clock: FrozenClock
) -> None:
    clock_id, tenant = sandbox
    work = Casework(client, tenant, clock)
    await work.licence_active()
    hid = await employed(work)
    absent = await work.ok(hid, "record_absence", absence_start_date="2026-01-12")
    assert kinds(absent)["absence_threshold"]["due_at"] == "2026-01-26T23:59:59Z"  # the 11th working day
    again = await work.act(hid, "record_absence", absence_start_date="2026-01-12")
    assert [r["code"] for r in assert_problem(again, 409, "action_refused")["reasons"]] == ["absence_already_open"]
    fired = await advance(client, clock_id, tenant, "2026-01-27T09:00:00Z")
    assert any(f["kind"] == "absence_threshold" and "obligation.created" in f["effects"] for f in fired)
    [row] = await obligations(work, hid)
    assert (row["kind"], row["due_on"]) == ("unauthorised_absence", "2026-02-06")
    work.etags[hid] = (await client.get(f"/v1/hires/{hid}", headers=tenant.headers())).headers["etag"]
    back = await work.ok(hid, "record_return", absence_end_date="2026-01-26")
    assert len(back["open_obligations"]) == 1  # reported once, by the watch


async def test_a_return_before_the_11th_working_day_settles_the_watch_with_no_report(work: Casework) -> None:
    hid = await employed(work)
    await work.ok(hid, "record_absence", absence_start_date="2026-01-12")
    work.on("2026-01-20")
    back = await work.ok(hid, "record_return", absence_end_date="2026-01-19")
    assert "absence_threshold" not in kinds(back) and back["open_obligations"] == []
    [watch] = (
        await work.client.get(
            "/v1/deadlines", params={"subject_id": hid, "kind": "absence_threshold"}, headers=work.headers()
        )
    ).json()["data"]
    assert watch["status"] == "met"
