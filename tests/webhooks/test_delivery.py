"""Delivery to a real receiver on a loopback port: signed, in order, retried on the published schedule."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from app.integrations.webhooks.catalogue import ENVELOPES
from tests.support.casework import Casework, journey
from tests.support.webhooks import Answer, Hooks, Receiver

SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


def verified(secret: str, received: list) -> list[dict]:  # type: ignore[type-arg]
    """Each body, after its signature verified with the standardwebhooks package."""
    return [Webhook(secret).verify(r.body, r.headers) for r in received]


async def test_a_subscribed_receiver_gets_one_signed_event_per_accepted_action_in_order(
    hooks: Hooks, receiver: Receiver, client, tenant, clock
) -> None:
    endpoint = await hooks.endpoint(receiver.url(), ["hire.state_changed"])
    cases = Casework(client, tenant, clock)
    cases.on("2026-01-12")
    await cases.licence_active()
    hire = await cases.create(inside_uk=False)
    steps = journey("2026-01-12")[:4]
    for action, payload in steps:
        assert (await cases.act(hire["id"], action, **payload)).status_code == 200
    refused = await cases.act(hire["id"], "grant_visa")  # not available from visa_applied without a body
    assert refused.status_code in (409, 422)

    await hooks.relay()

    bodies = verified(endpoint["secret"], receiver.on("/hook"))
    assert [b["data"]["action"] for b in bodies] == [a for a, _ in steps]
    assert {b["type"] for b in bodies} == {"hire.state_changed"}
    seqs = [b["seq"] for b in bodies]
    assert seqs == sorted(seqs)
    for r, body in zip(receiver.on("/hook"), bodies, strict=True):
        assert r.headers["webhook-id"] == body["id"]
        assert body["data"]["subject_id"] == hire["id"]
        ENVELOPES["hire.state_changed"].model_validate(body)
    events = (await client.get("/v1/events", headers=tenant.headers("viewer"))).json()["data"]
    assert [b["id"] for b in bodies] == [e["id"] for e in events if e["type"] == "hire.state_changed"]
    assert all(d["status"] == "succeeded" for d in await hooks.deliveries(endpoint["id"]))


async def test_a_forged_or_stale_signature_does_not_verify(hooks: Hooks, receiver: Receiver, client, tenant) -> None:
    endpoint = await hooks.endpoint(receiver.url())
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    await hooks.relay()
    (r,) = receiver.on("/hook")
    Webhook(endpoint["secret"]).verify(r.body, r.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(r.body.replace(b"licence", b"licencf"), r.headers)
    other = (await hooks.endpoint(receiver.url("/other")))["secret"]
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(r.body, r.headers)


async def test_a_receiver_answering_500_then_200_gets_the_event_twice_with_the_same_webhook_id(
    hooks: Hooks, receiver: Receiver, client, tenant
) -> None:
    endpoint = await hooks.endpoint(receiver.url())
    receiver.script("/hook", Answer(500, b"database down"))
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201

    await hooks.relay()
    (delivery,) = await hooks.deliveries(endpoint["id"])
    assert delivery["status"] == "pending"
    assert delivery["next_attempt_at"] == (hooks.clock.now() + timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    await hooks.relay(hooks.later(seconds=4))
    assert len(receiver.on("/hook")) == 1, "the retry waits for its step of the schedule"
    await hooks.relay(hooks.later(seconds=1))

    first, second = receiver.on("/hook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["event_id"]
    assert first.body == second.body
    detail = await hooks.delivery(delivery["id"])
    assert detail["status"] == "succeeded"
    assert [(a["number"], a["schedule_step"], a["status_code"], a["succeeded"]) for a in detail["attempts"]] == [
        (1, 0, 500, False),
        (2, 1, 200, True),
    ]
    assert detail["attempts"][0]["response_excerpt"] == "database down"
    assert detail["attempts"][0]["error"] == "the receiver answered 500"
    assert detail["payload"]["id"] == delivery["event_id"]


async def test_a_receiver_that_is_down_is_retried_on_the_schedule_then_the_delivery_fails(
    hooks: Hooks, receiver: Receiver, client, tenant
) -> None:
    assert hooks.settings.webhook_retry_schedule_seconds == SCHEDULE
    endpoint = await hooks.endpoint(receiver.url("/down"))
    receiver.default = Answer(503, b"")
    start = hooks.clock.now()
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201

    due = start
    for step, delay in enumerate(SCHEDULE):
        due += timedelta(seconds=delay)
        if step:  # the first attempt goes as soon as the relay sees the event
            await hooks.relay(due - timedelta(seconds=1))
            assert len(receiver.on("/down")) == step, f"attempt {step + 1} went before its time"
        await hooks.relay(due)
        await hooks.relay(due)  # a second pass at the same instant sends nothing more
        assert len(receiver.on("/down")) == step + 1
    await hooks.relay(due + timedelta(days=3))
    assert len(receiver.on("/down")) == len(SCHEDULE)

    (delivery,) = await hooks.deliveries(endpoint["id"], status="failed")
    detail = await hooks.delivery(delivery["id"])
    times, at = [], start
    for delay in SCHEDULE:
        at += timedelta(seconds=delay)
        times.append(at.isoformat().replace("+00:00", "Z"))
    assert [a["attempted_at"] for a in detail["attempts"]] == times
    assert [a["schedule_step"] for a in detail["attempts"]] == list(range(len(SCHEDULE)))
    assert detail["next_attempt_at"] is None and detail["finished_at"] == times[-1]
    assert len({r.headers["webhook-id"] for r in receiver.on("/down")}) == 1


async def test_a_failing_head_holds_back_later_events_until_it_succeeds(
    hooks: Hooks, receiver: Receiver, client, tenant
) -> None:
    await hooks.endpoint(receiver.url())
    receiver.script("/hook", Answer(500), Answer(500))
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    await hooks.relay()
    r = await client.post("/v1/licence/actions/submit", json={}, headers=tenant.headers(**{"If-Match": "*"}))
    assert r.status_code == 200, r.text
    await hooks.relay(hooks.later(seconds=1))
    assert len(receiver.on("/hook")) == 1, "the second event must wait behind the first"
    await hooks.relay(hooks.later(seconds=4))  # the first's retry fails again
    await hooks.relay(hooks.later(seconds=299))
    assert len(receiver.on("/hook")) == 2
    await hooks.relay(hooks.later(seconds=1))
    types = [r.json["type"] for r in receiver.on("/hook")]
    assert types == ["licence.created", "licence.created", "licence.created", "licence.state_changed"]


async def test_an_event_that_exhausted_its_retries_no_longer_holds_back_the_next(
    hooks: Hooks, receiver: Receiver, client, tenant
) -> None:
    endpoint = await hooks.endpoint(receiver.url())
    receiver.script("/hook", *[Answer(500)] * len(SCHEDULE))
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    r = await client.post("/v1/licence/actions/submit", json={}, headers=tenant.headers(**{"If-Match": "*"}))
    assert r.status_code == 200
    at = hooks.clock.now()
    for delay in SCHEDULE:
        at += timedelta(seconds=delay)
        await hooks.relay(at)
    received = receiver.on("/hook")
    assert [r.json["type"] for r in received] == ["licence.created"] * len(SCHEDULE) + ["licence.state_changed"]
    statuses = {d["event_type"]: d["status"] for d in await hooks.deliveries(endpoint["id"])}
    assert statuses == {"licence.created": "failed", "licence.state_changed": "succeeded"}


async def test_rotation_signs_with_both_secrets_for_24_hours_then_the_new_one_only(
    hooks: Hooks, receiver: Receiver, client, tenant
) -> None:
    endpoint = await hooks.endpoint(receiver.url())
    old = endpoint["secret"]
    r = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=hooks.headers())
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    await hooks.relay()
    (during,) = receiver.on("/hook")
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(during.body, during.headers)
    Webhook(new).verify(during.body, during.headers)

    hooks.later(hours=24)
    r = await client.post("/v1/licence/actions/submit", json={}, headers=tenant.headers(**{"If-Match": "*"}))
    assert r.status_code == 200
    await hooks.relay()
    after = receiver.on("/hook")[1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)


async def test_the_worker_counts_failed_attempts_for_the_alerting_rule(
    hooks: Hooks, receiver: Receiver, client, tenant, rulebook
) -> None:
    from app.ops import metrics
    from app.worker.loop import Worker

    await hooks.endpoint(receiver.url("/down"))
    receiver.default = Answer(503)
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    before = metrics.WEBHOOK_DELIVERIES_FAILED._value.get()
    async with contextlib.aclosing(Worker(hooks.app.state.sessionmaker, rulebook, hooks.settings)) as worker:
        done = await worker.tick(hooks.clock.now())
    assert done["webhooks"] == 2  # the outbox row relayed, one attempt
    assert metrics.WEBHOOK_DELIVERIES_FAILED._value.get() == before + 1


async def test_the_worker_keeps_its_connection_to_a_receiver_between_passes(
    hooks: Hooks, receiver: Receiver, client, tenant, rulebook
) -> None:
    # A pass every few seconds must not pay for a new HTTP client (its TLS context alone is tens of
    # milliseconds of the event loop) nor a new connection to every receiver.
    from app.worker.loop import Worker

    await hooks.endpoint(receiver.url("/kept"))
    async with contextlib.aclosing(Worker(hooks.app.state.sessionmaker, rulebook, hooks.settings)) as worker:
        licence = await client.post("/v1/licence", headers=tenant.headers())
        assert (await worker.tick(hooks.clock.now()))["webhooks"] == 2
        r = await client.post(
            "/v1/licence/actions/submit", json={}, headers=hooks.headers(**{"If-Match": licence.headers["etag"]})
        )
        assert r.status_code == 200, r.text
        assert (await worker.tick(hooks.later(seconds=5)))["webhooks"] >= 2
    first, second = receiver.on("/kept")[:2]
    assert [first.json["type"], second.json["type"]] == ["licence.created", "licence.state_changed"]
    assert first.peer_port == second.peer_port


async def test_a_pass_that_fails_to_claim_still_records_what_it_sent(
    hooks: Hooks, receiver: Receiver, client, tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.integrations.webhooks import relay

    first = await hooks.endpoint(receiver.url("/first"))
    second = await hooks.endpoint(receiver.url("/second"))
    assert (await client.post("/v1/licence", headers=tenant.headers())).status_code == 201
    hooks.app.state.settings = hooks.settings.model_copy(update={"webhook_relay_concurrency": 1})
    real_claim, calls = relay._claim, []

    async def claim_then_fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("the database went away")
        return await real_claim(*args, **kwargs)

    monkeypatch.setattr(relay, "_claim", claim_then_fail)
    with pytest.raises(RuntimeError, match="went away"):
        await hooks.relay()
    sent = {r.path for r in receiver.received}
    assert len(sent) == 1
    done = first if sent == {"/first"} else second
    assert [d["status"] for d in await hooks.deliveries(done["id"])] == ["succeeded"]

    monkeypatch.setattr(relay, "_claim", real_claim)
    await hooks.relay()
    assert {r.path for r in receiver.received} == {"/first", "/second"}
    assert len(receiver.received) == 2
