"""Test helpers that drive cases over HTTP the way a frontend would: read the ETag, send it back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from httpx import AsyncClient, Response

from app.clock import FrozenClock
from app.context import UK
from tests.support.tenants import Tenant

SOFTWARE_ENGINEER = {
    "given_name": "Ada",
    "family_name": "Okafor",
    "nationality": "NGA",
    "date_of_birth": "1994-05-17",
    "email": "ada@example.com",
    "job_title": "Software engineer",
    "soc_code": "2134",
    "salary": "62000.00",
    "weekly_hours": "37.5",
    "start_date": "2026-03-02",
    "work_location": "Manchester",
    "work_nation": "england_and_wales",
}


def journey(day: str) -> list[tuple[str, dict[str, Any]]]:
    """The outside-UK path from draft to the end of sponsorship, every date on `day`."""
    end = f"{int(day[:4]) + 3}{day[4:]}"
    return [
        ("request_cos", {}),
        ("grant_cos", {}),
        ("assign_cos", {"cos_reference": "C2G8H71234567X"}),
        ("submit_visa_application", {"application_date": day}),
        ("grant_visa", {"permission_start_date": day, "permission_end_date": end}),
        ("complete_rtw_check", {"rtw_check_date": day, "method": "manual"}),
        ("start_employment", {"actual_start_date": day}),
        ("end_sponsorship", {"ended_on": day, "reason": "dismissed"}),
    ]


@dataclass
class Casework:
    client: AsyncClient
    tenant: Tenant
    clock: FrozenClock
    role: str = "hr"
    etags: dict[str, str] = field(default_factory=dict)

    def headers(self, **extra: str) -> dict[str, str]:
        return self.tenant.headers(self.role, **extra)

    def on(self, day: str) -> None:
        """Move the clock to 10:00 UK time on `day`."""
        self.clock.set(datetime.combine(date.fromisoformat(day), time(10), tzinfo=UK))

    async def licence_active(self) -> None:
        admin = self.tenant.headers("admin")
        r = await self.client.post("/v1/licence", headers=admin)
        assert r.status_code == 201, r.text
        for action, body in (("submit", {}), ("grant", {"licence_number": "LIC-0001"})):
            r = await self.client.post(
                f"/v1/licence/actions/{action}", json=body, headers=admin | {"If-Match": r.headers["etag"]}
            )
            assert r.status_code == 200, r.text

    async def create(self, **overrides: Any) -> dict[str, Any]:
        r = await self.client.post("/v1/hires", json=SOFTWARE_ENGINEER | overrides, headers=self.headers())
        assert r.status_code == 201, r.text
        self.etags[r.json()["id"]] = r.headers["etag"]
        return dict(r.json())

    async def act(self, hire_id: str, action: str, **payload: Any) -> Response:
        r = await self.client.post(
            f"/v1/hires/{hire_id}/actions/{action}",
            json=payload,
            headers=self.headers(**{"If-Match": self.etags[hire_id]}),
        )
        if r.status_code == 200:
            self.etags[hire_id] = r.headers["etag"]
        return r

    async def ok(self, hire_id: str, action: str, **payload: Any) -> dict[str, Any]:
        r = await self.act(hire_id, action, **payload)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def walk(self, hire_id: str, until: str, day: str) -> dict[str, Any]:
        """Take a case from draft through each step of the outside-UK path up to the `until` action,
        every date set to `day`."""
        case: dict[str, Any] = {}
        for action, payload in journey(day):
            case = await self.ok(hire_id, action, **payload)
            if action == until:
                return case
        raise ValueError(f"{until} is not on the journey")

    async def events(self, hire_id: str) -> list[dict[str, Any]]:
        r = await self.client.get(f"/v1/hires/{hire_id}/events", params={"limit": 200}, headers=self.headers())
        assert r.status_code == 200, r.text
        return list(r.json()["data"])

    async def report_owed(self, hire_id: str, reference: str = "SMS-REF-1") -> list[dict[str, Any]]:
        """Report every open obligation of the case, as an HR user would in the SMS and then here."""
        owed = await self.client.get(
            "/v1/obligations", params={"hire_id": hire_id, "status": ["open", "overdue"]}, headers=self.headers()
        )
        reported = []
        for obligation in owed.json()["data"]:
            r = await self.client.post(
                f"/v1/obligations/{obligation['id']}/actions/report",
                json={"sms_reference": reference},
                headers=self.headers() | {"If-Match": f'"{obligation["version"]}"'},
            )
            assert r.status_code == 200, r.text
            reported.append(dict(r.json()))
        r = await self.client.get(f"/v1/hires/{hire_id}", headers=self.headers())
        self.etags[hire_id] = r.headers["etag"]
        return reported


async def advance(client: AsyncClient, clock_id: str, tenant: Tenant, to: str) -> list[dict[str, Any]]:
    r = await client.post(f"/v1/test-clocks/{clock_id}/advance", json={"to": to}, headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text
    return list(r.json()["fired"])
