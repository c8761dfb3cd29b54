"""Edges of the case API: out-of-range dates, corrections after the fact, rules that change over time,
and tenancy at the seams (idempotency, test clocks). Each test names the rule it holds."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from app.clock import FrozenClock
from tests.support.casework import Casework
from tests.support.problems import assert_problem
from tests.support.tenants import Tenant


@pytest.fixture
async def work(client: AsyncClient, tenant: Tenant, clock: FrozenClock) -> Casework:
    w = Casework(client, tenant, clock)
    w.on("2026-01-12")
    await w.licence_active()
    return w


async def _get(work: Casework, hire_id: str) -> dict[str, Any]:
    r = await work.client.get(f"/v1/hires/{hire_id}", headers=work.headers())
    assert r.status_code == 200, r.text
    work.etags[hire_id] = r.headers["etag"]
    return dict(r.json())


async def _allocation(work: Casework, year_start: str, year_end: str, granted: int) -> None:
    r = await work.client.put(
        "/v1/cos-allocation",
        json={"year_start": year_start, "year_end": year_end, "granted": granted},
        headers=work.tenant.headers("admin"),
    )
    assert r.status_code == 200, r.text


async def test_a_visa_application_dated_before_the_rules_data_is_a_4xx_not_a_500(work: Casework) -> None:
    # A date outside every rule window is bad input, not a server error: here it is also before the CoS
    # assignment, which the date-order check names.
    hid = (await work.create(inside_uk=False))["id"]
    await work.walk(hid, "assign_cos", "2026-01-12")
    r = await work.act(hid, "submit_visa_application", application_date="2019-06-03")
    problem = assert_problem(r, 409, "action_refused")
    assert [reason["code"] for reason in problem["reasons"]] == ["date_before_previous_step"]


async def test_correcting_the_start_date_does_not_move_the_cos_decision_chase(work: Casework) -> None:
    # Correcting the start date re-counts only the deadlines that count from it.
    hid = (await work.create(inside_uk=False, start_date="2026-03-02"))["id"]
    [chase] = (await work.ok(hid, "request_cos"))["open_deadlines"]
    assert chase["kind"] == "cos_decision_chase"
    work.on("2026-01-20")
    r = await work.client.patch(
        f"/v1/hires/{hid}", json={"start_date": "2026-03-09"}, headers=work.headers(**{"If-Match": work.etags[hid]})
    )
    assert r.status_code == 200, r.text
    [after] = r.json()["open_deadlines"]
    assert after["due_at"] == chase["due_at"]


async def test_an_allocation_whose_year_has_ended_gives_no_undefined_cos(work: Casework) -> None:
    # An undefined CoS comes from the allocation of the year it is assigned in.
    await _allocation(work, "2025-01-01", "2025-12-31", 5)
    hid = (await work.create(inside_uk=True))["id"]
    r = await work.act(hid, "assign_cos", cos_reference="U4K7M12345678Z")
    assert r.status_code == 409, r.text


async def test_request_cos_checks_eligibility_under_the_rules_in_force_today(work: Casework) -> None:
    # Eligibility is judged under the rules in force when the CoS is requested, not at the last edit.
    work.on("2026-12-30")
    hid = (
        await work.create(inside_uk=False, soc_code="5213", job_title="Welder", salary="90000", start_date="2027-03-01")
    )["id"]
    assert (await _get(work, hid))["eligibility_status"] == "eligible"  # TSL occupation, TSL ends 2026-12-31
    work.on("2027-01-04")
    r = await work.act(hid, "request_cos")
    assert r.status_code == 409, r.text


async def test_a_cos_grant_cannot_be_recorded_in_the_future(work: Casework) -> None:
    # A grant is recorded once it has happened: a future date would push the CoS expiry out.
    hid = (await work.create(inside_uk=False))["id"]
    await work.ok(hid, "request_cos")
    r = await work.act(hid, "grant_cos", granted_on="2027-01-12")
    assert r.status_code == 409, r.text


async def test_patching_a_required_field_to_null_is_a_422(work: Casework) -> None:
    # A field the case must always have cannot be patched to null.
    hid = (await work.create(inside_uk=False))["id"]
    r = await work.client.patch(
        f"/v1/hires/{hid}", json={"phd": None}, headers=work.headers(**{"If-Match": work.etags[hid]})
    )
    assert r.status_code == 422, (r.status_code, r.text)


async def test_patching_an_external_id_that_is_taken_is_a_409(work: Casework) -> None:
    # Taking another hire's external id is a 409, also when correcting a case.
    await work.create(external_id="E-1")
    hid = (await work.create(external_id="E-2"))["id"]
    r = await work.client.patch(
        f"/v1/hires/{hid}", json={"external_id": "E-1"}, headers=work.headers(**{"If-Match": work.etags[hid]})
    )
    assert r.status_code == 409, (r.status_code, r.text)
    assert r.json()["code"] == "external_id_taken"


async def test_an_idempotency_key_does_not_replay_another_organisations_answer(
    client: AsyncClient, platform_key: str, tenant: Tenant, other_tenant: Tenant
) -> None:
    # An Idempotency-Key used for one organisation never replays that answer for another.
    bearer = {"Authorization": f"Bearer {platform_key}", "Idempotency-Key": "new-licence"}
    first = await client.post("/v1/licence", headers=bearer | {"Sponsorflow-Organisation": tenant.organisation_id})
    assert first.status_code == 201, first.text
    second = await client.post(
        "/v1/licence", headers=bearer | {"Sponsorflow-Organisation": other_tenant.organisation_id}
    )
    assert second.status_code != 201 or second.json()["organisation_id"] == other_tenant.organisation_id, second.text


async def test_a_test_clock_serves_one_organisation_only(
    client: AsyncClient, platform_key: str, clock: FrozenClock
) -> None:
    # Advancing a clock fires every deadline on it: shared by two organisations, one organisation's admin
    # would change (and see) the other's cases. So a second organisation cannot bind to it.
    bearer = {"Authorization": f"Bearer {platform_key}"}
    clock_id = (
        await client.post("/v1/test-clocks", json={"frozen_time": "2026-01-12T09:00:00Z"}, headers=bearer)
    ).json()["id"]
    body = {"sponsor_size": "small", "nation": "england_and_wales", "sandbox": True, "test_clock_id": clock_id}
    first = await client.post("/v1/organisations", json=body | {"name": "Sandbox A Ltd"}, headers=bearer)
    assert first.status_code == 201, first.text
    second = await client.post("/v1/organisations", json=body | {"name": "Sandbox B Ltd"}, headers=bearer)
    assert_problem(second, 409, "test_clock_in_use")
