"""What applying an HRIS event does to a case, for every provider, through the same use cases as the
HTTP API: open, update before employment, report once employed, end, flag; and what it refuses, with
the reason in words, so that nothing is lost and a replay can finish the job."""

from __future__ import annotations

from datetime import timedelta

from tests.integrations.hris.conftest import Hris
from tests.integrations.hris.senders import TERMINATED, Person, minutes
from tests.support.casework import Casework

DAY = "2026-01-12"  # the test clock's date


async def opened(hris: Hris, person: Person) -> Casework:
    """An HRIS-opened case that HR completes with what no HRIS knows (where the worker applies from,
    their weekly hours), as HR would over the API."""
    await hris.ready()
    event = await hris.deliver("created", person)
    assert event["status"] == "applied", event
    work = hris.work
    r = await hris.http.get(f"/v1/hires/{event['hire_id']}", headers=hris.headers())
    r = await hris.http.patch(
        f"/v1/hires/{event['hire_id']}",
        json={"inside_uk": False, "weekly_hours": "37.5"},
        headers=hris.headers() | {"If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    work.etags[event["hire_id"]] = r.headers["etag"]
    return work


async def employed(hris: Hris, person: Person) -> tuple[Casework, str]:
    work = await opened(hris, person)
    (hire_id,) = work.etags
    await work.walk(hire_id, "start_employment", DAY)
    return work, hire_id


async def test_an_older_update_delivered_late_changes_nothing(hris: Hris) -> None:
    await hris.ready()
    now = hris.clock.now()
    created = await hris.deliver("created", Person(), now - minutes(3))
    newer = await hris.deliver("updated", Person(salary=70_000, start="2026-04-06"), now - minutes(1))
    older = await hris.deliver("updated", Person(salary=65_000, start="2026-03-16"), now - minutes(2))
    assert newer["status"] == "applied", newer
    assert (older["status"], older["reason_code"]) == ("ignored", "superseded"), older
    assert "a late delivery changes nothing" in older["reason"]
    case = await hris.hire(created["hire_id"])
    assert (case["salary"], case["start_date"]) == ("70000.00", "2026-04-06")


async def test_termination_ends_the_sponsorship_of_an_employed_worker_on_the_last_working_day(hris: Hris) -> None:
    person = Person()
    _, hire_id = await employed(hris, person)
    event = await hris.deliver(TERMINATED, person.but(terminated_on="2026-01-09"))
    assert event["status"] == "applied", event
    case = await hris.hire(hire_id)
    assert (case["state"], case["ended_on"]) == ("sponsorship_ended", "2026-01-09")
    assert "employment ended in the HRIS" in case["end_reason"]
    assert [o["kind"] for o in case["open_obligations"]] == ["employment_end"]
    trail = await hris.work.events(hire_id)
    ended = next(e for e in trail if e["action"] == "end_sponsorship")
    assert ended["actor"]["type"] == "hris" and ended["actor"]["id"] == hris.connection["id"]


async def test_an_unmapped_job_keeps_the_case_in_draft_until_a_replay_after_the_mapping(hris: Hris) -> None:
    await hris.work.licence_active()
    event = await hris.deliver("created", Person(title="Customer Service Unit Supervisor"))
    assert (event["status"], event["reason_code"]) == ("failed", "unmapped_job_code"), event
    assert "Customer Service Unit Supervisor" in event["reason"] and "replay" in event["reason"]
    case = await hris.hire(event["hire_id"])
    assert (case["state"], case["soc_code"]) == ("draft", None)
    assert case["eligibility"]["reasons"][0]["code"] == "unmapped_job_code"
    failed = await hris.events(status="failed")
    assert [e["id"] for e in failed] == [event["id"]]

    await hris.map_job("Customer Service Unit Supervisor", "7220")
    r = await hris.http.post(f"/v1/hris-events/{event['id']}/replay", headers=hris.headers())
    assert r.status_code == 200 and r.json()["status"] == "applied", r.text
    case = await hris.hire(event["hire_id"])
    assert (case["state"], case["soc_code"], case["hris_job_code"]) == (
        "draft",
        "7220",
        "Customer Service Unit Supervisor",
    )
    assert case["eligibility"]["reasons"][0]["code"] != "unmapped_job_code"
    assert len((await hris.http.get("/v1/hires", headers=hris.headers())).json()["data"]) == 1


async def test_changes_before_employment_update_the_case_and_rejudge_eligibility(hris: Hris) -> None:
    (hire_id,) = (await opened(hris, Person())).etags
    assert (await hris.hire(hire_id))["eligibility_status"] == "eligible"
    event = await hris.deliver("updated", Person(salary=21_000), hris.clock.now() + timedelta(seconds=1))
    assert event["status"] == "applied" and event["effects"] == ["updated salary"], event
    case = await hris.hire(hire_id)
    assert (case["salary"], case["eligibility_status"]) == ("21000.00", "ineligible")


async def test_a_pay_cut_of_an_employed_worker_opens_its_sms_report(hris: Hris) -> None:
    person = Person()
    _, hire_id = await employed(hris, person)
    event = await hris.deliver("updated", person.but(salary=55_000), hris.clock.now() + timedelta(seconds=1))
    assert event["status"] == "applied", event
    assert event["effects"][0].startswith("change_salary effective "), event
    case = await hris.hire(hire_id)
    assert (case["state"], case["salary"]) == ("employed", "55000.00")
    assert [o["kind"] for o in case["open_obligations"]] == ["salary_change"]


async def test_a_new_work_location_of_an_employed_worker_opens_its_report_in_the_new_nation(hris: Hris) -> None:
    person = Person()
    _, hire_id = await employed(hris, person)
    event = await hris.deliver("updated", person.but(location="Glasgow"), hris.clock.now() + timedelta(seconds=1))
    assert event["status"] == "applied", event
    case = await hris.hire(hire_id)
    assert (case["work_location"], case["work_nation"]) == ("Glasgow", "scotland")
    assert [o["kind"] for o in case["open_obligations"]] == ["work_location_change"]


async def test_an_employee_who_needs_no_sponsorship_is_recorded_as_ignored_with_the_reason(hris: Hris) -> None:
    event = await hris.deliver("created", Person(sponsored=False))
    assert (event["status"], event["reason_code"]) == ("ignored", "not_selected"), event
    assert "does not need sponsorship" in event["reason"]
    assert (await hris.http.get("/v1/hires", headers=hris.headers())).json()["data"] == []


async def test_an_employee_deleted_in_the_hris_flags_the_case_and_keeps_it(hris: Hris) -> None:
    await hris.ready()
    created = await hris.deliver("created", Person())
    event = await hris.deliver("deleted", Person(), hris.clock.now() + timedelta(seconds=1))
    assert event["status"] == "applied", event
    case = await hris.hire(created["hire_id"])
    assert case["state"] == "draft"
    flagged = [e for e in await hris.work.events(case["id"]) if e["type"] == "hire.flagged"]
    assert [e["data"]["flag"] for e in flagged] == ["deleted_in_hris"]


async def test_a_termination_before_employment_withdraws_the_offer(hris: Hris) -> None:
    await hris.ready()
    created = await hris.deliver("created", Person())
    event = await hris.deliver(TERMINATED, Person(terminated_on="2026-01-12"), hris.clock.now() + timedelta(seconds=1))
    assert event["status"] == "applied" and event["effects"][0].startswith("withdraw"), event
    assert (await hris.hire(created["hire_id"]))["state"] == "withdrawn"
