"""The input types every request schema and query or path parameter shares: values a user can mean.

Pydantic's lax parsing reads `"0"` as 1970-01-01, `" 100 "` as 100 and any year from 1 to 9999; PostgreSQL
refuses a NUL character in text, and a year at the calendar's edge overflows deadline arithmetic. Each type
here refuses such a value with a 422 that names the field, before any use case runs, and says its rule in
the OpenAPI schema (a `pattern`, `formatMinimum`/`formatMaximum`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

#: Text without NUL (PostgreSQL cannot store it) or a byte-order mark (an editor's artefact, invisible in
#: every screen that shows the value, so a name with one never matches the same name typed again).
VISIBLE_TEXT = r"^[^\x00\uFEFF]*$"

_VISIBLE = re.compile(VISIBLE_TEXT.strip("^$"))

VisibleStr = Annotated[str, Field(pattern=VISIBLE_TEXT)]
#: A free-text note: a reason, a description.
Text = Annotated[VisibleStr, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]


def _visible_json(value: dict[str, Any]) -> dict[str, Any]:
    # JSON kept as it came (an audit event's details): every string in it, at any depth, is text too.
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and not _VISIBLE.fullmatch(item):
            raise PydanticCustomError("string_pattern_mismatch", "text may not hold NUL or a byte-order mark")
    return value


VisibleJson = Annotated[dict[str, Any], AfterValidator(_visible_json)]


@dataclass(frozen=True)
class DateWindow:
    """The days a field may name, and why no user means a day outside them."""

    earliest: date
    latest: date
    why: str

    def check(self, day: date) -> date:
        if not self.earliest <= day <= self.latest:
            raise PydanticCustomError(
                "date_out_of_window",
                "give a day from {earliest} to {latest}: {why}",
                {"earliest": self.earliest.isoformat(), "latest": self.latest.isoformat(), "why": self.why},
            )
        return day

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        if source is date:
            return core_schema.no_info_after_validator_function(self.check, handler(source))
        return core_schema.no_info_after_validator_function(self._check_instant, handler(source))

    def _check_instant(self, value: datetime) -> datetime:
        # The day in UTC is compared, but a value at the calendar's edge cannot be converted: its own
        # day is checked first, which keeps the conversion in range.
        self.check(value.date())
        self.check(value.astimezone(UTC).date())
        return value

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        instant = json_schema.get("format") == "date-time"
        low = datetime.combine(self.earliest, time.min, UTC) if instant else self.earliest
        high = datetime.combine(self.latest, time(23, 59, 59), UTC) if instant else self.latest
        json_schema["formatMinimum"] = low.isoformat().replace("+00:00", "Z")
        json_schema["formatMaximum"] = high.isoformat().replace("+00:00", "Z")
        return json_schema


#: A day in a sponsorship case or the rules: a CoS, a visa, a permission, an absence, a filter. The
#: Skilled Worker route and every rule in the book are from this century; a permission ending past it
#: would arm deadlines no one is meant to watch (a case whose permission ends in 9999 never leaves
#: `employed` and its deadlines overflow the calendar).
CASE_DAYS = DateWindow(
    date(2000, 1, 1),
    date(2099, 12, 31),
    "sponsorship days are in this century (the rule book and the Skilled Worker route are)",
)

#: A worker's date of birth: nobody born before 1900 is hired, and no one is born after this century.
BIRTH_DAYS = DateWindow(date(1900, 1, 1), date(2099, 12, 31), "a working person's date of birth")

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})")
_PLAIN_DECIMAL = re.compile(r"-?\d+(\.\d+)?")


def _iso_day(value: object) -> object:
    # A number or a timestamp string is not a day anyone writes: "0" would be read as 1970-01-01.
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise PydanticCustomError("date_format", "give a day as YYYY-MM-DD")


def _iso_instant(value: object) -> object:
    if isinstance(value, str) and _ISO_INSTANT.fullmatch(value):
        return value
    if isinstance(value, datetime):
        return value
    raise PydanticCustomError("datetime_format", "give a time as ISO 8601 with a time zone, e.g. 2026-01-12T09:00:00Z")


def _plain_decimal(value: object) -> object:
    # `" 100 "`, `"1e3"` or `true` are not an amount anyone types; a JSON number is taken as it is.
    if isinstance(value, bool) or (isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value)):
        raise PydanticCustomError("decimal_format", "give a plain decimal number, e.g. 45000.00")
    return value


Day = Annotated[date, BeforeValidator(_iso_day), CASE_DAYS]
BirthDay = Annotated[date, BeforeValidator(_iso_day), BIRTH_DAYS]
#: An instant with its time zone (a naive time has no single meaning), in the case-days window.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_instant), CASE_DAYS]
#: Appended to a Decimal's own constraints (`Annotated[Decimal, Field(max_digits=...), PLAIN_DECIMAL]`),
#: after them, so the schema keeps its minimum and maximum.
PLAIN_DECIMAL = BeforeValidator(_plain_decimal)


#: What a replay (a repeat with the same Idempotency-Key) answers in place of a secret shown once: a key or
#: a signing secret is in the first answer only, and the idempotency record never holds it.
SHOWN_ONCE = "[shown once]"
SHOWN_ONCE_MARK = "x-shown-once"


def shown_once(description: str) -> Any:
    """The Field of a secret in a response: documented as shown once (`x-shown-once: true`)."""
    return Field(
        description=f"{description}; a replay of the request (same Idempotency-Key) answers `{SHOWN_ONCE}`",
        json_schema_extra={SHOWN_ONCE_MARK: True},
    )


def shown_once_fields(model: object) -> frozenset[str]:
    """The fields of a response model marked `shown_once`."""
    fields = getattr(model, "model_fields", None) or {}
    return frozenset(
        name
        for name, info in fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get(SHOWN_ONCE_MARK)
    )
