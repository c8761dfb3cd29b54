"""Audit packs: one worker's whole record as JSON and as a printable document; an organisation's
bundle as a streamed ZIP whose progress can be followed; every export is an audit event."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile
from html.parser import HTMLParser
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit.schemas import Actor
from app.audit_packs import bundle as bundles
from app.audit_packs.render import render_html
from app.clock import FrozenClock
from app.db.engine import create_sessionmaker
from tests.support.casework import Casework
from tests.support.tenants import Tenant

DAY = "2026-01-12"
SVG = "{http://www.w3.org/2000/svg}"


async def whole_life(work: Casework, **details: Any) -> str:
    """A case from licence to closure: CoS, visa, right-to-work check, employment, an absence, a pay
    cut reported late, a job change, a follow-up check, the end of employment, its report, closure."""
    hire = (await work.create(inside_uk=False, **details))["id"]
    work.on(DAY)
    for action, payload in [
        ("request_cos", {}),
        ("grant_cos", {}),
        ("assign_cos", {"cos_reference": "C2G8H71234567X"}),
        ("submit_visa_application", {"application_date": DAY}),
        ("grant_visa", {"permission_start_date": DAY, "permission_end_date": "2029-01-12"}),
        ("complete_rtw_check", {"rtw_check_date": DAY, "method": "online", "share_code": "ABC123XYZ"}),
        ("start_employment", {"actual_start_date": DAY}),
    ]:
        await work.ok(hire, action, **payload)
    work.on("2026-03-02")
    await work.ok(hire, "record_absence", absence_start_date="2026-02-09", absence_end_date="2026-02-27")
    await work.report_owed(hire, "SMS-ABSENCE-1")
    await work.ok(hire, "change_salary", new_salary="58000.00", effective_date="2026-03-02")
    await work.ok(hire, "change_job", effective_date="2026-03-02", job_title="Senior software engineer")
    work.on("2026-03-27")  # after the 10 working days for the pay cut and job change: reported late
    await work.report_owed(hire, "SMS-LATE-2")
    await work.ok(
        hire,
        "record_rtw_follow_up",
        rtw_check_date="2026-03-27",
        method="online",
        share_code="XYZ987654",
        new_permission_end_date="2030-01-12",
    )
    await work.ok(hire, "end_sponsorship", ended_on="2026-03-27", reason="resigned")
    await work.report_owed(hire, "SMS-END-3")
    await work.ok(hire, "close")
    return hire


@pytest.fixture
async def work(client: AsyncClient, tenant: Tenant, clock: FrozenClock) -> Casework:
    casework = Casework(client, tenant, clock)
    await casework.licence_active()
    return casework


async def pack_of(work: Casework, hire: str, **params: str) -> dict[str, Any]:
    r = await work.client.get(f"/v1/hires/{hire}/audit-pack", params=params, headers=work.headers())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return dict(r.json())


async def test_the_pack_of_a_case_walked_through_its_whole_life_holds_every_event_and_report_in_order(
    work: Casework,
) -> None:
    hire = await whole_life(work)
    trail = await work.events(hire)
    pack = await pack_of(work, hire)

    assert pack["format"] == "sponsorflow.audit_pack/1"
    assert pack["state"] == "closed"
    assert [e["id"] for e in pack["events"]] == [e["id"] for e in trail]
    assert [e["seq"] for e in pack["events"]] == sorted(e["seq"] for e in trail)
    assert pack["events"][0]["type"] == "hire.created" and pack["events"][-1]["to_state"] == "closed"
    assert {e["actor_name"] for e in pack["events"]} >= {"hr"}

    assert pack["worker"] | {"personal_data_erased_at": None} == {
        "given_name": "Ada",
        "family_name": "Okafor",
        "nationality": "NGA",
        "date_of_birth": "1994-05-17",
        "email": "ada@example.com",
        "external_id": None,
        "personal_data_erased_at": None,
    }
    cos = pack["cos"]
    assert (cos["type"], cos["reference"], cos["assigned_on"]) == ("defined", "C2G8H71234567X", DAY)
    assert cos["assigned_by"]["name"] == "hr" and cos["assigned_by"]["role"] == "hr"
    assert pack["eligibility"]["status"] == "eligible"
    assert all(r["rule_id"] or r["code"] for r in pack["eligibility"]["assessment"]["reasons"])
    assert any(r.get("source") for r in pack["eligibility"]["assessment"]["reasons"])
    assert pack["visa"]["permission_end_date"] == "2030-01-12"  # the follow-up check's new permission

    checks = pack["rtw_checks"]
    assert [(c["kind"], c["check_date"], c["method"]) for c in checks] == [
        ("before_employment", DAY, "online"),
        ("follow_up", "2026-03-27", "online"),
    ]
    assert [c["share_code"] for c in checks] == [None, "XYZ987654"]  # the case keeps the latest only
    assert all(c["recorded_by"]["name"] == "hr" for c in checks)

    reports = {r["kind"]: r for r in pack["reports"]}
    assert set(reports) == {"unauthorised_absence", "salary_change", "job_change", "employment_end"}
    assert all(r["status"] == "reported" and r["settled_by"]["name"] == "hr" for r in reports.values())
    assert {k: r["late"] for k, r in reports.items()} == {
        "unauthorised_absence": False,
        "salary_change": True,
        "job_change": True,
        "employment_end": False,
    }
    assert reports["salary_change"]["sms_reference"] == "SMS-LATE-2"
    assert [r["trigger_date"] for r in pack["reports"]] == sorted(r["trigger_date"] for r in pack["reports"])

    assert [(a["kind"], a["start_date"], a["end_date"]) for a in pack["absences"]] == [
        ("unauthorised_absence", "2026-02-09", "2026-02-27")
    ]
    assert [(c["action"], c["values"].get("salary")) for c in pack["salary_history"]] == [
        ("created", "62000.00"),
        ("change_salary", "58000.00"),
    ]
    assert [(c["action"], c["values"].get("job_title")) for c in pack["job_history"]] == [
        ("created", "Software engineer"),
        ("change_job", "Senior software engineer"),
    ]
    assert pack["salary_history"][1]["effective_date"] == "2026-03-02"

    by_kind = {d["kind"]: d["status"] for d in pack["deadlines"]}
    assert by_kind["cos_assignment_window"] == "met"
    assert by_kind["rtw_check_before_start"] == "met"
    assert by_kind["record_retention"] == "pending"
    assert pack["retention_date"].startswith("2028-03-27")
    assert pack["counts"] == {
        "events": len(trail),
        "rtw_checks": 2,
        "reports": 4,
        "late_reports": 2,
        "open_reports": 0,
        "deadlines_met": sum(1 for d in pack["deadlines"] if d["status"] == "met"),
        "deadlines_breached": 0,
    }


async def test_an_export_is_an_audit_event_and_needs_the_hr_role(work: Casework) -> None:
    hire = (await work.create())["id"]
    await pack_of(work, hire)
    r = await work.client.get(
        f"/v1/hires/{hire}/audit-pack", params={"format": "html"}, headers=work.tenant.headers("hr")
    )
    assert r.status_code == 200
    exported = [e for e in await work.events(hire) if e["type"] == "hire.audit_pack_exported"]
    assert [(e["data"]["document"], e["actor"]["role"]) for e in exported] == [("json", "hr"), ("html", "hr")]

    refused = await work.client.get(f"/v1/hires/{hire}/audit-pack", headers=work.tenant.headers("viewer"))
    assert refused.status_code == 403
    unknown = await work.client.get("/v1/hires/hire_nope/audit-pack", headers=work.headers())
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert len([e for e in await work.events(hire) if e["type"] == "hire.audit_pack_exported"]) == 2


class _Text(HTMLParser):
    """The page's text as a reader sees it, and its headings."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "h2"):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2") and self._heading is not None:
            self.headings.append(" ".join("".join(self._heading).split()))
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        if self._heading is not None:
            self._heading.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


async def test_the_printable_document_shows_the_record_and_a_timeline_and_escapes_what_it_shows(
    work: Casework,
) -> None:
    hire = await whole_life(work, family_name="<script>alert(1)</script>")
    r = await work.client.get(f"/v1/hires/{hire}/audit-pack", headers=work.headers(Accept="text/html"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    body = r.text
    assert "<script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body

    page = _Text()
    page.feed(body)
    text = page.text
    assert page.headings[:3] == ["Sponsored worker record: Ada <script>alert(1)</script>", "Timeline", "1. Worker"]
    for expected in (
        "C2G8H71234567X",
        "SMS-LATE-2",
        "reported (late)",
        "Senior software engineer",
        "XYZ987654",
        "record retention",
    ):
        assert expected in text, expected
    assert [h for h in page.headings if h[:2].rstrip(".").isdigit()] == [
        "1. Worker",
        "2. Job and pay (current)",
        "3. Certificate of Sponsorship",
        "4. Visa and permission",
        "5. Eligibility",
        "6. Right-to-work checks",
        "7. Reportable events and SMS reports",
        "8. Absences",
        "9. Salary, job and work location history",
        "10. Deadlines",
        "11. Event trail",
    ]

    svg = ET.fromstring(body[body.index("<svg") : body.index("</svg>") + len("</svg>")])
    titles = [t.text or "" for t in svg.iter(f"{SVG}title")]
    assert any(t.startswith("cos assignment window: due") and t.endswith(", met on 2026-01-12") for t in titles)
    assert any(t.startswith("reported 2026-03-27 (late)") for t in titles)
    assert any("follow up check (online) on 2026-03-27" in t for t in titles)
    states = [t.text for t in svg.iter(f"{SVG}text") if (t.get("class") or "") == "inband"]
    assert "employed" in states


async def test_html_is_chosen_by_format_or_accept_and_json_is_the_default(work: Casework) -> None:
    hire = (await work.create())["id"]
    by_param = await work.client.get(f"/v1/hires/{hire}/audit-pack?format=html", headers=work.headers())
    assert by_param.headers["content-type"].startswith("text/html")
    json_wins = await work.client.get(
        f"/v1/hires/{hire}/audit-pack?format=json", headers=work.headers(Accept="text/html")
    )
    assert json_wins.headers["content-type"] == "application/json"
    bad = await work.client.get(f"/v1/hires/{hire}/audit-pack?format=pdf", headers=work.headers())
    assert bad.status_code == 422


async def test_the_bundle_is_a_zip_with_a_manifest_first_and_every_workers_pack(work: Casework) -> None:
    hires = sorted([await whole_life(work), (await work.create(external_id="emp-2"))["id"]])
    r = await work.client.get("/v1/audit-packs", headers=work.headers())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith('attachment; filename="audit-packs-')
    assert r.headers["sponsorflow-export-total"] == "2"

    archive = zipfile.ZipFile(io.BytesIO(r.content))
    names = archive.namelist()
    assert names[0] == "manifest.json"
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["format"] == "sponsorflow.audit_pack_bundle/1"
    assert manifest["export_id"] == r.headers["sponsorflow-export-id"]
    assert manifest["total"] == 2 and [w["hire_id"] for w in manifest["workers"]] == hires
    assert set(names[1:]) == {f for w in manifest["workers"] for f in (w["json"], w["html"])}
    written = [json.loads(archive.read(w["json"])) for w in manifest["workers"]]
    assert [(p["hire_id"], p["state"]) for p in written] == [(w["hire_id"], w["state"]) for w in manifest["workers"]]
    assert sorted(p["state"] for p in written) == ["closed", "draft"]
    assert all(b"Sponsored worker record" in archive.read(w["html"]) for w in manifest["workers"])

    export = await work.client.get(f"/v1/audit-pack-exports/{manifest['export_id']}", headers=work.headers())
    assert export.status_code == 200
    assert {k: export.json()[k] for k in ("status", "total", "done")} == {"status": "completed", "total": 2, "done": 2}
    assert export.json()["bytes_sent"] == len(r.content)
    feed = (await work.client.get("/v1/events", params={"limit": 200}, headers=work.headers())).json()["data"]
    recorded = [e for e in feed if e["type"] == "audit_packs.exported"]
    assert [(e["subject_id"], e["data"]["total"]) for e in recorded] == [(manifest["export_id"], 2)]


async def test_the_bundle_can_be_narrowed_by_state_and_refuses_unknown_states(work: Casework) -> None:
    closed = await whole_life(work)
    await work.create(external_id="emp-2")
    r = await work.client.get("/v1/audit-packs", params={"state": "closed"}, headers=work.headers())
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(r.content)).read("manifest.json"))
    assert [w["hire_id"] for w in manifest["workers"]] == [closed]
    assert manifest["filters"] == {"state": ["closed"]}
    bad = await work.client.get("/v1/audit-packs", params={"state": "sacked"}, headers=work.headers())
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_state"
    listed = (await work.client.get("/v1/audit-pack-exports", headers=work.headers())).json()["data"]
    assert [e["filters"] for e in listed] == [{"state": ["closed"]}]  # the refused one started nothing


async def _bundle(db: AsyncEngine, tenant: Tenant, clock: FrozenClock) -> bundles.Bundle:
    async with create_sessionmaker(db)() as session:
        actor = Actor(type="api_key", id=None, role="hr")
        return await bundles.start_bundle(session, tenant.organisation_id, (), actor, clock.now())


async def test_a_large_bundles_progress_can_be_followed_while_it_streams(
    work: Casework, db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        await work.create(external_id=f"emp-{n}")
    monkeypatch.setattr(bundles, "BUNDLE_BATCH", 1)
    bundle = await _bundle(db, work.tenant, work.clock)
    stream = bundles.stream_bundle(create_sessionmaker(db), bundle, render_html, work.clock.now)
    seen = []
    async for _chunk in stream:
        export = await _export(work, bundle.export.id)
        seen.append((export["status"], export["done"], export["total"]))
    # Each batch is counted before its bytes go out; the archive's closing bytes come last.
    assert seen == [("running", 1, 3), ("running", 2, 3), ("running", 3, 3), ("running", 3, 3)]
    assert (await _export(work, bundle.export.id))["status"] == "completed"


async def test_a_bundle_abandoned_by_its_client_is_marked_failed(work: Casework, db: AsyncEngine) -> None:
    await work.create()
    bundle = await _bundle(db, work.tenant, work.clock)
    stream = bundles.stream_bundle(create_sessionmaker(db), bundle, render_html, work.clock.now)
    await anext(stream)
    await stream.aclose()  # what the server does when the client disconnects
    export = await _export(work, bundle.export.id)
    assert (export["status"], export["error"]) == ("failed", "GeneratorExit")


async def _export(work: Casework, export_id: str) -> dict[str, Any]:
    r = await work.client.get(f"/v1/audit-pack-exports/{export_id}", headers=work.tenant.headers("viewer"))
    assert r.status_code == 200, r.text
    return dict(r.json())
