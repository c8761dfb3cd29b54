"""One small adapter per HRIS: how it signs a delivery, and how its body reads as employee events.

Every adapter verifies on the raw bytes before anything is parsed, compares in constant time
(`hmac.compare_digest`), and turns a delivery into `EmployeeEvent`s: the one internal shape the inbox
applies. What each HRIS sends is described in the README ("HRIS intake").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from standardwebhooks.webhooks import Webhook


class Provider(StrEnum):
    standard = "standard"
    bamboohr = "bamboohr"
    merge = "merge"
    hibob = "hibob"
    finch = "finch"


class Kind(StrEnum):
    created = "created"
    updated = "updated"
    terminated = "terminated"
    deleted = "deleted"


class SignatureRejected(Exception):
    """The delivery is not provably from the HRIS: 401, nothing stored."""


class Unreadable(Exception):
    """A verified body this service cannot read as employee events; kept with the reason."""

    def __init__(self, status: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class EmployeeEvent:
    """What an HRIS said about one employee, whatever its format: the record is as sent (the HRIS's own
    field names); the connection's field map reads it."""

    employee_id: str
    kind: Kind
    occurred_at: datetime
    record: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """A verified delivery read: the HRIS's event name and the employees it concerns."""

    event_type: str | None
    events: list[EmployeeEvent]


@dataclass(frozen=True)
class Verification:
    secrets: Sequence[str]
    now: datetime
    tolerance: timedelta


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unreadable(
            "ignored", "not_json", "the body is not JSON (a setup ping or test message): acknowledged"
        ) from exc


def parse_time(value: Any, default: datetime) -> datetime:
    """An ISO 8601 or Unix-seconds time; one without a zone is UTC (HiBob's `triggeredAt`)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return default
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return default


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise SignatureRejected(f"the {name} header is missing")
    return value


def _check_timestamp(raw: str, header: str, check: Verification) -> datetime:
    try:
        signed_at = datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise SignatureRejected(f"{header} is not a Unix time in seconds") from exc
    drift = abs((check.now - signed_at).total_seconds())
    if drift > check.tolerance.total_seconds():
        raise SignatureRejected(
            f"{header} is {int(drift)} s away from now (tolerance {int(check.tolerance.total_seconds())} s): "
            "a stale or replayed delivery"
        )
    return signed_at


def _hmac(key: bytes, message: bytes, digest: Any) -> bytes:
    return hmac.new(key, message, digest).digest()


def _one_signed(check: Verification, offered: bytes, expected: Callable[[bytes], bytes]) -> bool:
    """Whether the signature sent is the one a current secret makes (compared in constant time)."""
    return any(hmac.compare_digest(expected(secret.encode()), offered) for secret in check.secrets)


def _record(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _fields(data: dict[str, Any], *envelope: str) -> dict[str, Any]:
    """The employee's fields in `data`, without the keys that only name the event or the employee (so an
    ids-only event reads as one)."""
    return {k: v for k, v in data.items() if k not in envelope}


def _not_employee_event(event_type: Any) -> Unreadable:
    return Unreadable(
        "ignored", "not_an_employee_event", f"event {event_type!r} is not an employee event: nothing to apply"
    )


def _malformed(message: str) -> Unreadable:
    return Unreadable("failed", "malformed_event", message)


class Adapter(ABC):
    provider: ClassVar[Provider]
    #: The Settings field holding the tolerance for a signed timestamp; None where the scheme signs none.
    timestamp_setting: ClassVar[str | None] = None

    @abstractmethod
    def verify(self, body: bytes, headers: Mapping[str, str], check: Verification) -> datetime | None:
        """Raise SignatureRejected unless one of the secrets signed these bytes; return the signed time."""

    @abstractmethod
    def read(self, body: bytes, default_time: datetime) -> Delivery:
        """The verified body as employee events (raise Unreadable when it holds none); `default_time`
        dates them where the body does not."""

    def key(self, body: bytes, headers: Mapping[str, str]) -> str:
        """The delivery's idempotency key: a hash of the body where the HRIS sends no event id."""
        return body_hash(body)


class StandardWebhooks(Adapter):
    """Standard Webhooks v1 (`webhook-id`, `webhook-timestamp`, `webhook-signature`), signed and checked
    with the `standardwebhooks` package; the body is sponsorflow's own hire-event schema."""

    provider = Provider.standard
    timestamp_setting = "hris_timestamp_tolerance_seconds"
    id_header, timestamp_header, signature_header = "webhook-id", "webhook-timestamp", "webhook-signature"

    def verify(self, body: bytes, headers: Mapping[str, str], check: Verification) -> datetime | None:
        message_id = _header(headers, self.id_header)
        signed_at = _check_timestamp(_header(headers, self.timestamp_header), self.timestamp_header, check)
        offered = _header(headers, self.signature_header).split()
        try:
            text = body.decode()
        except UnicodeDecodeError as exc:
            raise SignatureRejected("the body is not UTF-8, which Standard Webhooks signs") from exc
        # The package signs; the time check above uses the service's clock (the package's verify reads the
        # system clock). Any of the space-separated `v1,<base64>` signatures may match.
        for secret in check.secrets:
            expected = base64.b64decode(Webhook(secret).sign(message_id, signed_at, text).partition(",")[2])
            for candidate in offered:
                version, _, signature = candidate.partition(",")
                try:
                    given = base64.b64decode(signature, validate=True)
                except (binascii.Error, ValueError):
                    continue
                if version == "v1" and hmac.compare_digest(expected, given):
                    return signed_at
        raise SignatureRejected(f"no {self.signature_header} matches the body")

    def key(self, body: bytes, headers: Mapping[str, str]) -> str:
        return headers[self.id_header]

    def read(self, body: bytes, default_time: datetime) -> Delivery:
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise _malformed("the body is not a JSON object")
        event_type = payload.get("type")
        kind = str(event_type or "").removeprefix("employee.")
        if not str(event_type or "").startswith("employee.") or kind not in Kind.__members__:
            raise _not_employee_event(event_type)
        employee = _record(payload.get("employee"))
        employee_id = employee.get("id")
        if employee_id in (None, ""):
            raise _malformed("the event has no employee.id")
        occurred = parse_time(payload.get("occurred_at"), default_time)
        return Delivery(event_type, [EmployeeEvent(str(employee_id), Kind(kind), occurred, employee)])


class Finch(StandardWebhooks):
    """Finch signs the Standard Webhooks way under its own header names; the body is Finch's envelope
    (`event_type`, `data` with `individual_id` and any Individual and Employment fields sent)."""

    provider = Provider.finch
    id_header, timestamp_header, signature_header = "finch-event-id", "finch-timestamp", "finch-signature"
    _KINDS: ClassVar[dict[str, Kind]] = {"created": Kind.created, "updated": Kind.updated, "deleted": Kind.deleted}

    def read(self, body: bytes, default_time: datetime) -> Delivery:
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise _malformed("the body is not a JSON object")
        event_type = payload.get("event_type")
        model, _, action = str(event_type or "").partition(".")
        if model not in {"individual", "employment"} or action not in self._KINDS:
            raise _not_employee_event(event_type)
        data = _record(payload.get("data"))
        individual = data.get("individual_id")
        if individual in (None, ""):
            raise _malformed("the event's data has no individual_id")
        record = _fields(data, "individual_id")
        return Delivery(event_type, [EmployeeEvent(str(individual), self._KINDS[action], default_time, record)])


class BambooHR(Adapter):
    """`X-BambooHR-Signature` = hex HMAC-SHA256(private key, raw body + `X-BambooHR-Timestamp`). No event
    id: the key is a hash of the body, which carries each change's own timestamp, so a retry (signed
    again or not) is the same event. Reads event-based and field-based (JSON) webhooks."""

    provider = Provider.bamboohr
    timestamp_setting = "hris_bamboohr_timestamp_tolerance_seconds"
    _ACTIONS: ClassVar[dict[str, Kind]] = {"created": Kind.created, "updated": Kind.updated, "deleted": Kind.deleted}

    def verify(self, body: bytes, headers: Mapping[str, str], check: Verification) -> datetime | None:
        signature = _header(headers, "x-bamboohr-signature").lower()
        raw_timestamp = _header(headers, "x-bamboohr-timestamp")
        signed_at = _check_timestamp(raw_timestamp, "x-bamboohr-timestamp", check)
        signed = body + raw_timestamp.encode()
        if not _one_signed(check, signature.encode(), lambda key: _hmac(key, signed, hashlib.sha256).hex().encode()):
            raise SignatureRejected("X-BambooHR-Signature does not match the body and timestamp")
        return signed_at

    def read(self, body: bytes, default_time: datetime) -> Delivery:
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise _malformed("the body is not a JSON object")
        if isinstance(payload.get("employees"), list):  # field-based: one entry per employee
            events = []
            for entry in payload["employees"]:
                entry = _record(entry)
                action = str(entry.get("action", "")).lower()
                if entry.get("id") in (None, "") or action not in self._ACTIONS:
                    raise _malformed("a field-based entry needs an id and an action (Created, Updated, Deleted)")
                occurred = parse_time(entry.get("timestamp"), default_time)
                events.append(
                    EmployeeEvent(str(entry["id"]), self._ACTIONS[action], occurred, _record(entry.get("fields")))
                )
            return Delivery("employees", events)
        event_type = payload.get("type")
        action = str(event_type or "").removeprefix("employee.")
        if not str(event_type or "").startswith("employee.") or action not in self._ACTIONS:
            raise _not_employee_event(event_type)
        data = _record(payload.get("data"))
        if data.get("employeeId") in (None, ""):
            raise _malformed("the event's data has no employeeId")
        occurred = parse_time(payload.get("timestamp"), default_time)
        record = _record(data.get("fields"))  # event-based webhooks send ids only, unless fields are added
        return Delivery(event_type, [EmployeeEvent(str(data["employeeId"]), self._ACTIONS[action], occurred, record)])


class Merge(Adapter):
    """`X-Merge-Webhook-Signature` = base64url HMAC-SHA256(signature key, raw body), compared with the `=`
    padding stripped on both sides; no timestamp, no event id (the key is a hash of the body). `data` is
    the Common Model Employee (`Employee.*`) or Employment (`Employment.*`, read as the employee's first
    employment)."""

    provider = Provider.merge
    _EMPLOYEE: ClassVar[dict[str, Kind]] = {"added": Kind.created, "changed": Kind.updated, "removed": Kind.deleted}

    def verify(self, body: bytes, headers: Mapping[str, str], check: Verification) -> datetime | None:
        offered = _header(headers, "x-merge-webhook-signature").rstrip("=").encode()
        if not _one_signed(
            check, offered, lambda key: base64.urlsafe_b64encode(_hmac(key, body, hashlib.sha256)).rstrip(b"=")
        ):
            raise SignatureRejected("X-Merge-Webhook-Signature does not match the body")
        return None

    def read(self, body: bytes, default_time: datetime) -> Delivery:
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise _malformed("the body is not a JSON object")
        event_type = _record(payload.get("hook")).get("event")
        model, _, action = str(event_type or "").lower().partition(".")
        data = _record(payload.get("data"))
        if model == "employee" and action in self._EMPLOYEE:
            employee_id, kind, record = data.get("id"), self._EMPLOYEE[action], data
        elif model == "employment" and action in self._EMPLOYEE:
            # An employment changed: the employee's job, pay or location. Read it where an Employee has it.
            employee_id, kind, record = data.get("employee"), Kind.updated, {"employments": [data]}
        else:
            raise _not_employee_event(event_type)
        if employee_id in (None, ""):
            raise _malformed(f"{event_type} data names no employee")
        occurred = parse_time(data.get("modified_at"), default_time)
        return Delivery(event_type, [EmployeeEvent(str(employee_id), kind, occurred, record)])


class HiBob(Adapter):
    """`Bob-Signature` = base64 HMAC-SHA512(secret, raw body); no timestamp header, no event id (the key
    is a hash of the body, which holds `triggeredAt`). Lifecycle events: `employee.joined` updates,
    `employee.left` terminates; fields are read from `data` by Bob field path (`work.title`)."""

    provider = Provider.hibob
    _KINDS: ClassVar[dict[str, Kind]] = {
        "employee.created": Kind.created,
        "employee.updated": Kind.updated,
        "employee.joined": Kind.updated,
        "employee.left": Kind.terminated,
        "employee.deleted": Kind.deleted,
        "table.entry.created": Kind.updated,
        "table.entry.updated": Kind.updated,
    }

    def verify(self, body: bytes, headers: Mapping[str, str], check: Verification) -> datetime | None:
        offered = _header(headers, "bob-signature").encode()
        if not _one_signed(check, offered, lambda key: base64.b64encode(_hmac(key, body, hashlib.sha512))):
            raise SignatureRejected("Bob-Signature does not match the body")
        return None

    def read(self, body: bytes, default_time: datetime) -> Delivery:
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise _malformed("the body is not a JSON object")
        event_type = payload.get("type")
        if event_type not in self._KINDS:
            raise _not_employee_event(event_type)
        data = _record(payload.get("data"))
        if data.get("employeeId") in (None, ""):
            raise _malformed("the event's data has no employeeId")
        occurred = parse_time(payload.get("triggeredAt"), default_time)
        record = _fields(data, "employeeId", "fieldIds")
        event = EmployeeEvent(str(data["employeeId"]), self._KINDS[str(event_type)], occurred, record)
        return Delivery(str(event_type), [event])


ADAPTERS: dict[Provider, Adapter] = {
    adapter.provider: adapter for adapter in (StandardWebhooks(), Finch(), BambooHR(), Merge(), HiBob())
}
