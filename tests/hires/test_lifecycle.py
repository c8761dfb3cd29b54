"""Two whole lifecycles over HTTP, from creation to `closed`, and the story the event feed tells."""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from app.clock import FrozenClock
from tests.support.casework import Casework
from tests.support.tenants import Tenant


@pytest.fixture
def work(client: AsyncClient, tenant: Tenant, clock: FrozenClock) -> Casework:
    return Casework(client, tenant, clock)


async def test_worker_outside_the_uk_runs_from_defined_cos_to_closed(work: Casework) -> None:
    work.on("2026-01-12")
    await work.licence_active()
    hire = await work.create(inside_uk=False)
    assert hire["state"] == "draft" and hire["eligibility_status"] == "eligible", hire["eligibility"]
    allowed = {a["name"] for a in hire["available_actions"] if a["allowed"]}
    assert "request_cos" in allowed and "assign_cos" not in allowed

    hid = hire["id"]
    await work.ok(hid, "request_cos")
    await work.ok(hid, "grant_cos")
    assigned = await work.ok(hid, "assign_cos", cos_reference="c2g8h71234567x")
    assert assigned["cos_type"] == "defined" and assigned["cos_reference"] == "C2G8H71234567X"
    await work.ok(hid, "submit_visa_application", application_date="2026-01-12", service="priority")
    work.on("2026-01-19")
    await work.ok(hid, "grant_visa", permission_start_date="2026-02-23", permission_end_date="2029-03-01")
    work.on("2026-02-24")
    await work.ok(hid, "complete_rtw_check", rtw_check_date="2026-02-24", method="online", share_code="wx7k2m9pq")
    work.on("2026-03-02")
    employed = await work.ok(hid, "start_employment", actual_start_date="2026-03-02")
    assert employed["state"] == "employed"
    await work.ok(hid, "change_salary", new_salary="65000.00", effective_date="2026-03-02")
    work.on("2027-06-30")
    ended = await work.ok(hid, "end_sponsorship", ended_on="2027-06-30", reason="resigned")
    assert [o["kind"] for o in ended["open_obligations"]] == ["employment_end"]
    refused = await work.act(hid, "close")
    assert refused.status_code == 409 and refused.json()["reasons"][0]["code"] == "open_obligations"
    work.on("2027-07-05")
    [report] = await work.report_owed(hid)
    assert report["status"] == "reported" and report["reported_late"] is False
    closed = await work.ok(hid, "close")
    assert closed["state"] == "closed"
    assert [d["kind"] for d in closed["open_deadlines"]] == ["record_retention"]

    story = [
        (e["action"], e["from_state"], e["to_state"]) for e in await work.events(hid) if e["type"].startswith("hire.")
    ]
    assert story == [
        (None, None, "draft"),
        ("request_cos", "draft", "cos_requested"),
        ("grant_cos", "cos_requested", "cos_granted"),
        ("assign_cos", "cos_granted", "cos_assigned"),
        ("submit_visa_application", "cos_assigned", "visa_applied"),
        ("grant_visa", "visa_applied", "visa_granted"),
        ("complete_rtw_check", "visa_granted", "rtw_verified"),
        ("start_employment", "rtw_verified", "employed"),
        ("change_salary", "employed", "employed"),
        ("end_sponsorship", "employed", "sponsorship_ended"),
        ("close", "sponsorship_ended", "closed"),
    ]


async def test_worker_inside_the_uk_uses_the_undefined_allocation(work: Casework) -> None:
    work.on("2026-01-12")
    await work.licence_active()
    admin = work.tenant.headers("admin")
    r = await work.client.put(
        "/v1/cos-allocation",
        json={"year_start": "2026-01-01", "year_end": "2026-12-31", "granted": 1},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["remaining"] == 1
    hire = await work.create(inside_uk=True, given_name="Tomasz")
    hid = hire["id"]
    refused = await work.act(hid, "request_cos")
    assert refused.status_code == 409
    assert [x["code"] for x in refused.json()["reasons"]] == ["defined_cos_needs_worker_outside_uk"]

    assigned = await work.ok(hid, "assign_cos", cos_reference="U4K7M12345678Z")
    assert assigned["cos_type"] == "undefined"
    assert (await work.client.get("/v1/cos-allocation", headers=admin)).json()["remaining"] == 0

    second = await work.create(inside_uk=True, external_id="second")
    no_cos = await work.act(second["id"], "assign_cos", cos_reference="U4K7M12345678Y")
    assert no_cos.status_code == 409
    assert any("allocation" in x["message"] for x in no_cos.json()["reasons"])

    await work.ok(hid, "submit_visa_application", application_date="2026-01-12")
    work.on("2026-02-10")
    await work.ok(hid, "grant_visa", permission_start_date="2026-02-10", permission_end_date="2028-02-10")
    await work.ok(hid, "complete_rtw_check", rtw_check_date="2026-02-10", method="manual")
    work.on("2026-03-02")
    await work.ok(hid, "start_employment", actual_start_date="2026-03-02")
    work.on("2026-09-30")
    await work.ok(hid, "end_sponsorship", ended_on="2026-09-30", reason="end of contract")
    await work.report_owed(hid)
    assert (await work.ok(hid, "close"))["state"] == "closed"
    states = [e["to_state"] for e in await work.events(hid) if e["type"].startswith("hire.")]
    assert states == [
        "draft",
        "cos_assigned",
        "visa_applied",
        "visa_granted",
        "rtw_verified",
        "employed",
        "sponsorship_ended",
        "closed",
    ]
