"""POSTs with Idempotency-Key are safe to retry."""

from __future__ import annotations

import json
from datetime import timedelta

from httpx import AsyncClient

from app.api.models import IdempotencyRecord
from app.db.engine import create_sessionmaker
from app.web.idempotency import fingerprint
from tests.support.problems import NEW_ORG, assert_problem, organisation_count

BODY = json.dumps(NEW_ORG).encode()
JSON = {"Content-Type": "application/json"}


def auth(key: str, idem: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    if idem:
        headers["Idempotency-Key"] = idem
    return headers


async def test_a_repeat_replays_the_first_response_and_creates_once(client: AsyncClient, platform_key, db) -> None:  # type: ignore[no-untyped-def]
    first = await client.post("/v1/organisations", json=NEW_ORG, headers=auth(platform_key, "k-1"))
    again = await client.post("/v1/organisations", json=NEW_ORG, headers=auth(platform_key, "k-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"] and again.headers["location"] == first.headers["location"]
    assert await organisation_count(db) == 1


async def test_the_same_key_with_another_body_is_422(client: AsyncClient, platform_key, db) -> None:  # type: ignore[no-untyped-def]
    await client.post("/v1/organisations", json=NEW_ORG, headers=auth(platform_key, "k-2"))
    r = await client.post("/v1/organisations", json={**NEW_ORG, "name": "Other"}, headers=auth(platform_key, "k-2"))
    assert_problem(r, 422, "idempotency_key_reused")
    assert await organisation_count(db) == 1


async def test_keys_are_per_api_key(client: AsyncClient, platform_key, tenant, db) -> None:  # type: ignore[no-untyped-def]
    a = await client.post(
        "/v1/api-keys",
        json={"name": "a", "role": "hr"},
        headers=tenant.headers(**{"Idempotency-Key": "same"}),
    )
    b = await client.post("/v1/organisations", json=NEW_ORG, headers=auth(platform_key, "same"))
    assert a.status_code == b.status_code == 201


async def test_a_duplicate_while_the_first_runs_is_409(client: AsyncClient, platform_key, clock, db) -> None:  # type: ignore[no-untyped-def]
    first = await client.post("/v1/organisations", json=NEW_ORG, headers=auth(platform_key, "warmup"))
    assert first.status_code == 201
    sessions = create_sessionmaker(db)
    async with sessions() as session:
        principal_id = (await session.get(IdempotencyRecord, 1)).principal_id  # type: ignore[union-attr]
    # The first request's claim, as if it were still running.
    record = IdempotencyRecord(
        principal_id=principal_id,
        key="k-3",
        fingerprint=fingerprint("POST", "/v1/organisations", "", BODY),
        locked_at=clock.now(),
        created_at=clock.now(),
    )
    async with sessions() as session, session.begin():
        session.add(record)
    r = await client.post("/v1/organisations", content=BODY, headers=auth(platform_key, "k-3") | JSON)
    assert_problem(r, 409, "idempotency_request_in_progress")
    assert await organisation_count(db) == 1
    # A claim whose request died is taken over once the lock has expired.
    clock.set(clock.now() + timedelta(minutes=5))
    retried = await client.post("/v1/organisations", content=BODY, headers=auth(platform_key, "k-3") | JSON)
    assert retried.status_code == 201
    assert await organisation_count(db) == 2


async def test_a_refused_request_is_replayed_too(client: AsyncClient, tenant, db) -> None:  # type: ignore[no-untyped-def]
    headers = tenant.headers(**{"Idempotency-Key": "k-4"})
    first = await client.post("/v1/api-keys", json={"name": "p", "role": "platform"}, headers=headers)
    again = await client.post("/v1/api-keys", json={"name": "p", "role": "platform"}, headers=headers)
    assert_problem(first, 422, "invalid_role")
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"


async def test_validation_errors_do_not_burn_the_key(client: AsyncClient, platform_key, db) -> None:  # type: ignore[no-untyped-def]
    bad = await client.post("/v1/organisations", json={"name": "x"}, headers=auth(platform_key, "k-5"))
    assert_problem(bad, 422, "validation_error")
    good = await client.post("/v1/organisations", json={"name": "x"}, headers=auth(platform_key, "k-5"))
    assert good.status_code == 422 and "idempotent-replayed" not in good.headers


async def test_keys_are_forgotten_after_the_retention_window(client: AsyncClient, platform_key, clock, db) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from app.web.idempotency import prune

    await client.post("/v1/organisations", json=NEW_ORG, headers=auth(platform_key, "old"))
    sessions = create_sessionmaker(db)
    assert await prune(sessions, clock.now()) == 0  # not older than now
    assert await prune(sessions, clock.now() + timedelta(hours=25)) == 1
    again = await client.post("/v1/organisations", json=NEW_ORG, headers=auth(platform_key, "old"))
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert await organisation_count(db) == 2
