"""Reading an HRIS employee record as case fields: the connection's field map, its sponsorship selector
and its location → UK nation map. Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from app.calendar import Nation
from app.integrations.hris.providers import Provider


class CaseField(StrEnum):
    """What an HRIS field can feed. Most are hire fields; the pay ones combine into the annual salary,
    and `termination_date` / `employment_status` say that employment ended."""

    given_name = "given_name"
    family_name = "family_name"
    email = "email"
    nationality = "nationality"
    date_of_birth = "date_of_birth"
    inside_uk = "inside_uk"
    job_title = "job_title"
    hris_job_code = "hris_job_code"
    salary = "salary"
    salary_minor_units = "salary_minor_units"
    pay_period = "pay_period"
    pay_currency = "pay_currency"
    weekly_hours = "weekly_hours"
    start_date = "start_date"
    work_location = "work_location"
    termination_date = "termination_date"
    employment_status = "employment_status"
    effective_date = "effective_date"


#: Per provider: case field → the HRIS field that holds it (a dotted path reads nested objects and
#: lists: `employments.0.pay_rate`). A job title doubles as the job code where the HRIS has no code
#: field: its job list is the catalogue the job mappings key on.
DEFAULT_FIELD_MAPS: dict[Provider, dict[CaseField, str]] = {
    Provider.standard: {
        CaseField.given_name: "given_name",
        CaseField.family_name: "family_name",
        CaseField.email: "email",
        CaseField.nationality: "nationality",
        CaseField.date_of_birth: "date_of_birth",
        CaseField.inside_uk: "inside_uk",
        CaseField.job_title: "job_title",
        CaseField.hris_job_code: "job_code",
        CaseField.salary: "salary",
        CaseField.weekly_hours: "weekly_hours",
        CaseField.start_date: "start_date",
        CaseField.work_location: "work_location",
        CaseField.termination_date: "termination_date",
        CaseField.effective_date: "effective_date",
    },
    Provider.bamboohr: {
        CaseField.given_name: "First Name",
        CaseField.family_name: "Last Name",
        CaseField.email: "Work Email",
        CaseField.job_title: "Job Title",
        CaseField.hris_job_code: "Job Title",
        CaseField.salary: "Pay Rate",
        CaseField.pay_period: "Pay Per",
        CaseField.start_date: "Hire Date",
        CaseField.work_location: "Location",
        CaseField.termination_date: "Termination Date",
        CaseField.employment_status: "Status",
    },
    Provider.merge: {
        CaseField.given_name: "first_name",
        CaseField.family_name: "last_name",
        CaseField.email: "work_email",
        CaseField.date_of_birth: "date_of_birth",
        CaseField.job_title: "employments.0.job_title",
        CaseField.hris_job_code: "employments.0.job_title",
        CaseField.salary: "employments.0.pay_rate",
        CaseField.pay_period: "employments.0.pay_period",
        CaseField.pay_currency: "employments.0.pay_currency",
        CaseField.effective_date: "employments.0.effective_date",
        CaseField.work_location: "employments.0.work_location",
        CaseField.start_date: "start_date",
        CaseField.termination_date: "termination_date",
        CaseField.employment_status: "employment_status",
    },
    Provider.hibob: {
        CaseField.given_name: "root.firstName",
        CaseField.family_name: "root.surname",
        CaseField.email: "root.email",
        CaseField.job_title: "work.title",
        CaseField.hris_job_code: "work.title",
        CaseField.salary: "payroll.salary.baseSalary",
        CaseField.pay_period: "payroll.salary.salaryPayPeriod",
        CaseField.pay_currency: "payroll.salary.currency",
        CaseField.weekly_hours: "payroll.employment.weeklyHours",
        CaseField.start_date: "work.startDate",
        CaseField.work_location: "work.site",
        CaseField.termination_date: "internal.terminationDate",
        CaseField.employment_status: "internal.status",
    },
    Provider.finch: {
        CaseField.given_name: "first_name",
        CaseField.family_name: "last_name",
        CaseField.job_title: "title",
        CaseField.hris_job_code: "title",
        CaseField.salary_minor_units: "income.amount",
        CaseField.pay_period: "income.unit",
        CaseField.pay_currency: "income.currency",
        CaseField.start_date: "start_date",
        CaseField.termination_date: "end_date",
        CaseField.work_location: "location.city",
        CaseField.employment_status: "is_active",
    },
}

#: The selector a Standard Webhooks connection gets unless it names one: its schema has the flag.
STANDARD_SELECTOR = ("requires_sponsorship", ("true",))

#: How many of each pay period make a year (hourly pay uses the weekly hours). A day rate or a fixed sum
#: cannot be annualised without a working pattern.
_PERIODS_PER_YEAR = {
    "year": 1,
    "yearly": 1,
    "annual": 1,
    "annually": 1,
    "salary": 1,
    "everysixmonths": 2,
    "semiannually": 2,
    "quarter": 4,
    "quarterly": 4,
    "month": 12,
    "monthly": 12,
    "semimonthly": 24,
    "twicemonthly": 24,
    "everytwoweeks": 26,
    "biweekly": 26,
    "fortnightly": 26,
    "week": 52,
    "weekly": 52,
}
_HOURLY = frozenset({"hour", "hourly"})
_WEEKS_PER_YEAR = 52
_INACTIVE = frozenset({"inactive", "terminated", "false", "0", "left"})
_MONEY = re.compile(r"^(?P<pre>[^\d.,-]*)(?P<amount>-?[\d,]*\.?\d+)\s*(?P<post>[^\d]*)$")
_CURRENCY_SIGNS = {"£": "GBP", "$": "USD", "€": "EUR"}


class MappingError(Exception):
    """The record cannot be read as a case: a reason a person can act on (fix the field map or the
    data in the HRIS, then replay)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Selector:
    field: str
    values: tuple[str, ...]

    def decide(self, record: Mapping[str, Any]) -> str | None:
        """None when the employee needs sponsorship, else why not."""
        found, raw = lookup(record, self.field)
        wanted = ", ".join(repr(v) for v in self.values)
        if not found or _blank(raw):
            return (
                f"{self.field!r} is not in the record: only employees whose {self.field!r} is {wanted} need sponsorship"
            )
        text = _text(raw).lower()
        if text in self.values:
            return None
        return f"{self.field!r} is {text!r}: only employees whose {self.field!r} is {wanted} need sponsorship"


@dataclass
class CaseData:
    """A record read through the field map: hire fields present in it, and what it says of employment."""

    hire: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # hire field → the HRIS field it came from
    termination_date: date | None = None
    inactive: bool = False
    effective_date: date | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.termination_date is not None or self.inactive


def lookup(record: Any, path: str) -> tuple[bool, Any]:
    """The value at `path`: a key as written (BambooHR "Job Title", a flat HiBob "work.title"), or dotted
    steps through nested objects, list indexes (`employments.0.pay_rate`) and named list items
    (`custom_fields.requires_sponsorship`). BambooHR's `{"value": x}` wrapping is unwrapped."""
    if isinstance(record, Mapping) and path in record:
        return True, _unwrap(record[path])
    head, dot, rest = path.partition(".")
    if isinstance(record, list) and not head.isdigit():
        found, value = _named(record, head)
        return (found, value) if not dot or not found else lookup(value, rest)
    if not dot:
        return False, None
    if isinstance(record, Mapping) and head in record:
        return lookup(record[head], rest)
    if isinstance(record, list) and head.isdigit() and int(head) < len(record):
        return lookup(record[int(head)], rest)
    return False, None


def _named(items: list[Any], name: str) -> tuple[bool, Any]:
    """A value in a list of `{"name": ..., "value": ...}` items (Finch's custom fields)."""
    for item in items:
        if isinstance(item, Mapping) and item.get("name") == name:
            return True, _unwrap(item.get("value"))
    return False, None


def read_record(record: Mapping[str, Any], field_map: Mapping[str, str], location_map: Mapping[str, str]) -> CaseData:
    raw: dict[CaseField, Any] = {}
    sources: dict[CaseField, str] = {}
    for name, path in field_map.items():
        found, value = lookup(record, path)
        if found and not _blank(value):
            target = CaseField(name)
            raw[target], sources[target] = value, path
    data = CaseData()

    def parse(target: CaseField, parser: Any) -> Any:
        try:
            return parser(raw[target])
        except (ValueError, InvalidOperation, TypeError) as exc:
            raise MappingError(
                "invalid_value", f"{sources[target]!r} is {raw[target]!r}, which is not a valid {target.value}: {exc}"
            ) from exc

    def put(target: CaseField, value: Any) -> None:
        data.hire[target.value], data.sources[target.value] = value, sources[target]

    for target in (
        CaseField.given_name,
        CaseField.family_name,
        CaseField.email,
        CaseField.job_title,
        CaseField.hris_job_code,
        CaseField.nationality,
        CaseField.work_location,
    ):
        if target in raw:
            put(target, parse(target, _text))
    for target in (CaseField.date_of_birth, CaseField.start_date):
        if target in raw:
            put(target, parse(target, _date))
    if CaseField.inside_uk in raw:
        put(CaseField.inside_uk, parse(CaseField.inside_uk, _bool))
    if CaseField.weekly_hours in raw:
        put(CaseField.weekly_hours, parse(CaseField.weekly_hours, _decimal))
    if CaseField.termination_date in raw:
        data.termination_date = parse(CaseField.termination_date, _date)
    if CaseField.effective_date in raw:
        data.effective_date = parse(CaseField.effective_date, _date)
    if CaseField.employment_status in raw:
        data.inactive = _text(raw[CaseField.employment_status]).lower() in _INACTIVE
    _read_pay(raw, sources, data, parse)
    location = data.hire.get("work_location")
    if location is not None:
        nation = _nation_of(location, location_map)
        if nation is None:
            data.notes.append(
                f"work location {location!r} is not in the connection's location map: the work nation is left as it was"
            )
        else:
            data.hire["work_nation"], data.sources["work_nation"] = nation, sources[CaseField.work_location]
    return data


def _read_pay(raw: dict[CaseField, Any], sources: dict[CaseField, str], data: CaseData, parse: Any) -> None:
    if CaseField.salary in raw:
        amount, currency = parse(CaseField.salary, _money)
        source = sources[CaseField.salary]
    elif CaseField.salary_minor_units in raw:
        amount, currency = parse(CaseField.salary_minor_units, _money)
        amount, source = amount / 100, sources[CaseField.salary_minor_units]
    else:
        return
    currency = _text(raw[CaseField.pay_currency]).upper() if CaseField.pay_currency in raw else currency
    if currency not in (None, "GBP"):
        raise MappingError(
            "pay_not_in_pounds",
            f"{source!r} is paid in {currency}: UK salary thresholds are judged in GBP, so record the pay in pounds",
        )
    period = re.sub(r"[^a-z]", "", _text(raw[CaseField.pay_period]).lower()) if CaseField.pay_period in raw else "year"
    if period in _HOURLY:
        hours = data.hire.get("weekly_hours")
        if hours is None:
            raise MappingError(
                "pay_not_annualised", f"{source!r} is an hourly rate: the weekly hours are needed to make it annual"
            )
        yearly = amount * hours * _WEEKS_PER_YEAR
    elif period in _PERIODS_PER_YEAR:
        yearly = amount * _PERIODS_PER_YEAR[period]
    else:
        raise MappingError(
            "pay_not_annualised",
            f"{source!r} is paid per {raw[CaseField.pay_period]!r}, "
            "which cannot be made annual without a working pattern",
        )
    data.hire["salary"], data.sources["salary"] = yearly.quantize(Decimal("0.01")), source


def _nation_of(location: str, location_map: Mapping[str, str]) -> str | None:
    wanted = location.strip().casefold()
    return next((Nation(n).value for name, n in location_map.items() if name.strip().casefold() == wanted), None)


def _unwrap(value: Any) -> Any:
    return value["value"] if isinstance(value, Mapping) and set(value) == {"value"} else value


def _blank(value: Any) -> bool:
    # BambooHR writes an unset date as 0000-00-00.
    return value is None or (isinstance(value, str) and value.strip() in {"", "0000-00-00"})


def _text(value: Any) -> str:
    if isinstance(value, Mapping):  # a named object: a Merge work location, a HiBob list item
        value = value.get("name", value.get("value"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, Mapping | list):
        raise ValueError("expected text")
    return str(value).strip()


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    text = _text(value)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def _bool(value: Any) -> bool:
    text = _text(value).lower()
    if text in {"true", "yes", "y", "1"}:
        return True
    if text in {"false", "no", "n", "0"}:
        return False
    raise ValueError("expected yes or no")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    return Decimal(_text(value).replace(",", ""))


def _money(value: Any) -> tuple[Decimal, str | None]:
    """An amount with an optional currency sign or code: 62000, "62,000.00 GBP", "£42000"."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return _decimal(value), None
    match = _MONEY.match(_text(value))
    if match is None:
        raise ValueError("expected an amount")
    marks = (match["pre"] + match["post"]).strip()
    currency = _CURRENCY_SIGNS.get(marks, marks.upper() or None)
    return Decimal(match["amount"].replace(",", "")), currency


def default_field_map(provider: Provider) -> dict[str, str]:
    return {k.value: v for k, v in DEFAULT_FIELD_MAPS[provider].items()}
