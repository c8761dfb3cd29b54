"""HRIS connections: admin only, the secret shown once and kept encrypted, rotation with a grace period,
a selector and field map per provider, and a deleted connection that stops receiving but loses nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.types import SHOWN_ONCE
from app.config import Settings
from app.integrations.hris.mapping import DEFAULT_FIELD_MAPS
from app.integrations.hris.models import HrisConnection
from app.integrations.hris.providers import Provider
from app.integrations.hris.secrets import SecretBox
from tests.integrations.hris.conftest import Hris, connect
from tests.integrations.hris.senders import Person
from tests.support.problems import tables_holding
from tests.support.tenants import Tenant


@pytest.fixture
def provider() -> str:
    return "bamboohr"


async def test_only_admins_manage_connections(http: AsyncClient, tenant: Tenant) -> None:
    body = {"name": "BambooHR", "provider": "bamboohr", "selector": {"field": "Visa", "values": ["Yes"]}}
    for role in ("hr", "viewer"):
        r = await http.post("/v1/hris-connections", json=body, headers=tenant.headers(role))
        assert r.status_code == 403, r.text
        assert (await http.get("/v1/hris-connections", headers=tenant.headers(role))).status_code == 403


async def test_the_secret_is_shown_once_and_stored_encrypted(hris: Hris, db: AsyncEngine, settings: Settings) -> None:
    connection = hris.connection
    assert connection["signing_secret"] == hris.sender.issued_secret
    assert connection["receiving_url"] == str(hris.http.base_url.join(f"/hooks/hris/{connection['id']}"))
    r = await hris.http.get(f"/v1/hris-connections/{connection['id']}", headers=hris.headers("admin"))
    assert r.status_code == 200 and "signing_secret" not in r.json()
    listed = (await hris.http.get("/v1/hris-connections", headers=hris.headers("admin"))).json()["data"]
    assert [c["id"] for c in listed] == [connection["id"]] and "signing_secret" not in listed[0]
    async with db.connect() as conn:
        stored = (await conn.execute(select(HrisConnection.secret_ciphertext))).scalar_one()
    assert hris.sender.issued_secret not in stored
    assert SecretBox(settings.hris_encryption_keys).open(stored) == hris.sender.issued_secret


@pytest.mark.parametrize("provider", ["standard"])
async def test_a_generated_secret_is_a_standard_webhooks_secret(hris: Hris) -> None:
    assert hris.connection["signing_secret"].startswith("whsec_")
    assert hris.connection["selector"] == {"field": "requires_sponsorship", "values": ["true"]}


async def test_each_provider_starts_with_its_default_field_map(http: AsyncClient, tenant: Tenant) -> None:
    for provider in Provider:
        _, connection = await connect(http, tenant, provider.value)
        assert connection["field_map"] == {k.value: v for k, v in DEFAULT_FIELD_MAPS[provider].items()}


async def test_a_selector_is_required_where_the_hris_has_no_standard_flag(http: AsyncClient, tenant: Tenant) -> None:
    r = await http.post(
        "/v1/hris-connections", json={"name": "Bob", "provider": "hibob"}, headers=tenant.headers("admin")
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "selector"], r.text


async def test_a_secret_the_scheme_cannot_use_is_refused(http: AsyncClient, tenant: Tenant) -> None:
    for provider, secret in (("standard", "whsec_not base64!"), ("merge", "short")):
        r = await http.post(
            "/v1/hris-connections",
            json={
                "name": "x",
                "provider": provider,
                "signing_secret": secret,
                "selector": {"field": "a", "values": ["b"]},
            },
            headers=tenant.headers("admin"),
        )
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "signing_secret"], r.text


async def test_rotation_keeps_the_old_secret_valid_for_the_grace_period(hris: Hris) -> None:
    old = hris.sender.secret
    r = await hris.http.post(
        f"/v1/hris-connections/{hris.connection['id']}/rotate-secret",
        json={"grace_period_hours": 2},
        headers=hris.headers("admin"),
    )
    assert r.status_code == 200, r.text
    new = r.json()["signing_secret"]
    assert new != old and r.json()["previous_secret_expires_at"] == "2026-01-12T11:00:00Z"

    hris.sender.secret = old
    assert (await hris.send("created", Person(id="E1"))).status_code == 202
    hris.clock.set(hris.clock.now() + timedelta(hours=2, seconds=1))
    body, headers = hris.sender.delivery("created", Person(id="E2"), hris.clock.now())
    assert (await hris.post(body, headers)).status_code == 401
    hris.sender.secret = new
    assert (await hris.send("created", Person(id="E2"))).status_code == 202


async def test_updates_need_the_current_version_and_replace_whole_values(hris: Hris) -> None:
    url = f"/v1/hris-connections/{hris.connection['id']}"
    change: dict[str, Any] = {"field_map": {"given_name": "Preferred Name", "family_name": "Last Name"}}
    assert (await hris.http.patch(url, json=change, headers=hris.headers("admin"))).status_code == 428
    stale = hris.headers("admin") | {"If-Match": '"0"'}
    assert (await hris.http.patch(url, json=change, headers=stale)).status_code == 412
    r = await hris.http.patch(url, json=change, headers=hris.headers("admin") | {"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["field_map"] == change["field_map"] and r.headers["etag"] == '"2"'
    bad = await hris.http.patch(url, json={"selector": None}, headers=hris.headers("admin") | {"If-Match": '"2"'})
    assert bad.status_code == 422


async def test_a_deleted_connection_stops_receiving_and_keeps_its_events(hris: Hris) -> None:
    receipt = (await hris.send("created", Person())).json()
    url = f"/v1/hris-connections/{hris.connection['id']}"
    assert (await hris.http.delete(url, headers=hris.headers("admin"))).status_code == 204
    assert (await hris.http.get(url, headers=hris.headers("admin"))).status_code == 404
    body, headers = hris.sender.delivery("updated", Person(), hris.clock.now())
    assert (await hris.post(body, headers)).status_code == 404
    assert [e["id"] for e in await hris.events()] == receipt["events"]


async def test_another_organisation_sees_none_of_it(hris: Hris, other_tenant: Tenant) -> None:
    await hris.send("created", Person())
    other = other_tenant.headers("admin")
    assert (await hris.http.get(f"/v1/hris-connections/{hris.connection['id']}", headers=other)).status_code == 404
    assert (await hris.http.get("/v1/hris-events", headers=other)).json()["data"] == []


def test_production_needs_its_own_encryption_key_for_signing_secrets() -> None:
    from cryptography.fernet import Fernet
    from pydantic import ValidationError

    from app.config import DEVELOPMENT_ENCRYPTION_KEY

    for keys in ([], [DEVELOPMENT_ENCRYPTION_KEY], ["not a key"]):
        with pytest.raises(ValidationError, match="SPONSORFLOW_HRIS_ENCRYPTION_KEYS"):
            Settings(environment="production", hris_encryption_keys=keys)  # type: ignore[arg-type]
    current, retired = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = SecretBox(Settings(hris_encryption_keys=[retired]).hris_encryption_keys).seal("s3cret-s3cret-s3cret")
    box = SecretBox(Settings(environment="production", hris_encryption_keys=[current, retired]).hris_encryption_keys)  # type: ignore[arg-type]
    assert box.open(sealed) == "s3cret-s3cret-s3cret"  # a retired key still decrypts while listed


async def test_a_replayed_connection_does_not_bring_the_secret_back(
    http: AsyncClient, tenant: Tenant, db: AsyncEngine
) -> None:
    body = {"name": "BambooHR", "provider": "bamboohr", "selector": {"field": "Visa", "values": ["Yes"]}}
    once = tenant.headers("admin", **{"Idempotency-Key": "connect-1"})
    first = await http.post("/v1/hris-connections", json=body, headers=once)
    assert first.status_code == 201, first.text
    replay = await http.post("/v1/hris-connections", json=body, headers=once)
    assert replay.json() == first.json() | {"signing_secret": SHOWN_ONCE}
    # Kept encrypted only: the plain secret is in no table.
    assert await tables_holding(db, first.json()["signing_secret"]) == set()
