"""API keys are cached per process: a revocation takes effect at once in the process that revoked, and
within `api_key_cache_seconds` in every other one; nothing the cache keeps can outlive a local write."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from app.config import Settings
from app.main import create_app
from app.rules.book import RuleBook
from app.web.auth import CACHE_INFO, KeyCache
from tests.support.problems import assert_problem
from tests.support.tenants import Tenant

TTL = 10.0


class Ticker:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
async def other_replica(
    settings: Settings, db: AsyncEngine, clock: FrozenClock, rulebook: RuleBook, ticker: Ticker
) -> AsyncIterator[AsyncClient]:
    """A second process serving the same database, with its own cache on the test's clock."""
    app = create_app(settings, clock=clock, engine=db, rulebook=rulebook)
    app.state.key_cache = KeyCache(TTL, now=ticker)
    app.state.sessionmaker.configure(info={CACHE_INFO: app.state.key_cache})
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://replica") as c:
        yield c


async def _revoke(client: AsyncClient, tenant: Tenant, role: str) -> None:
    keys = (await client.get("/v1/api-keys", headers=tenant.headers())).json()["data"]
    key = next(k for k in keys if k["role"] == role)
    r = await client.delete(f"/v1/api-keys/{key['id']}", headers=tenant.headers())
    assert r.status_code == 200 and r.json()["revoked_at"]


async def test_a_key_revoked_here_is_refused_here_at_once_even_when_cached(client: AsyncClient, tenant: Tenant) -> None:
    org = f"/v1/organisations/{tenant.organisation_id}"
    assert (await client.get(org, headers=tenant.headers("viewer"))).status_code == 200  # now cached
    await _revoke(client, tenant, "viewer")
    assert_problem(await client.get(org, headers=tenant.headers("viewer")), 401, "unauthenticated")


async def test_another_process_refuses_a_revoked_key_within_the_cache_time(
    client: AsyncClient, other_replica: AsyncClient, tenant: Tenant, ticker: Ticker
) -> None:
    org = f"/v1/organisations/{tenant.organisation_id}"
    assert (await other_replica.get(org, headers=tenant.headers("viewer"))).status_code == 200
    await _revoke(client, tenant, "viewer")
    ticker.t += TTL - 0.5
    # The documented window: the other process still trusts what it read...
    assert (await other_replica.get(org, headers=tenant.headers("viewer"))).status_code == 200
    ticker.t += 0.5
    # ...and not a moment longer.
    assert_problem(await other_replica.get(org, headers=tenant.headers("viewer")), 401, "unauthenticated")


async def test_a_lookup_that_raced_a_revocation_does_not_cache_what_it_read() -> None:
    cache = KeyCache(TTL)
    generation = cache.generation  # a request starts reading the key...
    cache.clear()  # ...a revocation commits meanwhile...
    cache.put("digest", "the key as it was", generation)  # ...and the request finishes
    assert cache.get("digest") is None


async def test_unknown_keys_are_not_cached_and_the_cache_is_bounded(ticker: Ticker) -> None:
    cache = KeyCache(TTL, now=ticker, max_entries=2)
    for name in ("a", "b", "c"):
        cache.put(name, name, cache.generation)
    assert cache.get("a") is None and cache.get("c") == "c"
    off = KeyCache(0, now=ticker)
    off.put("a", "a", off.generation)
    assert off.get("a") is None  # api_key_cache_seconds=0 turns it off


async def test_an_organisation_changed_here_is_looked_up_afresh_at_once(
    app: FastAPI, client: AsyncClient, tenant: Tenant, platform_key: str
) -> None:
    platform = {"Authorization": f"Bearer {platform_key}", "Sponsorflow-Organisation": tenant.organisation_id}
    assert (await client.get("/v1/hires", headers=platform)).status_code == 200  # acts for it: cached
    cached = app.state.key_cache.get(f"org:{tenant.organisation_id}")
    assert cached is not None and cached.nation == "england_and_wales"
    r = await client.get(f"/v1/organisations/{tenant.organisation_id}", headers=platform)
    r = await client.patch(
        f"/v1/organisations/{tenant.organisation_id}",
        json={"nation": "scotland"},
        headers=platform | {"If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    # The commit dropped the cached context: the next request reads (and counts days in) Scotland.
    assert app.state.key_cache.get(f"org:{tenant.organisation_id}") is None
    assert (await client.get("/v1/hires", headers=platform)).status_code == 200
    assert app.state.key_cache.get(f"org:{tenant.organisation_id}").nation == "scotland"
