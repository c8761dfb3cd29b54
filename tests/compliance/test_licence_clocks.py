"""The sponsor licence's own clocks (facts §1.2, §1.4, §5.2): supporting documents within 5 working days
of applying, 20 working days to answer a downgrade notice, 10 working days to pay for an action plan, the
12-month cooling-off after a revocation, a change of ownership that needs a new licence, and the
undefined-CoS allocation year ending."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from app.clock import FrozenClock
from tests.support.casework import Casework
from tests.support.problems import assert_problem
from tests.support.tenants import Tenant


class Licence:
    def __init__(self, client: AsyncClient, tenant: Tenant) -> None:
        self.client, self.admin = client, tenant.headers("admin")

    async def act(self, action: str, **body: Any) -> dict[str, Any]:
        etag = (await self.client.get("/v1/licence", headers=self.admin)).headers["etag"]
        r = await self.client.post(f"/v1/licence/actions/{action}", json=body, headers=self.admin | {"If-Match": etag})
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def deadlines(self, **params: str) -> dict[str, dict[str, Any]]:
        licence_id = (await self.client.get("/v1/licence", headers=self.admin)).json()["id"]
        r = await self.client.get("/v1/deadlines", params={"subject_id": licence_id, **params}, headers=self.admin)
        return {d["kind"]: d for d in r.json()["data"]}


@pytest.fixture
async def active(client: AsyncClient, tenant: Tenant, clock: FrozenClock) -> Licence:
    """An active licence granted on Mon 2026-01-12."""
    work = Casework(client, tenant, clock)
    work.on("2026-01-12")
    await work.licence_active()
    return Licence(client, tenant)


async def test_supporting_documents_are_due_5_working_days_after_the_application(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock
) -> None:
    Casework(client, tenant, clock).on("2026-01-12")
    licence = Licence(client, tenant)
    assert (await client.post("/v1/licence", headers=licence.admin)).status_code == 201
    await licence.act("submit")
    docs = (await licence.deadlines())["supporting_documents"]
    assert (docs["due_at"], docs["rule_id"]) == ("2026-01-19T23:59:59Z", "licence.supporting_documents")
    await licence.act("send_supporting_documents")
    assert (await licence.deadlines())["supporting_documents"]["status"] == "met"


async def test_a_downgrade_notice_gives_20_working_days_and_an_action_plan_10_to_pay(active: Licence) -> None:
    licence = active
    await licence.act("receive_downgrade_notice")
    notice = (await licence.deadlines(status="pending"))["downgrade_representations"]
    assert notice["due_at"] == "2026-02-09T23:59:59Z"  # 20 working days after Mon 2026-01-12
    await licence.act("respond_to_downgrade_notice")
    assert (await licence.deadlines())["downgrade_representations"]["status"] == "met"
    rated = await licence.act("downgrade")
    assert rated["state"] == "b_rated"
    open_now = await licence.deadlines(status="pending")
    assert open_now["action_plan_fee_payment"]["due_at"] == "2026-01-26T23:59:59Z"  # 10 working days
    assert open_now["action_plan"]["due_at"] == "2026-04-12T22:59:59Z"  # 3 months (BST)
    await licence.act("pay_action_plan_fee")
    assert (await licence.deadlines())["action_plan_fee_payment"]["status"] == "met"


async def test_a_new_application_is_refused_during_the_12_month_cooling_off_after_a_revocation(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock
) -> None:
    work = Casework(client, tenant, clock)
    work.on("2026-02-10")
    await work.licence_active()
    licence = Licence(client, tenant)
    await licence.act("revoke", effective_date="2026-02-02")
    cooling = (await licence.deadlines())["cooling_off"]
    assert cooling["due_at"] == "2027-02-02T23:59:59Z"
    refused = await client.post("/v1/licence", headers=licence.admin)
    problem = assert_problem(refused, 409, "cooling_off")
    assert "2027-02-02" in problem["detail"] and "2027-02-03" in problem["detail"]
    work.on("2027-02-02")
    assert_problem(await client.post("/v1/licence", headers=licence.admin), 409, "cooling_off")
    work.on("2027-02-03")
    assert (await client.post("/v1/licence", headers=licence.admin)).status_code == 201


async def test_a_change_of_ownership_needing_a_new_licence_is_reported_and_applied_for_in_20_working_days(
    client: AsyncClient, active: Licence
) -> None:
    licence = active
    await licence.act("record_change_of_ownership", new_owner="Buyer Holdings plc", needs_new_licence=True)
    assert (await licence.deadlines())["new_licence_application"]["due_at"] == "2026-02-09T23:59:59Z"
    owed = (await client.get("/v1/obligations", params={"kind": "ownership"}, headers=licence.admin)).json()["data"]
    [report] = owed
    assert (report["due_on"], report["hire_id"]) == ("2026-02-09", None)
    await licence.act("apply_for_new_licence", reference="NEW-APP-1")
    assert (await licence.deadlines())["new_licence_application"]["status"] == "met"
    r = await client.post(
        f"/v1/obligations/{report['id']}/actions/report",
        json={"sms_reference": "SMS-O3"},
        headers=licence.admin | {"If-Match": f'"{report["version"]}"'},
    )
    assert r.json()["status"] == "reported"


async def test_a_change_of_ownership_without_a_new_licence_is_only_reported(active: Licence) -> None:
    licence = active
    await licence.act("record_change_of_ownership", new_owner="Parent Group Ltd", needs_new_licence=False)
    assert "new_licence_application" not in await licence.deadlines()
    owed = await licence.client.get("/v1/obligations", params={"kind": "ownership"}, headers=licence.admin)
    assert [o["status"] for o in owed.json()["data"]] == ["open"]


async def test_the_allocation_year_end_is_a_reminder_with_warnings_met_by_the_next_year(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock
) -> None:
    Casework(client, tenant, clock).on("2026-01-12")
    admin = tenant.headers("admin")
    body = {"year_start": "2025-04-06", "year_end": "2026-04-05", "granted": 5}
    r = await client.put("/v1/cos-allocation", json=body, headers=admin)
    assert r.status_code in (200, 201), r.text
    rows = (await client.get("/v1/deadlines", params={"kind": "allocation_year_end"}, headers=admin)).json()["data"]
    [reminder] = rows
    assert reminder["due_at"] == "2026-04-05T22:59:59Z" and reminder["warn_at"] == "2026-03-06T00:00:00Z"
    assert "5 of 5 unassigned" in reminder["basis"]
    nxt = {"year_start": "2026-04-06", "year_end": "2027-04-05", "granted": 5}
    r = await client.put("/v1/cos-allocation", json=nxt, headers=admin | {"If-Match": r.headers["etag"]})
    assert r.status_code == 200, r.text
    rows = (await client.get("/v1/deadlines", params={"kind": "allocation_year_end"}, headers=admin)).json()["data"]
    assert [(d["status"], d["due_at"][:10]) for d in rows] == [("met", "2026-04-05"), ("pending", "2027-04-05")]
