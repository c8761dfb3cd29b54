"""The sponsor licence workflow and its cascades onto hires (design §2.1)."""

from __future__ import annotations

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
    return w


async def licence_action(work: Casework, action: str, **body: object) -> dict[str, object]:
    admin = work.tenant.headers("admin")
    current = await work.client.get("/v1/licence", headers=admin)
    r = await work.client.post(
        f"/v1/licence/actions/{action}", json=body, headers=admin | {"If-Match": current.headers["etag"]}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_no_cos_while_the_licence_is_b_rated_and_again_once_upgraded(work: Casework) -> None:
    await work.licence_active()
    hire = await work.create(inside_uk=False)
    await licence_action(work, "downgrade", reason="record keeping")
    body = assert_problem(await work.act(hire["id"], "request_cos"), 409, "action_refused")
    assert [r["code"] for r in body["reasons"]] == ["licence_not_active"]
    await licence_action(work, "upgrade")
    await work.ok(hire["id"], "request_cos")


async def test_revocation_withdraws_pre_employment_cases_and_ends_employment(work: Casework) -> None:
    await work.licence_active()
    waiting = await work.create(inside_uk=False, external_id="pre")
    employed = await work.create(inside_uk=False, external_id="emp")
    eid = employed["id"]
    await work.walk(eid, "start_employment", "2026-01-12")
    await licence_action(work, "suspend", reason="investigation")
    revoked = await licence_action(work, "revoke", effective_date="2026-01-12")
    assert revoked["state"] == "revoked" and revoked["available_actions"] == []

    states = {
        h["external_id"]: (h["state"], h["end_reason"])
        for h in (await work.client.get("/v1/hires", headers=work.headers())).json()["data"]
    }
    assert states["pre"][0] == "withdrawn" and states["emp"][0] == "sponsorship_ended"
    assert "revoked" in str(states["emp"][1])
    ended, report = (await work.events(eid))[-2:]
    assert ended["action"] == "end_sponsorship" and ended["actor"]["type"] == "system"
    assert report["type"] == "obligation.created" and report["data"]["kind"] == "employment_end"
    assert (await work.events(waiting["id"]))[-1]["to_state"] == "withdrawn"


async def test_a_new_application_is_allowed_only_after_a_final_outcome(work: Casework) -> None:
    admin = work.tenant.headers("admin")
    assert (await work.client.post("/v1/licence", headers=admin)).status_code == 201
    assert_problem(await work.client.post("/v1/licence", headers=admin), 409, "licence_exists")
    await licence_action(work, "submit", priority_service=True)
    refused = await licence_action(work, "refuse", reason="missing documents")
    assert refused["decided_on"] == "2026-01-12"
    again = await work.client.post("/v1/licence", headers=admin)
    assert again.status_code == 201 and again.json()["state"] == "draft"


async def test_licence_actions_need_the_admin_role_and_a_fresh_version(work: Casework) -> None:
    admin = work.tenant.headers("admin")
    created = await work.client.post("/v1/licence", headers=admin)
    hr = work.tenant.headers("hr") | {"If-Match": created.headers["etag"]}
    assert_problem(await work.client.post("/v1/licence/actions/submit", json={}, headers=hr), 403, "forbidden")
    await licence_action(work, "submit")
    stale = admin | {"If-Match": created.headers["etag"]}
    assert_problem(
        await work.client.post("/v1/licence/actions/grant", json={"licence_number": "LIC-1"}, headers=stale),
        412,
        "precondition_failed",
    )
    assert_problem(
        await work.client.post("/v1/licence/actions/grant", json={}, headers=admin | {"If-Match": "*"}),
        422,
        "validation_error",
    )


async def test_withdrawing_before_the_visa_application_returns_the_undefined_cos(work: Casework) -> None:
    await work.licence_active()
    admin = work.tenant.headers("admin")
    await work.client.put(
        "/v1/cos-allocation",
        json={"year_start": "2026-01-01", "year_end": "2026-12-31", "granted": 2},
        headers=admin,
    )
    hire = await work.create(inside_uk=True)
    await work.ok(hire["id"], "assign_cos", cos_reference="U4K7M12345678Z")
    assert (await work.client.get("/v1/cos-allocation", headers=admin)).json()["used"] == 1
    await work.ok(hire["id"], "withdraw", reason="offer declined")
    assert (await work.client.get("/v1/cos-allocation", headers=admin)).json()["used"] == 0
    current = await work.client.get("/v1/cos-allocation", headers=admin)
    assert_problem(
        await work.client.put(
            "/v1/cos-allocation",
            json={"year_start": "2026-01-01", "year_end": "2026-12-31", "granted": 3},
            headers=admin,
        ),
        428,
        "precondition_required",
    )
    changed = await work.client.put(
        "/v1/cos-allocation",
        json={"year_start": "2026-01-01", "year_end": "2026-12-31", "granted": 3},
        headers=admin | {"If-Match": current.headers["etag"]},
    )
    assert changed.json()["remaining"] == 3
