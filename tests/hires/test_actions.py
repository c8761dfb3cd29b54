"""Promises of the hire API: refusals explain themselves and change nothing; stale versions change nothing."""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from app.clock import FrozenClock
from tests.support.casework import SOFTWARE_ENGINEER, Casework
from tests.support.problems import assert_problem
from tests.support.tenants import Tenant


@pytest.fixture
async def work(client: AsyncClient, tenant: Tenant, clock: FrozenClock) -> Casework:
    w = Casework(client, tenant, clock)
    w.on("2026-01-12")
    return w


async def test_a_hire_waits_for_the_licence_and_moves_to_draft_when_it_is_granted(work: Casework) -> None:
    hire = await work.create(inside_uk=False)
    assert hire["state"] == "awaiting_licence"
    refused = await work.act(hire["id"], "request_cos")
    assert_problem(refused, 409, "action_not_available")
    await work.licence_active()
    after = (await work.client.get(f"/v1/hires/{hire['id']}", headers=work.headers())).json()
    assert after["state"] == "draft"
    assert [e["action"] for e in await work.events(hire["id"])] == [None, "licence_activated"]
    assert (await work.events(hire["id"]))[1]["actor"] == {"type": "system", "id": None, "role": None}


async def test_a_refused_action_answers_409_with_every_reason_and_writes_nothing(work: Casework) -> None:
    await work.licence_active()
    hire = await work.create(inside_uk=None, salary=None)
    r = await work.act(hire["id"], "request_cos")
    body = assert_problem(r, 409, "action_refused")
    codes = {x["code"] for x in body["reasons"]}
    assert {"missing_hire_detail", "worker_location_unknown"} <= codes
    again = (await work.client.get(f"/v1/hires/{hire['id']}", headers=work.headers())).json()
    assert again["state"] == "draft" and again["version"] == hire["version"]
    assert len(await work.events(hire["id"])) == 1


async def test_a_refusal_names_the_field_to_fix_in_the_problem_and_in_available_actions(work: Casework) -> None:
    """The guard's `field` reaches the client, so a form can highlight what is missing."""
    await work.licence_active()
    hire = await work.create(inside_uk=None, salary=None)
    body = assert_problem(await work.act(hire["id"], "request_cos"), 409, "action_refused")
    assert {"code": "missing_hire_detail", "field": "salary"}.items() <= next(
        r for r in body["reasons"] if r.get("field") == "salary"
    ).items()
    request_cos = next(a for a in hire["available_actions"] if a["name"] == "request_cos")
    assert "salary" in {r.get("field") for r in request_cos["reasons"]}


async def test_an_occupation_closed_to_new_cos_refuses_the_cos_with_the_rule(work: Casework) -> None:
    """SOC 7220 Customer service supervisors: no new Skilled Worker CoS from 2025-07-22."""
    await work.licence_active()
    hire = await work.create(inside_uk=False, soc_code="7220", job_title="Customer service supervisor", salary="42000")
    assert hire["eligibility_status"] == "ineligible"
    body = assert_problem(await work.act(hire["id"], "request_cos"), 409, "action_refused")
    assert any("7220" in x["message"] for x in body["reasons"])


async def test_a_mapped_hris_job_code_gives_the_case_its_soc_code(work: Casework) -> None:
    await work.licence_active()
    r = await work.client.put(
        "/v1/job-mappings/AUN04792",
        json={"soc_code": "7220", "job_title": "Customer Service Unit Supervisor"},
        headers=work.headers(),
    )
    assert r.status_code == 201 and r.json()["occupation_title"]
    mapped = await work.create(soc_code=None, hris_job_code="AUN04792", external_id="m1")
    assert mapped["soc_code"] == "7220"
    unmapped = await work.create(soc_code=None, hris_job_code="ZZZ999", external_id="m2")
    assert unmapped["soc_code"] is None and unmapped["state"] == "draft"
    assert unmapped["eligibility"]["reasons"][0]["code"] == "unmapped_job_code"


async def test_a_stale_if_match_changes_nothing(work: Casework) -> None:
    await work.licence_active()
    hire = await work.create(inside_uk=False)
    stale = work.etags[hire["id"]]
    await work.ok(hire["id"], "request_cos")
    r = await work.client.post(
        f"/v1/hires/{hire['id']}/actions/grant_cos", json={}, headers=work.headers(**{"If-Match": stale})
    )
    assert_problem(r, 412, "precondition_failed")
    assert (await work.client.get(f"/v1/hires/{hire['id']}", headers=work.headers())).json()["state"] == "cos_requested"
    missing = await work.client.post(f"/v1/hires/{hire['id']}/actions/grant_cos", json={}, headers=work.headers())
    assert_problem(missing, 428, "precondition_required")


async def test_unknown_and_system_actions_are_refused_before_anything_runs(work: Casework) -> None:
    hire = await work.create()
    assert_problem(await work.act(hire["id"], "teleport"), 404, "unknown_action")
    assert_problem(await work.act(hire["id"], "expire_cos"), 403, "system_action")
    assert_problem(await work.act(hire["id"], "licence_activated"), 403, "system_action")


async def test_action_payloads_are_validated_per_action(work: Casework) -> None:
    await work.licence_active()
    hire = await work.create(inside_uk=False)
    body = assert_problem(await work.act(hire["id"], "assign_cos", cos_reference="not a ref!"), 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "cos_reference"]
    assert_problem(await work.act(hire["id"], "request_cos", surprise=1), 422, "validation_error")
    for _ in ("request_cos", "grant_cos"):
        await work.ok(hire["id"], _)
    await work.ok(hire["id"], "assign_cos", cos_reference="C2G8H71234567X")
    await work.ok(hire["id"], "submit_visa_application", application_date="2026-01-12")
    backwards = await work.act(
        hire["id"], "grant_visa", permission_start_date="2026-03-01", permission_end_date="2026-02-01"
    )
    assert_problem(backwards, 409, "action_refused")
    await work.ok(hire["id"], "grant_visa", permission_start_date="2026-01-20", permission_end_date="2029-01-20")
    online = await work.act(hire["id"], "complete_rtw_check", rtw_check_date="2026-01-12", method="online")
    assert_problem(online, 422, "validation_error")


async def test_details_lock_once_the_cos_is_in_process(work: Casework) -> None:
    await work.licence_active()
    hire = await work.create(inside_uk=False)
    await work.ok(hire["id"], "request_cos")
    url = f"/v1/hires/{hire['id']}"
    r = await work.client.patch(
        url, json={"salary": "90000"}, headers=work.headers(**{"If-Match": work.etags[hire["id"]]})
    )
    body = assert_problem(r, 409, "fields_locked")
    assert body["reasons"][0]["code"] == "field_locked"
    ok = await work.client.patch(
        url,
        json={"email": "ada.new@example.com", "start_date": "2026-03-09"},
        headers=work.headers(**{"If-Match": work.etags[hire["id"]]}),
    )
    assert ok.status_code == 200 and ok.json()["start_date"] == "2026-03-09"


async def test_a_viewer_reads_but_cannot_act(work: Casework) -> None:
    hire = await work.create()
    viewer = work.tenant.headers("viewer")
    assert (await work.client.get(f"/v1/hires/{hire['id']}", headers=viewer)).status_code == 200
    r = await work.client.post(
        f"/v1/hires/{hire['id']}/actions/withdraw", json={"reason": "x"}, headers=viewer | {"If-Match": "*"}
    )
    assert_problem(r, 403, "forbidden")


async def test_external_ids_are_unique_per_organisation(work: Casework, other_tenant: Tenant) -> None:
    await work.create(external_id="E-1")
    r = await work.client.post("/v1/hires", json=SOFTWARE_ENGINEER | {"external_id": "E-1"}, headers=work.headers())
    assert_problem(r, 409, "external_id_taken")
    other = await work.client.post(
        "/v1/hires", json=SOFTWARE_ENGINEER | {"external_id": "E-1"}, headers=other_tenant.headers("hr")
    )
    assert other.status_code == 201


async def test_lists_filter_and_page(work: Casework) -> None:
    await work.licence_active()
    for i in range(3):
        await work.create(external_id=f"p{i}", soc_code="2134" if i else "2136", start_date=f"2026-0{i + 3}-02")
    by_soc = (await work.client.get("/v1/hires", params={"soc_code": "2136"}, headers=work.headers())).json()
    assert [h["external_id"] for h in by_soc["data"]] == ["p0"]
    window = await work.client.get(
        "/v1/hires",
        params={"start_date_from": "2026-04-01", "start_date_to": "2026-05-31"},
        headers=work.headers(),
    )
    assert [h["external_id"] for h in window.json()["data"]] == ["p1", "p2"]
    first = (await work.client.get("/v1/hires", params={"limit": 2, "state": "draft"}, headers=work.headers())).json()
    rest = (await work.client.get("/v1/hires", params={"cursor": first["next_cursor"]}, headers=work.headers())).json()
    assert [h["external_id"] for h in first["data"] + rest["data"]] == ["p0", "p1", "p2"]
    assert_problem(
        await work.client.get("/v1/hires", params={"state": "limbo"}, headers=work.headers()),
        400,
        "unknown_state",
    )


async def test_every_route_hides_other_organisations_objects(work: Casework, other_tenant: Tenant) -> None:
    await work.licence_active()
    await work.client.put("/v1/job-mappings/J1", json={"soc_code": "2134"}, headers=work.headers())
    hire = await work.create()
    intruder = other_tenant.headers("admin")
    hid = hire["id"]
    for method, url, body in (
        ("GET", f"/v1/hires/{hid}", None),
        ("PATCH", f"/v1/hires/{hid}", {"email": "x@example.com"}),
        ("POST", f"/v1/hires/{hid}/actions/withdraw", {"reason": "x"}),
        ("GET", f"/v1/hires/{hid}/events", None),
        ("GET", "/v1/job-mappings/J1", None),
        ("DELETE", "/v1/job-mappings/J1", None),
        ("GET", "/v1/licence", None),
        ("GET", "/v1/cos-allocation", None),
    ):
        r = await work.client.request(method, url, json=body, headers=intruder | {"If-Match": "*"})
        assert_problem(r, 404, "not_found")
    await work.ok(hid, "withdraw", reason="offer withdrawn")
    body = {"kind": "key_personnel", "effective_date": "2026-01-12", "description": "new authorising officer"}
    change = (await work.client.post("/v1/organisation-changes", json=body, headers=work.headers())).json()
    for method, url, payload in (
        ("GET", f"/v1/obligations/{change['id']}", None),
        ("POST", f"/v1/obligations/{change['id']}/actions/report", {"sms_reference": "X"}),
        ("POST", f"/v1/obligations/{change['id']}/actions/waive", {"reason": "x"}),
    ):
        r = await work.client.request(method, url, json=payload, headers=intruder | {"If-Match": "*"})
        assert_problem(r, 404, "not_found")
    for url in ("/v1/hires", "/v1/events", "/v1/job-mappings", "/v1/obligations", "/v1/deadlines"):
        assert (await work.client.get(url, headers=intruder)).json()["data"] == []
    assert (await work.client.get("/v1/deadlines/counts", headers=intruder)).json()["by_status"] == {}
