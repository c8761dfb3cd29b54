"""Every error answers RFC 9457 problem+json with a stable code, and changes nothing."""

from __future__ import annotations

import sqlite3

import pytest
from httpx import AsyncClient

from tests.support.databases import TEST_DB
from tests.support.problems import NEW_ORG, assert_problem, organisation_count
from tests.support.tenants import Tenant


async def test_malformed_json_is_400_and_creates_nothing(client: AsyncClient, platform_key: str, db) -> None:
    r = await client.post(
        "/v1/organisations",
        content=b'{"name": ',
        headers={"Authorization": f"Bearer {platform_key}", "Content-Type": "application/json"},
    )
    assert_problem(r, 400, "malformed_json")
    assert await organisation_count(db) == 0


async def test_missing_or_unknown_key_is_401(client: AsyncClient, db) -> None:
    body = assert_problem(await client.get("/v1/api-keys"), 401, "unauthenticated")
    assert "Bearer" in body["detail"]
    r = await client.get("/v1/api-keys", headers={"Authorization": "Bearer sf_deadbeef_nope"})
    assert_problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"


async def test_revoked_key_is_refused_at_once(client: AsyncClient, tenant: Tenant) -> None:
    keys = (await client.get("/v1/api-keys", headers=tenant.headers())).json()["data"]
    viewer = next(k for k in keys if k["role"] == "viewer")
    r = await client.delete(f"/v1/api-keys/{viewer['id']}", headers=tenant.headers())
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert_problem(
        await client.get(f"/v1/organisations/{tenant.organisation_id}", headers=tenant.headers("viewer")),
        401,
        "unauthenticated",
    )


async def test_role_too_low_is_403(client: AsyncClient, tenant: Tenant) -> None:
    r = await client.post("/v1/api-keys", json={"name": "x", "role": "hr"}, headers=tenant.headers("hr"))
    assert_problem(r, 403, "forbidden")
    r = await client.post("/v1/organisations", json=NEW_ORG, headers=tenant.headers("admin"))
    assert_problem(r, 403, "forbidden")


async def test_unknown_route_is_404_problem(client: AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/nowhere"), 404, "not_found")
    assert "/v1/nowhere" in body["detail"]


async def test_wrong_method_is_405_problem(client: AsyncClient) -> None:
    r = await client.put("/healthz")
    assert_problem(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]


async def test_oversized_body_is_413_and_creates_nothing(client: AsyncClient, platform_key: str, db) -> None:
    big = {**NEW_ORG, "name": "x" * 2_000_000}
    r = await client.post("/v1/organisations", json=big, headers={"Authorization": f"Bearer {platform_key}"})
    assert_problem(r, 413, "payload_too_large")
    assert await organisation_count(db) == 0


async def test_non_json_body_is_415(client: AsyncClient, platform_key: str, db) -> None:
    r = await client.post(
        "/v1/organisations",
        content=b"name=x",
        headers={
            "Authorization": f"Bearer {platform_key}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert_problem(r, 415, "unsupported_media_type")
    assert await organisation_count(db) == 0


async def test_schema_violation_is_422_with_field_errors(client: AsyncClient, platform_key: str, db) -> None:
    r = await client.post(
        "/v1/organisations",
        json={"name": "", "sponsor_size": "huge", "nation": "scotland"},
        headers={"Authorization": f"Bearer {platform_key}"},
    )
    body = assert_problem(r, 422, "validation_error")
    locations = {tuple(e["loc"]) for e in body["errors"]}
    assert ("body", "name") in locations and ("body", "sponsor_size") in locations
    assert await organisation_count(db) == 0


async def test_write_without_if_match_is_428_and_stale_is_412(client: AsyncClient, tenant: Tenant) -> None:
    url = f"/v1/organisations/{tenant.organisation_id}"
    assert_problem(
        await client.patch(url, json={"name": "Renamed"}, headers=tenant.headers()),
        428,
        "precondition_required",
    )
    ok = await client.patch(url, json={"name": "Renamed"}, headers=tenant.headers(**{"If-Match": '"1"'}))
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await client.patch(url, json={"name": "Lost update"}, headers=tenant.headers(**{"If-Match": '"1"'}))
    assert_problem(stale, 412, "precondition_failed")
    assert stale.headers["etag"] == '"2"'
    assert (await client.get(url, headers=tenant.headers())).json()["name"] == "Renamed"


async def test_unexpected_error_is_500_without_internals(app, client: AsyncClient) -> None:  # type: ignore[no-untyped-def]
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    from httpx import ASGITransport

    async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t") as c:
        r = await c.get("/boom")
    body = assert_problem(r, 500, "internal_error")
    assert "secret" not in r.text and "Traceback" not in r.text
    assert body["detail"] == "an unexpected error occurred"


@pytest.mark.skipif(TEST_DB != "sqlite", reason="SQLITE_BUSY is SQLite's answer to a held write lock")
async def test_sqlite_busy_is_503_with_retry_after(db, db_dir, clock, platform_key: str) -> None:  # type: ignore[no-untyped-def]
    from httpx import ASGITransport

    from app.main import create_app
    from tests.support.databases import make_settings

    url = db.url.render_as_string(hide_password=False)
    app = create_app(make_settings(url, sqlite_busy_timeout_ms=50), clock=clock)
    blocker = sqlite3.connect(db.url.database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
            r = await c.post("/v1/organisations", json=NEW_ORG, headers={"Authorization": f"Bearer {platform_key}"})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        await app.state.engine.dispose()
    assert_problem(r, 503, "database_busy")
    assert r.headers["retry-after"] == "1"
    assert await organisation_count(db) == 0


async def test_request_id_is_echoed_or_generated(client: AsyncClient) -> None:
    assert (await client.get("/healthz", headers={"X-Request-ID": "abc-123"})).headers["x-request-id"] == "abc-123"
    generated = (await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})).headers["x-request-id"]
    assert generated != "bad id with spaces" and len(generated) == 32


async def test_a_lost_race_to_create_is_a_retryable_409(client: AsyncClient, tenant: Tenant, db) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    admin = tenant.headers("admin")
    body = {"year_start": "2026-01-01", "year_end": "2026-12-31", "granted": 5}
    answers = await asyncio.gather(*(client.put("/v1/cos-allocation", json=body, headers=admin) for _ in range(6)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(200) == 1 and set(statuses) <= {200, 409, 428}, [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert_problem(r, 409, "concurrent_conflict")
