"""The workflow definitions as frontends and people read them, from the data the engine runs."""

from __future__ import annotations

from httpx import AsyncClient

from app.clock import FrozenClock
from app.workflow import HIRE, render
from tests.support.casework import Casework
from tests.support.problems import assert_problem
from tests.support.tenants import Tenant


async def test_workflows_describe_states_actions_and_guards(client: AsyncClient, tenant: Tenant) -> None:
    listed = (await client.get("/v1/workflows", headers=tenant.headers("viewer"))).json()
    assert [w["name"] for w in listed] == ["licence", "hire"]
    hire = (await client.get("/v1/workflows/hire", headers=tenant.headers("viewer"))).json()
    assign = next(a for a in hire["actions"] if a["name"] == "assign_cos")
    assert set(assign["sources"]) == {"draft", "cos_granted"} and assign["dest"] == "cos_assigned"
    assert {"licence_active", "eligible", "undefined_cos_left"} <= {g["code"] for g in assign["guards"]}
    assert all(g["description"] for g in assign["guards"])
    assert_problem(await client.get("/v1/workflows/nope", headers=tenant.headers("viewer")), 404, "not_found")


async def test_the_diagram_is_the_machine_the_code_runs(client: AsyncClient, tenant: Tenant) -> None:
    r = await client.get("/v1/workflows/hire/diagram", headers=tenant.headers("viewer"))
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == render(HIRE)
    assert r.text.startswith("stateDiagram-v2")
    for action in HIRE.actions:
        for source in action.sources:
            assert f"{source} --> {action.dest or source}" in r.text


async def test_the_organisation_feed_polls_only_newer_events(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock
) -> None:
    work = Casework(client, tenant, clock)
    await work.licence_active()
    first = (await client.get("/v1/events", headers=tenant.headers("viewer"))).json()
    assert [e["type"] for e in first["data"]] == ["licence.created", "licence.state_changed", "licence.state_changed"]
    assert [e["seq"] for e in first["data"]] == [1, 2, 3] and first["has_more"] is False
    hire = await work.create()
    newer = (await client.get("/v1/events", params={"cursor": first["next_cursor"]}, headers=tenant.headers())).json()
    assert [(e["type"], e["subject_id"]) for e in newer["data"]] == [("hire.created", hire["id"])]
    assert newer["data"][0]["actor"]["type"] == "api_key" and newer["data"][0]["request_id"]
    empty = (await client.get("/v1/events", params={"cursor": newer["next_cursor"]}, headers=tenant.headers())).json()
    assert empty["data"] == [] and empty["next_cursor"] == newer["next_cursor"]
