"""A key's secret is shown once: only its hash is stored, an Idempotency-Key replay does not bring it
back. Who creates or revokes a key, or changes the organisation, is in the organisation's feed."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.types import SHOWN_ONCE
from app.organisations.principals import hash_key
from tests.support.problems import tables_holding
from tests.support.tenants import Tenant


async def feed(client: AsyncClient, tenant: Tenant) -> list[dict]:  # type: ignore[type-arg]
    r = await client.get("/v1/events", params={"limit": 200}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


async def test_a_keys_secret_is_stored_nowhere_but_as_its_hash(
    client: AsyncClient, tenant: Tenant, db: AsyncEngine
) -> None:
    headers = tenant.headers(**{"Idempotency-Key": "new-portal-key"})
    first = await client.post("/v1/api-keys", json={"name": "HR portal", "role": "hr"}, headers=headers)
    assert first.status_code == 201, first.text
    secret = first.json()["key"]
    assert secret.startswith("sf_")
    assert await tables_holding(db, secret) == set()
    assert await tables_holding(db, hash_key(secret)) == {"api_keys"}

    replay = await client.post("/v1/api-keys", json={"name": "HR portal", "role": "hr"}, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json() | {"key": SHOWN_ONCE}
    # The key works: it was created once, and the replay created none.
    me = await client.get("/v1/hires", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    keys = await client.get("/v1/api-keys", headers=tenant.headers())
    assert [k["name"] for k in keys.json()["data"]].count("HR portal") == 1


async def test_creating_and_revoking_a_key_is_in_the_feed_with_who_did_it(client: AsyncClient, tenant: Tenant) -> None:
    admin = (await client.get("/v1/api-keys", headers=tenant.headers())).json()["data"]
    admin_id = next(k["id"] for k in admin if k["role"] == "admin")
    created = await client.post("/v1/api-keys", json={"name": "Payroll", "role": "viewer"}, headers=tenant.headers())
    key = created.json()
    await client.delete(f"/v1/api-keys/{key['id']}", headers=tenant.headers())
    await client.delete(f"/v1/api-keys/{key['id']}", headers=tenant.headers())  # twice: recorded once

    events = [e for e in await feed(client, tenant) if e["subject_type"] == "api_key"]
    assert [e["type"] for e in events] == ["api_key.created", "api_key.revoked"]
    for event in events:
        assert event["subject_id"] == key["id"]
        assert event["actor"] == {"type": "api_key", "id": admin_id, "role": "admin"}
        assert event["data"] == {"name": "Payroll", "role": "viewer", "prefix": key["prefix"]}
    assert key["key"] not in str(events)


async def test_an_organisation_change_is_in_the_feed_with_each_old_and_new_value(
    client: AsyncClient, tenant: Tenant, platform_key: str
) -> None:
    url = f"/v1/organisations/{tenant.organisation_id}"
    etag = (await client.get(url, headers=tenant.headers())).headers["etag"]
    r = await client.patch(
        url,
        json={"sponsor_size": "small", "nation": "scotland", "name": "Acme Ltd"},
        headers=tenant.headers(**{"If-Match": etag}),
    )
    assert r.status_code == 200, r.text
    by_platform = await client.patch(
        url,
        json={"name": "Acme Group Ltd"},
        headers={"Authorization": f"Bearer {platform_key}", "If-Match": r.headers["etag"]},
    )
    assert by_platform.status_code == 200, by_platform.text

    first, second = [e for e in await feed(client, tenant) if e["type"] == "organisation.updated"]
    # The name sent unchanged is no change.
    assert first["data"]["changed"] == {
        "sponsor_size": {"from": "medium_large", "to": "small"},
        "nation": {"from": "england_and_wales", "to": "scotland"},
    }
    assert first["actor"]["role"] == "admin" and first["subject_id"] == tenant.organisation_id
    assert second["data"]["changed"] == {"name": {"from": "Acme Ltd", "to": "Acme Group Ltd"}}
    assert second["actor"]["role"] == "platform"
