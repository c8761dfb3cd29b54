"""Endpoints over HTTP: the secret shown once, subscriptions checked against the catalogue, tenancy."""

from __future__ import annotations

from app.api.types import SHOWN_ONCE
from app.integrations.webhooks.catalogue import SUBSCRIBABLE
from tests.support.problems import tables_holding
from tests.support.webhooks import Hooks, Receiver


async def test_the_secret_is_shown_once_and_never_listed(hooks: Hooks, receiver: Receiver, client) -> None:
    created = await hooks.endpoint(receiver.url(), ["deadline.breached", "hire.state_changed"], description="HRIS")
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["deadline.breached", "hire.state_changed"]
    read = await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=hooks.headers())
    assert read.status_code == 200 and "secret" not in read.json()
    assert read.headers["etag"] == '"1"'
    listed = await client.get("/v1/webhook-endpoints", headers=hooks.headers())
    assert [e["id"] for e in listed.json()["data"]] == [created["id"]]
    assert all("secret" not in e for e in listed.json()["data"])


async def test_an_unknown_event_type_is_refused_and_nothing_is_created(
    hooks: Hooks, receiver: Receiver, client
) -> None:
    r = await client.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url(), "event_types": ["hire.state_changed", "hire.exploded"]},
        headers=hooks.headers(),
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_event_type", r.text
    assert "hire.exploded" in r.json()["detail"]
    test_only = await client.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url(), "event_types": ["webhook_endpoint.test"]},
        headers=hooks.headers(),
    )
    assert test_only.status_code == 422
    assert (await client.get("/v1/webhook-endpoints", headers=hooks.headers())).json()["data"] == []
    assert "webhook_endpoint.disabled" in SUBSCRIBABLE


async def test_patch_needs_the_current_etag_and_changes_only_what_was_sent(
    hooks: Hooks, receiver: Receiver, client
) -> None:
    created = await hooks.endpoint(receiver.url(), ["hire.state_changed"], description="portal")
    path = f"/v1/webhook-endpoints/{created['id']}"
    assert (await client.patch(path, json={"description": "x"}, headers=hooks.headers())).status_code == 428
    r = await client.patch(path, json={"event_types": None}, headers=hooks.headers(**{"If-Match": '"1"'}))
    assert r.status_code == 200, r.text
    assert r.json()["event_types"] is None and r.json()["description"] == "portal" and r.headers["etag"] == '"2"'
    stale = await client.patch(path, json={"description": "lost"}, headers=hooks.headers(**{"If-Match": '"1"'}))
    assert stale.status_code == 412
    null_url = await client.patch(path, json={"url": None}, headers=hooks.headers(**{"If-Match": '"2"'}))
    assert null_url.status_code == 422
    assert (await client.get(path, headers=hooks.headers())).json()["description"] == "portal"


async def test_deleting_an_endpoint_removes_it_and_its_log(hooks: Hooks, receiver: Receiver, client, tenant) -> None:
    created = await hooks.endpoint(receiver.url())
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    await hooks.relay()
    (delivery,) = await hooks.deliveries(created["id"])
    r = await client.delete(f"/v1/webhook-endpoints/{created['id']}", headers=hooks.headers())
    assert r.status_code == 204
    assert (await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=hooks.headers())).status_code == 404
    assert (await client.get(f"/v1/webhook-deliveries/{delivery['id']}", headers=hooks.headers())).status_code == 404


async def test_another_organisations_endpoints_and_deliveries_are_not_found(
    hooks: Hooks, receiver: Receiver, client, tenant, other_tenant
) -> None:
    created = await hooks.endpoint(receiver.url())
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    await hooks.relay()
    (delivery,) = await hooks.deliveries(created["id"])
    other = other_tenant.headers("admin")
    for method, path in (
        ("GET", f"/v1/webhook-endpoints/{created['id']}"),
        ("GET", f"/v1/webhook-endpoints/{created['id']}/deliveries"),
        ("POST", f"/v1/webhook-endpoints/{created['id']}/test"),
        ("POST", f"/v1/webhook-endpoints/{created['id']}/rotate-secret"),
        ("DELETE", f"/v1/webhook-endpoints/{created['id']}"),
        ("GET", f"/v1/webhook-deliveries/{delivery['id']}"),
        ("POST", f"/v1/webhook-deliveries/{delivery['id']}/redeliver"),
    ):
        r = await client.request(method, path, headers=other)
        assert r.status_code == 404, (method, path, r.text)
    assert (await client.get("/v1/webhook-endpoints", headers=other)).json()["data"] == []


async def test_managing_endpoints_needs_the_admin_role(hooks: Hooks, receiver: Receiver, client, tenant) -> None:
    r = await client.post("/v1/webhook-endpoints", json={"url": receiver.url()}, headers=tenant.headers("hr"))
    assert r.status_code == 403
    assert (await client.get("/v1/webhook-endpoints", headers=tenant.headers("viewer"))).status_code == 403
    assert (await client.get("/v1/event-types", headers=tenant.headers("viewer"))).status_code == 200


async def test_the_delivery_log_pages_newest_first_and_filters(
    hooks: Hooks, receiver: Receiver, client, tenant
) -> None:
    created = await hooks.endpoint(receiver.url())
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    for _ in range(2):
        r = await client.put(
            "/v1/cos-allocation",
            json={"year_start": "2026-01-01", "year_end": "2026-12-31", "granted": 5},
            headers=tenant.headers(**{"If-Match": "*"}),
        )
        assert r.status_code in (200, 201), r.text
    await hooks.relay()
    path = f"/v1/webhook-endpoints/{created['id']}/deliveries"
    first = await client.get(path, params={"limit": 2}, headers=hooks.headers())
    second = await client.get(path, params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=hooks.headers())
    seqs = [d["seq"] for d in first.json()["data"] + second.json()["data"]]
    assert seqs == [3, 2, 1] and second.json()["next_cursor"] is None
    only = await hooks.deliveries(created["id"], event_type="licence.created")
    assert [d["seq"] for d in only] == [1]
    assert await hooks.deliveries(created["id"], status="failed") == []
    bad = await client.get(path, params={"created_after": "2026-01-12T09:00:00"}, headers=hooks.headers())
    assert bad.status_code == 422, "a time without a zone is refused, not guessed"


async def test_a_replayed_creation_or_rotation_does_not_bring_the_secret_back(
    hooks: Hooks, receiver: Receiver, client, db
) -> None:
    once = hooks.headers(**{"Idempotency-Key": "endpoint-1"})
    body = {"url": receiver.url(), "event_types": None}
    first = await client.post("/v1/webhook-endpoints", json=body, headers=once)
    assert first.status_code == 201, first.text
    replay = await client.post("/v1/webhook-endpoints", json=body, headers=once)
    assert replay.json() == first.json() | {"secret": SHOWN_ONCE}
    rotate = f"/v1/webhook-endpoints/{first.json()['id']}/rotate-secret"
    rotated = await client.post(rotate, headers=hooks.headers(**{"Idempotency-Key": "rotate-1"}))
    assert rotated.status_code == 200, rotated.text
    again = await client.post(rotate, headers=hooks.headers(**{"Idempotency-Key": "rotate-1"}))
    assert again.json()["secret"] == SHOWN_ONCE
    for secret in (first.json()["secret"], rotated.json()["secret"]):
        # Signing needs the secret itself, so the endpoint keeps it; the idempotency record does not.
        assert await tables_holding(db, secret) == {"webhook_endpoints"}
