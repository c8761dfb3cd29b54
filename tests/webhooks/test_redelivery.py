"""The delivery log in use: redelivery, bulk redelivery after an outage, test events, disabling."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.integrations.webhooks.catalogue import ENVELOPES
from app.integrations.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.support.webhooks import Answer, Hooks, Receiver

SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


async def exhaust(hooks: Hooks, start: datetime) -> datetime:
    """Run relay passes at every step of the schedule from `start`; returns the last step's time."""
    at = start
    for delay in SCHEDULE:
        at += timedelta(seconds=delay)
        await hooks.relay(at)
    return at


async def submit_licence(client, tenant) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/v1/licence/actions/submit", json={}, headers=tenant.headers(**{"If-Match": "*"}))
    assert r.status_code == 200, r.text


async def test_a_failed_delivery_is_redelivered_with_the_same_webhook_id(
    hooks: Hooks, receiver: Receiver, client, tenant
) -> None:
    endpoint = await hooks.endpoint(receiver.url())
    receiver.default = Answer(500)
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    hooks.clock.set(await exhaust(hooks, hooks.clock.now()))
    (failed,) = await hooks.deliveries(endpoint["id"], status="failed")

    receiver.default = Answer(200)
    r = await client.post(f"/v1/webhook-deliveries/{failed['id']}/redeliver", headers=hooks.headers())
    assert r.status_code == 202 and r.json()["status"] == "pending" and r.json()["trigger"] == "redelivery"
    await hooks.relay(hooks.later(minutes=1))

    detail = await hooks.delivery(failed["id"])
    assert detail["status"] == "succeeded"
    assert len(detail["attempts"]) == len(SCHEDULE) + 1
    last = detail["attempts"][-1]
    assert (last["trigger"], last["schedule_step"], last["succeeded"]) == ("redelivery", 0, True)
    assert len({r.headers["webhook-id"] for r in receiver.on("/hook")}) == 1


async def test_everything_failed_since_an_outage_began_is_redelivered_in_order(
    hooks: Hooks, receiver: Receiver, client, tenant
) -> None:
    endpoint = await hooks.endpoint(receiver.url())
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    await hooks.relay()  # delivered before the outage
    outage = hooks.later(hours=1)
    receiver.default = Answer(503)
    await submit_licence(client, tenant)
    r = await client.put(
        "/v1/cos-allocation",
        json={"year_start": "2026-01-01", "year_end": "2026-12-31", "granted": 3},
        headers=tenant.headers(),
    )
    assert r.status_code in (200, 201), r.text
    at = await exhaust(hooks, outage)  # the first of the two exhausts its schedule...
    at = await exhaust(hooks, at)  # ...then the second
    assert [d["status"] for d in await hooks.deliveries(endpoint["id"])] == ["failed", "failed", "succeeded"]

    receiver.default = Answer(200)
    hooks.clock.set(at + timedelta(hours=1))
    r = await client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/redeliver-failed",
        json={"since": outage.isoformat()},
        headers=hooks.headers(),
    )
    assert r.status_code == 202 and r.json() == {"redelivered": 2}, r.text
    before = len(receiver.on("/hook"))
    await hooks.relay()
    redelivered = [r.json for r in receiver.on("/hook")[before:]]
    assert [(b["type"], b["seq"]) for b in redelivered] == [("licence.state_changed", 2), ("cos_allocation.updated", 3)]
    assert {d["status"] for d in await hooks.deliveries(endpoint["id"])} == {"succeeded"}


async def test_a_test_event_goes_to_the_tested_endpoint_only(hooks: Hooks, receiver: Receiver, client, tenant) -> None:
    tested = await hooks.endpoint(receiver.url("/tested"), ["deadline.breached"])
    await hooks.endpoint(receiver.url("/everything"))
    r = await client.post(f"/v1/webhook-endpoints/{tested['id']}/test", headers=hooks.headers())
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/webhook-deliveries/{r.json()['id']}"
    await hooks.relay()
    (received,) = receiver.on("/tested")
    body = received.json
    assert body["type"] == "webhook_endpoint.test" and body["data"]["subject_id"] == tested["id"]
    assert receiver.on("/everything") == []
    assert (await hooks.delivery(r.json()["id"]))["status"] == "succeeded"
    feed = (await client.get("/v1/events", headers=tenant.headers())).json()["data"]
    assert [e["type"] for e in feed] == ["webhook_endpoint.test"], "the test is part of the audit trail"


async def test_an_endpoint_failing_for_five_days_is_disabled_and_the_others_hear_of_it(
    hooks: Hooks, receiver: Receiver, client, tenant
) -> None:
    failing = await hooks.endpoint(receiver.url("/down"))
    watcher = await hooks.endpoint(receiver.url("/ops"), ["webhook_endpoint.disabled"])
    receiver.script("/down", *[Answer(500)] * 100)
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    await submit_licence(client, tenant)
    for granted in (1, 2, 3):
        r = await client.put(
            "/v1/cos-allocation",
            json={"year_start": "2026-01-01", "year_end": "2026-12-31", "granted": granted},
            headers=tenant.headers(**{"If-Match": "*"}),
        )
        assert r.status_code in (200, 201), r.text
    first_failure = hooks.clock.now()
    await hooks.relay()
    # Follow the endpoint's own schedule: each pass runs when its queue's head is due.
    sessions = hooks.app.state.sessionmaker
    for _ in range(100):
        async with sessions() as session:
            row = await session.get(WebhookEndpoint, failing["id"])
            assert row is not None
            if not row.enabled:
                break
            due = row.next_attempt_at
        assert due is not None, "the endpoint ran out of work before five days of failure"
        await hooks.relay(due)
    detail = (await client.get(f"/v1/webhook-endpoints/{failing['id']}", headers=hooks.headers())).json()
    assert detail["enabled"] is False and detail["disabled_reason"].startswith("every attempt failed since")
    async with sessions() as session:
        attempts = (
            await session.execute(
                select(WebhookDelivery.last_attempt_at).where(WebhookDelivery.endpoint_id == failing["id"])
            )
        ).scalars()
        last = max(a for a in attempts if a is not None)
    # A delivery exhausts the schedule in 27.6 hours and the next head starts then: four failed for good,
    # the fifth was on its seventh attempt when five days had passed.
    statuses = [d["status"] for d in await hooks.deliveries(failing["id"])]
    assert statuses == ["pending"] + ["failed"] * 4
    assert timedelta(days=5) <= last - first_failure < timedelta(days=5, hours=10)
    feed = (await client.get("/v1/events", headers=tenant.headers())).json()["data"]
    (disabled,) = [e for e in feed if e["type"] == "webhook_endpoint.disabled"]
    assert disabled["subject_id"] == failing["id"] and disabled["actor"]["type"] == "system"

    await hooks.relay(last)
    (heard,) = receiver.on("/ops")
    assert heard.json["type"] == "webhook_endpoint.disabled"
    ENVELOPES["webhook_endpoint.disabled"].model_validate(heard.json)
    assert heard.json["data"]["details"]["url"] == failing["url"]
    before = len(receiver.on("/down"))
    await hooks.relay(last + timedelta(days=2))
    assert len(receiver.on("/down")) == before, "a disabled endpoint is sent nothing"
    assert watcher["id"] != failing["id"]


async def test_enabling_an_endpoint_sends_its_queue_at_once(hooks: Hooks, receiver: Receiver, client, tenant) -> None:
    endpoint = await hooks.endpoint(receiver.url())
    receiver.script("/hook", Answer(500))
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    await hooks.relay()
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    r = await client.patch(path, json={"enabled": False}, headers=hooks.headers(**{"If-Match": '"1"'}))
    assert r.status_code == 200 and r.json()["disabled_reason"] == "disabled through the API"
    await hooks.relay(hooks.later(minutes=10))
    assert len(receiver.on("/hook")) == 1
    r = await client.patch(path, json={"enabled": True}, headers=hooks.headers(**{"If-Match": '"2"'}))
    assert r.status_code == 200 and r.json()["disabled_reason"] is None
    await hooks.relay()
    assert len(receiver.on("/hook")) == 2
    assert [d["status"] for d in await hooks.deliveries(endpoint["id"])] == ["succeeded"]
    refused = await client.post(f"{path}/test", headers=hooks.headers())
    assert refused.status_code == 202


async def test_a_delivery_being_sent_cannot_be_redelivered_and_is_left_as_it_was(
    hooks: Hooks, receiver: Receiver, client, tenant
) -> None:
    endpoint = await hooks.endpoint(receiver.url())
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    await hooks.relay()
    (delivery,) = await hooks.deliveries(endpoint["id"])
    async with hooks.app.state.sessionmaker() as session, session.begin():
        row = await session.get(WebhookDelivery, delivery["id"])
        assert row is not None
        row.claim_token = "a-worker-holds-it"  # what a relay worker's claim leaves until it records
    r = await client.post(f"/v1/webhook-deliveries/{delivery['id']}/redeliver", headers=hooks.headers())
    assert r.status_code == 409 and r.json()["code"] == "delivery_in_flight"
    assert (await hooks.delivery(delivery["id"]))["status"] == "succeeded"
