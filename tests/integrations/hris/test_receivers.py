"""Every provider's receiver: a properly signed event opens a case; a forged, stale, unsigned or
replayed one has no effect; whatever it is, nothing transient answers 4xx."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.integrations.hris.models import HrisEvent
from tests.integrations.hris.conftest import Hris
from tests.integrations.hris.senders import TIMESTAMPED, Person, forged, minutes
from tests.support.statements import compiled


async def stored(db: AsyncEngine) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(HrisEvent))).scalar_one())


async def test_a_signed_new_hire_opens_a_sponsorship_case(hris: Hris) -> None:
    await hris.ready()
    event = await hris.deliver("created", Person())
    assert event["status"] == "applied", event
    case = await hris.hire(event["hire_id"])
    assert (case["state"], case["external_id"], case["given_name"], case["family_name"]) == (
        "draft",
        "E1001",
        "Ada",
        "Okafor",
    )
    assert case["salary"] == "62000.00" and case["start_date"] == "2026-03-02" and case["soc_code"] == "2134"
    assert case["work_location"] == "Manchester" and case["work_nation"] == "england_and_wales"
    trail = await hris.work.events(case["id"])
    assert trail[0]["type"] == "hire.created"
    assert trail[0]["actor"] == {"type": "hris", "id": hris.connection["id"], "role": hris.sender.name}


async def test_without_an_active_licence_the_case_waits_for_it(hris: Hris) -> None:
    await hris.map_job()
    event = await hris.deliver("created", Person())
    assert (await hris.hire(event["hire_id"]))["state"] == "awaiting_licence"


async def test_a_forged_signature_is_refused_and_nothing_is_stored(hris: Hris, db: AsyncEngine) -> None:
    body, headers = hris.sender.delivery("created", Person(), hris.clock.now())
    r = await hris.post(body, forged(headers))
    assert r.status_code == 401 and r.json()["code"] == "signature_rejected", r.text
    assert await stored(db) == 0


async def test_a_body_changed_after_signing_is_refused(hris: Hris, db: AsyncEngine) -> None:
    body, headers = hris.sender.delivery("created", Person(), hris.clock.now())
    r = await hris.post(body.replace(b"62000", b"92000").replace(b"62,000", b"92,000"), headers)
    assert r.status_code == 401, r.text
    assert await stored(db) == 0


async def test_a_missing_signature_is_refused(hris: Hris, db: AsyncEngine) -> None:
    body, _ = hris.sender.delivery("created", Person(), hris.clock.now())
    r = await hris.post(body, {"content-type": "application/json"})
    assert r.status_code == 401 and "missing" in r.json()["detail"], r.text
    assert await stored(db) == 0


async def test_a_stale_timestamp_is_refused_where_the_scheme_signs_one(hris: Hris, db: AsyncEngine) -> None:
    late = hris.clock.now() - (minutes(6) if hris.sender.name != "bamboohr" else minutes(181))
    body, headers = hris.sender.delivery("created", Person(), late)
    r = await hris.post(body, headers)
    if hris.sender.name in TIMESTAMPED:
        assert r.status_code == 401 and "stale" in r.json()["detail"], r.text
        assert await stored(db) == 0
    else:  # Merge and HiBob sign no timestamp: a redelivery is caught by its key instead
        assert r.status_code == 202, r.text


async def test_a_redelivery_is_acknowledged_and_changes_nothing(hris: Hris) -> None:
    await hris.ready()
    body, headers = hris.sender.delivery("created", Person(), hris.clock.now())
    first = await hris.post(body, headers)
    await hris.apply()
    again = await hris.post(body, headers)
    assert again.status_code == 202 and again.json() == {"events": first.json()["events"], "duplicate": True}
    assert await hris.apply() == 0
    assert len(await hris.events()) == 1
    r = await hris.http.get("/v1/hires", headers=hris.headers())
    assert len(r.json()["data"]) == 1


async def test_an_unknown_connection_answers_404(hris: Hris) -> None:
    body, headers = hris.sender.delivery("created", Person(), hris.clock.now())
    r = await hris.http.post("/hooks/hris/hrisc_unknown", content=body, headers=headers)
    assert r.status_code == 404 and r.json()["code"] == "not_found"


async def test_a_body_that_is_not_json_is_acknowledged_and_kept_as_ignored(hris: Hris) -> None:
    ping = b"Ping test"
    headers = hris.sender.sign(ping, hris.clock.now()) | {"content-type": "text/plain"}
    r = await hris.post(ping, headers)
    assert r.status_code == 202, r.text
    event = await hris.event(r.json()["events"][0])
    assert (event["status"], event["reason_code"], event["payload"]) == ("ignored", "not_json", "Ping test")


async def test_an_event_about_something_else_is_kept_as_ignored_with_its_reason(hris: Hris) -> None:
    body = b'{"type": "task.completed", "event_type": "job.completed", "hook": {"event": "LinkedAccount.synced"}}'
    r = await hris.post(body, hris.sender.sign(body, hris.clock.now()))
    assert r.status_code == 202, r.text
    event = await hris.event(r.json()["events"][0])
    assert event["status"] == "ignored" and event["reason_code"] == "not_an_employee_event", event


async def test_receiving_compiles_no_statement_after_the_first_delivery(hris: Hris, db: AsyncEngine) -> None:
    # HRIS bulk syncs post thousands of deliveries: storing one must not compile its SQL again (a
    # statement SQLAlchemy cannot cache, such as a multi-row VALUES, is compiled on every execution).
    await hris.send("created", Person(id="E2001"))
    with compiled(db) as afresh:
        await hris.send("created", Person(id="E2002"))
    assert afresh == [], "\n".join(afresh)
