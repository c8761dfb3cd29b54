"""Retention: personal data of closed cases goes once the retention date (end of employment + 2 years,
from the rules data) has passed, exactly then and never under a legal hold; the erasure is audited."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit.models import Event, OutboxMessage
from app.clock import FrozenClock
from app.config import Settings
from app.db.engine import create_sessionmaker
from app.deadlines.models import Deadline
from app.hires.models import Hire
from app.integrations.hris.models import HrisEmployee, HrisEvent
from app.obligations.models import Obligation
from app.ops.metrics import RETENTION_ERASED
from app.retention import service as retention
from app.rules.book import RuleBook
from app.worker.loop import ALSO_ERASED_BY_RETENTION, Worker
from tests.support.casework import Casework
from tests.support.tenants import Tenant

ROOT = Path(__file__).resolve().parents[2]
START_OF_CASE = datetime(2026, 1, 12, 9, tzinfo=UTC)
PERSONAL_VALUES = ("Ada", "Okafor", "1994-05-17", "ada@example.com", "NGA", "C2G8H71234567X", "ABC123XYZ")


@pytest.fixture
async def work(client: AsyncClient, tenant: Tenant, clock: FrozenClock) -> Casework:
    casework = Casework(client, tenant, clock)
    await casework.licence_active()
    return casework


async def closed_case(work: Casework, ended_on: str, external_id: str) -> str:
    """A worker employed, then gone on `ended_on`, the end reported and the case closed."""
    hire = (await work.create(inside_uk=False, external_id=external_id, start_date=ended_on))["id"]
    work.on(ended_on)
    for action, payload in [
        ("request_cos", {}),
        ("grant_cos", {}),
        ("assign_cos", {"cos_reference": "C2G8H71234567X"}),
        ("submit_visa_application", {"application_date": ended_on}),
        ("grant_visa", {"permission_start_date": ended_on, "permission_end_date": "2030-01-01"}),
        ("complete_rtw_check", {"rtw_check_date": ended_on, "method": "online", "share_code": "ABC123XYZ"}),
        ("start_employment", {"actual_start_date": ended_on}),
        ("change_work_location", {"effective_date": ended_on, "work_location": "12 Acacia Avenue, Leeds"}),
        ("end_sponsorship", {"ended_on": ended_on, "reason": "Dismissed after a complaint by J. Smith"}),
    ]:
        await work.ok(hire, action, **payload)
    await work.report_owed(hire)
    await work.ok(hire, "close")
    return hire


async def rows(db: AsyncEngine, hire_id: str) -> tuple[Hire, list[Event], list[OutboxMessage], list[Obligation]]:
    async with create_sessionmaker(db)() as session:
        hire = await session.get(Hire, hire_id)
        assert hire is not None
        events = list(
            (await session.execute(select(Event).where(Event.case_id == hire_id).order_by(Event.seq))).scalars()
        )
        outbox = list(
            (
                await session.execute(select(OutboxMessage).where(OutboxMessage.event_id.in_([e.id for e in events])))
            ).scalars()
        )
        owed = list((await session.execute(select(Obligation).where(Obligation.hire_id == hire_id))).scalars())
        return hire, events, outbox, owed


def holds_personal_data(*documents: Any) -> bool:
    return any(value in json.dumps(d, default=str) for d in documents for value in PERSONAL_VALUES)


async def test_retention_erases_exactly_what_is_due_and_nothing_under_legal_hold(
    work: Casework, db: AsyncEngine, rulebook: RuleBook, settings: Settings
) -> None:
    due = await closed_case(work, "2026-01-12", "due")
    held = await closed_case(work, "2026-01-12", "held")
    recent = await closed_case(work, "2026-06-01", "recent")
    open_case = (await work.create(external_id="open"))["id"]
    r = await work.client.put(
        f"/v1/hires/{held}/legal-hold", json={"reason": "Tribunal claim ET/1234"}, headers=work.tenant.headers("admin")
    )
    assert r.status_code == 200, r.text
    sessions = create_sessionmaker(db)

    # The day the retention date runs out, nothing goes; the next day the first two cases are due. The
    # worker's deadline job leaves retention dates alone (they are settled by erasure, never breached).
    worker = Worker(sessions, rulebook, settings)
    last_day = datetime(2028, 1, 12, 23, 0, tzinfo=UTC)  # 23:00 UTC = 23:00 UK time in January
    assert (await worker.tick(last_day))["retention"] == 0
    before = RETENTION_ERASED._value.get()
    assert (await worker.tick(last_day + timedelta(days=1)))["retention"] == 1
    await worker.aclose()
    assert RETENTION_ERASED._value.get() == before + 1

    hire, events, outbox, owed = await rows(db, due)
    assert (hire.given_name, hire.family_name) == ("[erased]", "[erased]")
    assert [hire.date_of_birth, hire.email, hire.nationality, hire.external_id, hire.rtw_share_code] == [None] * 5
    assert (hire.cos_reference, hire.work_location, hire.end_reason) == (None, None, None)
    assert hire.personal_data_erased_at == last_day + timedelta(days=1)
    # The skeleton stays: states, dates, SOC code, pay and every event's type, action, states, actor, time.
    assert (hire.state, hire.soc_code, str(hire.salary), str(hire.ended_on)) == (
        "closed",
        "2134",
        "62000.00",
        "2026-01-12",
    )
    assert not holds_personal_data([e.data for e in events], [m.payload for m in outbox], [o.details for o in owed])
    created = events[0]
    assert created.type == "hire.created" and created.data["soc_code"] == "2134"
    assert {"given_name", "family_name", "date_of_birth", "email", "nationality"} <= set(created.data["erased_fields"])
    assert all(e.actor_type and e.occurred_at and e.type for e in events)
    erasure = events[-1]
    assert erasure.type == "hire.personal_data_erased" and erasure.actor_type == "system"
    assert erasure.data["rule_id"] == "records.retention" and erasure.data["retention_date"].startswith("2028-01-12")
    assert set(erasure.data["fields"]) == {
        "given_name", "family_name", "nationality", "date_of_birth", "email", "external_id",
        "rtw_share_code", "cos_reference", "work_location", "end_reason",
    }  # fmt: skip
    assert not holds_personal_data(erasure.data)
    async with sessions() as session:
        kept = (
            await session.execute(
                select(Deadline.status).where(Deadline.subject_id == due, Deadline.kind == "record_retention")
            )
        ).scalar_one()
    assert kept == "met"

    for untouched in (held, recent, open_case):
        h, e, _, _ = await rows(db, untouched)
        assert h.personal_data_erased_at is None and h.family_name == "Okafor"
        assert holds_personal_data([x.data for x in e]) or untouched == open_case

    # Lifting the hold lets the next pass erase that case too; the recent one waits for its own date.
    r = await work.client.delete(f"/v1/hires/{held}/legal-hold", headers=work.tenant.headers("admin"))
    assert r.status_code == 200 and r.json()["legal_hold"] is False
    assert await retention.erase_due(sessions, last_day + timedelta(days=1)) == 1
    assert (await rows(db, held))[0].personal_data_erased_at is not None
    assert await retention.erase_due(sessions, last_day + timedelta(days=1)) == 0  # once only
    assert await retention.erase_due(sessions, datetime(2028, 6, 2, 12, tzinfo=UTC)) == 1  # the recent one


async def test_the_api_shows_an_erased_case_without_its_personal_data(work: Casework, db: AsyncEngine) -> None:
    hire = await closed_case(work, "2026-01-12", "shown")
    await retention.erase_due(create_sessionmaker(db), datetime(2028, 2, 1, tzinfo=UTC))
    case = (await work.client.get(f"/v1/hires/{hire}", headers=work.headers())).json()
    assert case["family_name"] == "[erased]" and case["personal_data_erased_at"] is not None
    pack = (await work.client.get(f"/v1/hires/{hire}/audit-pack", headers=work.headers())).json()
    assert not holds_personal_data(pack)
    assert [e["type"] for e in pack["events"]][-1] == "hire.personal_data_erased"
    assert [(r["kind"], r["sms_reference"]) for r in pack["reports"]] == [
        ("work_location_change", "SMS-REF-1"),
        ("employment_end", "SMS-REF-1"),
    ]


async def test_a_legal_hold_is_set_and_cleared_by_admins_and_audited(work: Casework) -> None:
    hire = (await work.create())["id"]
    url = f"/v1/hires/{hire}/legal-hold"
    assert (await work.client.put(url, json={"reason": "claim"}, headers=work.tenant.headers("hr"))).status_code == 403
    assert (await work.client.put(url, json={"reason": " "}, headers=work.tenant.headers("admin"))).status_code == 422
    r = await work.client.put(url, json={"reason": "Home Office request"}, headers=work.tenant.headers("admin"))
    assert r.status_code == 200
    assert (r.json()["legal_hold"], r.json()["reason"]) == (True, "Home Office request")
    case = await work.client.get(f"/v1/hires/{hire}", headers=work.headers())
    assert case.json()["legal_hold"] is True and case.headers["etag"] == r.headers["etag"]
    again = await work.client.put(url, json={"reason": "Home Office request"}, headers=work.tenant.headers("admin"))
    assert again.json()["version"] == r.json()["version"]  # the same hold again changes nothing
    assert (await work.client.get(url, headers=work.tenant.headers("viewer"))).json()["legal_hold"] is True
    await work.client.delete(url, headers=work.tenant.headers("admin"))
    trail = [(e["type"], e["data"]) for e in await work.events(hire) if "legal_hold" in e["type"]]
    assert trail == [("hire.legal_hold_set", {"reason": "Home Office request"}), ("hire.legal_hold_cleared", {})]
    missing = await work.client.put(
        "/v1/hires/hire_nope/legal-hold", json={"reason": "x"}, headers=work.tenant.headers("admin")
    )
    assert missing.status_code == 404


async def test_an_erased_case_cannot_be_put_on_hold(work: Casework, db: AsyncEngine) -> None:
    hire = await closed_case(work, "2026-01-12", "gone")
    await retention.erase_due(create_sessionmaker(db), datetime(2028, 2, 1, tzinfo=UTC))
    r = await work.client.put(
        f"/v1/hires/{hire}/legal-hold", json={"reason": "too late"}, headers=work.tenant.headers("admin")
    )
    assert r.status_code == 409 and r.json()["code"] == "personal_data_erased"


@pytest.mark.postgres_only
async def test_a_hold_being_set_while_retention_runs_wins(work: Casework, db: AsyncEngine) -> None:
    hire = await closed_case(work, "2026-01-12", "racing")
    sessions = create_sessionmaker(db)
    now = datetime(2028, 2, 1, tzinfo=UTC)
    async with db.connect() as admin:
        transaction = await admin.begin()
        # An admin's hold, mid-transaction: the row is locked and the hold not yet committed.
        await admin.execute(text("SELECT id FROM hires WHERE id = :id FOR UPDATE"), {"id": hire})
        await admin.execute(text("UPDATE hires SET legal_hold = true WHERE id = :id"), {"id": hire})
        assert await retention.erase_due(sessions, now) == 0  # skipped, not waited for
        await transaction.commit()
    assert await retention.erase_due(sessions, now) == 0  # the committed hold keeps it
    assert (await rows(db, hire))[0].personal_data_erased_at is None


@pytest.mark.processes
async def test_the_dry_run_lists_what_would_go_and_what_a_hold_keeps_and_changes_nothing(
    work: Casework, db: AsyncEngine, settings
) -> None:  # type: ignore[no-untyped-def]
    gone = await closed_case(work, "2026-01-12", "old")
    kept = await closed_case(work, "2026-01-12", "kept")
    await work.client.put(
        f"/v1/hires/{kept}/legal-hold", json={"reason": "audit"}, headers=work.tenant.headers("admin")
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "retention",
        "--dry-run",
        "--as-of",
        "2028-02-01",
        cwd=ROOT,
        env={**__import__("os").environ, "SPONSORFLOW_DATABASE_URL": settings.database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert lines[-1] == "dry run: 1 case(s) would be erased, 1 kept by a legal hold"
    by_case = {line.split()[0]: line for line in lines[:-1]}
    assert "retention date 2028-01-12" in by_case[gone] and " erase " in by_case[gone]
    assert "kept: legal hold (audit)" in by_case[kept]
    assert "given_name" in by_case[gone]
    for hire in (gone, kept):
        assert (await rows(db, hire))[0].personal_data_erased_at is None


async def test_erasure_takes_the_hris_deliveries_about_the_case_with_it(work: Casework, db: AsyncEngine) -> None:
    """The inbox keeps what an HRIS sent as received (names, pay, its employee id): once the case's
    retention date passes, the rows stay as a record of what arrived and what applying did, without the
    body or the employee id, and the employee's link to the case goes."""
    hire = await closed_case(work, "2026-01-12", "E1001")
    r = await work.client.post(
        "/v1/hris-connections", json={"name": "HR", "provider": "standard"}, headers=work.tenant.headers("admin")
    )
    assert r.status_code == 201, r.text
    connection, org = r.json()["id"], work.tenant.organisation_id
    body = json.dumps({"type": "employee.created", "employee": {"id": "E1001", "given_name": "Ada"}}).encode()
    sessions = create_sessionmaker(db)
    async with sessions() as session, session.begin():
        session.add_all([
            HrisEvent(
                id="hrise_1", organisation_id=org, connection_id=connection, dedupe_key="msg_1",
                event_type="employee.created", employee_id="E1001", occurred_at=START_OF_CASE,
                received_at=START_OF_CASE, content_type="application/json", body=body, status="applied",
                effects=["hire.created"], hire_id=hire, attempts=1, processed_at=START_OF_CASE,
            ),
            HrisEmployee(
                connection_id=connection, employee_id="E1001", organisation_id=org, hire_id=hire,
                last_event_at=START_OF_CASE, updated_at=START_OF_CASE,
            ),
        ])  # fmt: skip

    assert await retention.erase_due(sessions, datetime(2028, 2, 1, tzinfo=UTC), also=ALSO_ERASED_BY_RETENTION) == 1
    async with sessions() as session:
        event = (await session.execute(select(HrisEvent))).scalar_one()
        links = (await session.execute(select(HrisEmployee))).scalars().all()
        erasure = (await session.execute(select(Event).where(Event.type == "hire.personal_data_erased"))).scalar_one()
    assert event.body == b"" and event.employee_id is None
    assert event.status == "applied" and event.effects == ["hire.created"] and event.hire_id == hire
    assert links == []
    assert erasure.data["rows_erased_elsewhere"] == 2
