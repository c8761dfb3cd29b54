"""The event catalogue: every event type sponsorflow emits, with the versioned schema of its webhook body.

A webhook body is the audit event as the feed shows it (`GET /v1/events`), in the Standard Webhooks
layout (`type`, `timestamp`, `data`), with `data.details` typed per event type. A change that could break
a receiver gets a new `version` of the type; adding an optional field does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from app.audit.schemas import Actor
from app.hires.schemas import HireFields, HireUpdate
from app.licences.schemas import AllocationIn

#: Sent only to the endpoint being tested, whatever it subscribes to.
TEST_EVENT = "webhook_endpoint.test"
DISABLED_EVENT = "webhook_endpoint.disabled"


class _Erasable(BaseModel):
    erased_fields: list[str] | None = Field(
        default=None,
        description="once the records' retention has ended: the personal fields removed from this event",
    )


class _Details(_Erasable):
    model_config = ConfigDict(extra="forbid")


class ActionDetails(BaseModel):
    """The fields the action was sent with: the action's request body (its schema in the API), without
    personal identifiers such as RTW share codes."""

    model_config = ConfigDict(extra="allow")


class HireCreated(HireFields, _Erasable):
    """The hire's fields as sent. Names are required when sent, absent once erased."""

    given_name: str | None = None
    family_name: str | None = None


class HireUpdated(HireUpdate, _Erasable):
    """The fields sent."""


class NoDetails(_Details):
    """Nothing beyond the event's own fields."""


class DeadlineBreached(_Details):
    deadline_id: str
    kind: str = Field(examples=["cos_assignment_window"])
    due_at: datetime
    rule_id: str = Field(description="the rule the deadline was counted by")


class DeadlineWarning(DeadlineBreached):
    warn_at: datetime


class ObligationCreated(_Details):
    kind: str = Field(examples=["salary_change"])
    hire_id: str | None = Field(description="null for sponsor-level changes")
    trigger_date: date
    due_on: date = Field(description="the last day to report it in the SMS")
    rule_id: str
    basis: str = Field(description="how the due date was counted")


class ObligationOverdue(_Details):
    kind: str
    due_on: date


class ObligationReported(_Details):
    hire_id: str | None
    kind: str
    sms_reference: str
    reported_on: date | None


class ObligationWaived(_Details):
    hire_id: str | None
    kind: str
    reason: str | None = Field(
        default=None, description="absent once the case's retention has ended (free text is erased)"
    )


class PersonalDataErased(_Details):
    fields: list[str] = Field(description="the case's personal fields that were erased")
    events_scrubbed: int
    obligations: int
    rows_erased_elsewhere: int = Field(description="rows kept elsewhere about the case, erased with it")
    retention_date: datetime
    rule_id: str
    basis: str


class LegalHoldSet(_Details):
    reason: str | None = Field(
        default=None, description="absent once the case's retention has ended (free text is erased)"
    )


class AuditPackExported(_Details):
    document: str = Field(examples=["json", "html"])


class AuditPacksExported(_Details):
    total: int = Field(description="workers in the bundle")
    filters: dict[str, Any]


class EndpointDisabled(_Details):
    url: str
    failing_since: datetime
    reason: str


class FieldChange(BaseModel):
    from_: str = Field(alias="from")
    to: str


class OrganisationUpdated(_Details):
    changed: dict[str, FieldChange] = Field(
        description="each field the change set (`name`, `sponsor_size`, `nation`): its old and new value"
    )


class ApiKeyChanged(_Details):
    """Which key (never its secret); the event's actor is who created or revoked it."""

    name: str
    role: str
    prefix: str


class EndpointTest(_Details):
    url: str
    message: str


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    summary: str
    details: type[BaseModel]
    subscribable: bool = True

    @property
    def schema_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.replace(".", "_").split("_")) + f"V{self.version}"


CATALOGUE: dict[str, EventType] = {
    t.name: t
    for t in (
        EventType("hire.created", 1, "A hire case was opened.", HireCreated),
        EventType("hire.updated", 1, "A hire's details were corrected (only the fields sent).", HireUpdated),
        EventType("hire.state_changed", 1, "An action moved a hire to another state.", ActionDetails),
        EventType(
            "hire.action_recorded",
            1,
            "An in-state action on an employed hire (absence, salary, job, location, RTW follow-up).",
            ActionDetails,
        ),
        EventType(
            "organisation.updated",
            1,
            "The organisation's details were corrected (its sponsor size and nation set fees and calendars).",
            OrganisationUpdated,
        ),
        EventType("api_key.created", 1, "An API key was created for the organisation.", ApiKeyChanged),
        EventType("api_key.revoked", 1, "One of the organisation's API keys was revoked.", ApiKeyChanged),
        EventType("licence.created", 1, "A sponsor licence application was started.", NoDetails),
        EventType("licence.state_changed", 1, "An action moved the sponsor licence to another state.", ActionDetails),
        EventType("licence.action_recorded", 1, "An action on the licence that kept its state.", ActionDetails),
        EventType("cos_allocation.updated", 1, "The undefined CoS allocation was set or changed.", AllocationIn),
        EventType("deadline.warning", 1, "A deadline reached its warning date.", DeadlineWarning),
        EventType("deadline.breached", 1, "A deadline passed without being met.", DeadlineBreached),
        EventType("obligation.created", 1, "An SMS reporting obligation was opened.", ObligationCreated),
        EventType("obligation.overdue", 1, "An SMS reporting obligation passed its due date.", ObligationOverdue),
        EventType("obligation.reported", 1, "An SMS reporting obligation was reported.", ObligationReported),
        EventType("obligation.waived", 1, "An SMS reporting obligation was waived.", ObligationWaived),
        EventType(
            "hire.personal_data_erased",
            1,
            "The retention period ended: the case's personal data was erased.",
            PersonalDataErased,
        ),
        EventType("hire.legal_hold_set", 1, "A legal hold now keeps the case from erasure.", LegalHoldSet),
        EventType("hire.legal_hold_cleared", 1, "The case's legal hold was lifted.", NoDetails),
        EventType("hire.audit_pack_exported", 1, "A worker's Home Office audit pack was exported.", AuditPackExported),
        EventType("audit_packs.exported", 1, "An organisation's audit pack bundle was exported.", AuditPacksExported),
        EventType(
            DISABLED_EVENT,
            1,
            "An endpoint whose every attempt failed for the configured period was disabled.",
            EndpointDisabled,
        ),
        EventType(
            TEST_EVENT,
            1,
            "A test event, sent only to the endpoint it tests.",
            EndpointTest,
            subscribable=False,
        ),
    )
}

SUBSCRIBABLE = sorted(name for name, t in CATALOGUE.items() if t.subscribable)


def _envelope(entry: EventType) -> type[BaseModel]:
    data = create_model(
        entry.schema_name + "Data",
        subject_type=(str, Field(examples=["hire"])),
        subject_id=(str, ...),
        case_id=(str | None, Field(description="the hire or licence whose story the event is part of")),
        action=(str | None, ...),
        from_state=(str | None, ...),
        to_state=(str | None, ...),
        actor=(Actor, ...),
        request_id=(str | None, Field(description="the API request that caused it, for support")),
        details=(entry.details, ...),
    )
    # Literal of a value known at run time: built by subscription, typed Any for mypy.
    type_literal: Any = Literal[entry.name]
    version_literal: Any = Literal[entry.version]
    return create_model(
        entry.schema_name,
        __doc__=entry.summary,
        id=(str, Field(description="the event id; also the `webhook-id` header, the same on every retry")),
        type=(type_literal, ...),
        version=(version_literal, Field(description="the version of this type's schema")),
        timestamp=(datetime, Field(description="when the event happened (UTC)")),
        organisation_id=(str, ...),
        seq=(int, Field(description="position in the organisation's event feed; per endpoint, sent in order")),
        data=(data, ...),
    )


ENVELOPES: dict[str, type[BaseModel]] = {name: _envelope(entry) for name, entry in CATALOGUE.items()}


def body(organisation_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """The webhook body of an outbox payload (an event as `GET /v1/events` shows it)."""
    entry = CATALOGUE.get(event["type"])
    return {
        "id": event["id"],
        "type": event["type"],
        "version": entry.version if entry else 1,
        "timestamp": event["occurred_at"],
        "organisation_id": organisation_id,
        "seq": event["seq"],
        "data": {
            "subject_type": event["subject_type"],
            "subject_id": event["subject_id"],
            "case_id": event.get("case_id"),
            "action": event["action"],
            "from_state": event["from_state"],
            "to_state": event["to_state"],
            "actor": event["actor"],
            "request_id": event["request_id"],
            "details": event["data"],
        },
    }


def encode(value: dict[str, Any]) -> str:
    """The exact text that is signed and sent."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def openapi_webhooks() -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI 3.1 `webhooks` section and the component schemas it references."""
    components: dict[str, Any] = {}
    webhooks: dict[str, Any] = {}
    headers = [
        ("webhook-id", "the event id: the same on every retry, so receivers can drop duplicates"),
        ("webhook-timestamp", "when this attempt was signed, in Unix seconds"),
        ("webhook-signature", "space-separated `v1,<base64 HMAC-SHA256>` signatures (two during a rotation)"),
    ]
    for name, model in ENVELOPES.items():
        entry = CATALOGUE[name]
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[entry.schema_name] = schema
        webhooks[name] = {
            "post": {
                "operationId": entry.schema_name[0].lower() + entry.schema_name[1:],
                "summary": entry.summary,
                "tags": ["webhooks"],
                "parameters": [
                    {"name": h, "in": "header", "required": True, "description": d, "schema": {"type": "string"}}
                    for h, d in headers
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{entry.schema_name}"}}},
                },
                "responses": {"2XX": {"description": "received; any other answer is retried on the schedule"}},
            }
        }
    return webhooks, components
