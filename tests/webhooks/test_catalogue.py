"""The catalogue tells the truth: every event the service emits has a declared type whose schema its
webhook body matches, and the OpenAPI document declares every payload."""

from __future__ import annotations

from collections import Counter

from app.integrations.webhooks.catalogue import CATALOGUE, ENVELOPES
from app.main import create_app
from app.retention.service import erase_due
from app.worker.deadlines import fire_due
from tests.support.casework import Casework, journey
from tests.support.webhooks import Hooks, Receiver


async def test_every_event_of_a_sponsorship_matches_its_declared_schema(
    hooks: Hooks, receiver: Receiver, client, tenant, clock, rulebook
) -> None:
    endpoint = await hooks.endpoint(receiver.url())
    work = Casework(client, tenant, clock)
    work.on("2026-01-12")
    await work.licence_active()
    r = await client.put(
        "/v1/cos-allocation",
        json={"year_start": "2026-01-01", "year_end": "2026-12-31", "granted": 3},
        headers=tenant.headers(),
    )
    assert r.status_code in (200, 201), r.text
    hire = await work.create(inside_uk=False)
    r = await client.patch(
        f"/v1/hires/{hire['id']}", json={"job_title": "Senior engineer"}, headers=work.headers(**{"If-Match": '"1"'})
    )
    assert r.status_code == 200, r.text
    work.etags[hire["id"]] = r.headers["etag"]
    for action, payload in journey("2026-01-12")[:-1]:
        await work.ok(hire["id"], action, **payload)
    await work.ok(hire["id"], "change_work_location", work_location="Leeds", effective_date="2026-01-12")
    assert await work.report_owed(hire["id"])
    await work.ok(hire["id"], "end_sponsorship", ended_on="2026-01-12", reason="dismissed")
    assert await work.report_owed(hire["id"])
    await work.ok(hire["id"], "close")
    hold = f"/v1/hires/{hire['id']}/legal-hold"
    assert (await client.put(hold, json={"reason": "tribunal claim"}, headers=tenant.headers())).status_code == 200
    assert (await client.delete(hold, headers=tenant.headers())).status_code == 200
    employed = await work.create(inside_uk=False, external_id="emp-2")  # left employed: its RTW follow-up warns
    for action, payload in journey("2026-01-12")[:-1]:
        await work.ok(employed["id"], action, **payload)
    assert (await client.get(f"/v1/hires/{hire['id']}/audit-pack", headers=work.headers())).status_code == 200
    assert (await client.get("/v1/audit-packs", headers=tenant.headers())).status_code == 200
    change = {"kind": "organisation_address", "effective_date": "2026-01-12", "description": "moved"}
    assert (await client.post("/v1/organisation-changes", json=change, headers=work.headers())).status_code == 201
    owed = await client.get("/v1/obligations", params={"status": "open"}, headers=work.headers())
    (sponsor_change,) = owed.json()["data"]
    r = await client.post(
        f"/v1/obligations/{sponsor_change['id']}/actions/waive",
        json={"reason": "duplicate"},
        headers=work.headers() | {"If-Match": f'"{sponsor_change["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert (
        await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=hooks.headers())
    ).status_code == 202
    later = clock.now().replace(year=2030)  # every deadline still open warns and breaches
    await fire_due(hooks.app.state.sessionmaker, rulebook, later)
    assert await erase_due(hooks.app.state.sessionmaker, later) == 1  # the records' retention has ended

    await hooks.relay(later)

    bodies = [r.json for r in receiver.on("/hook")]
    seen = Counter(b["type"] for b in bodies)
    for body in bodies:
        assert body["type"] in CATALOGUE, body["type"]
        ENVELOPES[body["type"]].model_validate(body)
        assert body["version"] == CATALOGUE[body["type"]].version
    assert set(seen) >= {
        "licence.created",
        "licence.state_changed",
        "cos_allocation.updated",
        "hire.created",
        "hire.updated",
        "hire.state_changed",
        "hire.action_recorded",
        "obligation.created",
        "obligation.reported",
        "obligation.waived",
        "deadline.warning",
        "deadline.breached",
        "webhook_endpoint.test",
        "hire.audit_pack_exported",
        "audit_packs.exported",
        "hire.personal_data_erased",
        "hire.legal_hold_set",
        "hire.legal_hold_cleared",
    }, seen
    feed = (await client.get("/v1/events", params={"limit": 200}, headers=tenant.headers())).json()
    assert sorted(b["seq"] for b in bodies) == [e["seq"] for e in feed["data"]]


async def test_the_event_types_are_listed_with_their_schemas(client, tenant) -> None:
    r = await client.get("/v1/event-types", headers=tenant.headers("viewer"))
    assert r.status_code == 200
    listed = {t["type"]: t for t in r.json()}
    assert set(listed) == set(CATALOGUE)
    breached = listed["deadline.breached"]
    assert breached["version"] == 1 and breached["subscribable"] is True
    assert breached["schema"]["properties"]["type"]["const"] == "deadline.breached"
    assert listed["webhook_endpoint.test"]["subscribable"] is False


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_the_openapi_document_declares_every_webhook_payload(settings, db, clock, rulebook) -> None:  # type: ignore[no-untyped-def]
    document = create_app(settings, clock=clock, engine=db, rulebook=rulebook).openapi()
    assert document["openapi"].startswith("3.1")
    assert set(document["webhooks"]) == set(CATALOGUE)
    components = document["components"]
    for name, entry in CATALOGUE.items():
        post = document["webhooks"][name]["post"]
        ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{entry.schema_name}"
        assert {p["name"] for p in post["parameters"]} == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    for ref in _refs(document):
        kind, name = ref.removeprefix("#/components/").split("/")
        assert name in components[kind], ref
