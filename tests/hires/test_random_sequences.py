"""Random action sequences: every accepted action moves along a declared edge and writes exactly one
case event (plus `obligation.created` exactly when its definition opens an obligation); every refused
one writes nothing and leaves the case as it was."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.clock import FrozenClock
from app.workflow import HIRE
from tests.support.casework import Casework
from tests.support.tenants import Tenant

TODAY = "2026-01-12"
PAYLOADS: dict[str, dict[str, Any]] = {
    "request_cos": {},
    "grant_cos": {},
    "refuse_cos": {"reason": "not approved"},
    "assign_cos": {"cos_reference": "C2G8H71234567X"},
    "submit_visa_application": {"application_date": TODAY},
    "grant_visa": {"permission_start_date": TODAY, "permission_end_date": "2029-01-12"},
    "refuse_visa": {},
    "complete_rtw_check": {"rtw_check_date": TODAY, "method": "manual"},
    "start_employment": {"actual_start_date": TODAY},
    "record_no_show": {},
    "end_sponsorship": {"ended_on": TODAY, "reason": "resigned"},
    "withdraw": {"reason": "offer withdrawn"},
    "close": {},
    "record_absence": {"absence_start_date": TODAY},
    "record_unpaid_leave": {"leave_start_date": TODAY},
    "change_salary": {"new_salary": "50000", "effective_date": TODAY},
    "change_job": {"effective_date": TODAY, "job_title": "Lead engineer"},
    "change_work_location": {"effective_date": TODAY, "work_location": "Leeds"},
    "record_rtw_follow_up": {"rtw_check_date": TODAY, "method": "manual"},
}
EDGES = {(a.name, s, a.dest or s) for a in HIRE.actions for s in a.sources}
OPENS = {a.name: a.opens_obligation for a in HIRE.actions}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inside_uk=st.booleans(), actions=st.lists(st.sampled_from(sorted(PAYLOADS)), min_size=1, max_size=12))
async def test_random_sequences_follow_declared_edges_and_write_one_event_each(
    client: AsyncClient, tenant: Tenant, clock: FrozenClock, inside_uk: bool, actions: list[str]
) -> None:
    work = Casework(client, tenant, clock)
    work.on(TODAY)
    if (await client.get("/v1/licence", headers=tenant.headers("admin"))).status_code != 200:
        await work.licence_active()
        await client.put(
            "/v1/cos-allocation",
            json={"year_start": "2026-01-01", "year_end": "2026-12-31", "granted": 10_000},
            headers=tenant.headers("admin"),
        )
    case = await work.create(inside_uk=inside_uk)
    seen = len(await work.events(case["id"]))
    for action in actions:
        r = await work.act(case["id"], action, **PAYLOADS[action])
        events = await work.events(case["id"])
        if r.status_code == 200:
            written = events[seen:]
            [event] = [e for e in written if e["type"].startswith("hire.")]
            effects = [e["type"] for e in written if e is not event]
            assert effects in ([], ["obligation.created"]), effects
            if effects:
                assert OPENS[action] == written[1]["data"]["kind"]
            assert (event["action"], event["from_state"], event["to_state"]) in EDGES
            assert event["from_state"] == case["state"] and r.json()["state"] == event["to_state"]
            assert r.json()["version"] == case["version"] + 1
            case = r.json()
        else:
            assert r.status_code in {409, 422}, r.text
            assert len(events) == seen
            now = (await client.get(f"/v1/hires/{case['id']}", headers=work.headers())).json()
            assert (now["state"], now["version"]) == (case["state"], case["version"])
        seen = len(events)
