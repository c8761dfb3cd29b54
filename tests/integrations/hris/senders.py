"""Test HRIS senders: each builds events in its provider's documented shape, with our own values, and
signs them with the provider's published algorithm (Standard Webhooks and Finch through the
`standardwebhooks` package, the others with hmac/hashlib directly, not with the service's code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from standardwebhooks.webhooks import Webhook

TERMINATED = "terminated"


@dataclass(frozen=True)
class Person:
    """An employee as the HRIS holds them, in HR words."""

    id: str = "E1001"
    given: str = "Ada"
    family: str = "Okafor"
    email: str = "ada@example.com"
    title: str = "Software engineer"
    salary: int = 62_000
    start: str = "2026-03-02"
    location: str = "Manchester"
    sponsored: bool = True
    terminated_on: str | None = None

    def but(self, **changes: Any) -> Person:
        return replace(self, **changes)


@dataclass
class Sender:
    """Builds (body, headers) for one connection. `secret` is what the connection was given or issued."""

    secret: str = ""
    name: ClassVar[str]
    selector: ClassVar[dict[str, Any] | None]
    #: A given secret for providers whose HRIS issues it; None: the service generates it.
    issued_secret: ClassVar[str | None] = None
    sent: int = field(default=0)

    def body(self, kind: str, person: Person, at: datetime) -> dict[str, Any]:
        raise AssertionError("each sender builds its own body")

    def sign(self, body: bytes, at: datetime) -> dict[str, str]:
        raise AssertionError("each sender signs its own way")

    def delivery(self, kind: str, person: Person, at: datetime) -> tuple[bytes, dict[str, str]]:
        raw = json.dumps(self.body(kind, person, at)).encode()
        return raw, self.sign(raw, at) | {"content-type": "application/json"}


class StandardSender(Sender):
    name = "standard"
    selector = None
    id_header, timestamp_header, signature_header = "webhook-id", "webhook-timestamp", "webhook-signature"

    def body(self, kind: str, person: Person, at: datetime) -> dict[str, Any]:
        employee: dict[str, Any] = {
            "id": person.id,
            "given_name": person.given,
            "family_name": person.family,
            "email": person.email,
            "job_title": person.title,
            "job_code": person.title,
            "salary": f"{person.salary}.00",
            "weekly_hours": "37.5",
            "start_date": person.start,
            "work_location": person.location,
            "inside_uk": False,
            "requires_sponsorship": person.sponsored,
        }
        if person.terminated_on:
            employee["termination_date"] = person.terminated_on
        return {"type": f"employee.{kind}", "occurred_at": at.isoformat(), "employee": employee}

    def sign(self, body: bytes, at: datetime) -> dict[str, str]:
        self.sent += 1
        message_id = f"msg_{self.sent}_{hashlib.sha256(body).hexdigest()[:12]}"
        signature = Webhook(self.secret).sign(message_id, at, body.decode())
        return {
            self.id_header: message_id,
            self.timestamp_header: str(int(at.timestamp())),
            self.signature_header: signature,
        }


class FinchSender(StandardSender):
    name = "finch"
    selector = {"field": "custom_fields.requires_sponsorship", "values": ["yes"]}
    id_header, timestamp_header, signature_header = "Finch-Event-Id", "Finch-Timestamp", "Finch-Signature"

    def body(self, kind: str, person: Person, at: datetime) -> dict[str, Any]:
        action = {"created": "created", "updated": "updated", TERMINATED: "updated", "deleted": "deleted"}[kind]
        data: dict[str, Any] = {
            "individual_id": person.id,
            "first_name": person.given,
            "last_name": person.family,
            "title": person.title,
            "start_date": person.start,
            "is_active": person.terminated_on is None,
            "income": {"amount": person.salary * 100, "currency": "gbp", "unit": "yearly"},
            "location": {"line1": "1 Quay Street", "city": person.location, "country": "GB"},
            "custom_fields": [{"name": "requires_sponsorship", "value": "yes" if person.sponsored else "no"}],
        }
        if person.terminated_on:
            data["end_date"] = person.terminated_on
        return {
            "company_id": "5e3b8a2c-0000-4000-8000-000000000001",
            "account_id": "5e3b8a2c-0000-4000-8000-000000000002",
            "connection_id": "5e3b8a2c-0000-4000-8000-000000000003",
            "event_type": f"employment.{action}",
            "data": data,
        }


class BambooSender(Sender):
    name = "bamboohr"
    selector = {"field": "Requires Sponsorship", "values": ["Yes"]}
    issued_secret = "bamboo-private-key-4f1c9e2a7b"

    def body(self, kind: str, person: Person, at: datetime) -> dict[str, Any]:
        action = {"created": "Created", "updated": "Updated", TERMINATED: "Updated", "deleted": "Deleted"}[kind]
        fields: dict[str, Any] = {
            "First Name": {"value": person.given},
            "Last Name": person.family,
            "Work Email": person.email,
            "Job Title": person.title,
            "Pay Rate": f"{person.salary:,}.00 GBP",
            "Pay Per": "Year",
            "Hire Date": person.start,
            "Location": person.location,
            "Status": "Inactive" if person.terminated_on else "Active",
            "Termination Date": person.terminated_on or "0000-00-00",
            "Requires Sponsorship": "Yes" if person.sponsored else "No",
        }
        changed = ["Status", "Termination Date"] if kind == TERMINATED else list(fields)
        entry = {
            "id": person.id,
            "action": action,
            "changedFields": changed,
            "fields": fields,
            "timestamp": at.isoformat(),
        }
        return {"employees": [entry]}

    def sign(self, body: bytes, at: datetime) -> dict[str, str]:
        timestamp = str(int(at.timestamp()))
        digest = hmac.new(self.secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
        return {"X-BambooHR-Timestamp": timestamp, "X-BambooHR-Signature": digest}


class MergeSender(Sender):
    name = "merge"
    selector = {"field": "custom_fields.requires_sponsorship", "values": ["true"]}
    issued_secret = "merge-signature-key-8d2f61c0b3"

    def body(self, kind: str, person: Person, at: datetime) -> dict[str, Any]:
        event = {"created": "added", "updated": "changed", TERMINATED: "changed", "deleted": "removed"}[kind]
        return {
            "hook": {"id": "0f4d5c6e-hook", "event": f"Employee.{event}", "target": "https://example.test/hook"},
            "linked_account": {"id": "la_1", "integration_slug": "workday", "end_user_origin_id": "org-1"},
            "data": {
                "id": person.id,
                "remote_id": f"WD-{person.id}",
                "first_name": person.given,
                "last_name": person.family,
                "work_email": person.email,
                "employment_status": "INACTIVE" if person.terminated_on else "ACTIVE",
                "start_date": f"{person.start}T00:00:00Z",
                "termination_date": f"{person.terminated_on}T00:00:00Z" if person.terminated_on else None,
                "modified_at": at.isoformat().replace("+00:00", "Z"),
                "employments": [
                    {
                        "job_title": person.title,
                        "pay_rate": float(person.salary),
                        "pay_period": "YEAR",
                        "pay_currency": "GBP",
                        "employment_type": "FULL_TIME",
                        "effective_date": f"{person.start}T00:00:00Z",
                        "work_location": {"name": person.location},
                    }
                ],
                "custom_fields": {"requires_sponsorship": person.sponsored},
            },
        }

    def sign(self, body: bytes, at: datetime) -> dict[str, str]:
        digest = hmac.new(self.secret.encode(), body, hashlib.sha256).digest()
        return {"X-Merge-Webhook-Signature": base64.urlsafe_b64encode(digest).decode().rstrip("=")}


class BobSender(Sender):
    name = "hibob"
    selector = {"field": "custom.sponsorship", "values": ["yes"]}
    issued_secret = "bob-webhook-secret-6a0e93d17c"

    def body(self, kind: str, person: Person, at: datetime) -> dict[str, Any]:
        event = {"created": "employee.created", "updated": "employee.updated", TERMINATED: "employee.left"}.get(
            kind, "employee.deleted"
        )
        return {
            "companyId": 734251,
            "type": event,
            "triggeredBy": "3332883804594373380",
            "triggeredAt": at.astimezone(UTC).replace(tzinfo=None).isoformat(),
            "data": {
                "employeeId": person.id,
                "root": {"firstName": person.given, "surname": person.family, "email": person.email},
                "work": {"title": person.title, "startDate": person.start, "site": person.location},
                "payroll": {"salary": {"baseSalary": person.salary, "salaryPayPeriod": "Annual", "currency": "GBP"}},
                "internal": {
                    "status": "Inactive" if person.terminated_on else "Active",
                    "terminationDate": person.terminated_on,
                },
                "custom": {"sponsorship": "Yes" if person.sponsored else "No"},
            },
        }

    def sign(self, body: bytes, at: datetime) -> dict[str, str]:
        digest = hmac.new(self.secret.encode(), body, hashlib.sha512).digest()
        return {"Bob-Signature": base64.b64encode(digest).decode()}


SENDERS: dict[str, type[Sender]] = {
    s.name: s for s in (StandardSender, FinchSender, BambooSender, MergeSender, BobSender)
}
#: Providers whose scheme signs a timestamp (and so refuses a stale one).
TIMESTAMPED = ("standard", "finch", "bamboohr")


def forged(headers: dict[str, str]) -> dict[str, str]:
    """The same headers with every signature made by someone without the secret."""
    fake = hmac.new(b"not-the-secret", b"x", hashlib.sha256)
    out = dict(headers)
    for name in out:
        lowered = name.lower()
        if lowered in {"webhook-signature", "finch-signature"}:
            out[name] = "v1," + base64.b64encode(fake.digest()).decode()
        elif lowered == "x-bamboohr-signature":
            out[name] = fake.hexdigest()
        elif lowered == "x-merge-webhook-signature":
            out[name] = base64.urlsafe_b64encode(fake.digest()).decode().rstrip("=")
        elif lowered == "bob-signature":
            out[name] = base64.b64encode(hmac.new(b"not-the-secret", b"x", hashlib.sha512).digest()).decode()
    return out


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
