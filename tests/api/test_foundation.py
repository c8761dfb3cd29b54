"""Promises of the service foundation: transactions, tenancy, paging, docs, readiness, settings."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import SessionTransaction

from app.config import Settings
from app.db.session import SessionRoute, get_session
from app.organisations.principals import Role
from app.web.contract import dependency_calls
from app.web.routing import RoleCheck
from tests.support.problems import NEW_ORG, assert_problem, organisation_count
from tests.support.tenants import Tenant


async def test_a_commit_that_fails_reaches_the_client_as_an_error(
    client: AsyncClient,
    platform_key: str,
    db,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    def failing_commit(self: SessionTransaction, *args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(SessionTransaction, "commit", failing_commit)
    r = await client.post("/v1/organisations", json=NEW_ORG, headers={"Authorization": f"Bearer {platform_key}"})
    monkeypatch.undo()
    assert_problem(r, 500, "internal_error")
    assert await organisation_count(db) == 0


async def test_a_key_never_sees_another_organisations_objects(
    client: AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    other = f"/v1/organisations/{other_tenant.organisation_id}"
    assert_problem(await client.get(other, headers=tenant.headers()), 404, "not_found")
    assert_problem(
        await client.patch(other, json={"name": "x"}, headers=tenant.headers(**{"If-Match": "*"})),
        404,
        "not_found",
    )
    their_keys = (await client.get("/v1/api-keys", headers=other_tenant.headers())).json()["data"]
    r = await client.delete(f"/v1/api-keys/{their_keys[0]['id']}", headers=tenant.headers())
    assert_problem(r, 404, "not_found")
    mine = (await client.get("/v1/api-keys", headers=tenant.headers())).json()["data"]
    assert {k["organisation_id"] for k in mine} == {tenant.organisation_id}


async def test_a_platform_key_acts_for_the_organisation_it_names(
    client: AsyncClient, platform_key: str, tenant: Tenant
) -> None:
    bearer = {"Authorization": f"Bearer {platform_key}"}
    assert_problem(await client.get("/v1/api-keys", headers=bearer), 400, "organisation_required")
    assert_problem(
        await client.get("/v1/api-keys", headers=bearer | {"Sponsorflow-Organisation": "org_unknown"}),
        404,
        "not_found",
    )
    created = await client.post(
        "/v1/api-keys",
        json={"name": "first admin", "role": "admin"},
        headers=bearer | {"Sponsorflow-Organisation": tenant.organisation_id},
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("sf_") and created.json()["prefix"] in key
    listed = (await client.get("/v1/api-keys", headers={"Authorization": f"Bearer {key}"})).json()["data"]
    assert all("key" not in k for k in listed)


async def test_lists_page_with_opaque_cursors_in_a_stable_order(client: AsyncClient, platform_key: str) -> None:
    bearer = {"Authorization": f"Bearer {platform_key}"}
    for i in range(5):
        await client.post("/v1/organisations", json={**NEW_ORG, "name": f"Org {i}"}, headers=bearer)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/organisations", params=params, headers=bearer)).json()
        seen += [o["name"] for o in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Org {i}" for i in range(5)]
    assert_problem(
        await client.get("/v1/organisations", params={"cursor": "%%%"}, headers=bearer), 400, "invalid_cursor"
    )


async def test_docs_render_without_any_external_host(client: AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        urls = re.findall(r"""(?:src|href|url)\s*[=:(]\s*['"]?([^'"\s)>]+)""", html)
        assert urls, page
        external = [u for u in urls if re.match(r"(https?:)?//", u)]
        assert external == [], f"{page} loads {external}"
        for asset in [u for u in urls if u.startswith("/static")]:
            assert (await client.get(asset)).status_code == 200, asset


async def test_operation_ids_read_well_in_generated_clients(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert "createOrganisation" in ids and "revokeApiKey" in ids
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids
    assert "Problem" in spec["components"]["schemas"]
    assert "Idempotency-Key" in spec["info"]["description"]


def _running(pid: int) -> bool:
    """A backend leaves pg_stat_activity a few milliseconds before its process ends and closes its socket:
    on this host (CI's server is local) the process itself says when."""
    return Path(f"/proc/{pid}").exists()


@pytest.mark.postgres_only
async def test_a_connection_the_server_closed_is_replaced_without_failing_a_request(
    client: AsyncClient, tenant: Tenant, db: AsyncEngine
) -> None:
    headers = tenant.headers("viewer")
    assert (await client.get("/v1/hires", headers=headers)).status_code == 200  # the pool holds a connection
    admin = await asyncpg.connect(db.url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        others = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        pids = [row["pid"] for row in await admin.fetch(others)]
        assert pids
        await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", pids)
        for _ in range(200):  # until those backends have exited, their sockets closed
            listed = await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids)
            if not listed and not any(_running(pid) for pid in pids):
                break
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
    await asyncio.sleep(0.05)  # I/O, not time: the event loop reads each closed socket's end
    r = await client.get("/v1/hires", headers=headers)
    assert r.status_code == 200, r.text


@pytest.mark.postgres_only
async def test_a_statement_that_finds_its_connection_dead_answers_503_and_the_pool_drops_it(
    client: AsyncClient, tenant: Tenant, db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What asyncpg raises for a statement sent in the milliseconds between a backend's termination and
    # asyncpg reading its socket's end (made to happen here: the window is too short to aim at).
    headers = tenant.headers("viewer")
    assert (await client.get("/v1/hires", headers=headers)).status_code == 200
    fetch = asyncpg.prepared_stmt.PreparedStatement.fetch
    failed: list[bool] = []

    async def dying_fetch(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not failed:
            failed.append(True)
            raise asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress")
        return await fetch(self, *args, **kwargs)

    invalidated: list[object] = []

    def note(*args: Any) -> None:
        invalidated.append(args)

    event.listen(db.sync_engine, "invalidate", note)
    monkeypatch.setattr(asyncpg.prepared_stmt.PreparedStatement, "fetch", dying_fetch)
    try:
        r = await client.get("/v1/hires", headers=headers)
    finally:
        event.remove(db.sync_engine, "invalidate", note)
    assert_problem(r, 503, "database_busy")
    assert r.headers["Retry-After"] == "1"
    assert invalidated  # not handed back to the pool for the next request to fail on
    assert (await client.get("/v1/hires", headers=headers)).status_code == 200


def opens_session(calls: set[Any]) -> bool:
    return get_session in calls or any(isinstance(call, RoleCheck) for call in calls)


def test_every_route_that_takes_a_session_closes_it_once_its_endpoint_returns(app: FastAPI) -> None:
    # The session dependency only opens one; the route class closes it (app.db.session).
    routes = [r for r in iter_route_contexts(app.routes) if isinstance(r.original_route, APIRoute)]
    with_session = [r for r in routes if opens_session(set(dependency_calls(r.dependant)))]
    assert len(with_session) > 50
    assert [r.path for r in with_session if not isinstance(r.original_route, SessionRoute)] == []


# What FastAPI resolves on every request of a hot route, each dependency costing it 15-25 µs of its own
# bookkeeping whatever the dependency does (bench/README.md, eleventh round): the organisation scope
# (key, role, session, clock, rules) is one, If-Match and the cursor one each.
DEPENDENCY_BUDGET = {
    ("POST", "/v1/hires/{hire_id}/actions/{action}"): 2,
    ("GET", "/v1/hires/{hire_id}"): 1,
    ("GET", "/v1/hires"): 2,
}


def test_the_hot_routes_resolve_one_dependency_for_the_organisation_scope(app: FastAPI) -> None:
    routes = {
        (method, r.path): r
        for r in iter_route_contexts(app.routes)
        if isinstance(r.original_route, APIRoute)
        for method in r.methods or ()
    }
    for key, budget in DEPENDENCY_BUDGET.items():
        calls = list(dependency_calls(routes[key].dependant))
        assert len(calls) <= budget, (key, calls)
        assert sum(isinstance(call, RoleCheck) for call in calls) == 1, key


async def test_a_route_that_does_not_declare_the_rules_cannot_read_them(app: FastAPI, tenant: Tenant) -> None:
    # Only a route that declares the rules documents their answers (422 rule_not_in_force): one that
    # read them undeclared would answer what its contract does not list.
    headers = [(k.lower().encode(), v.encode()) for k, v in tenant.headers("viewer").items()]
    request = Request({"type": "http", "app": app, "headers": headers, "state": {}})
    undeclared = await RoleCheck(Role.viewer, rules=False)(request)
    declared = await RoleCheck(Role.viewer, rules=True)(request)
    try:
        assert undeclared.organisation_id == tenant.organisation_id
        with pytest.raises(RuntimeError, match="WithRules"):
            undeclared.book  # noqa: B018
        assert declared.book is app.state.rulebook
    finally:
        await undeclared.session.close()
        await declared.session.close()


async def test_a_request_hands_its_connection_back_before_it_is_answered(
    app: FastAPI, tenant: Tenant, db: AsyncEngine
) -> None:
    pool: Any = db.sync_engine.pool
    held_when_answering: list[int] = []

    async def watched(scope: Any, receive: Any, send: Any) -> None:
        async def watching_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                held_when_answering.append(pool.checkedout())
            await send(message)

        await app(scope, receive, watching_send)

    hr = tenant.headers("hr")
    async with AsyncClient(transport=ASGITransport(app=watched), base_url="http://test") as client:
        answered = [
            (await client.get("/v1/hires", headers=hr)).status_code,
            (await client.post("/v1/hires", json={"given_name": "Ada"}, headers=hr)).status_code,  # invalid
            (await client.get("/v1/hires/hire_missing", headers=hr)).status_code,  # refused by the use case
        ]
    assert answered == [200, 422, 404]
    assert held_when_answering == [0, 0, 0]


async def test_health_and_readiness(client: AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_not_ready_until_migrated(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    from httpx import ASGITransport

    from app.main import create_app
    from tests.support.databases import make_settings

    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"), clock=clock)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        assert_problem(await c.get("/readyz"), 503, "migrations_pending")
    await app.state.engine.dispose()


def test_production_refuses_development_only_features() -> None:
    with pytest.raises(ValidationError, match="SPONSORFLOW_SANDBOX_ENABLED"):
        Settings(environment="production", sandbox_enabled=True)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="SPONSORFLOW_BOOTSTRAP_DEV_KEYS"):
        Settings(environment="production", bootstrap_dev_keys=True)  # type: ignore[arg-type]
    prod = Settings(environment="production", hris_encryption_keys=[Fernet.generate_key().decode()])  # type: ignore[arg-type]
    assert prod.sandbox_enabled is False and prod.bootstrap_dev_keys is False
    dev = Settings()
    assert dev.sandbox_enabled is True and dev.database_url.startswith("sqlite")


async def test_sandbox_organisations_are_refused_when_sandbox_is_off(
    db,
    clock,
    platform_key: str,  # type: ignore[no-untyped-def]
) -> None:
    from httpx import ASGITransport

    from app.main import create_app
    from tests.support.databases import make_settings

    app = create_app(
        make_settings(db.url.render_as_string(hide_password=False), sandbox_enabled=False),
        clock=clock,
        engine=db,
    )
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post(
            "/v1/organisations",
            json={**NEW_ORG, "sandbox": True},
            headers={"Authorization": f"Bearer {platform_key}"},
        )
    assert_problem(r, 422, "sandbox_disabled")


async def test_first_run_bootstrap_creates_keys_once(db, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    from app.db.engine import create_sessionmaker
    from app.organisations.bootstrap import bootstrap_development

    path = tmp_path / "dev-keys.env"
    values = await bootstrap_development(create_sessionmaker(db), path, clock.now())
    assert values is not None and path.read_text().count("export SPONSORFLOW_") == 3
    assert await bootstrap_development(create_sessionmaker(db), path, clock.now()) is None
