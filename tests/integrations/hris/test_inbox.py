"""The inbox as an HR user sees it: what failed or was ignored says why in words, a replay finishes the
job once the cause is fixed, and the list filters and pages like every other list."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest

from tests.integrations.hris.conftest import Hris
from tests.integrations.hris.senders import Person
from tests.integrations.hris.test_applying import employed, opened


@pytest.fixture
def provider() -> str:
    return "standard"


async def test_a_case_needs_names_and_a_fixed_field_map_then_a_replay_opens_it(hris: Hris) -> None:
    url = f"/v1/hris-connections/{hris.connection['id']}"
    field_map = dict(hris.connection["field_map"]) | {"given_name": "first"}
    r = await hris.http.patch(url, json={"field_map": field_map}, headers=hris.headers("admin") | {"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    event = await hris.deliver("created", Person())
    assert (event["status"], event["reason_code"]) == ("failed", "details_missing"), event
    assert "given_name from 'first'" in event["reason"]

    field_map["given_name"] = "given_name"
    r = await hris.http.patch(url, json={"field_map": field_map}, headers=hris.headers("admin") | {"If-Match": '"2"'})
    replayed = await hris.http.post(f"/v1/hris-events/{event['id']}/replay", headers=hris.headers())
    assert replayed.status_code == 200 and replayed.json()["status"] == "failed", replayed.text
    assert replayed.json()["reason_code"] == "unmapped_job_code"  # opened now; its job still needs a mapping
    assert (await hris.hire(replayed.json()["hire_id"]))["given_name"] == "Ada"


async def test_only_failed_or_ignored_events_are_replayed(hris: Hris) -> None:
    await hris.ready()
    event = await hris.deliver("created", Person())
    r = await hris.http.post(f"/v1/hris-events/{event['id']}/replay", headers=hris.headers())
    assert r.status_code == 409 and r.json()["code"] == "event_not_replayable", r.text
    missing = await hris.http.post("/v1/hris-events/hrisevt_nope/replay", headers=hris.headers())
    assert missing.status_code == 404


async def test_pay_in_another_currency_is_refused_with_the_reason(hris: Hris) -> None:
    await hris.ready()
    body = hris.sender.body("created", Person(), hris.clock.now())
    body["employee"]["salary"] = "70000 USD"
    raw = json.dumps(body).encode()
    r = await hris.post(raw, hris.sender.sign(raw, hris.clock.now()))
    await hris.apply()
    event = await hris.event(r.json()["events"][0])
    assert (event["status"], event["reason_code"]) == ("failed", "pay_not_in_pounds"), event
    assert (await hris.http.get("/v1/hires", headers=hris.headers())).json()["data"] == []


async def test_a_case_hr_opened_with_the_employee_id_is_adopted_not_duplicated(hris: Hris) -> None:
    await hris.ready()
    existing = await hris.work.create(external_id="E1001")
    event = await hris.deliver("created", Person(salary=64_000))
    assert event["status"] == "applied" and event["hire_id"] == existing["id"], event
    assert event["effects"][0].startswith(f"linked case {existing['id']}")
    assert (await hris.hire(existing["id"]))["salary"] == "64000.00"
    assert len((await hris.http.get("/v1/hires", headers=hris.headers())).json()["data"]) == 1


async def test_a_new_start_date_before_employment_rearms_the_case_deadlines(hris: Hris) -> None:
    work = await opened(hris, Person())
    (hire_id,) = work.etags
    await work.walk(hire_id, "grant_visa", "2026-01-12")
    before = {d["kind"]: d["due_at"] for d in (await hris.hire(hire_id))["open_deadlines"]}
    event = await hris.deliver("updated", Person(start="2026-05-04"), hris.clock.now() + timedelta(seconds=1))
    assert event["status"] == "applied" and event["effects"] == ["updated start_date"], event
    after = {d["kind"]: d["due_at"] for d in (await hris.hire(hire_id))["open_deadlines"]}
    assert before["rtw_check_before_start"] != after["rtw_check_before_start"]
    assert after["rtw_check_before_start"].startswith("2026-05-0")


async def test_a_job_change_once_the_cos_is_in_process_fails_with_the_case_reason(hris: Hris) -> None:
    work = await opened(hris, Person())
    (hire_id,) = work.etags
    await work.walk(hire_id, "grant_cos", "2026-01-12")
    event = await hris.deliver("updated", Person(salary=80_000), hris.clock.now() + timedelta(seconds=1))
    assert (event["status"], event["reason_code"]) == ("failed", "fields_locked"), event
    assert "salary" in event["reason"]
    assert (await hris.hire(hire_id))["salary"] == "62000.00"


async def test_a_location_missing_from_the_map_is_applied_with_a_note(hris: Hris) -> None:
    await hris.ready()
    event = await hris.deliver("created", Person(location="Belfast"))
    assert event["status"] == "applied", event
    assert any("not in the connection's location map" in e for e in event["effects"])
    assert (await hris.hire(event["hire_id"]))["work_nation"] is None


@pytest.mark.parametrize("provider", ["bamboohr"])
async def test_an_ids_only_event_is_ignored_and_says_what_to_configure(hris: Hris) -> None:
    body = json.dumps(
        {"type": "employee.created", "timestamp": "2026-01-12T09:00:00Z", "data": {"companyId": 7, "employeeId": "42"}}
    ).encode()
    timestamp = str(int(hris.clock.now().timestamp()))
    signature = hmac.new(hris.sender.secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
    r = await hris.post(body, {"X-BambooHR-Timestamp": timestamp, "X-BambooHR-Signature": signature})
    assert r.status_code == 202, r.text
    await hris.apply()
    event = await hris.event(r.json()["events"][0])
    assert (event["status"], event["reason_code"], event["employee_id"]) == ("ignored", "ids_only", "42"), event


@pytest.mark.parametrize("provider", ["bamboohr"])
async def test_a_delivery_naming_several_employees_stores_one_event_each(hris: Hris) -> None:
    await hris.ready()
    at = hris.clock.now()
    entries = [hris.sender.body("created", Person(id=f"E{i}"), at)["employees"][0] for i in range(3)]
    body = json.dumps({"employees": entries}).encode()
    r = await hris.post(body, hris.sender.sign(body, at))
    assert r.status_code == 202 and len(r.json()["events"]) == 3, r.text
    assert await hris.apply() == 3
    events = await hris.events(status="applied")
    assert sorted(e["employee_id"] for e in events) == ["E0", "E1", "E2"]
    again = await hris.post(body, hris.sender.sign(body, at))
    assert again.json() == {"events": r.json()["events"], "duplicate": True}


async def test_the_event_list_filters_and_pages(hris: Hris) -> None:
    await hris.ready()
    for i in range(5):
        await hris.send("created", Person(id=f"E{i}", sponsored=i % 2 == 0))
    await hris.apply()
    assert len(await hris.events(status="ignored")) == 2
    assert [e["employee_id"] for e in await hris.events(employee_id="E3")] == ["E3"]
    assert await hris.events(connection_id="hrisc_other") == []
    assert len(await hris.events(received_from="2026-01-12T09:00:00Z")) == 5
    assert await hris.events(received_to="2026-01-12T09:00:00Z") == []
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await hris.http.get("/v1/hris-events", params=params, headers=hris.headers())
        page = r.json()
        seen += [e["employee_id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"E{i}" for i in range(5)]
    bad = await hris.http.get("/v1/hris-events", params={"status": "lost"}, headers=hris.headers())
    assert bad.status_code == 422


@pytest.mark.parametrize("provider", ["hibob"])
async def test_an_ids_only_hibob_leaver_event_still_ends_sponsorship(hris: Hris) -> None:

    person = Person()
    _, hire_id = await employed(hris, person)
    at = hris.clock.now() + timedelta(seconds=1)
    body = json.dumps(
        {
            "companyId": 734251,
            "type": "employee.left",
            "triggeredBy": "3332883804594373380",
            "triggeredAt": at.replace(tzinfo=None).isoformat(),
            "data": {"employeeId": person.id},
        }
    ).encode()
    r = await hris.post(body, hris.sender.sign(body, at))
    await hris.apply()
    event = await hris.event(r.json()["events"][0])
    assert event["status"] == "applied", event
    case = await hris.hire(hire_id)
    assert (case["state"], case["ended_on"]) == ("sponsorship_ended", "2026-01-12")


@pytest.mark.parametrize("provider", ["finch"])
async def test_an_ids_only_finch_event_is_ignored_and_says_why(hris: Hris) -> None:
    body = json.dumps({"event_type": "employment.created", "data": {"individual_id": "ind_1"}}).encode()
    r = await hris.post(body, hris.sender.sign(body, hris.clock.now()))
    await hris.apply()
    event = await hris.event(r.json()["events"][0])
    assert (event["status"], event["reason_code"]) == ("ignored", "ids_only"), event
