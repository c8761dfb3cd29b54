"""Deadlines and obligations through the API: armed by transitions, counted in the right nation's working
days, fired by test clocks, reported or waived."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from httpx import AsyncClient

from app.calendar import Nation, add_working_days
from app.clock import FrozenClock
from tests.support.casework import Casework, advance
from tests.support.problems import assert_problem
from tests.support.tenants import Tenant, make_tenant


async def test_an_unused_cos_expires_when_the_test_clock_passes_its_window(
    client: AsyncClient, sandbox: tuple[str, Tenant], clock: FrozenClock
) -> None:
    clock_id, tenant = sandbox
    work = Casework(client, tenant, clock)
    await work.licence_active()
    hire = await work.create(inside_uk=False)
    await work.ok(hire["id"], "request_cos")
    granted = await work.ok(hire["id"], "grant_cos")
    [window] = granted["open_deadlines"]
    assert window["kind"] == "cos_assignment_window"
    assert window["due_at"] == "2026-04-12T22:59:59Z"  # 3 calendar months after 2026-01-12, end of day UK (BST)

    assert await advance(client, clock_id, tenant, "2026-04-12T12:00:00Z") == []
    fired = await advance(client, clock_id, tenant, "2026-04-13T09:00:00Z")
    breach = next(f for f in fired if f["kind"] == "cos_assignment_window")
    assert breach["outcome"] == "breached" and "hire.state_changed" in breach["effects"]
    expired = (await client.get(f"/v1/hires/{hire['id']}", headers=tenant.headers())).json()
    assert expired["state"] == "expired" and expired["open_deadlines"] == []
    story = [e["type"] for e in await work.events(hire["id"])]
    assert story[-2:] == ["deadline.breached", "hire.state_changed"]
    assert await advance(client, clock_id, tenant, "2026-04-13T09:00:00Z") == []  # fires once only


async def test_a_no_show_opens_an_obligation_that_breaches_and_can_still_be_reported_late(
    client: AsyncClient, sandbox: tuple[str, Tenant], clock: FrozenClock
) -> None:
    clock_id, tenant = sandbox
    work = Casework(client, tenant, clock)
    await work.licence_active()
    hid = (await work.create(inside_uk=False))["id"]
    await work.walk(hid, "grant_visa", "2026-01-12")
    ended = await work.ok(hid, "record_no_show", reason="did not arrive")
    [owed] = ended["open_obligations"]
    assert owed["kind"] == "no_show" and owed["due_on"] == "2026-01-26"  # 10 working days after 2026-01-12

    fired = await advance(client, clock_id, tenant, "2026-01-27T09:00:00Z")
    assert any(f["subject_id"] == owed["id"] and "obligation.overdue" in f["effects"] for f in fired)
    overdue = (await client.get(f"/v1/obligations/{owed['id']}", headers=tenant.headers())).json()
    assert overdue["status"] == "overdue"
    counts = (await client.get("/v1/deadlines/counts", headers=tenant.headers())).json()
    assert counts["overdue_obligations"] == 1 and counts["by_status"]["breached"] >= 1

    # Reporting is a versioned write like any other: without If-Match it changes nothing.
    blind = await client.post(
        f"/v1/obligations/{owed['id']}/actions/report", json={"sms_reference": "SMS-778"}, headers=tenant.headers()
    )
    assert_problem(blind, 428, "precondition_required")
    late = await client.post(
        f"/v1/obligations/{owed['id']}/actions/report",
        json={"sms_reference": "SMS-778"},
        headers=tenant.headers() | {"If-Match": f'"{overdue["version"]}"'},
    )
    assert late.status_code == 200 and late.json()["reported_late"] is True
    assert late.json()["reported_on"] == "2026-01-27"
    again = await client.post(
        f"/v1/obligations/{owed['id']}/actions/report",
        json={"sms_reference": "SMS-779"},
        headers=tenant.headers() | {"If-Match": "*"},
    )
    assert_problem(again, 409, "obligation_settled")
    work.etags[hid] = (await client.get(f"/v1/hires/{hid}", headers=tenant.headers())).headers["etag"]
    assert (await work.ok(hid, "close"))["state"] == "closed"


@pytest.mark.parametrize(
    ("nation", "due_on"),
    [("england_and_wales", "2025-12-05"), ("scotland", "2025-12-08"), ("northern_ireland", "2025-12-05")],
)
async def test_worker_reports_count_the_work_nations_bank_holidays(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, nation: str, due_on: str
) -> None:
    """Facts §6 worked example: 10 working days after Fri 2025-11-21; St Andrew's Day moves Scotland on."""
    work = Casework(client, tenant, clock)
    work.on("2025-11-21")
    await work.licence_active()
    hid = (await work.create(inside_uk=False, work_nation=nation, start_date="2025-11-21"))["id"]
    case = await work.walk(hid, "end_sponsorship", "2025-11-21")
    [owed] = case["open_obligations"]
    assert owed["due_on"] == due_on


async def test_sponsor_changes_count_the_main_addresss_bank_holidays(
    client: AsyncClient,
    db,
    clock: FrozenClock,  # type: ignore[no-untyped-def]
) -> None:
    """Facts §5.2: 20 working days; a Northern Ireland sponsor also skips St Patrick's Day."""
    work = Casework(client, await make_tenant(db, nation=Nation.northern_ireland), clock)
    work.on("2026-03-12")
    body = {"kind": "organisation_address", "effective_date": "2026-03-10", "description": "moved to Belfast HQ"}
    r = await client.post("/v1/organisation-changes", json=body, headers=work.headers())
    assert r.status_code == 201, r.text
    ni = date.fromisoformat(r.json()["due_on"])
    assert ni == add_working_days(date(2026, 3, 10), 20, Nation.northern_ireland)
    assert ni > add_working_days(date(2026, 3, 10), 20, Nation.england_and_wales)
    assert r.json()["hire_id"] is None and r.json()["rule_id"] == "reporting.sponsor_event"
    future = await client.post(
        "/v1/organisation-changes", json=body | {"effective_date": "2026-04-01"}, headers=work.headers()
    )
    assert_problem(future, 422, "date_in_future")
    waived = await client.post(
        f"/v1/obligations/{r.json()['id']}/actions/waive",
        json={"reason": "reported with the key personnel change"},
        headers=work.headers() | {"If-Match": r.headers["etag"]},
    )
    assert waived.json()["status"] == "waived"
    listed = await client.get("/v1/obligations", params={"status": "waived"}, headers=work.headers())
    assert [o["id"] for o in listed.json()["data"]] == [r.json()["id"]]


async def test_moving_the_start_date_recomputes_the_open_deadlines(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock
) -> None:
    work = Casework(client, tenant, clock)
    work.on("2026-01-12")
    await work.licence_active()
    hid = (await work.create(inside_uk=False, start_date="2026-03-02"))["id"]
    case = await work.walk(hid, "grant_visa", "2026-01-12")
    before = {d["kind"]: d for d in case["open_deadlines"]}
    assert before["rtw_check_before_start"]["due_at"].startswith("2026-03-01")
    assert before["late_start"]["due_at"].startswith("2026-03-30")  # 28 days after the CoS start date
    moved = await client.patch(
        f"/v1/hires/{hid}", json={"start_date": "2026-04-06"}, headers=work.headers(**{"If-Match": work.etags[hid]})
    )
    after = {d["kind"]: d for d in moved.json()["open_deadlines"]}
    assert after["rtw_check_before_start"]["due_at"].startswith("2026-04-05")
    assert after["late_start"]["due_at"].startswith("2026-05-04")
    assert {d["id"] for d in after.values()}.isdisjoint(d["id"] for d in before.values())
    old = await client.get("/v1/deadlines", params={"subject_id": hid, "status": "cancelled"}, headers=work.headers())
    assert {d["id"] for d in old.json()["data"]} == {d["id"] for d in before.values()}


async def test_leaving_a_state_meets_or_cancels_its_deadlines(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock
) -> None:
    work = Casework(client, tenant, clock)
    work.on("2026-01-12")
    await work.licence_active()
    hid = (await work.create(inside_uk=False))["id"]
    await work.ok(hid, "request_cos")
    await work.ok(hid, "grant_cos")
    await work.ok(hid, "withdraw", reason="role cancelled")
    rows = (await client.get("/v1/deadlines", params={"subject_id": hid}, headers=work.headers())).json()["data"]
    assert {(d["kind"], d["status"]) for d in rows} == {
        ("cos_decision_chase", "met"),
        ("cos_assignment_window", "cancelled"),
    }
    owed = (await client.get("/v1/obligations", params={"hire_id": hid}, headers=work.headers())).json()["data"]
    assert [o["kind"] for o in owed] == ["cos_withdrawal"]


async def test_licence_deadlines_follow_the_licence(client: AsyncClient, tenant: Tenant, clock: FrozenClock) -> None:
    work = Casework(client, tenant, clock)
    work.on("2026-01-12")
    admin = tenant.headers("admin")
    await client.post("/v1/licence", headers=admin)

    async def act(action: str, **body: object) -> None:
        etag = (await client.get("/v1/licence", headers=admin)).headers["etag"]
        r = await client.post(f"/v1/licence/actions/{action}", json=body, headers=admin | {"If-Match": etag})
        assert r.status_code == 200, r.text

    await act("submit", priority_service=True)
    licence_id = (await client.get("/v1/licence", headers=admin)).json()["id"]
    armed = (await client.get("/v1/deadlines", params={"subject_id": licence_id}, headers=admin)).json()["data"]
    decision = next(d for d in armed if d["kind"] == "licence_decision")
    assert decision["due_at"].startswith("2026-01-26")
    assert decision["rule_id"] == "licence.decision.priority"
    await act("grant", licence_number="LIC-9")
    await act("suspend", reason="audit")
    await act("make_representations")
    rows = (await client.get("/v1/deadlines", params={"subject_id": licence_id}, headers=admin)).json()["data"]
    assert {(d["kind"], d["status"]) for d in rows} == {
        ("licence_decision", "met"),
        ("supporting_documents", "cancelled"),  # never recorded as sent before the grant
        ("suspension_representations", "met"),
    }


async def test_test_clocks_only_move_forward_and_only_their_own_organisations(
    client: AsyncClient, sandbox: tuple[str, Tenant], tenant: Tenant
) -> None:
    clock_id, sandboxed = sandbox
    back = await client.post(
        f"/v1/test-clocks/{clock_id}/advance", json={"to": "2025-01-01T00:00:00Z"}, headers=sandboxed.headers("admin")
    )
    assert_problem(back, 422, "clock_cannot_go_back")
    other = await client.post(
        f"/v1/test-clocks/{clock_id}/advance", json={"to": "2027-01-01T00:00:00Z"}, headers=tenant.headers("admin")
    )
    assert_problem(other, 404, "not_found")
    hr = await client.post(
        f"/v1/test-clocks/{clock_id}/advance", json={"to": "2027-01-01T00:00:00Z"}, headers=sandboxed.headers("hr")
    )
    assert_problem(hr, 403, "forbidden")
    # The sandbox organisation lives at its clock's time.
    await advance(client, clock_id, sandboxed, "2026-06-01T12:00:00Z")
    created = await client.post("/v1/hires", json={"given_name": "A", "family_name": "B"}, headers=sandboxed.headers())
    assert created.json()["created_at"] == "2026-06-01T12:00:00Z"


async def test_test_clocks_are_refused_outside_the_sandbox(db, clock: FrozenClock, platform_key: str) -> None:  # type: ignore[no-untyped-def]
    from httpx import ASGITransport

    from app.main import create_app
    from tests.support.databases import make_settings

    app = create_app(
        make_settings(db.url.render_as_string(hide_password=False), sandbox_enabled=False), clock=clock, engine=db
    )
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post(
            "/v1/test-clocks",
            json={"frozen_time": "2026-01-12T09:00:00Z"},
            headers={"Authorization": f"Bearer {platform_key}"},
        )
    assert_problem(r, 403, "sandbox_disabled")


async def test_the_embedded_worker_runs_in_the_apps_lifespan(db, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from app.main import create_app
    from tests.support.databases import make_settings

    app = create_app(
        make_settings(db.url.render_as_string(hide_password=False), scheduler_enabled=True), clock=clock, engine=db
    )
    async with app.router.lifespan_context(app):
        running = [t for t in asyncio.all_tasks() if t.get_name() == "sponsorflow-worker"]
        assert len(running) == 1 and not running[0].done()
    assert running[0].cancelled()


async def test_deadline_lists_page_through_ties_on_the_due_time(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock
) -> None:
    work = Casework(client, tenant, clock)
    work.on("2026-01-12")
    await work.licence_active()
    for i in range(3):
        hid = (await work.create(inside_uk=False, external_id=f"t{i}"))["id"]
        await work.ok(hid, "request_cos")  # three chases due at the very same instant
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1, "kind": "cos_decision_chase"}
    while True:
        page = (await client.get("/v1/deadlines", params=params, headers=work.headers())).json()
        seen += [d["id"] for d in page["data"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 3 and seen == sorted(seen)


async def test_an_unknown_status_filter_is_a_clear_422(client: AsyncClient, tenant: Tenant) -> None:
    for url in ("/v1/deadlines", "/v1/obligations"):
        r = await client.get(url, params={"status": "late"}, headers=tenant.headers("viewer"))
        assert_problem(r, 422, "validation_error")
